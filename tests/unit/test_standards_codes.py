"""Canonical code tables and the mapping of departments' own codes onto them."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bus.standards.codes import InvalidCode, LocalCodes, code_table
from bus.standards.errors import StandardViolation

TABLES = ("enterprise_status", "tax_registration_status", "insurance_status", "marriage_registration_type",
          "social_assistance_type", "service_case_type", "service_case_status")


@pytest.mark.parametrize("name", TABLES)
def test_every_canonical_table_has_codes_with_names_in_both_languages(name: str) -> None:
    table = code_table(name)

    assert table
    for code, entry in table.items():
        assert code == entry.code and code.isascii() and code == code.strip().lower()
        assert entry.name_zh and entry.name_en


def test_an_unknown_table_is_a_key_error() -> None:
    with pytest.raises(KeyError, match="no_such"):
        code_table("no_such")


def tax_codes() -> LocalCodes:
    return LocalCodes("tax_registration_status", {"01": "normal", "02": "abnormal", "03": "deregistered",
                                                  "05": "suspended"}, "tax_status", "税务登记状态",
                      "tax registration status")


@pytest.mark.parametrize(("raw", "expected"), [
    ("01", "normal"), (" 05 ", "suspended"), ("０３", "deregistered"), ("abnormal", "abnormal"),
    ("NORMAL", "normal"),
])
def test_local_and_canonical_codes_map_onto_the_canonical_table(raw: str, expected: str) -> None:
    assert tax_codes().normalize(raw) == expected


@pytest.mark.parametrize(("raw", "rule"), [
    (None, "tax_status.missing"), ("", "tax_status.missing"), ("04", "tax_status.unknown_code"),
    ("1", "tax_status.unknown_code"),
])
def test_anything_else_is_refused_with_the_mapping_s_rule_prefix(raw: str | None, rule: str) -> None:
    with pytest.raises(InvalidCode) as caught:
        tax_codes().normalize(raw)

    assert caught.value.rule_id == rule
    assert "税务登记状态" in caught.value.message_zh
    assert "tax registration status" in caught.value.message_en


def test_local_codes_onto_a_code_the_table_lacks_are_refused_when_built() -> None:
    with pytest.raises(ValueError, match="closed"):
        LocalCodes("tax_registration_status", {"09": "closed"}, "tax_status", "x", "x")


@given(st.one_of(st.none(), st.text(max_size=6)))
def test_arbitrary_input_maps_or_raises_a_violation(raw: str | None) -> None:
    try:
        code = tax_codes().normalize(raw)
    except StandardViolation as violation:
        assert violation.rule_id.startswith("tax_status.")
    else:
        assert code in code_table("tax_registration_status")
