"""GB 32100-2015 unified social credit code (统一社会信用代码) and GB 11714 organization code.

18 characters: registration authority (1), organization type (1), GB/T 2260 division (6),
GB 11714 organization code (9, its own MOD 11 check character last) and a check character
over the first 17. The alphabet leaves out I, O, S, V and Z (they look like 1, 0, 5, U, 2).

The check character (GB 32100-2015 §5, ISO 7064 pure system style): characters take their
index in the alphabet (``0``–``9`` → 0–9, ``A`` → 10 … ``Y`` → 30), weights are ``3^i mod 31``
(1 3 9 27 19 26 16 17 20 29 25 13 8 24 10 30 28), and the check value is
``31 − (Σ value·weight mod 31)``, 31 written as ``0``. Verified against published codes such as
``91350100M000100Y43`` and ``914403001922038216``.
"""

from __future__ import annotations

from bus.standards.errors import StandardViolation
from bus.standards.text import to_half_width

__all__ = [
    "CREDIT_ALPHABET",
    "CREDIT_WEIGHTS",
    "InvalidCreditCode",
    "compute_credit_check_char",
    "compute_organization_check_char",
    "is_valid_credit_code",
    "normalize_credit_text",
    "parse_credit_code",
]

CREDIT_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
#: Weight of position i (0-based) is 3**i mod 31.
CREDIT_WEIGHTS = tuple(pow(3, i, 31) for i in range(17))
_VALUE = {char: value for value, char in enumerate(CREDIT_ALPHABET)}
_ORGANIZATION_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)
_ORGANIZATION_CHARS = frozenset("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ")


class InvalidCreditCode(StandardViolation):
    """A value that is not a valid GB 32100 unified social credit code."""


def compute_credit_check_char(first17: str) -> str:
    """The MOD 31 check character: ``31 - (Σ value·weight mod 31)``, 31 written as ``0``."""
    if len(first17) != 17 or any(char not in _VALUE for char in first17):
        raise ValueError(f"need 17 characters of {CREDIT_ALPHABET}, got {first17!r}")
    total = sum(_VALUE[char] * weight for char, weight in zip(first17, CREDIT_WEIGHTS, strict=True))
    return CREDIT_ALPHABET[(31 - total % 31) % 31]


def compute_organization_check_char(first8: str) -> str:
    """GB 11714 check character: digits count as themselves, letters A..Z as 10..35, MOD 11."""
    if len(first8) != 8 or any(char not in _ORGANIZATION_CHARS for char in first8):
        raise ValueError(f"need 8 digits or capital letters, got {first8!r}")
    total = sum(int(char, 36) * weight for char, weight in zip(first8, _ORGANIZATION_WEIGHTS, strict=True))
    check = 11 - total % 11
    return "X" if check == 10 else "0" if check == 11 else str(check)


def normalize_credit_text(raw: str) -> str:
    """Half-width, no whitespace anywhere, upper case."""
    return "".join(to_half_width(raw).split()).upper()


def parse_credit_code(raw: str | None) -> str:
    """The normalized code, or ``InvalidCreditCode`` with the first failing rule.

    Rules in order: ``credit_code.missing``, ``credit_code.length``, ``credit_code.charset``,
    ``credit_code.checksum``.
    """
    text = normalize_credit_text(raw if isinstance(raw, str) else "" if raw is None else str(raw))
    if not text:
        raise InvalidCreditCode("credit_code.missing", "统一社会信用代码为空", "credit code is missing", raw)
    if len(text) != 18:
        raise InvalidCreditCode(
            "credit_code.length", f"统一社会信用代码应为18位，实为{len(text)}位",
            f"credit code must have 18 characters, not {len(text)}", raw,
        )
    if any(char not in _VALUE for char in text):
        raise InvalidCreditCode(
            "credit_code.charset",
            "统一社会信用代码含非法字符（不得含 I、O、S、V、Z）",
            "credit code has characters outside its alphabet (no I, O, S, V, Z)",
            raw,
        )
    expected = compute_credit_check_char(text[:17])
    if expected != text[17]:
        raise InvalidCreditCode(
            "credit_code.checksum", f"统一社会信用代码校验码错误：应为{expected}，实为{text[17]}",
            f"credit code check character is {text[17]}, expected {expected}", raw,
        )
    return text


def is_valid_credit_code(raw: str | None) -> bool:
    """Whether ``parse_credit_code`` accepts the value."""
    try:
        parse_credit_code(raw)
    except InvalidCreditCode:
        return False
    return True
