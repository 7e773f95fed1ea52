"""The newborn case's commands to departments: opened when a step becomes outstanding, closed
when its row comes back, re-issued with a new id when it is outstanding again, the same ids from
the same log, and published through their own outbox."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from projections.newborn_case.commands import command_event_id
from projections.newborn_case.publisher import command_record
from projections.newborn_case.store import CaseStore
from tests.unit.test_newborn_case_store import (
    APPLICATION,
    CERTIFICATE,
    CERTIFICATE_NO,
    FATHER,
    INSURED,
    MOTHER,
    NEWBORN,
    PARENTS,
    REGISTERED,
    Feed,
)


@pytest.fixture
def store(tmp_path: Path) -> CaseStore:
    return CaseStore(tmp_path / "newborn_case.sqlite")


def opened(store: CaseStore) -> dict[str, bool]:
    return {command.command_id: is_open for command, is_open in store.commands(CERTIFICATE_NO)}


def test_an_application_with_a_certificate_orders_both_departments_once(store: CaseStore) -> None:
    feed = Feed(store)
    for topic, value in [*PARENTS, CERTIFICATE]:
        feed(topic, value)
    assert store.commands(CERTIFICATE_NO) == []  # born, nobody applied: nothing to do yet

    feed(*APPLICATION)
    feed(*APPLICATION)  # the platform says it again: no second order

    commands = {c.name: c for c, _ in store.commands(CERTIFICATE_NO)}
    assert opened(store) == {"ZW-1-CB1": True, "ZW-1-HJ1": True}
    household = commands["register_household"]
    assert household.topic == "std.household_registration"
    assert household.key == {"registration_id": "ZW-1-HJ1"}
    assert household.body | {"source": None, "requested_at": None} == {
        "registration_id": "ZW-1-HJ1", "case_id": "ZW-1",
        "certificate_number": CERTIFICATE_NO, "name": "王小宝", "sex_code": "1",
        "birth_date": "2025-01-02", "division_code": "330106", "household_address": "杭州市西湖区文三路1号",
        "mother_identity_number": MOTHER, "father_identity_number": FATHER,
        "requested_at": None, "source": None}
    assert household.body["source"]["department"] == "rongtong"
    assert household.body["source"]["event_id"] == household.event_id
    enrolment = commands["enrol_insurance"]
    assert enrolment.key == {"enrolment_id": "ZW-1-CB1"}
    assert enrolment.body["identity_number"] is None  # Public Security has not numbered the baby yet
    assert command_record(enrolment)["birth_date"] == date(2025, 1, 2)


def test_a_step_whose_row_came_back_closes_and_reopens_with_a_new_id(store: CaseStore) -> None:
    feed = Feed(store)
    for topic, value in [*PARENTS, CERTIFICATE, APPLICATION, REGISTERED]:
        feed(topic, value)
    assert opened(store) == {"ZW-1-CB1": True, "ZW-1-HJ1": False}

    feed("std.person", None, key=NEWBORN)  # the household row deleted at the counter
    assert opened(store)["ZW-1-HJ2"] is True

    feed(*REGISTERED)
    feed(*INSURED)
    assert not any(opened(store).values())


def test_the_same_log_issues_the_same_commands_and_event_ids(store: CaseStore, tmp_path: Path) -> None:
    events = [*PARENTS, CERTIFICATE, APPLICATION, REGISTERED, INSURED]
    feed = Feed(store)
    for topic, value in events:
        feed(topic, value)
    again = CaseStore(tmp_path / "rebuilt.sqlite")
    rebuild = Feed(again)
    for topic, value in events:
        rebuild(topic, value)

    assert store.commands(CERTIFICATE_NO) == again.commands(CERTIFICATE_NO)
    first = store.commands(CERTIFICATE_NO)[0][0]
    assert first.event_id == command_event_id(first.command_id)


def test_the_command_outbox_empties_once_published_and_keeps_the_orders(store: CaseStore) -> None:
    feed = Feed(store)
    for topic, value in [*PARENTS, CERTIFICATE, APPLICATION]:
        feed(topic, value)
    pending = store.pending_commands()
    assert sorted(c.name for _, c in pending) == ["enrol_insurance", "register_household"]

    store.commands_published(pending[-1][0])

    assert store.pending_commands() == [] and len(store.commands(CERTIFICATE_NO)) == 2
