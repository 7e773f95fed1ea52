"""GB 11643-1999 identity numbers: check character, 15→18 upgrade, validation rules."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bus.standards.errors import StandardViolation
from bus.standards.idcard import (
    IdentityNumber,
    InvalidIdentityNumber,
    compute_check_char,
    is_valid_identity_number,
    parse_identity_number,
    upgrade_15_to_18,
)
from bus.standards.sex import SexCode

TODAY = date(2026, 11, 27)
KNOWN_PREFIXES = ("110105", "330106", "440305", "650102", "310115", "330103")


def rule_of(raw: str, *, today: date = TODAY) -> str:
    with pytest.raises(InvalidIdentityNumber) as caught:
        parse_identity_number(raw, today=today)
    return caught.value.rule_id


bodies = st.builds(
    lambda prefix, born, seq: f"{prefix}{born:%Y%m%d}{seq:03d}",
    st.sampled_from(KNOWN_PREFIXES),
    st.dates(min_value=date(1900, 1, 1), max_value=TODAY),
    st.integers(min_value=0, max_value=999),
)


@pytest.mark.parametrize(
    ("first17", "check"),
    [
        ("11010519491231002", "X"),  # the example printed in GB 11643-1999
        ("44052418800101001", "4"),
        ("11010120000101001", "0"),  # ensure '0' maps from remainder 1
    ],
)
def test_the_check_character_follows_iso_7064_mod_11_2(first17: str, check: str) -> None:
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    remainder = sum(int(d) * w for d, w in zip(first17, weights, strict=True)) % 11
    assert "10X98765432"[remainder] == check
    assert compute_check_char(first17) == check


def test_the_classic_example_parses_into_its_parts() -> None:
    parsed = parse_identity_number("11010519491231002X", today=TODAY)
    assert parsed == IdentityNumber(
        number="11010519491231002X",
        birth_date=date(1949, 12, 31),
        sex_code=SexCode.FEMALE,
        division_code="110105",
        upgraded_from_15=False,
    )


def test_an_odd_sequence_digit_means_male() -> None:
    body = "33010619800101001"
    assert parse_identity_number(body + compute_check_char(body), today=TODAY).sex_code == 1


@pytest.mark.parametrize(
    "raw",
    [
        "11010519491231002x",
        " 11010519491231002X ",
        "110105 19491231 002X",
        "１１０１０５１９４９１２３１００２Ｘ",
        "１１０１０５１９４９１２３１００２ｘ",
        "110105\u300019491231002X",
    ],
)
def test_messy_writing_is_normalized(raw: str) -> None:
    assert parse_identity_number(raw, today=TODAY).number == "11010519491231002X"


def test_a_15_digit_number_is_upgraded_with_19_and_a_check_character() -> None:
    assert upgrade_15_to_18("110105491231002") == "11010519491231002X"
    parsed = parse_identity_number("110105491231002", today=TODAY)
    assert parsed.number == "11010519491231002X"
    assert parsed.upgraded_from_15 is True


def test_an_abolished_county_code_passes_when_its_province_exists() -> None:
    body = "33010319700101001"  # 330103 (former Xiacheng district) left the table in 2021
    parsed = parse_identity_number(body + compute_check_char(body), today=TODAY)
    assert parsed.division_code == "330103"


@pytest.mark.parametrize(
    ("raw", "rule"),
    [
        ("", "id.missing"),
        ("   ", "id.missing"),
        ("1101051949123100", "id.length"),
        ("11010519491231002XX", "id.length"),
        ("1101051949123100AX", "id.charset"),
        ("11010519491231002Y", "id.charset"),
        ("11010519491231002x".replace("x", "1"), "id.checksum"),
        ("11010519490231002" + compute_check_char("11010519490231002"), "id.birth_date"),
        ("11010518991231002" + compute_check_char("11010518991231002"), "id.birth_date"),
        ("99010519491231002" + compute_check_char("99010519491231002"), "id.division"),
        ("11010549123100A", "id.charset"),
    ],
)
def test_each_rule_has_a_stable_id(raw: str, rule: str) -> None:
    assert rule_of(raw) == rule


def test_a_birth_date_after_today_is_rejected() -> None:
    body = "11010520270101001"
    number = body + compute_check_char(body)
    assert rule_of(number, today=date(2026, 12, 31)) == "id.birth_date"
    assert parse_identity_number(number, today=date(2027, 1, 1)).birth_date == date(2027, 1, 1)


def test_violations_carry_both_languages_and_the_input() -> None:
    with pytest.raises(StandardViolation) as caught:
        parse_identity_number("110105194912310021", today=TODAY)
    assert caught.value.rule_id == "id.checksum"
    assert "校验码" in caught.value.message_zh
    assert "check character" in caught.value.message_en
    assert caught.value.value == "110105194912310021"


@given(bodies)
def test_a_computed_check_character_always_validates(body: str) -> None:
    assert is_valid_identity_number(body + compute_check_char(body), today=TODAY)


@given(bodies, st.integers(min_value=0, max_value=17), st.integers(min_value=1, max_value=10))
def test_changing_any_single_character_is_detected(body: str, position: int, shift: int) -> None:
    number = body + compute_check_char(body)
    alphabet = "0123456789X" if position == 17 else "0123456789"
    index = alphabet.index(number[position])
    if shift >= len(alphabet):
        shift = 1
    altered = number[:position] + alphabet[(index + shift) % len(alphabet)] + number[position + 1 :]
    assert not is_valid_identity_number(altered, today=TODAY)


@given(
    st.sampled_from(KNOWN_PREFIXES),
    st.dates(min_value=date(1900, 1, 1), max_value=date(1999, 12, 31)),
    st.integers(min_value=0, max_value=999),
)
def test_an_upgraded_15_digit_number_always_validates(prefix: str, born: date, seq: int) -> None:
    id15 = f"{prefix}{born:%y%m%d}{seq:03d}"
    parsed = parse_identity_number(id15, today=TODAY)
    assert parsed.number == upgrade_15_to_18(id15)
    assert parsed.birth_date == born
    assert is_valid_identity_number(parsed.number, today=TODAY)


@given(st.text(max_size=30))
def test_arbitrary_text_is_parsed_or_rejected_with_a_violation(raw: str) -> None:
    try:
        parsed = parse_identity_number(raw, today=TODAY)
    except StandardViolation as violation:
        assert violation.rule_id.startswith("id.")
    else:
        assert len(parsed.number) == 18


@given(st.text(alphabet="0123456789Xx １２３", min_size=14, max_size=20))
def test_digit_like_text_is_parsed_or_rejected_with_a_violation(raw: str) -> None:
    try:
        parse_identity_number(raw, today=TODAY)
    except StandardViolation as violation:
        assert violation.rule_id.startswith("id.")


def test_a_number_stored_as_an_integer_is_read_as_text() -> None:
    assert parse_identity_number(110105491231002, today=TODAY).number == "11010519491231002X"


def test_a_missing_number_is_its_own_rule() -> None:
    with pytest.raises(InvalidIdentityNumber) as caught:
        parse_identity_number(None, today=TODAY)
    assert caught.value.rule_id == "id.missing"
