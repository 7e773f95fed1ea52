"""The six reference departments' mappings on rows shaped as the demo seed writes them.

Each seeded row goes through its mapping as the capture delivers it (every value as text) and
must meet the ground truth: accepted, or quarantined with the first failing rule id. Any row
at all yields canonical fields that encode with the entity's schema, or a Rejection.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, time
from decimal import Decimal
from functools import cache
from typing import Any

import fastavro
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.capture.rows import as_text
from adapters.standardize.entity import canonical_entity
from adapters.standardize.mapping import Mapping, Rejection, load_mapping, mapping_names
from bus.demo.departments import civil_affairs, health, hrss, market, tax
from bus.demo.departments.ground_truth import RowTruth
from bus.demo.departments.population import Population, build_population
from bus.standards.credit_code import compute_credit_check_char
from bus.standards.idcard import compute_check_char

SEED = 20261127
ID18 = "330106199003071236"
ID15 = "330106900307123"
WIFE = "330102199205080020"
CODE = "91330106MA27U0XHXJ"
FULL = str.maketrans("0123456789X", "０１２３４５６７８９Ｘ")
AC01 = ("AAC001", "AAC002", "AAC003", "AAC004", "AAC006", "AAB001", "AAC008", "AAE036")
QY_JBXX = ("TYSHXYDM", "QYMC", "FDDBR_SFZH", "FDDBR_XM", "ZCZB", "CLRQ", "DJZT", "GXSJ")
SWDJ = ("NSRSBH", "NSRMC", "FDDBR", "DJZT", "DJRQ", "XGSJ")
CSYXZM = ("CSZMBH", "XSEXM", "XSEXB", "CSRQ", "CSSJ", "MQ_SFZH", "MQ_XM", "FQ_SFZH", "FQ_XM", "CSDD", "QFRQ",
          "GXSJ")
DBJZ = tuple(name for name, _ in civil_affairs.DBJZ_FIELDS)


def wrong_check(number: str) -> str:
    return number[:17] + ("0" if number[17] != "0" else "1")


@cache
def population() -> Population:
    return build_population(3000, SEED)


def as_captured(columns: Sequence[str], values: Sequence[object]) -> dict[str, str | None]:
    """A seeded row as the change envelope carries it: every value as text."""
    return {column: as_text(value)[0] for column, value in zip(columns, values, strict=True)}


def outcome(result: dict[str, Any] | Rejection) -> tuple[str, str | None]:
    return ("quarantined", result.rule_id) if isinstance(result, Rejection) else ("accepted", None)


def seeded(name: str) -> tuple[Sequence[str], list[tuple[object, ...]], list[RowTruth]]:
    pop = population()
    generators: dict[str, tuple[Sequence[str], Callable[[], tuple[Any, Any]]]] = {
        "rsj.ac01": (AC01, lambda: hrss._generate(random.Random(f"{SEED}:hrss"), pop)),
        "scjg.qy_jbxx": (QY_JBXX, lambda: market._generate(random.Random(f"{SEED}:market"), pop)),
        "sw.swdj": (SWDJ, lambda: tax._generate(random.Random(f"{SEED}:tax"), pop)),
        "wsjk.csyxzm": (CSYXZM, lambda: health._generate(random.Random(f"{SEED}:health"), pop)),
    }
    if name in generators:
        columns, generate = generators[name]
        rows, truths = generate()
        return columns, rows, truths
    rng = random.Random(f"{SEED}:civil_affairs")
    marriages, judge_marriage = civil_affairs._marriages(rng, pop)
    assistance, judge_assistance = civil_affairs._assistance(rng, pop)
    histories, judge, columns = ((marriages, judge_marriage, civil_affairs.HYDJ_COLUMNS) if name == "mz.hydj"
                                 else (assistance, judge_assistance, DBJZ))
    latest: list[tuple[object, ...]] = [history[-1] for history in histories if history[-1] is not None]
    return columns, latest, [judge(row) for row in latest]  # type: ignore[arg-type]


NEW_MAPPINGS = ("rsj.ac01", "scjg.qy_jbxx", "sw.swdj", "wsjk.csyxzm", "mz.hydj", "mz.dbjz")


def test_every_reference_table_has_a_mapping() -> None:
    assert set(mapping_names()) == {"gongan.hj_ryxx", *NEW_MAPPINGS}


@pytest.mark.parametrize("name", NEW_MAPPINGS)
def test_every_seeded_row_meets_its_ground_truth(name: str) -> None:
    mapping = load_mapping(name)
    columns, rows, truths = seeded(name)
    outcomes = [outcome(mapping.apply(as_captured(columns, row))) for row in rows]

    assert outcomes == [(truth.outcome, truth.reason) for truth in truths]
    assert any(o == "accepted" for o, _ in outcomes)


@pytest.mark.parametrize("name", NEW_MAPPINGS)
def test_accepted_seeded_rows_refer_to_the_truth_s_person_or_enterprise(name: str) -> None:
    mapping = load_mapping(name)
    subject = {"rsj.ac01": "identity_number", "scjg.qy_jbxx": "credit_code", "sw.swdj": "taxpayer_id",
               "wsjk.csyxzm": "mother_identity_number", "mz.hydj": "husband_identity_number",
               "mz.dbjz": "identity_number"}[name]
    columns, rows, truths = seeded(name)
    for row, truth in zip(rows, truths, strict=True):
        fields = mapping.apply(as_captured(columns, row))
        if isinstance(fields, dict) and truth.refers_to is not None:
            assert fields[subject] == truth.refers_to


def apply(name: str, row: dict[str, str | None]) -> dict[str, Any]:
    result = load_mapping(name).apply(row)
    assert isinstance(result, dict), f"expected fields, got {result!r}"
    return result


def rejected(name: str, row: dict[str, str | None]) -> Rejection:
    result = load_mapping(name).apply(row)
    assert isinstance(result, Rejection), f"expected a rejection, got {result!r}"
    return result


# --- 人社 rsj.ac01 → std.social_insurance ------------------------------------------------------


def ac01(**changes: str | None) -> dict[str, str | None]:
    row: dict[str, str | None] = dict(zip(AC01, ("330100000001", ID18, "王小明", "M", "1990-03-07", CODE, "1",
                                                 "2024-05-06 08:30:00"), strict=True))
    return {**row, **changes}


def test_an_insured_person_becomes_a_social_insurance_record() -> None:
    assert apply("rsj.ac01", ac01()) == {
        "identity_number": ID18, "sex_code": "1", "birth_date": date(1990, 3, 7),
        "insurance_number": "330100000001", "name": "王小明", "employer_credit_code": CODE,
        "status_code": "paying",
    }


@pytest.mark.parametrize(
    ("changes", "field", "expected"),
    [
        ({"AAC004": "F"}, "sex_code", "2"), ({"AAC004": "女"}, "sex_code", "2"),
        ({"AAC004": "m"}, "sex_code", "1"),
        ({"AAC002": ID15}, "identity_number", ID18),
        ({"AAC002": ID18.translate(FULL)}, "identity_number", ID18),
        ({"AAC003": "王 小 明"}, "name", "王小明"),
        ({"AAB001": None}, "employer_credit_code", None),
        ({"AAB001": CODE.lower()}, "employer_credit_code", CODE),
        ({"AAC008": "3"}, "status_code", "terminated"), ({"AAC008": "2"}, "status_code", "suspended"),
    ],
)
def test_hrss_mess_is_normalized(changes: dict[str, str | None], field: str, expected: object) -> None:
    assert apply("rsj.ac01", ac01(**changes))[field] == expected


@pytest.mark.parametrize(
    ("changes", "rule_id", "column"),
    [
        ({"AAC002": wrong_check(ID18)}, "id.checksum", "AAC002"),
        ({"AAC004": "X"}, "sex.unknown_code", "AAC004"), ({"AAC004": ""}, "sex.missing", "AAC004"),
        ({"AAC006": None}, "date.missing", "AAC006"),
        ({"AAB001": wrong_check(CODE)}, "credit_code.checksum", "AAB001"),
        ({"AAC008": "9"}, "insurance_status.unknown_code", "AAC008"),
        ({"AAC008": None}, "insurance_status.missing", "AAC008"),
    ],
)
def test_hrss_rows_breaking_a_rule_are_rejected(
    changes: dict[str, str | None], rule_id: str, column: str,
) -> None:
    rejection = rejected("rsj.ac01", ac01(**changes))

    assert (rejection.rule_id, rejection.column) == (rule_id, column)
    assert rejection.message_zh and rejection.message_en


# --- 市场监管 scjg.qy_jbxx → std.enterprise ----------------------------------------------------


def qy_jbxx(**changes: str | None) -> dict[str, str | None]:
    values = (CODE, "杭州恒泰网络科技有限公司", ID18, "王小明", "100.0000", "2016-04-01", "存续",
              "2024-05-20 09:00:00")
    row: dict[str, str | None] = dict(zip(QY_JBXX, values, strict=True))
    return {**row, **changes}


def test_an_enterprise_row_becomes_an_enterprise() -> None:
    assert apply("scjg.qy_jbxx", qy_jbxx()) == {
        "credit_code": CODE, "legal_rep_identity_number": ID18, "founding_date": date(2016, 4, 1),
        "name": "杭州恒泰网络科技有限公司", "legal_rep_name": "王小明",
        "registered_capital": Decimal("100.0000"), "status_code": "existing",
    }


@pytest.mark.parametrize(
    ("changes", "field", "expected"),
    [
        ({"DJZT": "在业"}, "status_code", "existing"), ({"DJZT": "吊销"}, "status_code", "revoked"),
        ({"DJZT": "注销"}, "status_code", "deregistered"),
        ({"ZCZB": "30"}, "registered_capital", Decimal("30.0000")),
        ({"ZCZB": None}, "registered_capital", None),
        ({"FDDBR_SFZH": ID15.translate(FULL)}, "legal_rep_identity_number", ID18),
    ],
)
def test_market_values_are_normalized(changes: dict[str, str | None], field: str, expected: object) -> None:
    assert apply("scjg.qy_jbxx", qy_jbxx(**changes))[field] == expected


@pytest.mark.parametrize(
    ("changes", "rule_id"),
    [
        ({"TYSHXYDM": wrong_check(CODE)}, "credit_code.checksum"),
        ({"FDDBR_SFZH": None}, "id.missing"), ({"FDDBR_SFZH": wrong_check(ID18)}, "id.checksum"),
        ({"CLRQ": "2016-02-30"}, "date.invalid"), ({"QYMC": "  "}, "name.missing"),
        ({"ZCZB": "-5"}, "amount.negative"), ({"ZCZB": "0.00001"}, "amount.scale"),
        ({"DJZT": "歇业"}, "enterprise_status.unknown_code"),
    ],
)
def test_market_rows_breaking_a_rule_are_rejected(changes: dict[str, str | None], rule_id: str) -> None:
    assert rejected("scjg.qy_jbxx", qy_jbxx(**changes)).rule_id == rule_id


# --- 税务 sw.swdj → std.tax_registration -------------------------------------------------------


def swdj(**changes: str | None) -> dict[str, str | None]:
    values = (CODE, "杭州恒泰网络科技有限公司", "王小明", "01", "2016-05-01", "2024-05-27 08:00:00")
    row: dict[str, str | None] = dict(zip(SWDJ, values, strict=True))
    return {**row, **changes}


@pytest.mark.parametrize(
    ("changes", "field", "expected"),
    [
        ({}, "taxpayer_id", CODE), ({"NSRSBH": CODE.lower()}, "taxpayer_id", CODE),
        ({"NSRSBH": f"{CODE[:8]} {CODE[8:]}"}, "taxpayer_id", CODE),
        ({"NSRSBH": f" {CODE} "}, "taxpayer_id", CODE),
        ({}, "status_code", "normal"), ({"DJZT": "02"}, "status_code", "abnormal"),
        ({"DJZT": "03"}, "status_code", "deregistered"), ({"DJZT": "05"}, "status_code", "suspended"),
        ({}, "registration_date", date(2016, 5, 1)), ({"FDDBR": None}, "legal_rep_name", None),
    ],
)
def test_tax_codes_of_its_own_are_mapped_onto_the_canonical_table(
    changes: dict[str, str | None], field: str, expected: object,
) -> None:
    assert apply("sw.swdj", swdj(**changes))[field] == expected


@pytest.mark.parametrize(
    ("changes", "rule_id"),
    [({"NSRSBH": wrong_check(CODE)}, "credit_code.checksum"), ({"NSRSBH": CODE[:17]}, "credit_code.length"),
     ({"DJRQ": None}, "date.missing"), ({"DJZT": "04"}, "tax_status.unknown_code"),
     ({"NSRMC": None}, "taxpayer_name.missing")],
)
def test_tax_rows_breaking_a_rule_are_rejected(changes: dict[str, str | None], rule_id: str) -> None:
    assert rejected("sw.swdj", swdj(**changes)).rule_id == rule_id


# --- 卫健 wsjk.csyxzm → std.birth_certificate --------------------------------------------------


def csyxzm(**changes: str | None) -> dict[str, str | None]:
    row: dict[str, str | None] = dict(zip(CSYXZM, (
        "Q330000001", "王安", "1", "2025年3月7日", "8时35分", WIFE, "李 娜", ID18, "王小明",
        "杭州市妇产科医院", "2025-03-10", "2025-03-10 09:00:00"), strict=True))
    return {**row, **changes}


def test_a_birth_certificate_is_read_with_its_legacy_dates_and_times() -> None:
    assert apply("wsjk.csyxzm", csyxzm()) == {
        "mother_identity_number": WIFE, "father_identity_number": ID18, "newborn_sex_code": "1",
        "birth_date": date(2025, 3, 7), "certificate_number": "Q330000001", "newborn_name": "王安",
        "birth_time": time(8, 35), "mother_name": "李娜", "father_name": "王小明",
        "birth_place": "杭州市妇产科医院", "issue_date": date(2025, 3, 10),
    }


@pytest.mark.parametrize("csrq", ["20250307", "2025-03-07", "2025-3-7", "2025/03/07", "2025-03-07 00:00:00",
                                  "２０２５０３０７", "2025年3月7日"])
def test_every_birth_date_format_of_the_seed_is_read(csrq: str) -> None:
    assert apply("wsjk.csyxzm", csyxzm(CSRQ=csrq))["birth_date"] == date(2025, 3, 7)


@pytest.mark.parametrize("cssj", ["08:35", "0835", "8时35分", "08:35:00"])
def test_every_birth_time_format_of_the_seed_is_read(cssj: str) -> None:
    assert apply("wsjk.csyxzm", csyxzm(CSSJ=cssj))["birth_time"] == time(8, 35)


def test_a_certificate_without_a_father_is_accepted() -> None:
    fields = apply("wsjk.csyxzm", csyxzm(FQ_SFZH=None, FQ_XM=None))

    assert (fields["father_identity_number"], fields["father_name"]) == (None, None)


@pytest.mark.parametrize(
    ("changes", "rule_id", "column"),
    [({"MQ_SFZH": wrong_check(WIFE)}, "id.checksum", "MQ_SFZH"),
     ({"FQ_SFZH": wrong_check(ID18)}, "id.checksum", "FQ_SFZH"),
     ({"XSEXB": "3"}, "sex.unknown_code", "XSEXB"), ({"CSRQ": "2025年2月30日"}, "date.invalid", "CSRQ"),
     ({"CSRQ": None}, "date.missing", "CSRQ"), ({"CSSJ": "25:00"}, "time.invalid", "CSSJ")],
)
def test_health_rows_breaking_a_rule_are_rejected(
    changes: dict[str, str | None], rule_id: str, column: str,
) -> None:
    rejection = rejected("wsjk.csyxzm", csyxzm(**changes))

    assert (rejection.rule_id, rejection.column) == (rule_id, column)


# --- 民政 mz.hydj → std.marriage, mz.dbjz → std.social_assistance --------------------------------


def hydj(**changes: str | None) -> dict[str, str | None]:
    row: dict[str, str | None] = dict(zip(civil_affairs.HYDJ_COLUMNS, (
        "HY00000001", ID18, "王小明", WIFE, "李娜", "2015年10月1日", "结婚"), strict=True))
    return {**row, **changes}


def test_a_marriage_registration_is_read_with_its_chinese_date() -> None:
    assert apply("mz.hydj", hydj()) == {
        "husband_identity_number": ID18, "wife_identity_number": WIFE, "registration_date": date(2015, 10, 1),
        "registration_number": "HY00000001", "husband_name": "王小明", "wife_name": "李娜",
        "registration_type": "marriage",
    }


def test_a_divorce_and_zero_padded_dates_are_read() -> None:
    fields = apply("mz.hydj", hydj(DJLX="离婚", DJRQ="2020年03月07日", NV_SFZH=WIFE.translate(FULL)))

    assert (fields["registration_type"], fields["registration_date"]) == ("divorce", date(2020, 3, 7))
    assert fields["wife_identity_number"] == WIFE


@pytest.mark.parametrize(
    ("changes", "rule_id", "column"),
    [({"NF_SFZH": wrong_check(ID18)}, "id.checksum", "NF_SFZH"),
     ({"NV_SFZH": "12345"}, "id.length", "NV_SFZH"),
     ({"DJRQ": "2015年2月30日"}, "date.invalid", "DJRQ"),
     ({"DJLX": "复婚"}, "marriage_type.unknown_code", "DJLX")],
)
def test_marriage_rows_breaking_a_rule_are_rejected(
    changes: dict[str, str | None], rule_id: str, column: str,
) -> None:
    rejection = rejected("mz.hydj", hydj(**changes))

    assert (rejection.rule_id, rejection.column) == (rule_id, column)


def dbjz(**changes: str | None) -> dict[str, str | None]:
    values = ("DB00000001", ID18, "王小明", "低保", "  880.00", "20240515")
    row: dict[str, str | None] = dict(zip(DBJZ, values, strict=True))
    return {**row, **changes}


def test_a_fixed_width_assistance_record_is_read_with_its_padding() -> None:
    assert apply("mz.dbjz", dbjz(SFZH=f"{ID15}   ", XM="王小明      ")) == {
        "identity_number": ID18, "payment_date": date(2024, 5, 15), "assistance_number": "DB00000001",
        "name": "王小明", "assistance_type": "minimum_living", "amount": Decimal("880.00"),
    }


@pytest.mark.parametrize(
    ("changes", "rule_id"),
    [({"SFZH": wrong_check(ID18)}, "id.checksum"), ({"FFRQ": "20240230"}, "date.invalid"),
     ({"JZLX": "五保"}, "assistance_type.unknown_code"), ({"JE": "八百八十"}, "amount.format"),
     ({"JE": "123456789.00"}, "amount.range")],
)
def test_assistance_rows_breaking_a_rule_are_rejected(changes: dict[str, str | None], rule_id: str) -> None:
    assert rejected("mz.dbjz", dbjz(**changes)).rule_id == rule_id


# --- any input, every mapping -----------------------------------------------------------------

plausible = st.sampled_from([
    ID18, ID15, wrong_check(ID18), ID18.translate(FULL), CODE, CODE.lower(), wrong_check(CODE), "1", "2", "M",
    "男", "01", "03", "存续", "结婚", "低保", "19900307", "1990年3月7日", "1990-02-30", "8时35分", "25:00",
    "  880.00", "-1", "1e9", "330106", "王小明", "", " ", "\u3000", "\u200b", "１２３", "X", "ß" * 17 + "X",
    "²" * 18, "٣" * 15, "NaN", "Infinity",
])
legacy_value = st.none() | st.text(max_size=20) | plausible | st.integers()


def every_column(name: str) -> list[str]:
    mapping = load_mapping(name)
    return sorted({rule.column for rule in mapping.rules} | {mapping.key_column})


def hj_ryxx() -> dict[str, str | None]:
    return {"RYBH": "R0000001", "SFZH": ID18, "XM": "王小明", "XB": "1", "CSRQ": "19900307",
            "HJDZ": "浙江省杭州市西湖区文三路1号", "XZQH": "330106", "GXSJ": "2024-03-07 08:30:15"}


#: A clean row per mapping: the property test spoils some of its columns, so both outcomes occur.
CLEAN_ROWS: dict[str, Callable[[], dict[str, str | None]]] = {
    "gongan.hj_ryxx": hj_ryxx, "rsj.ac01": ac01, "scjg.qy_jbxx": qy_jbxx, "sw.swdj": swdj,
    "wsjk.csyxzm": csyxzm, "mz.hydj": hydj, "mz.dbjz": dbjz,
}


@pytest.mark.parametrize("name", mapping_names())
def test_the_clean_row_of_every_mapping_is_accepted(name: str) -> None:
    assert isinstance(load_mapping(name).apply(CLEAN_ROWS[name]()), dict)


@pytest.mark.parametrize("name", mapping_names())
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_any_row_yields_encodable_fields_or_a_rejection_and_never_raises(
    name: str, data: st.DataObject,
) -> None:
    mapping: Mapping = load_mapping(name)
    columns = every_column(name)
    spoiled = data.draw(st.fixed_dictionaries({}, optional={column: legacy_value for column in columns}))
    row = {**CLEAN_ROWS[name](), **spoiled} if data.draw(st.booleans()) else spoiled

    result = mapping.apply(row)

    if isinstance(result, Rejection):
        assert result.column in columns
        assert "." in result.rule_id and result.message_zh and result.message_en
        return
    entity = canonical_entity(mapping.entity)
    record = entity.complete(result)
    record["source"] = {"department": mapping.department, "table": mapping.table, "record_key": "k",
                        "event_id": "e", "op": "c", "updated_at": datetime(2024, 6, 3, tzinfo=UTC)}
    assert fastavro.validation.validate(record, fastavro.parse_schema(entity.schema), raise_errors=True)
    assert isinstance(record[entity.key_field], str) and record[entity.key_field]


def test_the_check_digit_helpers_agree_with_the_fixtures() -> None:
    assert compute_check_char(ID18[:17]) == ID18[17]
    assert compute_check_char(WIFE[:17]) == WIFE[17]
    assert compute_credit_check_char(CODE[:17]) == CODE[17]
