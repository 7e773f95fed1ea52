"""The newborn case state machine: every transition of the table, pending facts replayed in any
order of arrival, duplicates that change nothing, illegal transitions recorded, never raised."""

from __future__ import annotations

from dataclasses import replace
from itertools import permutations
from pathlib import Path

import pytest

from projections.newborn_case.model import (
    HOLD,
    TABLE,
    TRANSITIONS,
    Application,
    CaseEvent,
    CaseState,
    Certificate,
    Command,
    Household,
    Insurance,
    Kind,
    Source,
    Status,
    StatusChanged,
    TransitionRefused,
    decide,
    outstanding,
)

NUMBER, NEWBORN = "O330100001", "330106202501020012"
CERTIFICATE = Certificate(NUMBER, "2025-01-02", "王小宝", "1", "330106199205081227", "330106199003071236")
APPLICATION = Application("ZW-1", "submitted", "330106199205081227", 1, 1)
HOUSEHOLD = Household(NEWBORN, "R0000042", "330106", "birth_and_parent_household")
INSURANCE = Insurance("S900", NEWBORN, "paying")

FACTS = {Kind.CERTIFICATE_ISSUED: CERTIFICATE, Kind.APPLICATION_SUBMITTED: APPLICATION,
         Kind.APPLICATION_REJECTED: replace(APPLICATION, status_code="rejected"),
         Kind.APPLICATION_CANCELLED: replace(APPLICATION, status_code="cancelled"),
         Kind.HOUSEHOLD_REGISTERED: HOUSEHOLD, Kind.INSURANCE_ENROLLED: INSURANCE}


def event(kind: Kind, fact: object = ..., key: str = "k") -> CaseEvent:
    chosen = FACTS.get(kind) if fact is ... else fact
    return CaseEvent(kind, Source("d", "t", key), chosen)  # type: ignore[arg-type]


def holding(status: Status) -> CaseState:
    """A case in ``status`` with the facts that status implies (and nothing pending)."""
    facts: dict[Status, dict[str, object]] = {
        Status.VOID: {},
        Status.AWAITING_CERTIFICATE: {"application": APPLICATION},
        Status.BORN: {"certificate": CERTIFICATE},
        Status.APPLIED: {"certificate": CERTIFICATE, "application": APPLICATION},
        Status.HOUSEHOLD_REGISTERED: {"certificate": CERTIFICATE, "application": APPLICATION,
                                      "household": HOUSEHOLD},
        Status.INSURED: {"certificate": CERTIFICATE, "application": APPLICATION, "insurance": INSURANCE},
        Status.COMPLETED: {"certificate": CERTIFICATE, "application": APPLICATION,
                           "household": HOUSEHOLD, "insurance": INSURANCE},
        Status.REJECTED: {"certificate": CERTIFICATE,
                          "application": replace(APPLICATION, status_code="rejected")},
        Status.CANCELLED: {"certificate": CERTIFICATE,
                           "application": replace(APPLICATION, status_code="cancelled")},
    }
    return CaseState(NUMBER, status, **facts[status])  # type: ignore[arg-type]


def test_the_table_covers_every_status_and_names_only_known_targets() -> None:
    assert set(TABLE) == set(Status)
    assert all(target == HOLD or isinstance(target, Status) for target in TRANSITIONS.values())
    # every status can be reached from the start, except by the table's own rows
    reachable = {Status.VOID}
    for _ in Status:
        reachable |= {t for (s, _k), t in TRANSITIONS.items() if s in reachable and isinstance(t, Status)}
    assert reachable == set(Status)


@pytest.mark.parametrize(("status", "kind"), sorted(TRANSITIONS, key=str))
def test_every_allowed_transition_goes_where_the_table_says(status: Status, kind: Kind) -> None:
    state = holding(status)
    withdrawals = {Kind.CERTIFICATE_WITHDRAWN, Kind.HOUSEHOLD_DEREGISTERED, Kind.INSURANCE_ENDED}

    after, messages = decide(state, event(kind, None if kind in withdrawals else ...))

    target = TRANSITIONS[(status, kind)]
    expected = status if target == HOLD else target
    # a reopened application holding a certificate moves on to applied (pending facts replayed)
    if expected is Status.AWAITING_CERTIFICATE and after.certificate is not None:
        expected = Status.APPLIED
    assert after.status is expected
    assert not any(isinstance(m, TransitionRefused) for m in messages)
    assert after.anomalies == ()
    changed = [m for m in messages if isinstance(m, StatusChanged)]
    assert [(m.from_status, m.to_status) for m in changed] == (
        [] if expected is status else [(status, expected)])


ILLEGAL = sorted(((s, k) for s in Status for k in Kind if (s, k) not in TRANSITIONS), key=str)


def test_the_illegal_transitions_are_the_documented_ones() -> None:
    assert {(str(s), str(k)) for s, k in ILLEGAL} == {
        ("household_registered", "certificate_withdrawn"), ("household_registered", "application_rejected"),
        ("insured", "certificate_withdrawn"), ("insured", "application_rejected"),
        ("completed", "certificate_withdrawn"), ("completed", "application_rejected"),
        ("completed", "application_cancelled"), ("cancelled", "application_rejected")}


@pytest.mark.parametrize(("status", "kind"), ILLEGAL)
def test_an_illegal_transition_is_recorded_once_and_changes_nothing_else(status: Status, kind: Kind) -> None:
    state = holding(status)
    withdrawn = kind is Kind.CERTIFICATE_WITHDRAWN

    after, messages = decide(state, event(kind, None if withdrawn else ..., key="bad"))
    again, repeated = decide(after, event(kind, None if withdrawn else ..., key="bad"))

    assert replace(after, anomalies=()) == state
    assert [(a.event, a.status, a.source) for a in after.anomalies] == [(kind, status, "d.t/bad")]
    assert [type(m) for m in messages] == [TransitionRefused]
    assert (again, repeated) == (after, [])


def test_a_second_application_while_one_is_open_is_refused() -> None:
    other = replace(APPLICATION, case_id="ZW-2")
    after, messages = decide(holding(Status.APPLIED), event(Kind.APPLICATION_SUBMITTED, other))

    assert after.application == APPLICATION and after.status is Status.APPLIED
    assert "ZW-2" in after.anomalies[0].reason and isinstance(messages[0], TransitionRefused)


def test_a_new_application_after_a_rejection_reopens_the_case_with_its_pending_rows() -> None:
    rejected = replace(holding(Status.REJECTED), household=HOUSEHOLD)  # registered at the counter

    after, _ = decide(rejected, event(Kind.APPLICATION_SUBMITTED, replace(APPLICATION, case_id="ZW-2")))

    assert after.status is Status.HOUSEHOLD_REGISTERED and after.application is not None
    assert after.application.case_id == "ZW-2"


FLOW = [event(Kind.CERTIFICATE_ISSUED), event(Kind.APPLICATION_SUBMITTED),
        event(Kind.HOUSEHOLD_REGISTERED), event(Kind.INSURANCE_ENROLLED)]


def run(events: list[CaseEvent], state: CaseState | None = None) -> tuple[CaseState, list[object]]:
    state = state or CaseState(NUMBER)
    said: list[object] = []
    for item in events:
        state, messages = decide(state, item)
        said += messages
    return state, said


def test_the_whole_flow_in_order_says_each_step_and_orders_each_department_once() -> None:
    state, said = run(FLOW)

    assert state == holding(Status.COMPLETED)
    assert [(m.from_status, m.to_status) for m in said if isinstance(m, StatusChanged)] == [
        (Status.VOID, Status.BORN), (Status.BORN, Status.APPLIED),
        (Status.APPLIED, Status.HOUSEHOLD_REGISTERED), (Status.HOUSEHOLD_REGISTERED, Status.COMPLETED)]
    assert [(m.name, m.department) for m in said if isinstance(m, Command)] == [
        ("register_household", "gongan"), ("enrol_insurance", "rsj")]
    assert outstanding(state) == ()


@pytest.mark.parametrize("order", list(permutations(range(4))))
def test_any_order_of_arrival_ends_in_the_same_completed_case(order: tuple[int, ...]) -> None:
    state, said = run([FLOW[i] for i in order])

    assert state == holding(Status.COMPLETED)
    assert [m.to_status for m in said if isinstance(m, StatusChanged)][-1] is Status.COMPLETED


def test_a_household_registered_before_the_application_is_pending_until_it_comes() -> None:
    born_registered, said = run(FLOW[:1] + FLOW[2:3])
    assert born_registered.status is Status.BORN and born_registered.household == HOUSEHOLD
    assert outstanding(born_registered) == ()

    applied, said = run(FLOW[1:2], born_registered)

    assert applied.status is Status.HOUSEHOLD_REGISTERED
    assert [m.to_status for m in said if isinstance(m, StatusChanged)] == [Status.HOUSEHOLD_REGISTERED]
    assert [m.name for m in said if isinstance(m, Command)] == ["enrol_insurance"]


@pytest.mark.parametrize("index", range(4))
def test_a_duplicate_event_changes_nothing_and_says_nothing(index: int) -> None:
    state, _ = run(FLOW)
    partial, _ = run(FLOW[: index + 1])

    assert decide(state, FLOW[index]) == (state, [])
    assert decide(partial, FLOW[index]) == (partial, [])


def test_a_household_row_deleted_after_completion_reopens_the_case() -> None:
    state, said = run([event(Kind.HOUSEHOLD_DEREGISTERED, None)], holding(Status.COMPLETED))

    assert state.status is Status.INSURED and state.household is None
    assert [m.name for m in said if isinstance(m, Command)] == ["register_household"]


def test_the_state_survives_its_json_form() -> None:
    state, _ = run([*FLOW, event(Kind.APPLICATION_REJECTED, key="late")])

    assert state.anomalies and CaseState.from_json(state.as_json()) == state


def test_the_documented_table_is_the_table_of_the_code() -> None:
    text = (Path(__file__).parents[2] / "docs" / "newborn-case.md").read_text(encoding="utf-8")
    rows = [line for line in text.splitlines() if line.startswith("| `") and line.count("|") == 11]
    documented = {}
    for row in rows:
        cells = [c.strip().strip("`*") for c in row.strip("|").split("|")]
        for kind, cell in zip(Kind, cells[1:], strict=True):
            if cell != "—":
                documented[(Status(cells[0]), kind)] = HOLD if cell == HOLD else Status(cell)

    assert documented == dict(TRANSITIONS)
