"""Correlation rules of newborn_case: which certificate an application names, which register row
is the newborn, which enrolment is theirs — and that doubt links nothing."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Any

import pytest

from projections.newborn_case.correlate import (
    BY_APPLICATION,
    BY_BIRTH,
    PersonRecord,
    application_event,
    certificate_event,
    identity_birth_date,
    insurance_of,
    newborn_household,
    referenced_certificate,
)
from projections.newborn_case.model import Certificate, Insurance, Kind, Source

HOME = ("330106", "杭州市西湖区文三路1号")
CERTIFICATE = Certificate("O330100001", "2025-01-02", "王小宝", "1", "330106199205081227")
NEWBORN = PersonRecord("330106202501020012", "王小宝", "1", "2025-01-02", *HOME,
                       Source("gongan", "hj_ryxx", "R9"))


def test_an_application_names_its_certificate_by_subject_reference() -> None:
    assert referenced_certificate("wsjk.csyxzm/O330100001") == "O330100001"
    assert referenced_certificate("wsjk.csyxzm/") is None
    assert referenced_certificate("gongan.hj_ryxx/R1") is None
    assert referenced_certificate(None) is None


def test_the_birth_date_inside_an_identity_number() -> None:
    assert identity_birth_date("330106202501020012") == "2025-01-02"
    assert identity_birth_date("330106250102001") is None  # 15 digits: not for newborns


def test_the_newborn_is_the_one_row_born_that_day_with_that_name_and_sex_in_a_parents_household() -> None:
    found = newborn_household(CERTIFICATE, None, [NEWBORN], [HOME])

    assert found is not None and (found.identity_number, found.record_key, found.rule) == (
        NEWBORN.identity_number, "R9", BY_BIRTH)


@pytest.mark.parametrize("other", [
    replace(NEWBORN, name="王小贝"),
    replace(NEWBORN, sex_code="2"),
    replace(NEWBORN, birth_date="2025-01-03"),
    replace(NEWBORN, identity_number="330106202501030012"),  # the number says another day
    replace(NEWBORN, household_address="宁波市海曙区"),
    replace(NEWBORN, division_code=None, household_address=None),
])
def test_a_row_differing_in_any_rule_is_not_the_newborn(other: PersonRecord) -> None:
    assert newborn_household(CERTIFICATE, None, [other], [HOME]) is None


def test_without_a_parents_household_nothing_links_yet() -> None:
    assert newborn_household(CERTIFICATE, None, [NEWBORN], []) is None


def test_two_candidates_link_none() -> None:
    twin = replace(NEWBORN, identity_number="330106202501020039", source=Source("gongan", "hj_ryxx", "R8"))

    assert newborn_household(CERTIFICATE, None, [NEWBORN, twin], [HOME]) is None


def test_the_identity_number_on_the_application_links_first_even_without_a_certificate() -> None:
    elsewhere = replace(NEWBORN, household_address="宁波市海曙区")

    found = newborn_household(None, NEWBORN.identity_number, [elsewhere], [])

    assert found is not None and found.rule == BY_APPLICATION


def test_the_enrolment_is_the_lowest_active_insurance_number_of_the_newborn() -> None:
    number = NEWBORN.identity_number
    enrolments = [Insurance("S902", number, "suspended"), Insurance("S900", number, "terminated"),
                  Insurance("S901", number, "paying"), Insurance("S800", "330106199205081227", "paying")]

    assert insurance_of(number, enrolments) == Insurance("S901", number, "paying")
    assert insurance_of(number, enrolments[1:2]) is None
    assert insurance_of(None, enrolments) is None


def case(status: str, case_type: str = "newborn") -> dict[str, Any]:
    at = datetime(2025, 1, 5, tzinfo=UTC)
    return {"case_id": "ZW-1", "case_type": case_type, "status_code": status,
            "applicant_identity_number": "330106199205081227", "subject_reference": "wsjk.csyxzm/O1",
            "submitted_at": at, "updated_at": at,
            "source": {"department": "zwfw", "table": "service_case", "record_key": "ZW-1",
                       "event_id": "e1", "op": "c", "updated_at": at}}


@pytest.mark.parametrize(("status", "kind"), [
    ("submitted", Kind.APPLICATION_SUBMITTED), ("in_progress", Kind.APPLICATION_SUBMITTED),
    ("completed", Kind.APPLICATION_SUBMITTED), ("rejected", Kind.APPLICATION_REJECTED),
    ("cancelled", Kind.APPLICATION_CANCELLED)])
def test_each_platform_status_is_a_case_event(status: str, kind: Kind) -> None:
    event = application_event("ZW-1", case(status))

    assert event is not None and event.kind is kind and event.source.ref == "zwfw.service_case/ZW-1"


def test_other_cases_and_unknown_statuses_are_not_newborn_events_and_a_deletion_cancels() -> None:
    assert application_event("ZW-1", case("submitted", case_type="marriage")) is None
    assert application_event("ZW-1", case("archived")) is None
    deleted = application_event("ZW-1", None)
    assert deleted is not None and deleted.kind is Kind.APPLICATION_CANCELLED and deleted.fact is None


def test_a_certificate_and_its_tombstone() -> None:
    issued = certificate_event("O1", {
        "certificate_number": "O1", "birth_date": date(2025, 1, 2), "newborn_name": "王小宝",
        "newborn_sex_code": "1", "mother_identity_number": "330106199205081227",
        "father_identity_number": None,
        "source": {"department": "wsjk", "table": "csyxzm", "record_key": "O1", "event_id": "e"}})

    assert issued.kind is Kind.CERTIFICATE_ISSUED and issued.fact == Certificate(
        "O1", "2025-01-02", "王小宝", "1", "330106199205081227", None)
    assert certificate_event("O1", None).kind is Kind.CERTIFICATE_WITHDRAWN
