"""GB 11643-1999 citizen identity numbers (公民身份号码).

Layout of the 18 characters: six-digit division code, eight-digit birth date
(YYYYMMDD), three-digit sequence (odd = male, even = female) and an
ISO 7064 MOD 11-2 check character. Old 15-digit numbers have a two-digit year
and no check character; they are upgraded by inserting ``19`` before the year.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from operator import mul

from bus.standards.divisions import is_known_province
from bus.standards.errors import StandardViolation
from bus.standards.sex import SexCode, sex_from_sequence_digit
from bus.standards.text import to_half_width

__all__ = [
    "IdentityNumber",
    "InvalidIdentityNumber",
    "compute_check_char",
    "is_valid_identity_number",
    "normalize_identity_text",
    "parse_identity_number",
    "upgrade_15_to_18",
]

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK_CHARS = "10X98765432"  # index = (sum of weighted digits) mod 11
_ASCII_ZERO_WEIGHT = ord("0") * sum(_WEIGHTS)  # weighted sum of code points minus this = digits
_EARLIEST_BIRTH = date(1900, 1, 1)


class InvalidIdentityNumber(StandardViolation):
    """A value that is not a valid GB 11643 identity number."""


@dataclass(frozen=True, slots=True)
class IdentityNumber:
    """A valid identity number, always in its 18-character form."""

    number: str
    birth_date: date
    sex_code: SexCode
    division_code: str
    upgraded_from_15: bool

    def __str__(self) -> str:
        return self.number


def normalize_identity_text(raw: str) -> str:
    """Half-width, no whitespace anywhere, upper-case ``X``."""
    return "".join(to_half_width(raw).split()).upper()


def compute_check_char(first17: str) -> str:
    """ISO 7064 MOD 11-2 check character for the first 17 digits."""
    if len(first17) != 17:
        raise _error("id.length", "前17位必须是17个数字", "the body must be 17 digits", first17)
    if not _is_ascii_digits(first17):
        raise _error("id.charset", "前17位只能是数字", "the body must be ASCII digits", first17)
    return _CHECK_CHARS[_weighted_sum(first17) % 11]


def upgrade_15_to_18(id15: str) -> str:
    """Upgrade an old 15-digit number: insert '19' before the year, append the check char."""
    if len(id15) != 15:
        raise _error("id.length", "旧号码必须是15位", "an old number has 15 digits", id15)
    if not _is_ascii_digits(id15):
        raise _error("id.charset", "15位号码只能是数字", "a 15-digit number is all digits", id15)
    body = f"{id15[:6]}19{id15[6:]}"
    return body + compute_check_char(body)


def parse_identity_number(raw: str | int | None, *, today: date | None = None) -> IdentityNumber:
    """Normalize and validate an identity number (15 or 18 characters).

    Rules are checked in this order, the first failure is raised:
    ``id.missing``, ``id.length``, ``id.charset``, ``id.checksum``,
    ``id.birth_date``, ``id.division``.
    """
    if isinstance(raw, int) and not isinstance(raw, bool):
        raw = str(raw)  # some legacy columns store 15-digit numbers as integers
    if not isinstance(raw, str) or not raw.strip():
        raise _error("id.missing", "身份号码缺失", "identity number is missing", raw)
    text = normalize_identity_text(raw)
    if len(text) not in (15, 18):
        raise _error(
            "id.length",
            f"身份号码应为18位（或旧15位），实为{len(text)}位",
            f"identity number must have 18 (or old 15) characters, not {len(text)}",
            raw,
        )
    upgraded = len(text) == 15
    number = upgrade_15_to_18(text) if upgraded else _checked_18(text, raw)
    return IdentityNumber(
        number=number,
        birth_date=_birth_date(number, raw, today or date.today()),
        sex_code=sex_from_sequence_digit(number[16]),
        division_code=_division(number, raw),
        upgraded_from_15=upgraded,
    )


def is_valid_identity_number(raw: str | int | None, *, today: date | None = None) -> bool:
    """Whether ``parse_identity_number`` accepts the value."""
    try:
        parse_identity_number(raw, today=today)
    except InvalidIdentityNumber:
        return False
    return True


def _checked_18(text: str, raw: str) -> str:
    body, check = text[:17], text[17]
    if not _is_ascii_digits(body) or check not in _CHECK_CHARS:
        raise _error(
            "id.charset",
            "身份号码前17位须为数字，末位为数字或X",
            "identity number must be 17 digits followed by a digit or X",
            raw,
        )
    expected = _CHECK_CHARS[_weighted_sum(body) % 11]
    if check != expected:
        raise _error(
            "id.checksum",
            f"校验码错误：应为{expected}，实为{check}",
            f"check character is {check}, expected {expected}",
            raw,
        )
    return text


def _birth_date(number: str, raw: str, today: date) -> date:
    digits = number[6:14]
    try:
        born = date(int(digits[:4]), int(digits[4:6]), int(digits[6:]))
    except ValueError:
        raise _error(
            "id.birth_date", f"出生日期不存在：{digits}", f"no such birth date: {digits}", raw
        ) from None
    if not _EARLIEST_BIRTH <= born <= today:
        raise _error(
            "id.birth_date",
            f"出生日期超出范围：{digits}",
            f"birth date out of range (1900-01-01..{today.isoformat()}): {digits}",
            raw,
        )
    return born


def _division(number: str, raw: str) -> str:
    code = number[:6]
    if not is_known_province(code):
        raise _error(
            "id.division",
            f"行政区划代码的省级前缀不存在：{code}",
            f"division code has no known province prefix: {code}",
            raw,
        )
    return code


def _is_ascii_digits(text: str) -> bool:
    return text.isascii() and text.isdigit()


def _weighted_sum(digits17: str) -> int:
    total: int = sum(map(mul, digits17.encode("ascii"), _WEIGHTS))
    return total - _ASCII_ZERO_WEIGHT


def _error(rule_id: str, message_zh: str, message_en: str, value: object) -> InvalidIdentityNumber:
    return InvalidIdentityNumber(rule_id, message_zh, message_en, value)
