"""Normalized values of a person record, as the comparators and blocking keys read them.

Normalizing never raises: a value that does not fit its standard counts as missing, except the
identity number, whose parts are kept even when the number fails (a broken check character
still carries the division, the birth date and the sequence of the first 17 characters).
Birth date, sex and division fall back to what the identity number's body says; such values are
marked as derived, so a comparison does not count the identity number's evidence twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from bus.standards.dates import normalize_date
from bus.standards.errors import StandardViolation
from bus.standards.idcard import normalize_identity_text, parse_identity_number, upgrade_15_to_18
from bus.standards.sex import normalize_sex
from bus.standards.text import normalize_name, normalize_whitespace, to_half_width
from projections.resolution.records import PersonRecord

__all__ = ["Features", "features_of"]

_FAR_FUTURE = date.max  # linking never rejects a number for a birth date "after today"
_SEX_CODES = ("1", "2")
_FAILURES = (StandardViolation, ValueError, TypeError, OverflowError)


@dataclass(frozen=True, slots=True)
class Features:
    """What resolution compares. ``identity_valid``: the number passes GB 11643 (15→18 upgraded)."""

    ref: str
    identity_number: str | None
    identity_valid: bool
    identity_body: str | None
    name: str | None
    birth_date: date | None
    birth_from_id: bool
    sex: str | None
    sex_from_id: bool
    division: str | None
    division_from_id: bool
    address: str | None

    @property
    def surname(self) -> str | None:
        return self.name[0] if self.name else None


def features_of(record: PersonRecord) -> Features:
    """Normalize ``record``; anything that does not fit its standard is missing."""
    number, valid, body = _identity(record.identity_number)
    id_birth, id_sex, id_division = _from_body(body)
    birth, sex, division = _birth(record.birth_date), _sex(record.sex), _division(record.division)
    return Features(
        ref=record.ref.key,
        identity_number=number,
        identity_valid=valid,
        identity_body=body,
        name=_name(record.name),
        birth_date=birth or id_birth,
        birth_from_id=birth is None and id_birth is not None,
        sex=sex or id_sex,
        sex_from_id=sex is None and id_sex is not None,
        division=division or id_division,
        division_from_id=division is None and id_division is not None,
        address=_address(record.address),
    )


def _identity(raw: str | None) -> tuple[str | None, bool, str | None]:
    """(normalized text, valid, 17-digit body) — 15-digit numbers upgraded to 18."""
    if raw is None:
        return None, False, None
    text = normalize_identity_text(raw)
    if not text:
        return None, False, None
    if len(text) == 15 and text.isascii() and text.isdigit():
        text = upgrade_15_to_18(text)
    body = text[:17] if len(text) == 18 and text[:17].isascii() and text[:17].isdigit() else None
    try:
        valid = parse_identity_number(text, today=_FAR_FUTURE).number == text
    except _FAILURES:
        valid = False
    return text, valid, body


def _from_body(body: str | None) -> tuple[date | None, str | None, str | None]:
    if body is None:
        return None, None, None
    try:
        born: date | None = date(int(body[6:10]), int(body[10:12]), int(body[12:14]))
    except ValueError:
        born = None
    return born, "1" if int(body[16]) % 2 else "2", body[:6]


def _birth(raw: date | str | None) -> date | None:
    if raw is None:
        return None
    try:
        return normalize_date(raw)
    except _FAILURES:
        return None


def _sex(raw: str | None) -> str | None:
    try:
        code = str(int(normalize_sex(raw)))
    except _FAILURES:
        return None
    return code if code in _SEX_CODES else None


def _division(raw: str | None) -> str | None:
    if raw is None:
        return None
    text = "".join(to_half_width(raw).split())
    return text if len(text) == 6 and text.isascii() and text.isdigit() else None


def _name(raw: str | None) -> str | None:
    if raw is None:
        return None
    name = normalize_name(raw)
    return name or None


def _address(raw: str | None) -> str | None:
    if raw is None:
        return None
    text = normalize_whitespace(to_half_width(raw)).replace(" ", "")
    return text or None
