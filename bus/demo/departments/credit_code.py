"""GB 32100-2015 unified social credit codes for the demo: the standard lives in ``bus.standards``.

Kept as a re-export so the department seeds (and older imports) keep working; the rule ids
are those of :mod:`bus.standards.credit_code`.
"""

from __future__ import annotations

from bus.standards.credit_code import (
    CREDIT_ALPHABET,
    InvalidCreditCode,
    compute_credit_check_char,
    compute_organization_check_char,
    is_valid_credit_code,
    normalize_credit_text,
    parse_credit_code,
)

__all__ = [
    "CREDIT_ALPHABET",
    "InvalidCreditCode",
    "compute_credit_check_char",
    "compute_organization_check_char",
    "is_valid_credit_code",
    "normalize_credit_text",
    "parse_credit_code",
]
