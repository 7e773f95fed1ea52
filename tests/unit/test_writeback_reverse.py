"""Reverse mappings: canonical events into legacy columns, local codes, formats and encodings."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest

from adapters.sinks.reverse import (
    MappingError,
    Unmappable,
    load_reverse_mapping,
    parse_reverse_mapping,
)

NOW = datetime(2026, 11, 27, 2, 5, 9, tzinfo=UTC)  # 10:05:09 in Beijing
#: "now" columns are stamped on the machine's clock, as the department's own programs stamp them
LOCAL_NOW = NOW.astimezone().strftime("%Y-%m-%d %H:%M:%S")


def registration(**changes: Any) -> dict[str, Any]:
    value: dict[str, Any] = {
        "registration_id": "NB0001", "case_id": "C1", "certificate_number": "Q440000001",
        "name": "张小明", "sex_code": "2", "birth_date": date(2026, 3, 7),
        "division_code": "110105", "household_address": "北京市朝阳区某街道1号",
        "mother_identity_number": "11010519900307002X", "father_identity_number": None,
        "requested_at": datetime(2026, 11, 25, 0, 30, tzinfo=UTC), "source": {},
    }
    value.update(changes)
    return value


def enrolment(**changes: Any) -> dict[str, Any]:
    value: dict[str, Any] = {
        "enrolment_id": "NB0001", "case_id": None, "certificate_number": None,
        "identity_number": None, "name": "李小红", "sex_code": "1",
        "birth_date": date(2026, 3, 7), "employer_credit_code": None,
        "requested_at": datetime(2026, 11, 25, 0, 30, tzinfo=UTC), "source": {},
    }
    value.update(changes)
    return value


def test_the_household_register_gets_a_pending_row_in_its_own_formats() -> None:
    row = load_reverse_mapping("writeback/gongan.hj_ryxx.yaml").apply(registration(), NOW)

    assert row.key == {"RYBH": "WBNB0001"}
    assert row.values == {"RYBH": "WBNB0001", "SFZH": None, "XM": "张小明", "XB": "2",
                          "CSRQ": "20260307", "HJDZ": "北京市朝阳区某街道1号", "XZQH": "110105",
                          "GXSJ": LOCAL_NOW}


def test_hrss_gets_sex_as_m_or_f_an_iso_birthday_and_the_pending_status() -> None:
    row = load_reverse_mapping("writeback/rsj.ac01.yaml").apply(enrolment(), NOW)

    assert row.values["AAC001"] == "WBNB0001"
    assert row.values["AAC004"] == "M"
    assert row.values["AAC006"] == "2026-03-07"
    assert row.values["AAC008"] == "0"
    assert row.values["AAC002"] is None
    assert row.values["AAE036"] == LOCAL_NOW


def test_civil_affairs_gets_chinese_dates_chinese_sex_and_local_times() -> None:
    row = load_reverse_mapping("writeback/mz.csdj.yaml").apply(registration(sex_code="1"), NOW)

    assert row.values["CSRQ"] == "2026年3月7日"
    assert row.values["XB"] == "男"
    assert row.values["SQSJ"] == "2026-11-25 08:30:00"
    assert row.key == {"DJBH": "NB0001"}


def test_a_sex_code_without_a_local_code_is_unmappable() -> None:
    with pytest.raises(Unmappable) as caught:
        load_reverse_mapping("writeback/rsj.ac01.yaml").apply(enrolment(sex_code="9"), NOW)

    assert caught.value.rule_id == "writeback.sex_code"
    assert caught.value.field == "sex_code"
    assert "known: 1, 2" in caught.value.message_en


def test_a_name_gbk_cannot_encode_is_unmappable_for_the_gbk_export() -> None:
    rare = "张𠀀"  # CJK extension B: in GB18030, not in GBK
    mapping = load_reverse_mapping("writeback/mz.csdj.yaml")

    with pytest.raises(Unmappable) as caught:
        mapping.apply(registration(name=rare), NOW)

    assert caught.value.rule_id == "writeback.unencodable"
    assert "GBK" in caught.value.message_en and "𠀀" in caught.value.message_zh
    # The household register is UTF-8: the same name is fine there.
    assert load_reverse_mapping("writeback/gongan.hj_ryxx.yaml").apply(
        registration(name=rare), NOW).values["XM"] == rare


def test_a_key_longer_than_its_column_is_unmappable() -> None:
    with pytest.raises(Unmappable) as caught:
        load_reverse_mapping("writeback/rsj.ac01.yaml").apply(enrolment(enrolment_id="X" * 19), NOW)

    assert caught.value.rule_id == "writeback.too_long"
    assert "AAC001" in caught.value.message_en


def test_a_missing_required_field_is_unmappable_and_an_optional_one_is_null() -> None:
    mapping = load_reverse_mapping("writeback/gongan.hj_ryxx.yaml")

    with pytest.raises(Unmappable) as caught:
        mapping.apply(registration(name=""), NOW)
    assert caught.value.rule_id == "writeback.missing"
    assert mapping.apply(registration(household_address=None), NOW).values["HJDZ"] is None


def test_dates_take_every_named_style_and_strftime_patterns() -> None:
    def written(style: str) -> str:
        mapping = parse_reverse_mapping({
            "department": "d", "table": "t", "entity": "e", "key": ["K"],
            "columns": {"K": {"field": "id", "transform": "text"},
                        "D": {"field": "day", "transform": "date", "format": style}}})
        return str(mapping.apply({"id": "1", "day": date(1990, 3, 7)}, NOW).values["D"])

    assert written("iso") == "1990-03-07"
    assert written("compact") == "19900307"
    assert written("chinese") == "1990年3月7日"
    assert written("slashes") == "1990/03/07"
    assert written("%d.%m.%Y") == "07.03.1990"


@pytest.mark.parametrize(("columns", "complaint"), [
    ({"K": {"field": "id", "transform": "soundex"}}, "transform 'soundex'"),
    ({"K": {"field": "id"}, "X": {"field": "sex", "transform": "sex_code",
                                  "local_codes": {"3": "?"}}}, "GB/T 2261.1"),
    ({"K": {"field": "id"}, "X": {"field": "s", "transform": "code"}}, "local_codes"),
    ({"K": {"field": "id", "template": "WB"}}, "{value}"),
    ({"X": {"field": "id"}}, "key column"),
    ({"K": {"transform": "text"}}, "'field'"),
])
def test_a_broken_mapping_file_is_refused_naming_the_column(
    columns: dict[str, Any], complaint: str
) -> None:
    with pytest.raises(MappingError, match=r"t\.yaml") as caught:
        parse_reverse_mapping({"department": "d", "table": "t", "entity": "e", "key": ["K"],
                               "columns": columns}, "t.yaml")

    assert complaint in str(caught.value)
