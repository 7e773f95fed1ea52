"""Named transforms a mapping file may use: each validates one legacy value against a standard.

A transform returns the canonical value or raises :class:`StandardViolation` with a rule id.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from bus.standards.dates import normalize_date
from bus.standards.divisions import is_known_division
from bus.standards.errors import StandardViolation
from bus.standards.idcard import parse_identity_number
from bus.standards.sex import normalize_sex
from bus.standards.text import normalize_name, normalize_whitespace, to_half_width

Transform = Callable[[str], object]


def identity_number(raw: str) -> str:
    return parse_identity_number(raw).number


def sex_code(raw: str) -> str:
    return str(int(normalize_sex(raw)))


def birth_date(raw: str) -> date:
    return normalize_date(raw)


def name(raw: str) -> str:
    value = normalize_name(raw)
    if not value:
        raise StandardViolation("name.missing", "姓名为空", "name is empty", raw)
    return value


def division_code(raw: str) -> str:
    code = normalize_whitespace(to_half_width(raw))
    if not is_known_division(code):
        raise StandardViolation(
            "division.unknown", f"行政区划代码 {code} 不在 GB/T 2260 代码表中",
            f"division code {code} is not in the GB/T 2260 code table", raw,
        )
    return code


def text(raw: str) -> str:
    return normalize_whitespace(to_half_width(raw))


TRANSFORMS: dict[str, Transform] = {
    "identity_number": identity_number,
    "sex_code": sex_code,
    "date": birth_date,
    "name": name,
    "division_code": division_code,
    "text": text,
}
