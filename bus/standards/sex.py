"""GB/T 2261.1-2003 sex codes and the mapping of local codes onto them."""

from __future__ import annotations

from enum import IntEnum

from bus.standards.errors import StandardViolation
from bus.standards.text import normalize_whitespace, to_half_width

__all__ = ["InvalidSexCode", "SexCode", "normalize_sex", "sex_from_sequence_digit"]


class SexCode(IntEnum):
    """GB/T 2261.1 人的性别代码."""

    UNKNOWN = 0
    MALE = 1
    FEMALE = 2
    NOT_STATED = 9

    @property
    def name_zh(self) -> str:
        return _NAMES_ZH[self]

    @property
    def name_en(self) -> str:
        return _NAMES_EN[self]


_NAMES_ZH: dict[SexCode, str] = {
    SexCode.UNKNOWN: "未知的性别",
    SexCode.MALE: "男性",
    SexCode.FEMALE: "女性",
    SexCode.NOT_STATED: "未说明的性别",
}
_NAMES_EN: dict[SexCode, str] = {
    SexCode.UNKNOWN: "unknown",
    SexCode.MALE: "male",
    SexCode.FEMALE: "female",
    SexCode.NOT_STATED: "not stated",
}

# Local codes seen in legacy systems, after half-width + whitespace normalization + casefold.
_LOCAL_CODES: dict[str, SexCode] = {
    "0": SexCode.UNKNOWN,
    "1": SexCode.MALE,
    "2": SexCode.FEMALE,
    "9": SexCode.NOT_STATED,
    "m": SexCode.MALE,
    "f": SexCode.FEMALE,
    "male": SexCode.MALE,
    "female": SexCode.FEMALE,
    "u": SexCode.UNKNOWN,
    "unknown": SexCode.UNKNOWN,
    "男": SexCode.MALE,
    "女": SexCode.FEMALE,
    "男性": SexCode.MALE,
    "女性": SexCode.FEMALE,
    "未知": SexCode.UNKNOWN,
    "未知的性别": SexCode.UNKNOWN,
    "未说明": SexCode.NOT_STATED,
    "未说明的性别": SexCode.NOT_STATED,
}


class InvalidSexCode(StandardViolation):
    """A sex value that maps to no GB/T 2261.1 code."""


def normalize_sex(raw: str | int | None) -> SexCode:
    """Map a local sex code to GB/T 2261.1.

    Raises ``InvalidSexCode`` with rule ``sex.missing`` (None/blank) or ``sex.unknown_code``.
    """
    if raw is None:
        raise InvalidSexCode("sex.missing", "性别缺失", "sex is missing", raw)
    if isinstance(raw, bool):
        raise _unknown(raw)
    key = normalize_whitespace(to_half_width(str(raw))).casefold()
    if not key:
        raise InvalidSexCode("sex.missing", "性别缺失", "sex is missing", raw)
    try:
        return _LOCAL_CODES[key]
    except KeyError:
        raise _unknown(raw) from None


def sex_from_sequence_digit(digit: str) -> SexCode:
    """GB 11643: an odd sequence digit is male, an even one female."""
    return SexCode.MALE if int(digit) % 2 == 1 else SexCode.FEMALE


def _unknown(raw: object) -> InvalidSexCode:
    return InvalidSexCode(
        "sex.unknown_code",
        f"无法识别的性别代码：{raw!r}",
        f"unrecognised sex code: {raw!r}",
        raw,
    )
