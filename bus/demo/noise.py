"""Legacy mess applied to clean values: full-width digits, stray spaces, local codes, formats.

Each function returns the messy text and the noise tags it applied (for the ground truth).
"""

from __future__ import annotations

import random
from datetime import date, timedelta

from bus.demo.draw import pick
from bus.demo.people import HOMOPHONES
from bus.standards.idcard import compute_check_char

__all__ = [
    "messy_birth_date",
    "messy_identity_number",
    "messy_name",
    "messy_sex",
    "to_full_width_digits",
]

_FULL_WIDTH_DIGITS = str.maketrans("0123456789X", "０１２３４５６７８９Ｘ")
_CHECK_CHARS = "0123456789X"
_INVALID_DATES = ("{y}0230", "{y}-13-07", "{y}0431", "{y}年2月30日", "{y}/00/15")


def to_full_width_digits(text: str) -> str:
    return text.translate(_FULL_WIDTH_DIGITS)


def messy_identity_number(rng: random.Random, id18: str, id15: str | None) -> tuple[str, list[str]]:
    """The SFZH as typed: 18 or old 15 digits, some broken check chars, width/case/spaces."""
    tags: list[str] = []
    roll = rng.random()
    if id15 is not None and roll < 0.07:
        text, tags = id15, ["id15"]
    elif roll < 0.09:
        wrong = pick(rng, [c for c in _CHECK_CHARS if c != id18[17]])
        text, tags = id18[:17] + wrong, ["bad_check_char"]
    elif roll < 0.093:
        body = "99" + id18[2:17]  # no such province, but a correct check character
        text, tags = body + compute_check_char(body), ["unknown_province"]
    else:
        text = id18
    if text.endswith("X") and rng.random() < 0.3:
        text, tags = text[:-1] + "x", [*tags, "lowercase_x"]
    roll = rng.random()
    if roll < 0.03:
        text, tags = to_full_width_digits(text), [*tags, "full_width"]
    elif roll < 0.05:
        text, tags = _with_spaces(rng, text), [*tags, "spaces"]
    return text, tags


def messy_sex(rng: random.Random, male: bool) -> tuple[str, list[str]]:
    """XB: GB/T 2261.1 digits mostly, local codes sometimes, rarely wrong or invalid."""
    roll = rng.random()
    if roll < 0.01:
        male, tags = not male, ["sex_mismatch"]
    elif roll < 0.015:
        return "3", ["sex_invalid"]
    else:
        tags = []
    roll = rng.random()
    if roll < 0.06:
        return ("男" if male else "女"), [*tags, "sex_local_zh"]
    if roll < 0.09:
        return ("M" if male else "F"), [*tags, "sex_local_mf"]
    return ("1" if male else "2"), tags


def messy_birth_date(rng: random.Random, born: date) -> tuple[str | None, list[str]]:
    """CSRQ in one of the formats clerks used; a few impossible dates or gaps."""
    roll = rng.random()
    if roll < 0.008:
        return pick(rng, _INVALID_DATES).format(y=born.year), ["date_invalid"]
    if roll < 0.01:
        return None, ["date_missing"]
    tags: list[str] = []
    if roll < 0.02:
        born, tags = born + timedelta(days=pick(rng, (-1, 1, 30, 365))), ["date_mismatch"]
    roll = rng.random()
    compact = f"{born.year:04d}{born.month:02d}{born.day:02d}"
    if roll < 0.40:
        text = compact
    elif roll < 0.60:
        text = born.isoformat()
    elif roll < 0.75:
        text = f"{born.year}-{born.month}-{born.day}"
    elif roll < 0.85:
        text = f"{born.year}年{born.month}月{born.day}日"
    elif roll < 0.95:
        text = f"{born.year:04d}/{born.month:02d}/{born.day:02d}"
    elif roll < 0.98:
        text = f"{born.isoformat()} 00:00:00"
    else:
        text, tags = to_full_width_digits(compact), [*tags, "full_width"]
    return text, tags


def messy_name(rng: random.Random, name: str) -> tuple[str, list[str]]:
    """XM with the occasional homophone typo or spaces between the characters."""
    tags: list[str] = []
    if rng.random() < 0.02:
        typo = "".join(HOMOPHONES.get(ch, ch) for ch in name)
        if typo != name:
            name, tags = typo, ["homophone"]
    roll = rng.random()
    if roll < 0.02:
        return " ".join(name), [*tags, "name_spaces"]
    if roll < 0.03:
        return name[0] + "\u3000" + name[1:], [*tags, "name_full_width_space"]
    return name, tags


def _with_spaces(rng: random.Random, text: str) -> str:
    if rng.random() < 0.5:
        return f" {text} "
    return f"{text[:6]} {text[6:-4]} {text[-4:]}"
