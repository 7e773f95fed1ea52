"""Declarative mappings: a legacy hj_ryxx row becomes canonical person fields or a Rejection."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.standardize.entity import canonical_entity
from adapters.standardize.mapping import (
    FieldRule,
    Mapping,
    MappingError,
    Rejection,
    check_mapping,
    load_mapping,
    parse_mapping,
)
from adapters.standardize.transforms import TRANSFORMS
from bus.standards.idcard import compute_check_char

VALID_ID = "330106199003071236"
OLD_15_ID = "330106900307123"
LEGACY_COLUMNS = ("SFZH", "XB", "CSRQ", "XM", "XZQH", "HJDZ")


@pytest.fixture(scope="module")
def mapping() -> Mapping:
    return load_mapping("gongan.hj_ryxx")


def clean_row(**changes: str | None) -> dict[str, str | None]:
    row: dict[str, str | None] = {
        "RYBH": "R0000001", "SFZH": VALID_ID, "XM": "王 小 明", "XB": "1", "CSRQ": "19900307",
        "HJDZ": "浙江省杭州市西湖区文三路 1 号", "XZQH": "330106", "GXSJ": "2024-03-07 08:30:15",
    }
    row.update(changes)
    return row


def rejection_of(mapping: Mapping, row: dict[str, str | None]) -> Rejection:
    result = mapping.apply(row)
    assert isinstance(result, Rejection), f"expected a rejection, got {result!r}"
    return result


def test_the_hj_ryxx_mapping_names_its_table_topics_and_keys(mapping: Mapping) -> None:
    assert (mapping.department, mapping.table, mapping.entity) == ("gongan", "hj_ryxx", "person")
    assert (mapping.key_column, mapping.updated_column) == ("RYBH", "GXSJ")
    assert mapping.source_topic == "legacy.gongan.hj_ryxx"
    assert mapping.target_topic == "std.person"
    assert mapping.quarantine_topic == "quarantine.gongan.hj_ryxx"
    assert [(r.field, r.column, r.required) for r in mapping.rules] == [
        ("identity_number", "SFZH", True),
        ("sex_code", "XB", True),
        ("birth_date", "CSRQ", True),
        ("name", "XM", True),
        ("division_code", "XZQH", False),
        ("household_address", "HJDZ", False),
    ]


def test_a_clean_row_becomes_canonical_fields(mapping: Mapping) -> None:
    assert mapping.apply(clean_row()) == {
        "identity_number": VALID_ID,
        "sex_code": "1",
        "birth_date": date(1990, 3, 7),
        "name": "王小明",
        "division_code": "330106",
        "household_address": "浙江省杭州市西湖区文三路 1 号",
    }


@pytest.mark.parametrize(("xb", "expected"), [("1", "1"), ("2", "2"), ("男", "1"), ("女", "2"), ("F", "2")])
def test_local_sex_codes_become_gb_2261_codes(mapping: Mapping, xb: str, expected: str) -> None:
    fields = mapping.apply(clean_row(XB=xb))

    assert isinstance(fields, dict)
    assert fields["sex_code"] == expected


def test_a_15_digit_identity_number_is_upgraded_to_18(mapping: Mapping) -> None:
    fields = mapping.apply(clean_row(SFZH=OLD_15_ID))

    assert isinstance(fields, dict)
    assert fields["identity_number"] == VALID_ID


def test_full_width_digits_and_spaces_are_normalized(mapping: Mapping) -> None:
    full_width_id = "".join(chr(ord(c) + 0xFEE0) for c in VALID_ID)

    fields = mapping.apply(clean_row(SFZH=full_width_id, XB="２", CSRQ="１９９０－０３－０７",
                                     XZQH="３３０１０６", XM="阿卜杜•热合曼"))

    assert isinstance(fields, dict)
    assert fields["identity_number"] == VALID_ID
    assert fields["sex_code"] == "2"
    assert fields["birth_date"] == date(1990, 3, 7)
    assert fields["division_code"] == "330106"
    assert fields["name"] == "阿卜杜·热合曼"


def test_an_identity_number_with_a_lower_case_x_check_character_is_accepted(mapping: Mapping) -> None:
    for seq in range(100, 1000):
        body = f"33010619900307{seq}"
        if compute_check_char(body) == "X":
            break
    fields = mapping.apply(clean_row(SFZH=f"{body}x"))

    assert isinstance(fields, dict)
    assert fields["identity_number"] == f"{body}X"


@pytest.mark.parametrize(
    ("changes", "rule_id", "column"),
    [
        ({"SFZH": VALID_ID[:-1] + "7"}, "id.checksum", "SFZH"),
        ({"SFZH": "12345"}, "id.length", "SFZH"),
        ({"SFZH": None}, "id.missing", "SFZH"),
        ({"XB": "3"}, "sex.unknown_code", "XB"),
        ({"XB": "  "}, "sex.missing", "XB"),
        ({"CSRQ": "19900230"}, "date.invalid", "CSRQ"),
        ({"CSRQ": "last spring"}, "date.format", "CSRQ"),
        ({"XM": ""}, "name.missing", "XM"),
        ({"XM": None}, "name.missing", "XM"),
        ({"XZQH": "999999"}, "division.unknown", "XZQH"),
    ],
)
def test_each_broken_rule_is_rejected_with_its_rule_id_and_column(
    mapping: Mapping, changes: dict[str, str | None], rule_id: str, column: str,
) -> None:
    rejection = rejection_of(mapping, clean_row(**changes))

    assert rejection.rule_id == rule_id
    assert rejection.column == column
    assert rejection.message_en
    assert rejection.message_zh


def test_a_name_that_normalizes_to_nothing_is_rejected_as_missing(mapping: Mapping) -> None:
    rejection = rejection_of(mapping, clean_row(XM="\u3000\u00a0"))

    assert (rejection.rule_id, rejection.column) == ("name.missing", "XM")


@pytest.mark.parametrize("column", ["HJDZ", "XZQH"])
@pytest.mark.parametrize("value", [None, "", "   "])
def test_a_missing_optional_column_becomes_none(mapping: Mapping, column: str, value: str | None) -> None:
    fields = mapping.apply(clean_row(**{column: value}))

    assert isinstance(fields, dict)
    field = {"HJDZ": "household_address", "XZQH": "division_code"}[column]
    assert fields[field] is None
    assert fields["identity_number"] == VALID_ID


def test_an_absent_optional_column_becomes_none(mapping: Mapping) -> None:
    row = clean_row()
    del row["HJDZ"]

    fields = mapping.apply(row)

    assert isinstance(fields, dict)
    assert fields["household_address"] is None


def test_rules_are_checked_in_order_so_the_first_broken_one_is_reported(mapping: Mapping) -> None:
    everything_wrong = clean_row(SFZH=VALID_ID[:-1] + "7", XB="3", CSRQ="19900230", XM="",
                                 XZQH="999999")

    assert rejection_of(mapping, everything_wrong).rule_id == "id.checksum"
    assert rejection_of(mapping, clean_row(XB="3", CSRQ="19900230")).rule_id == "sex.unknown_code"
    assert rejection_of(mapping, clean_row(CSRQ="19900230", XM="")).rule_id == "date.invalid"
    assert rejection_of(mapping, clean_row(XM="", XZQH="999999")).rule_id == "name.missing"


# --- parsing mapping documents ---------------------------------------------------------------

def document(**changes: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "department": "d", "table": "t", "entity": "e", "key_column": "K", "updated_column": "U",
        "fields": {"name": {"column": "N", "transform": "name"},
                   "note": {"column": "M", "transform": "text", "required": False}},
    }
    doc.update(changes)
    return doc


def test_a_well_formed_document_parses_into_rules_in_document_order() -> None:
    parsed = parse_mapping(document())

    assert parsed.rules == (
        FieldRule("name", "N", TRANSFORMS["name"], True, "name"),
        FieldRule("note", "M", TRANSFORMS["text"], False, "text"),
    )
    assert parsed.source_topic == "legacy.d.t"


def test_an_unknown_transform_is_a_mapping_error_naming_it() -> None:
    doc = document(fields={"name": {"column": "N", "transform": "soundex"}})

    with pytest.raises(MappingError, match="soundex"):
        parse_mapping(doc)


@pytest.mark.parametrize("key", ["department", "table", "entity", "key_column", "fields"])
def test_a_document_missing_a_top_level_key_is_a_mapping_error(key: str) -> None:
    doc = document()
    del doc[key]

    with pytest.raises(MappingError, match=key):
        parse_mapping(doc)


@pytest.mark.parametrize("key", ["column", "transform"])
def test_a_field_missing_its_column_or_transform_is_a_mapping_error(key: str) -> None:
    spec = {"column": "N", "transform": "name"}
    del spec[key]

    with pytest.raises(MappingError, match=key):
        parse_mapping(document(fields={"name": spec}))


@pytest.mark.parametrize("fields", [["name"], "name", None, {"name": "just a string"}])
def test_fields_of_the_wrong_shape_are_a_mapping_error(fields: object) -> None:
    with pytest.raises(MappingError):
        parse_mapping(document(fields=fields))


def test_the_updated_column_is_optional_for_tables_without_one() -> None:
    doc = document()
    del doc["updated_column"]

    assert parse_mapping(doc).updated_column is None


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"column": "N", "transform": "name", "scale": 2}, "takes no options"),
        ({"column": "N", "transform": "code"}, "code_table"),
        ({"column": "N", "transform": "code", "code_table": "no_such_table"}, "no_such_table"),
        ({"column": "N", "transform": "code", "code_table": "tax_registration_status",
          "local_codes": {1: "normal"}}, "quoted"),
        ({"column": "N", "transform": "code", "code_table": "tax_registration_status",
          "local_codes": {"09": "closed"}}, "closed"),
        ({"column": "N", "transform": "code", "code_table": "tax_registration_status", "colour": "red"},
         "colour"),
        ({"column": "N", "transform": "amount", "scale": 2}, "precision"),
        ({"column": "N", "transform": "amount", "scale": 5, "precision": 4}, "scale"),
    ],
)
def test_unusable_transform_options_are_a_mapping_error(spec: dict[str, Any], message: str) -> None:
    with pytest.raises(MappingError, match=message):
        parse_mapping(document(fields={"name": spec}))


def test_a_transform_that_normalizes_to_nothing_counts_as_missing() -> None:
    parsed = parse_mapping(document(fields={"note": {"column": "M", "transform": "text"}}))

    result = parsed.apply({"M": "\u200b"})

    assert isinstance(result, Rejection)
    assert (result.rule_id, result.column) == ("note.missing", "M")


def test_values_that_are_not_text_are_read_as_text(mapping: Mapping) -> None:
    row: dict[str, object] = {**clean_row(), "CSRQ": 19900307, "XB": 1}

    fields = mapping.apply(row)

    assert isinstance(fields, dict)
    assert (fields["birth_date"], fields["sex_code"]) == (date(1990, 3, 7), "1")


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"entity": "no_such_entity"}, "no_such_entity"),
        ({"fields": {"identity_number": {"column": "SFZH", "transform": "identity_number"},
                     "shoe_size": {"column": "X", "transform": "text"}}}, "shoe_size"),
        ({"fields": {"identity_number": {"column": "SFZH", "transform": "identity_number"}}},
         "name has no default"),
    ],
)
def test_a_mapping_that_does_not_fit_its_schema_is_a_mapping_error(
    changes: dict[str, Any], message: str,
) -> None:
    doc = {"department": "gongan", "table": "hj_ryxx", "entity": "person", "key_column": "RYBH",
           "fields": {"identity_number": {"column": "SFZH", "transform": "identity_number"}}, **changes}
    parsed = parse_mapping(doc)

    with pytest.raises((MappingError, ValueError), match=message):
        check_mapping(parsed, canonical_entity(parsed.entity))


def test_an_optional_column_for_a_field_that_cannot_be_null_is_a_mapping_error() -> None:
    parsed = load_mapping("gongan.hj_ryxx")
    loose = replace(parsed, rules=tuple(replace(r, required=False) if r.field == "name" else r
                                        for r in parsed.rules))

    with pytest.raises(MappingError, match="name is not nullable"):
        check_mapping(loose, canonical_entity("person"))


def test_loading_a_mapping_that_does_not_exist_is_a_mapping_error() -> None:
    with pytest.raises(MappingError, match=r"no_such\.table"):
        load_mapping("no_such.table")


# --- any input -------------------------------------------------------------------------------

plausible = st.sampled_from([
    VALID_ID, OLD_15_ID, "1", "2", "男", "19900307", "1990-02-30", "330106", "000000", "王小明",
    "", " ", "\u3000", "１２３", "X", "ß" * 17 + "X", "²" * 18, "٣" * 15,
])
legacy_value = st.none() | st.text(max_size=25) | plausible
legacy_rows = st.fixed_dictionaries(
    {}, optional={column: legacy_value for column in (*LEGACY_COLUMNS, "RYBH", "GXSJ")},
)


@settings(max_examples=300, deadline=None)
@given(row=legacy_rows)
def test_any_row_yields_fields_or_a_rejection_and_never_raises(row: dict[str, str | None]) -> None:
    result = load_mapping("gongan.hj_ryxx").apply(row)

    assert isinstance(result, dict | Rejection)
    if isinstance(result, Rejection):
        assert result.column in LEGACY_COLUMNS
        assert "." in result.rule_id
    else:
        assert len(result["identity_number"]) == 18
