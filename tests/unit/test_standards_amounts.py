"""Money amounts: exact decimals from legacy text, never rounded."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bus.standards.amounts import InvalidAmount, normalize_amount
from bus.standards.errors import StandardViolation


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("  880.00", Decimal("880.00")),  # fixed width, right-aligned
        ("880.0000", Decimal("880.00")),  # NUMERIC(18,4) with trailing zeros
        ("1,234.5", Decimal("1234.50")),
        ("￥１２０.００", Decimal("120.00")),
        ("¥ 120", Decimal("120.00")),
        ("100元", Decimal("100.00")),
        ("-0.00", Decimal("0.00")),
        (880, Decimal("880.00")),
        (Decimal("3.1"), Decimal("3.10")),
    ],
)
def test_legacy_amounts_are_read_exactly(raw: str | int | Decimal, expected: Decimal) -> None:
    value = normalize_amount(raw, scale=2, precision=10)

    assert value == expected
    assert value.as_tuple().exponent == -2
    assert not value.is_signed()


@pytest.mark.parametrize(
    ("raw", "rule"),
    [
        (None, "amount.missing"),
        (" ", "amount.missing"),
        ("abc", "amount.format"),
        ("1e5", "amount.format"),
        ("NaN", "amount.format"),
        (Decimal("Infinity"), "amount.format"),
        ("1,23.00", "amount.format"),
        ("-5.00", "amount.negative"),
        ("1.005", "amount.scale"),
        ("123456789.00", "amount.range"),
    ],
)
def test_bad_amounts_name_the_rule(raw: str | Decimal | None, rule: str) -> None:
    with pytest.raises(InvalidAmount) as caught:
        normalize_amount(raw, scale=2, precision=10)

    assert caught.value.rule_id == rule
    assert caught.value.message_zh and caught.value.message_en


@given(st.decimals(min_value=0, max_value=Decimal("99999999.99"), places=2))
def test_every_amount_the_schema_can_carry_survives_its_text(value: Decimal) -> None:
    assert normalize_amount(f"{value:.2f}", scale=2, precision=10) == value
    assert normalize_amount(f"{value:,.2f}", scale=2, precision=10) == value


@given(st.one_of(st.none(), st.text(max_size=20)))
def test_arbitrary_text_is_an_amount_or_a_violation(raw: str | None) -> None:
    try:
        value = normalize_amount(raw, scale=2, precision=10)
    except StandardViolation as violation:
        assert violation.rule_id.startswith("amount.")
    else:
        assert value.as_tuple().exponent == -2 and value.adjusted() < 8
