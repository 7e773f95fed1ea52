"""Character-level normalization: full-width forms, whitespace, names, legacy encodings."""

from __future__ import annotations

import re
from collections.abc import Sequence

__all__ = [
    "decode_legacy_bytes",
    "normalize_name",
    "normalize_whitespace",
    "to_half_width",
]

_FULL_WIDTH_START = 0xFF01
_FULL_WIDTH_END = 0xFF5E
_FULL_TO_HALF_OFFSET = 0xFEE0
_HALF_WIDTH_TABLE: dict[int, int] = {
    code: code - _FULL_TO_HALF_OFFSET for code in range(_FULL_WIDTH_START, _FULL_WIDTH_END + 1)
}
_HALF_WIDTH_TABLE[0x3000] = ord(" ")  # ideographic space

# Horizontal/vertical whitespace incl. NBSP (U+00A0) and the ideographic space (U+3000).
_WHITESPACE_RUN = re.compile(r"[\s\u00a0\u3000\u2000-\u200b\u202f\u205f\ufeff]+")
_CJK = r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f"
# Dot variants typed for the separator of minority names; a full stop only between CJK.
_MIDDLE_DOT_VARIANTS = re.compile(rf"\s*[·•・‧∙⋅]\s*|(?<=[{_CJK}])\s*\.\s*(?=[{_CJK}])")
_SPACE_BETWEEN_CJK = re.compile(rf"(?<=[{_CJK}·]) (?=[{_CJK}·])")


def to_half_width(s: str) -> str:
    """Map full-width ASCII (U+FF01..U+FF5E) to ASCII and U+3000 to a space."""
    return s if s.isascii() else s.translate(_HALF_WIDTH_TABLE)


def normalize_whitespace(s: str) -> str:
    """Strip and collapse every run of whitespace (incl. NBSP and U+3000) to one space."""
    return _WHITESPACE_RUN.sub(" ", s).strip()


def normalize_name(s: str) -> str:
    """Normalize a personal name.

    Half-width forms, collapsed whitespace, no spaces between CJK characters
    (``王 小 明`` → ``王小明``), and the minority-name separator unified to ``·``
    (``阿卜杜•热合曼`` → ``阿卜杜·热合曼``). Latin names keep single spaces.
    """
    text = normalize_whitespace(to_half_width(s))
    text = _MIDDLE_DOT_VARIANTS.sub("·", text)
    return _SPACE_BETWEEN_CJK.sub("", text)


def decode_legacy_bytes(b: bytes, encodings: Sequence[str] = ("utf-8", "gb18030")) -> str:
    """Decode bytes with the first encoding that fits; GB18030 is a superset of GBK/GB2312.

    Raises ``UnicodeDecodeError`` from the last encoding if none fits.
    """
    if not encodings:
        raise ValueError("at least one encoding is required")
    last_error: UnicodeDecodeError | None = None
    for encoding in encodings:
        try:
            return b.decode(encoding)
        except UnicodeDecodeError as exc:
            last_error = exc
    assert last_error is not None
    raise last_error
