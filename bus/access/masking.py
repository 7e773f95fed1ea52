"""Masks for fields a client may not see in full (GB/T 35273-style partial display)."""

from __future__ import annotations

from collections.abc import Callable


def identity_number(value: str) -> str:
    """``110101********1234``: the division and the last four, nothing of the birth date."""
    if len(value) <= 10:
        return "*" * len(value)
    return value[:6] + "*" * (len(value) - 10) + value[-4:]


def phone(value: str) -> str:
    """``138****5678``."""
    if len(value) < 8:
        return "*" * len(value)
    return value[:3] + "*" * (len(value) - 7) + value[-4:]


def name(value: str) -> str:
    """``张*``, ``欧阳**``-style: the first character (the family name, mostly) and stars."""
    if not value:
        return value
    return value[0] + "*" * max(1, len(value) - 1)


#: Which mask a field kind takes; fields of other kinds are omitted instead.
MASKS: dict[str, Callable[[str], str]] = {
    "identity_number": identity_number, "phone": phone, "name": name,
}


def mask(kind: str | None, value: object) -> object | None:
    """The masked value, or None when the field has no mask (it is then left out)."""
    masker = MASKS.get(kind or "")
    if masker is None or not isinstance(value, str):
        return None
    return masker(value)
