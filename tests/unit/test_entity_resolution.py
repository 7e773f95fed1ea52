"""Entity resolution: person records, deterministic and probabilistic links, blocking, scores."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime
from importlib.resources import files

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from projections.resolution import (
    DEFAULT_RULES,
    DecisionKind,
    EnterpriseRecord,
    PersonRecord,
    RecordRef,
    features_of,
    link_enterprises,
    records_from_canonical,
    records_from_legacy_row,
    records_from_quarantine,
    resolve,
    score_pair,
)
from projections.resolution.blocking import blocking_keys, candidate_pairs
from projections.resolution.records import CANONICAL_LAYOUTS, LEGACY_LAYOUTS
from schemas.avro_schemas import load_avro_schema

AT = datetime(2024, 6, 3, 12, 0, tzinfo=UTC)
ID18 = "330106199003071236"  # valid: 330106 + 1990-03-07 + 123 (male) + check 6
ID15 = "330106900307123"
OTHER_ID = "330106199003071252"  # valid, same birth date and county, another sequence
BROKEN = ID18[:17] + "7"  # wrong check character


def person(key: str, number: str | None = ID18, name: str | None = "王小明", *, table: str = "hj_ryxx",
           department: str = "gongan", role: str = "person", birth: date | str | None = "1990-03-07",
           sex: str | None = "1", division: str | None = None, address: str | None = None) -> PersonRecord:
    return PersonRecord(RecordRef(department, table, key, role), number, name, birth, sex, division, address)


def linked(records: list[PersonRecord]) -> dict[str, tuple[str, ...]]:
    return {cid: members for cid, members in resolve(records, decided_at=AT).clusters.clusters().items()
            if len(members) > 1}


# -- deterministic links ------------------------------------------------------------------------


@pytest.mark.parametrize("typed", [ID15, "３３０１０６１９９００３０７１２３６", " 330106 19900307 1236 ",
                                   "３３０１０６９００３０７１２３"])
def test_an_old_15_digit_or_full_width_number_links_by_the_identity_rule(typed: str) -> None:
    resolution = resolve([person("R1"), person("A1", typed, table="ac01", department="rsj")], decided_at=AT)

    [decision] = resolution.decisions
    assert (decision.kind, decision.rule) == (DecisionKind.ACCEPTED, "identity_number")
    assert resolution.clusters.same("gongan.hj_ryxx/R1#person", "rsj.ac01/A1#person")


def test_a_lower_case_x_is_the_same_number() -> None:
    number = "11010519491231002X"
    resolution = resolve([person("R1", number, birth="1949-12-31", sex="2"),
                          person("R2", number.lower(), birth=None, sex=None)], decided_at=AT)

    assert [d.rule for d in resolution.decisions] == ["identity_number"]


def test_two_different_valid_numbers_never_link_even_with_the_same_name_and_birthday() -> None:
    resolution = resolve([person("R1"), person("R2", OTHER_ID)], decided_at=AT)

    assert resolution.decisions == ()
    assert resolution.stats.candidate_pairs == 0  # decided by the numbers alone, never scored


def test_the_same_number_typed_for_somebody_else_goes_to_review() -> None:
    somebody_else = person("R2", ID18, "赵芳", birth="1961-11-02", sex="2")
    resolution = resolve([person("R1"), somebody_else], decided_at=AT)

    [decision] = resolution.decisions
    assert (decision.kind, decision.rule) == (DecisionKind.PROPOSED, "identity_number")
    assert not resolution.clusters.same("gongan.hj_ryxx/R1#person", "gongan.hj_ryxx/R2#person")


# -- probabilistic links ------------------------------------------------------------------------


def test_a_broken_check_character_still_links_to_the_person() -> None:
    quarantined = person("D1", BROKEN, "王 小 明", table="dbjz", department="mz", role="recipient",
                         birth=None, sex=None)
    resolution = resolve([person("R1"), quarantined], decided_at=AT)

    [decision] = resolution.decisions
    assert (decision.kind, decision.rule) == (DecisionKind.ACCEPTED, "fellegi_sunter")
    levels = {w.field: w.level for w in decision.weights}
    assert levels["identity_number"] == "close" and levels["name"] == "exact"
    assert levels["birth_date"] == levels["sex"] == "implied"  # read off the same body: not counted twice


def test_a_missing_number_links_on_name_birthday_sex_and_division() -> None:
    records = [person("R1", division="330106"), person("A1", None, table="ac01", department="rsj",
                                                       birth=date(1990, 3, 7), sex="M", division="330106")]

    assert list(linked(records).values()) == [("gongan.hj_ryxx/R1#person", "rsj.ac01/A1#person")]


def test_a_score_between_the_thresholds_is_proposed_for_review() -> None:
    homophone = person("A1", None, "王晓铭", table="ac01", department="rsj", sex="M")
    resolution = resolve([person("R1"), homophone], decided_at=AT)

    [decision] = resolution.decisions
    assert decision.kind is DecisionKind.PROPOSED
    assert DEFAULT_RULES.lower <= (decision.score or 0) < DEFAULT_RULES.upper
    assert not resolution.clusters.same("gongan.hj_ryxx/R1#person", "rsj.ac01/A1#person")


def test_a_record_that_would_bridge_two_valid_numbers_is_proposed_not_merged() -> None:
    records = [person("R1"), person("R2", OTHER_ID), person("D1", None, table="dbjz", department="mz")]
    resolution = resolve(records, decided_at=AT)

    kinds = sorted(d.kind.value for d in resolution.decisions)
    assert kinds == ["accepted", "proposed"]
    assert not resolution.clusters.same("gongan.hj_ryxx/R1#person", "gongan.hj_ryxx/R2#person")


def test_scores_are_explained_by_per_field_weights_that_sum_to_the_total() -> None:
    score = score_pair(features_of(person("R1", division="330106")),
                       features_of(person("A1", BROKEN, "王小铭", birth="1990-03-08")), DEFAULT_RULES)

    assert [w.field for w in score.weights] == ["identity_number", "name", "birth_date", "sex", "division",
                                                "address"]
    assert score.total == pytest.approx(sum(w.weight for w in score.weights), abs=1e-6)
    assert {w.field: w.level for w in score.weights}["name"] == "close"
    assert "identity_number=close" in score.explain()


def test_different_persons_of_the_same_birthday_and_surname_score_below_the_lower_threshold() -> None:
    score = score_pair(features_of(person("R1")), features_of(person("A1", None, "王芳", sex="2")),
                       DEFAULT_RULES)

    assert score.total < DEFAULT_RULES.lower


# -- properties: symmetry, blocking, robustness -------------------------------------------------

_texts = st.one_of(st.none(), st.text(max_size=24))
_numbers = st.one_of(_texts, st.sampled_from([ID18, ID15, BROKEN, OTHER_ID,
                                                 "３３０１０６９００３０７１２３"]),
                     st.text(alphabet="0123456789Xx ", min_size=14, max_size=19))
_names = st.one_of(_texts, st.sampled_from(["王小明", "王晓明", "王 小 明", "王小铭", "王芳", "欧阳娜"]))
_births = st.one_of(_texts, st.dates(min_value=date(1, 1, 1)), st.sampled_from(["19900307", "1990年3月7日"]))
_divisions = st.one_of(_texts, st.sampled_from(["330106", "330102", "３３０１０６"]))


@st.composite
def records(draw: st.DrawFn, key: str = "K") -> PersonRecord:
    record_key = draw(st.text(min_size=1, max_size=4)) if key == "K" else key
    return PersonRecord(RecordRef("t", "t", record_key, "p"), draw(_numbers), draw(_names), draw(_births),
                        draw(_texts), draw(_divisions), draw(_texts))


@settings(max_examples=300, deadline=None)
@given(records(key="a"), records(key="b"))
def test_any_two_records_score_without_an_exception_and_symmetrically(
    a: PersonRecord, b: PersonRecord
) -> None:
    forward = score_pair(features_of(a), features_of(b), DEFAULT_RULES)
    backward = score_pair(features_of(b), features_of(a), DEFAULT_RULES)

    assert forward == backward


@settings(max_examples=150, deadline=None)
@given(st.lists(records(), max_size=8, unique_by=lambda r: r.ref.key))
def test_any_records_resolve_to_decisions_or_none_never_an_exception(batch: list[PersonRecord]) -> None:
    resolution = resolve(batch, decided_at=AT)

    for decision in resolution.decisions:
        assert decision.kind in (DecisionKind.ACCEPTED, DecisionKind.PROPOSED)
        assert decision.score is not None and len(decision.weights) == 6


@settings(max_examples=150, deadline=None)
@given(st.lists(records(), max_size=10))
def test_blocking_never_misses_a_pair_that_shares_a_key(batch: list[PersonRecord]) -> None:
    features = [features_of(r) for r in batch]
    pairs = set(candidate_pairs(features))

    for i, j in itertools.combinations(range(len(features)), 2):
        shares = set(blocking_keys(features[i])) & set(blocking_keys(features[j]))
        assert ((i, j) in pairs) == bool(shares)


def test_the_result_does_not_depend_on_the_order_records_arrive_in() -> None:
    batch = [person("R1"), person("A1", ID15, table="ac01", department="rsj"),
             person("D1", BROKEN, table="dbjz", department="mz"), person("D2", None, "王晓明", table="dbjz",
                                                                         department="mz", sex="M")]

    first = resolve(batch, decided_at=AT)
    second = resolve(list(reversed(batch)), decided_at=AT)

    assert first.decisions == second.decisions
    assert first.clusters.clusters() == second.clusters.clusters()


def test_a_record_reference_given_twice_is_refused() -> None:
    with pytest.raises(ValueError, match="duplicate record reference"):
        resolve([person("R1"), person("R1")], decided_at=AT)


# -- person records from events and rows ---------------------------------------------------------


def test_a_quarantined_marriage_row_gives_the_husband_and_the_wife() -> None:
    value = {"department": "mz", "table": "hydj", "record_key": "HY00000001", "rule_id": "id.checksum",
             "original": {"DJBH": "HY00000001", "NF_SFZH": BROKEN, "NF_XM": "王小明",
                          "NV_SFZH": "33010619920811002X", "NV_XM": "李娜", "DJRQ": "2015年5月1日"}}

    husband, wife = records_from_quarantine(value)

    assert husband.ref.key == "mz.hydj/HY00000001#husband" and husband.identity_number == BROKEN
    assert (wife.ref.role, wife.name, wife.sex) == ("wife", "李娜", "2")


def test_a_birth_certificate_without_a_father_mentions_mother_and_newborn() -> None:
    value = {"certificate_number": "Q330000001", "mother_identity_number": "33010619920811002X",
             "mother_name": "李娜", "father_identity_number": None, "father_name": None,
             "newborn_name": "王一诺", "newborn_sex_code": "2", "birth_date": date(2025, 1, 2),
             "source": {"department": "wsjk", "table": "csyxzm", "record_key": "Q330000001"}}

    records = records_from_canonical("birth_certificate", value)

    assert [r.ref.role for r in records] == ["mother", "newborn"]
    assert records[1].birth_date == date(2025, 1, 2) and records[1].identity_number is None


def test_a_legacy_row_of_a_table_without_persons_gives_none() -> None:
    assert records_from_legacy_row("sw", "swdj", "91330106MA27XXXXXX", {"FDDBR": "王小明"}) == []


@pytest.mark.parametrize("entity", sorted(CANONICAL_LAYOUTS))
def test_every_canonical_layout_names_fields_of_its_schema(entity: str) -> None:
    fields = {f["name"] for f in load_avro_schema(entity)["fields"]}
    for layout in CANONICAL_LAYOUTS[entity]:
        named = {layout.identity_number, layout.name, layout.birth_date, layout.sex, layout.division,
                 layout.address} - {None}
        assert named <= fields, f"{entity}.{layout.role}: {named - fields}"


@pytest.mark.parametrize(("department", "table"), sorted(LEGACY_LAYOUTS))
def test_every_legacy_layout_names_columns_its_mapping_reads(department: str, table: str) -> None:
    path = files("schemas").joinpath("mappings", f"{department}.{table}.yaml")
    mapping = yaml.safe_load(path.read_text("utf-8"))
    columns = {spec["column"] for spec in mapping["fields"].values()}
    for layout in LEGACY_LAYOUTS[(department, table)]:
        named = {layout.identity_number, layout.name, layout.birth_date, layout.sex, layout.division,
                 layout.address} - {None}
        assert named <= columns, f"{department}.{table}.{layout.role}: {named - columns}"


# -- enterprises --------------------------------------------------------------------------------

CODE = "91350100M000100Y43"  # a real, valid unified social credit code


def enterprise(key: str, code: str | None, name: str | None = "福建恒泰科技有限公司",
               department: str = "sw") -> EnterpriseRecord:
    return EnterpriseRecord(RecordRef(department, "t", key, "enterprise"), code, name)


def test_credit_codes_typed_in_lower_case_or_with_spaces_link_to_the_valid_code() -> None:
    typed = [enterprise("M1", CODE, department="scjg"), enterprise("T1", " 91350100m000100y43"),
             enterprise("T2", "91350100 M000100Y43 ")]
    decisions = link_enterprises(typed, decided_at=AT)

    assert [(d.rule, d.kind) for d in decisions] == [("credit_code", DecisionKind.ACCEPTED)] * 2


def test_a_wrong_check_character_links_only_when_the_name_agrees_too() -> None:
    broken_same_name = enterprise("T1", CODE[:17] + "4")
    broken_other_name = enterprise("T2", CODE[:17] + "5", "宁波某某贸易有限公司")

    registered = enterprise("M1", CODE, department="scjg")
    decisions = link_enterprises([registered, broken_same_name, broken_other_name], decided_at=AT)

    assert [(d.rule, d.right.record_key) for d in decisions] == [("credit_code_body", "T1")]
