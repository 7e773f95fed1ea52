"""The newborn_case store: decoded canonical events → cases, whatever the order; positions kept
with the state (a redelivery changes nothing), every version kept and put in the outbox."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from itertools import count
from pathlib import Path
from typing import Any

import pytest

from projections.newborn_case.store import CaseStore, read_case
from projections.profiles.store import InputPosition, connect

MOTHER, FATHER, NEWBORN = "330106199205081227", "330106199003071236", "330106202501020012"
CERTIFICATE_NO = "O330100001"
ADDRESS = "杭州市西湖区文三路1号"


def source(department: str, table: str, key: str) -> dict[str, Any]:
    return {"department": department, "table": table, "record_key": key, "event_id": f"evt-{key}",
            "op": "c", "updated_at": datetime(2025, 1, 10, 8, 0, tzinfo=UTC)}


def person(number: str, name: str, born: date, key: str, address: str = ADDRESS) -> dict[str, Any]:
    return {"identity_number": number, "name": name, "sex_code": "1", "birth_date": born,
            "division_code": "330106", "household_address": address,
            "source": source("gongan", "hj_ryxx", key)}


def certificate(number: str = CERTIFICATE_NO, name: str = "王小宝") -> dict[str, Any]:
    return {"certificate_number": number, "mother_identity_number": MOTHER, "mother_name": "李丽",
            "father_identity_number": FATHER, "father_name": "王小明", "newborn_sex_code": "1",
            "birth_date": date(2025, 1, 2), "newborn_name": name, "birth_time": None,
            "birth_place": "浙江大学医学院附属妇产科医院", "issue_date": date(2025, 1, 3),
            "source": source("wsjk", "csyxzm", number)}


def application(case_id: str = "ZW-1", status: str = "submitted", number: str = CERTIFICATE_NO
                ) -> dict[str, Any]:
    at = datetime(2025, 1, 5, 9, 0, tzinfo=UTC)
    return {"case_id": case_id, "case_type": "newborn", "status_code": status,
            "applicant_identity_number": MOTHER, "applicant_name": "李丽",
            "subject_reference": f"wsjk.csyxzm/{number}", "steps": [], "submitted_at": at,
            "updated_at": at, "source": source("zwfw", "service_case", case_id)}


def insurance(number: str = "S900", status: str = "paying") -> dict[str, Any]:
    return {"insurance_number": number, "identity_number": NEWBORN, "name": "王小宝", "sex_code": "1",
            "birth_date": date(2025, 1, 2), "employer_credit_code": None, "status_code": status,
            "source": source("rsj", "ac01", number)}


KEYS = {"std.person": "identity_number", "std.birth_certificate": "certificate_number",
        "std.service_case": "case_id", "std.social_insurance": "insurance_number"}
PARENTS = [("std.person", person(MOTHER, "李丽", date(1992, 5, 8), "R1")),
           ("std.person", person(FATHER, "王小明", date(1990, 3, 7), "R2"))]
CERTIFICATE = ("std.birth_certificate", certificate())
APPLICATION = ("std.service_case", application())
REGISTERED = ("std.person", person(NEWBORN, "王小宝", date(2025, 1, 2), "R9"))
INSURED = ("std.social_insurance", insurance())


class Feed:
    """Hands a store events with increasing offsets per topic, as Kafka would."""

    def __init__(self, store: CaseStore) -> None:
        self.store = store
        self.offsets: dict[str, count[int]] = {}
        self.clock = count(1_000)

    def __call__(self, topic: str, value: dict[str, Any] | None, key: str | None = None
                 ) -> list[str] | None:
        at = InputPosition(topic, 0, next(self.offsets.setdefault(topic, count())), next(self.clock))
        return self.store.apply(at, {KEYS[topic]: key or (value or {})[KEYS[topic]]}, value)


@pytest.fixture
def store(tmp_path: Path) -> CaseStore:
    return CaseStore(tmp_path / "newborn_case.sqlite")


def statuses(store: CaseStore, number: str = CERTIFICATE_NO) -> list[str]:
    return [v.document["status"] for v in store.versions(number)]


def test_the_whole_flow_in_order_completes_the_case_with_a_version_per_step(store: CaseStore) -> None:
    feed = Feed(store)
    for topic, value in [*PARENTS, CERTIFICATE, APPLICATION, REGISTERED, INSURED]:
        feed(topic, value)

    case = store.case(CERTIFICATE_NO)
    assert case is not None and case.document["status"] == "completed"
    assert statuses(store) == ["born", "applied", "household_registered", "completed"]
    assert case.document["newborn_identity_number"] == NEWBORN
    assert case.document["household"] == {"identity_number": NEWBORN, "record_key": "R9",
                                           "division_code": "330106",
                                           "link_rule": "birth_and_parent_household"}
    assert case.document["insurance"]["insurance_number"] == "S900"
    assert case.document["awaiting"] == [] and case.document["case_id"] == "ZW-1"
    assert [(key, json.loads(body)["version"]) for _id, key, body in store.pending()] == [
        (CERTIFICATE_NO, 1), (CERTIFICATE_NO, 2), (CERTIFICATE_NO, 3), (CERTIFICATE_NO, 4)]


def test_out_of_order_arrival_keeps_pending_facts_and_ends_in_the_same_case(
        store: CaseStore, tmp_path: Path) -> None:
    feed = Feed(store)
    # insurance before the registration, the registration before the certificate and the
    # mother's record, the application before the certificate
    for topic, value in [INSURED, REGISTERED, APPLICATION, CERTIFICATE, *PARENTS]:
        feed(topic, value)

    in_order = CaseStore(tmp_path / "in_order.sqlite")
    other = Feed(in_order)
    for topic, value in [*PARENTS, CERTIFICATE, APPLICATION, REGISTERED, INSURED]:
        other(topic, value)
    case, expected = store.case(CERTIFICATE_NO), in_order.case(CERTIFICATE_NO)
    assert case is not None and expected is not None
    assert statuses(store) == ["awaiting_certificate", "applied", "completed"]
    ignore = {"version", "believed_at", "cause"}
    assert {k: v for k, v in case.document.items() if k not in ignore} == \
        {k: v for k, v in expected.document.items() if k not in ignore}


def test_a_position_applied_before_changes_nothing(store: CaseStore) -> None:
    at = InputPosition("std.birth_certificate", 0, 7, 1_000)
    assert store.apply(at, {"certificate_number": CERTIFICATE_NO}, certificate()) == [CERTIFICATE_NO]

    assert store.apply(at, {"certificate_number": CERTIFICATE_NO}, certificate(name="改名")) is None
    assert store.apply(InputPosition("std.birth_certificate", 0, 3, 1_000),
                       {"certificate_number": CERTIFICATE_NO}, certificate(name="改名")) is None
    assert store.next_offset("std.birth_certificate", 0) == 8
    assert store.positions() == {"std.birth_certificate:0": 8}
    case = store.case(CERTIFICATE_NO)
    assert case is not None and case.version == 1 and case.document["newborn_name"] == "王小宝"


def test_the_same_record_again_at_a_new_offset_adds_no_version(store: CaseStore) -> None:
    feed = Feed(store)
    for topic, value in [*PARENTS, CERTIFICATE, APPLICATION, REGISTERED, INSURED]:
        feed(topic, value)
    for topic, value in [CERTIFICATE, APPLICATION, REGISTERED, INSURED, *PARENTS]:
        assert feed(topic, value) == []  # a snapshot re-read of every row

    assert len(store.versions(CERTIFICATE_NO)) == 4 and len(store.pending()) == 4


def test_a_namesake_born_the_same_day_in_another_household_is_not_linked(store: CaseStore) -> None:
    feed = Feed(store)
    for topic, value in [*PARENTS, CERTIFICATE, APPLICATION]:
        feed(topic, value)

    feed("std.person", person("330102202501020031", "王小宝", date(2025, 1, 2), "R7", "宁波市海曙区"))

    assert statuses(store)[-1] == "applied"


def test_two_candidates_in_the_household_link_none(store: CaseStore) -> None:
    feed = Feed(store)
    for topic, value in [*PARENTS, CERTIFICATE, APPLICATION, REGISTERED]:
        feed(topic, value)
    assert statuses(store)[-1] == "household_registered"

    feed("std.person", person("330106202501020039", "王小宝", date(2025, 1, 2), "R8"))

    case = store.case(CERTIFICATE_NO)
    assert case is not None and case.document["status"] == "applied" and case.document["household"] is None


def test_a_deleted_household_row_reopens_and_a_terminated_enrolment_does_not_count(store: CaseStore) -> None:
    feed = Feed(store)
    for topic, value in [*PARENTS, CERTIFICATE, APPLICATION, REGISTERED, INSURED]:
        feed(topic, value)

    feed("std.social_insurance", insurance(status="terminated"))
    feed("std.person", None, key=NEWBORN)

    assert statuses(store)[-2:] == ["household_registered", "applied"]
    case = store.case(CERTIFICATE_NO)
    assert case is not None and case.document["awaiting"] == ["register_household", "enrol_insurance"]


def test_an_illegal_transition_is_kept_on_the_case(store: CaseStore) -> None:
    feed = Feed(store)
    for topic, value in [*PARENTS, CERTIFICATE, APPLICATION, REGISTERED, INSURED]:
        feed(topic, value)

    feed("std.service_case", application(status="rejected"))

    case = store.case(CERTIFICATE_NO)
    assert case is not None and case.document["status"] == "completed"
    assert [(a["event"], a["status"], a["source"]) for a in case.document["anomalies"]] == [
        ("application_rejected", "completed", "zwfw.service_case/ZW-1")]


def test_an_application_naming_no_certificate_is_kept_uncorrelated(store: CaseStore) -> None:
    feed = Feed(store)
    unplaced = {**application("ZW-9"), "subject_reference": None}

    assert feed("std.service_case", unplaced) == []
    assert feed("std.service_case", {**application("ZW-8"), "case_type": "other"}) == []
    assert store.uncorrelated_applications() == ["ZW-9"]


def test_every_version_is_kept_and_read_as_of_its_time(store: CaseStore, tmp_path: Path) -> None:
    feed = Feed(store)
    for topic, value in [*PARENTS, CERTIFICATE, APPLICATION, REGISTERED, INSURED]:
        feed(topic, value)
    versions = store.versions(CERTIFICATE_NO)

    db = connect(tmp_path / "newborn_case.sqlite", readonly=True)
    try:
        for version in versions:
            found = read_case(db, CERTIFICATE_NO, version.believed_at_ms)
            assert found is not None and found.version == version.version
        assert read_case(db, CERTIFICATE_NO, versions[0].believed_at_ms - 1) is None
    finally:
        db.close()


def test_a_rebuild_from_the_same_log_holds_the_same_cases(store: CaseStore, tmp_path: Path) -> None:
    log = [INSURED, REGISTERED, *PARENTS, CERTIFICATE, APPLICATION,
           ("std.service_case", application(status="in_progress"))]
    stores = [store, CaseStore(tmp_path / "rebuilt.sqlite")]
    for target in stores:
        feed = Feed(target)
        for topic, value in log:
            feed(topic, value)

    assert stores[0].checksum() == stores[1].checksum()


def test_the_outbox_empties_once_published(store: CaseStore) -> None:
    Feed(store)(*CERTIFICATE)
    assert store.lease("a", 0, 100) and not store.lease("b", 50, 100) and store.lease("b", 101, 100)

    rows = store.pending()
    store.published(rows[-1][0])

    assert store.pending() == []
