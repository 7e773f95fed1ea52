"""Full-width forms, whitespace, names and legacy encodings."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bus.standards.text import (
    decode_legacy_bytes,
    normalize_name,
    normalize_whitespace,
    to_half_width,
)


def test_full_width_ascii_and_the_ideographic_space_become_half_width() -> None:
    assert to_half_width("ＡＢｃ１２３！～\u3000－") == "ABc123!~ -"
    assert to_half_width("中文，保持") == "中文,保持"


@given(st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E)))
def test_half_width_of_full_width_is_the_ascii_original(ascii_text: str) -> None:
    full = "".join(chr(ord(ch) + 0xFEE0) for ch in ascii_text)
    assert to_half_width(full) == ascii_text


def test_whitespace_runs_collapse_including_nbsp_and_ideographic_space() -> None:
    assert normalize_whitespace("  a\u00a0\u00a0b\u3000c\t\nd  ") == "a b c d"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("王 小 明", "王小明"),
        ("王\u3000小明", "王小明"),
        ("  张三  ", "张三"),
        ("阿卜杜•热合曼", "阿卜杜·热合曼"),
        ("阿卜杜.热合曼", "阿卜杜·热合曼"),
        ("阿卜杜・热合曼", "阿卜杜·热合曼"),
        ("阿卜杜 · 热合曼", "阿卜杜·热合曼"),
        ("阿卜杜．热合曼", "阿卜杜·热合曼"),
        ("John  Smith", "John Smith"),
        ("J. Smith", "J. Smith"),
    ],
)
def test_names_are_normalized(raw: str, expected: str) -> None:
    assert normalize_name(raw) == expected


def test_gbk_bytes_are_decoded_when_utf8_does_not_fit() -> None:
    assert decode_legacy_bytes("户籍地址".encode("gbk")) == "户籍地址"
    assert decode_legacy_bytes("户籍地址".encode()) == "户籍地址"
    assert decode_legacy_bytes("𠀀".encode("gb18030")) == "𠀀"


def test_undecodable_bytes_raise_a_decode_error() -> None:
    with pytest.raises(UnicodeDecodeError):
        decode_legacy_bytes(b"\xff\xfe\x80", encodings=("utf-8", "ascii"))
