"""GB/T 2261.1 sex codes and the local codes mapped onto them."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bus.standards.errors import StandardViolation
from bus.standards.sex import InvalidSexCode, SexCode, normalize_sex, sex_from_sequence_digit


def test_the_standard_codes_and_names() -> None:
    assert [(c.value, c.name_zh) for c in SexCode] == [
        (0, "未知的性别"),
        (1, "男性"),
        (2, "女性"),
        (9, "未说明的性别"),
    ]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1", SexCode.MALE),
        ("2", SexCode.FEMALE),
        ("0", SexCode.UNKNOWN),
        ("9", SexCode.NOT_STATED),
        (1, SexCode.MALE),
        (2, SexCode.FEMALE),
        ("M", SexCode.MALE),
        ("f", SexCode.FEMALE),
        ("男", SexCode.MALE),
        ("女性", SexCode.FEMALE),
        ("未知", SexCode.UNKNOWN),
        ("未说明", SexCode.NOT_STATED),
        ("１", SexCode.MALE),
        (" 1 ", SexCode.MALE),
        ("\u30002\u3000", SexCode.FEMALE),
        ("Ｍ", SexCode.MALE),
    ],
)
def test_local_codes_map_to_the_standard(raw: str | int, expected: SexCode) -> None:
    assert normalize_sex(raw) is expected


@pytest.mark.parametrize("raw", [None, "", "   ", "\u3000"])
def test_a_missing_value_is_its_own_rule(raw: str | None) -> None:
    with pytest.raises(InvalidSexCode) as caught:
        normalize_sex(raw)
    assert caught.value.rule_id == "sex.missing"


@pytest.mark.parametrize("raw", ["3", "10", "X", "男女", 3, -1, "1.0"])
def test_anything_else_is_an_unknown_code(raw: str | int) -> None:
    with pytest.raises(InvalidSexCode) as caught:
        normalize_sex(raw)
    assert caught.value.rule_id == "sex.unknown_code"
    assert caught.value.value == raw


@pytest.mark.parametrize(("digit", "expected"), [("1", 1), ("3", 1), ("0", 2), ("8", 2)])
def test_the_identity_sequence_digit_gives_the_sex(digit: str, expected: int) -> None:
    assert sex_from_sequence_digit(digit) == expected


@given(st.one_of(st.none(), st.text(max_size=8), st.integers()))
def test_arbitrary_input_maps_or_raises_a_violation(raw: str | int | None) -> None:
    try:
        code = normalize_sex(raw)
    except StandardViolation as violation:
        assert violation.rule_id in {"sex.missing", "sex.unknown_code"}
    else:
        assert code in set(SexCode)
