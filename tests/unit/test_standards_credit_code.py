"""GB 32100-2015 unified social credit codes: alphabet, MOD 31 check character, normalization."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bus.standards.credit_code import (
    CREDIT_ALPHABET,
    CREDIT_WEIGHTS,
    InvalidCreditCode,
    compute_credit_check_char,
    compute_organization_check_char,
    is_valid_credit_code,
    parse_credit_code,
)
from bus.standards.errors import StandardViolation

# Published codes of real enterprises (from their business licences).
REAL_CODES = (
    "91350100M000100Y43",  # the example most often quoted for GB 32100
    "914403001922038216",  # 华为技术有限公司
    "91110108551385082Q",  # 小米科技有限责任公司
    "91330100716105852F",  # 阿里巴巴（中国）有限公司
    "9144030071526726XG",  # 深圳市腾讯计算机系统有限公司
)

bodies = st.text(alphabet=CREDIT_ALPHABET, min_size=17, max_size=17)


def test_the_alphabet_leaves_out_i_o_s_v_and_z() -> None:
    assert len(CREDIT_ALPHABET) == 31
    assert not set("IOSVZ") & set(CREDIT_ALPHABET)


def test_the_weights_are_powers_of_3_mod_31_as_the_standard_tabulates_them() -> None:
    assert CREDIT_WEIGHTS == (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


@pytest.mark.parametrize("code", REAL_CODES)
def test_real_codes_validate(code: str) -> None:
    assert parse_credit_code(code) == code
    assert compute_credit_check_char(code[:17]) == code[17]


@pytest.mark.parametrize("code", REAL_CODES)
def test_the_organization_code_inside_real_codes_has_a_valid_gb_11714_check(code: str) -> None:
    assert compute_organization_check_char(code[8:16]) == code[16]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("91350100m000100y43", "91350100M000100Y43"),
        (" 91350100M000100Y43 ", "91350100M000100Y43"),
        ("91350100 M000100Y43", "91350100M000100Y43"),
        ("９１３５０１００Ｍ０００１００Ｙ４３", "91350100M000100Y43"),
        ("91350100\u3000M000100Y43", "91350100M000100Y43"),
    ],
)
def test_typing_mess_is_normalized(raw: str, expected: str) -> None:
    assert parse_credit_code(raw) == expected


@pytest.mark.parametrize(
    ("raw", "rule"),
    [
        (None, "credit_code.missing"),
        ("  ", "credit_code.missing"),
        ("91350100M000100Y4", "credit_code.length"),
        ("91350100M000100Y433", "credit_code.length"),
        ("91350100O000100Y43", "credit_code.charset"),
        ("91350100M000100Y4I", "credit_code.charset"),
        ("91350100M000100Y44", "credit_code.checksum"),
    ],
)
def test_each_rule_has_a_stable_id_and_two_languages(raw: str | None, rule: str) -> None:
    with pytest.raises(InvalidCreditCode) as caught:
        parse_credit_code(raw)

    assert caught.value.rule_id == rule
    assert caught.value.message_zh and caught.value.message_en
    assert not is_valid_credit_code(raw)


def test_a_check_value_of_31_is_written_as_0() -> None:
    def weighted(body: str) -> int:
        return sum(CREDIT_ALPHABET.index(c) * w for c, w in zip(body, CREDIT_WEIGHTS, strict=True))

    body = next(b for b in (f"9135010000000{n:04d}" for n in range(10_000)) if weighted(b) % 31 == 0)

    assert compute_credit_check_char(body) == "0"


@given(bodies)
def test_any_17_characters_with_their_computed_check_character_validate(body: str) -> None:
    code = body + compute_credit_check_char(body)

    assert parse_credit_code(code) == code


@given(bodies, st.integers(min_value=0, max_value=17), st.integers(min_value=1, max_value=30))
def test_changing_any_single_character_is_detected(body: str, position: int, shift: int) -> None:
    code = body + compute_credit_check_char(body)
    changed = CREDIT_ALPHABET[(CREDIT_ALPHABET.index(code[position]) + shift) % 31]
    typo = code[:position] + changed + code[position + 1:]

    with pytest.raises(InvalidCreditCode) as caught:
        parse_credit_code(typo)
    assert caught.value.rule_id == "credit_code.checksum"


@given(st.one_of(st.none(), st.text(max_size=25)))
def test_arbitrary_text_is_a_code_or_a_violation(raw: str | None) -> None:
    try:
        code = parse_credit_code(raw)
    except StandardViolation as violation:
        assert violation.rule_id.startswith("credit_code.")
    else:
        assert len(code) == 18 and set(code) <= set(CREDIT_ALPHABET)


def test_the_demo_imports_the_standard() -> None:
    from bus.demo.departments import credit_code as demo

    assert demo.parse_credit_code is parse_credit_code
