"""Field comparators: for a pair of normalized records, the agreement level of each field.

Levels, from strongest to weakest: ``exact``, ``close`` (a typo's worth apart), ``partial``
(names only: same surname and length, the given name one or two characters apart — a homophone
typo, or a sibling), ``disagree``; ``missing`` when either side has no value;
``implied`` when a value derived from an identity number is compared while the identity
numbers already agree (its evidence is the identity number's, not counted twice).
Every comparator is symmetric.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from enum import StrEnum

from projections.resolution.features import Features

__all__ = ["COMPARATORS", "FIELDS", "Level", "compare", "edit_distance"]


class Level(StrEnum):
    EXACT = "exact"
    CLOSE = "close"
    PARTIAL = "partial"
    DISAGREE = "disagree"
    MISSING = "missing"
    IMPLIED = "implied"


_ID_AGREES = (Level.EXACT, Level.CLOSE)
_LONGEST_COMPARED = 64  # longer values (no real name or address) compare exactly only


def edit_distance(a: str, b: str, limit: int) -> int:
    """Levenshtein distance of ``a`` and ``b``, or ``limit + 1`` once it exceeds ``limit``."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        if min(current) > limit:
            return limit + 1
        previous = current
    return min(previous[-1], limit + 1)


def compare_identity_number(a: Features, b: Features) -> Level:
    """exact: the same valid number; close: the same 17-digit body (a broken check character);
    partial: bodies one digit apart, or apart only in the two-digit province prefix."""
    if a.identity_number is None or b.identity_number is None:
        return Level.MISSING
    if a.identity_number == b.identity_number:
        return Level.EXACT if a.identity_valid else Level.CLOSE
    if a.identity_body is None or b.identity_body is None:
        return Level.MISSING if not (a.identity_valid and b.identity_valid) else Level.DISAGREE
    if a.identity_body == b.identity_body:
        return Level.CLOSE
    if a.identity_body[2:] == b.identity_body[2:] or _hamming(a.identity_body, b.identity_body) == 1:
        return Level.PARTIAL
    return Level.DISAGREE


def compare_name(a: Features, b: Features) -> Level:
    if a.name is None or b.name is None:
        return Level.MISSING
    if a.name == b.name:
        return Level.EXACT
    if max(len(a.name), len(b.name)) > _LONGEST_COMPARED:
        return Level.DISAGREE
    distance = edit_distance(a.name, b.name, 2)
    shortest = min(len(a.name), len(b.name))
    if distance == 1 and shortest >= 3:
        return Level.CLOSE
    if a.name[0] == b.name[0] and len(a.name) == len(b.name) and distance <= min(2, shortest - 1):
        return Level.PARTIAL  # 张伟 / 张玮, 王晓明 / 王小铭: a homophone typo, or somebody else
    return Level.DISAGREE


def compare_birth_date(a: Features, b: Features) -> Level:
    """close: one day apart, day and month swapped, or one digit of YYYYMMDD different."""
    if a.birth_date is None or b.birth_date is None:
        return Level.MISSING
    if _implied(a, b, a.birth_from_id, b.birth_from_id):
        return Level.IMPLIED
    if a.birth_date == b.birth_date:
        return Level.EXACT
    if _dates_close(a.birth_date, b.birth_date):
        return Level.CLOSE
    return Level.DISAGREE


def compare_sex(a: Features, b: Features) -> Level:
    if a.sex is None or b.sex is None:
        return Level.MISSING
    if _implied(a, b, a.sex_from_id, b.sex_from_id):
        return Level.IMPLIED
    return Level.EXACT if a.sex == b.sex else Level.DISAGREE


def compare_division(a: Features, b: Features) -> Level:
    """exact: the same county; close: the same prefecture (first four digits)."""
    if a.division is None or b.division is None:
        return Level.MISSING
    if _implied(a, b, a.division_from_id, b.division_from_id):
        return Level.IMPLIED
    if a.division == b.division:
        return Level.EXACT
    return Level.CLOSE if a.division[:4] == b.division[:4] else Level.DISAGREE


def compare_address(a: Features, b: Features) -> Level:
    """close: character-bigram Dice similarity of at least 0.8."""
    if a.address is None or b.address is None:
        return Level.MISSING
    if a.address == b.address:
        return Level.EXACT
    return Level.CLOSE if _dice(a.address, b.address) >= 0.8 else Level.DISAGREE


Comparator = Callable[[Features, Features], Level]

#: The compared fields, in the order their weights are listed.
COMPARATORS: dict[str, Comparator] = {
    "identity_number": compare_identity_number,
    "name": compare_name,
    "birth_date": compare_birth_date,
    "sex": compare_sex,
    "division": compare_division,
    "address": compare_address,
}
FIELDS = tuple(COMPARATORS)


def compare(a: Features, b: Features) -> dict[str, Level]:
    """The level of every field for the pair (a, b); ``compare(b, a)`` gives the same."""
    return {name: comparator(a, b) for name, comparator in COMPARATORS.items()}


def _implied(a: Features, b: Features, a_derived: bool, b_derived: bool) -> bool:
    return (a_derived or b_derived) and compare_identity_number(a, b) in _ID_AGREES


def _hamming(a: str, b: str) -> int:
    return sum(x != y for x, y in zip(a, b, strict=True)) if len(a) == len(b) else max(len(a), len(b))


def _dates_close(a: date, b: date) -> bool:
    if abs((a - b).days) == 1 or (a.year, a.month, a.day) == (b.year, b.day, b.month):
        return True
    return _hamming(_digits(a), _digits(b)) == 1


def _digits(day: date) -> str:
    return f"{day.year:04d}{day.month:02d}{day.day:02d}"


def _dice(a: str, b: str) -> float:
    if len(a) > 4 * _LONGEST_COMPARED or len(b) > 4 * _LONGEST_COMPARED:
        return 0.0
    grams_a = {a[i:i + 2] for i in range(len(a) - 1)} or {a}
    grams_b = {b[i:i + 2] for i in range(len(b) - 1)} or {b}
    return 2 * len(grams_a & grams_b) / (len(grams_a) + len(grams_b))
