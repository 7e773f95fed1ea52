"""Blocking: only records that share a blocking key are compared, so resolution is not O(n²).

A record has up to four keys; two records are candidates when they share at least one:

* ``id17``: the identity number's 17-digit body — a broken check character still blocks with
  the valid number (15-digit numbers are upgraded first, so they block with their 18-digit form);
* ``birth+surname``: birth date (given, or read from the identity number) and the name's first
  character — finds records whose identity number is missing or broken beyond its body;
* ``name+year``: the full name and birth year — a mistyped birth date;
* ``name+prefecture``: the full name and the division's first four digits — a missing birth date.

No key is a pinyin transcription: homophone typos change characters, and the other keys catch
them. Every pair sharing a key is produced (no block is truncated).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

from projections.resolution.features import Features

__all__ = ["BLOCKING_KEYS", "blocking_keys", "candidate_pairs"]


def _id17(f: Features) -> str | None:
    return f.identity_body


def _birth_surname(f: Features) -> str | None:
    if f.birth_date is None or f.surname is None:
        return None
    return f"{f.birth_date.isoformat()}|{f.surname}"


def _name_year(f: Features) -> str | None:
    if f.birth_date is None or f.name is None:
        return None
    return f"{f.name}|{f.birth_date.year}"


def _name_prefecture(f: Features) -> str | None:
    if f.division is None or f.name is None:
        return None
    return f"{f.name}|{f.division[:4]}"


BLOCKING_KEYS: dict[str, Callable[[Features], str | None]] = {
    "id17": _id17,
    "birth+surname": _birth_surname,
    "name+year": _name_year,
    "name+prefecture": _name_prefecture,
}


def blocking_keys(features: Features) -> list[str]:
    """The record's keys, each prefixed by the key's name."""
    keys = []
    for name, key_of in BLOCKING_KEYS.items():
        value = key_of(features)
        if value is not None:
            keys.append(f"{name}:{value}")
    return keys


def candidate_pairs(
    records: Sequence[Features], *, skip: Callable[[Features, Features], bool] | None = None
) -> Iterator[tuple[int, int]]:
    """Index pairs ``(i, j)``, ``i < j``, of records sharing a key, each once, in sorted order.

    ``skip`` leaves out pairs the caller decides otherwise (both with valid identity numbers).
    """
    blocks: dict[str, list[int]] = {}
    for index, features in enumerate(records):
        for key in blocking_keys(features):
            blocks.setdefault(key, []).append(index)
    pairs: set[tuple[int, int]] = set()
    for members in blocks.values():
        for position, i in enumerate(members):
            for j in members[position + 1:]:
                if skip is None or not skip(records[i], records[j]):
                    pairs.add((i, j))
    return iter(sorted(pairs))
