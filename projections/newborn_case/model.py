"""The newborn case (新生儿出生"一件事"): an explicit state machine and its pure ``decide`` core.

A case is one birth, keyed by the birth certificate number. Four kinds of facts move it, each
from another department's records: Health's certificate, the government service platform's
application, Public Security's household registration of the newborn and HRSS's insurance
enrolment. :func:`decide` takes the case and one :class:`CaseEvent` and returns the next case
and what happened (status changes, refused transitions, commands for the departments). It does
no I/O, so the same log always yields the same cases.

**The transitions table** (:data:`TABLE`) gives, for each status and event kind, the next
status, ``hold`` (record the fact, keep the status: the fact is *pending*), or nothing
(illegal: the case is left as it was and the refusal is recorded among its anomalies; nothing
raises). One guard comes first: a certificate has at most
one open application; another application while one is open is refused.

**Pending facts are replayed.** After every event, the facts the case holds are fed through the
table again — certificate, then household registration, then insurance — as long as one moves
the status. So the household registered before the application, or insurance enrolled before
the household registration came back, complete the case the moment the missing fact arrives,
whatever the order of arrival.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from enum import StrEnum
from typing import Any

__all__ = ["ACTIVE", "HOLD", "TABLE", "TERMINAL", "TRANSITIONS", "Anomaly", "Application",
           "CaseEvent", "CaseState", "Certificate", "Command", "Household", "Insurance", "Kind",
           "Message", "Source", "Status", "StatusChanged", "TransitionRefused", "decide", "outstanding"]


class Status(StrEnum):
    """Where a case stands."""

    VOID = "void"  # the start: neither a certificate nor an application (or both withdrawn)
    AWAITING_CERTIFICATE = "awaiting_certificate"  # applied; Health's certificate not seen yet
    BORN = "born"  # certificate issued, no application yet
    APPLIED = "applied"  # both; waiting for the departments' rows
    HOUSEHOLD_REGISTERED = "household_registered"  # Public Security's row is back
    INSURED = "insured"  # HRSS's row is back (the household row is not yet)
    COMPLETED = "completed"  # both rows are back: what the app shows as done
    REJECTED = "rejected"  # the platform refused the application (不予受理)
    CANCELLED = "cancelled"  # the applicant withdrew it (已撤回)


class Kind(StrEnum):
    """What happened to a case (past tense), derived from the canonical events."""

    CERTIFICATE_ISSUED = "certificate_issued"  # also a correction of the certificate
    CERTIFICATE_WITHDRAWN = "certificate_withdrawn"  # deleted in Health's register
    APPLICATION_SUBMITTED = "application_submitted"  # platform status submitted, in_progress, completed
    APPLICATION_REJECTED = "application_rejected"  # platform status rejected
    APPLICATION_CANCELLED = "application_cancelled"  # platform status cancelled, or the case deleted
    HOUSEHOLD_REGISTERED = "household_registered"  # the newborn's std.person is linked
    HOUSEHOLD_DEREGISTERED = "household_deregistered"  # that person record is gone or no longer matches
    INSURANCE_ENROLLED = "insurance_enrolled"  # the newborn's std.social_insurance (paying/suspended)
    INSURANCE_ENDED = "insurance_ended"  # that enrolment terminated or deleted


HOLD = "hold"

S, K = Status, Kind
_PARKED = {K.HOUSEHOLD_REGISTERED: HOLD, K.HOUSEHOLD_DEREGISTERED: HOLD, K.INSURANCE_ENROLLED: HOLD,
           K.INSURANCE_ENDED: HOLD}  # before an active application, departments' rows wait
#: The transitions table, ``status -> event kind -> next status | HOLD``; a kind missing from a
#: status's row is illegal there. docs/newborn-case.md shows it as a matrix (a test keeps both equal).
TABLE: Mapping[Status, Mapping[Kind, Status | str]] = {
    S.VOID: {K.CERTIFICATE_ISSUED: S.BORN, K.CERTIFICATE_WITHDRAWN: HOLD,
             K.APPLICATION_SUBMITTED: S.AWAITING_CERTIFICATE, K.APPLICATION_REJECTED: S.REJECTED,
             K.APPLICATION_CANCELLED: S.CANCELLED, **_PARKED},
    S.AWAITING_CERTIFICATE: {
        K.CERTIFICATE_ISSUED: S.APPLIED, K.CERTIFICATE_WITHDRAWN: HOLD,
        K.APPLICATION_SUBMITTED: S.AWAITING_CERTIFICATE, K.APPLICATION_REJECTED: S.REJECTED,
        K.APPLICATION_CANCELLED: S.CANCELLED, **_PARKED},
    S.BORN: {K.CERTIFICATE_ISSUED: S.BORN, K.CERTIFICATE_WITHDRAWN: S.VOID,
             K.APPLICATION_SUBMITTED: S.APPLIED, K.APPLICATION_REJECTED: S.REJECTED,
             K.APPLICATION_CANCELLED: S.CANCELLED, **_PARKED},
    S.APPLIED: {
        K.CERTIFICATE_ISSUED: S.APPLIED, K.CERTIFICATE_WITHDRAWN: S.AWAITING_CERTIFICATE,
        K.APPLICATION_SUBMITTED: S.APPLIED, K.APPLICATION_REJECTED: S.REJECTED,
        K.APPLICATION_CANCELLED: S.CANCELLED, K.HOUSEHOLD_REGISTERED: S.HOUSEHOLD_REGISTERED,
        K.HOUSEHOLD_DEREGISTERED: HOLD, K.INSURANCE_ENROLLED: S.INSURED, K.INSURANCE_ENDED: HOLD},
    S.HOUSEHOLD_REGISTERED: {  # the register acted on the certificate: no withdrawal, no rejection
        K.CERTIFICATE_ISSUED: S.HOUSEHOLD_REGISTERED, K.APPLICATION_SUBMITTED: S.HOUSEHOLD_REGISTERED,
        K.APPLICATION_CANCELLED: S.CANCELLED, K.HOUSEHOLD_REGISTERED: S.HOUSEHOLD_REGISTERED,
        K.HOUSEHOLD_DEREGISTERED: S.APPLIED, K.INSURANCE_ENROLLED: S.COMPLETED, K.INSURANCE_ENDED: HOLD},
    S.INSURED: {  # HRSS acted on the certificate: no withdrawal, no rejection
        K.CERTIFICATE_ISSUED: S.INSURED, K.APPLICATION_SUBMITTED: S.INSURED,
        K.APPLICATION_CANCELLED: S.CANCELLED, K.HOUSEHOLD_REGISTERED: S.COMPLETED,
        K.HOUSEHOLD_DEREGISTERED: HOLD, K.INSURANCE_ENROLLED: S.INSURED, K.INSURANCE_ENDED: S.APPLIED},
    S.COMPLETED: {  # done: neither withdrawn, rejected nor cancelled; a row undone reopens it
        K.CERTIFICATE_ISSUED: S.COMPLETED, K.APPLICATION_SUBMITTED: S.COMPLETED,
        K.HOUSEHOLD_REGISTERED: S.COMPLETED, K.HOUSEHOLD_DEREGISTERED: S.INSURED,
        K.INSURANCE_ENROLLED: S.COMPLETED, K.INSURANCE_ENDED: S.HOUSEHOLD_REGISTERED},
    S.REJECTED: {K.CERTIFICATE_ISSUED: S.REJECTED, K.CERTIFICATE_WITHDRAWN: HOLD,
                 K.APPLICATION_SUBMITTED: S.AWAITING_CERTIFICATE, K.APPLICATION_REJECTED: S.REJECTED,
                 K.APPLICATION_CANCELLED: S.CANCELLED, **_PARKED},
    S.CANCELLED: {K.CERTIFICATE_ISSUED: S.CANCELLED, K.CERTIFICATE_WITHDRAWN: HOLD,
                  K.APPLICATION_SUBMITTED: S.AWAITING_CERTIFICATE,  # withdrawn: cannot be rejected
                  K.APPLICATION_CANCELLED: S.CANCELLED, **_PARKED},
}
#: ``(status, kind) -> next status | HOLD``; a pair that is absent is an illegal transition.
TRANSITIONS: Mapping[tuple[Status, Kind], Status | str] = {
    (status, kind): target for status, row in TABLE.items() for kind, target in row.items()}
#: Statuses with an application the departments are working on.
ACTIVE = frozenset({Status.APPLIED, Status.HOUSEHOLD_REGISTERED, Status.INSURED})
#: Statuses in which the application is closed (a new application may reopen the last two).
TERMINAL = frozenset({Status.COMPLETED, Status.REJECTED, Status.CANCELLED})
_OPEN = ACTIVE | {Status.AWAITING_CERTIFICATE, Status.COMPLETED}


# -- facts ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Source:
    """The legacy record behind an event: ``department.table/record_key`` and its event id."""

    department: str
    table: str
    record_key: str
    event_id: str = ""

    @property
    def ref(self) -> str:
        return f"{self.department}.{self.table}/{self.record_key}"


@dataclass(frozen=True)
class Certificate:
    """Health's birth certificate: who was born, when, to whom."""

    certificate_number: str
    birth_date: str  # ISO 8601
    newborn_name: str
    newborn_sex_code: str
    mother_identity_number: str
    father_identity_number: str | None = None


@dataclass(frozen=True)
class Application:
    """The citizen app's application, a std.service_case of type newborn."""

    case_id: str
    status_code: str
    applicant_identity_number: str
    submitted_at_ms: int
    updated_at_ms: int
    #: The newborn's identity number when the platform records it (a later std.service_case field).
    newborn_identity_number: str | None = None


@dataclass(frozen=True)
class Household:
    """The newborn's record in the household register, and the rule that linked it."""

    identity_number: str
    record_key: str
    division_code: str | None
    rule: str


@dataclass(frozen=True)
class Insurance:
    """The newborn's enrolment in the HRSS register."""

    insurance_number: str
    identity_number: str
    status_code: str


@dataclass(frozen=True)
class CaseEvent:
    """One thing that happened to a case, with the record it came from and its new fact
    (None for withdrawals)."""

    kind: Kind
    source: Source
    fact: Certificate | Application | Household | Insurance | None = None


@dataclass(frozen=True)
class Anomaly:
    """A refused transition, kept on the case (once) so operators can see it."""

    event: Kind
    status: Status
    reason: str
    source: str


@dataclass(frozen=True)
class CaseState:
    """A case: its status and the facts it holds (held facts may be pending)."""

    certificate_number: str
    status: Status = Status.VOID
    certificate: Certificate | None = None
    application: Application | None = None
    household: Household | None = None
    insurance: Insurance | None = None
    anomalies: tuple[Anomaly, ...] = field(default=())

    @property
    def newborn_identity_number(self) -> str | None:
        """The newborn's identity number: the household register's, else the application's."""
        if self.household is not None:
            return self.household.identity_number
        return self.application.newborn_identity_number if self.application else None

    def as_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> CaseState:
        def fact(kind: type[Any], value: Mapping[str, Any] | None) -> Any:
            return None if value is None else kind(**value)

        return cls(
            str(data["certificate_number"]), Status(data["status"]),
            fact(Certificate, data.get("certificate")), fact(Application, data.get("application")),
            fact(Household, data.get("household")), fact(Insurance, data.get("insurance")),
            tuple(Anomaly(Kind(a["event"]), Status(a["status"]), str(a["reason"]), str(a["source"]))
                  for a in data.get("anomalies", ())))


# -- what decide returns -------------------------------------------------------------------

@dataclass(frozen=True)
class StatusChanged:
    """Notification: the case moved (what the citizen app shows)."""

    certificate_number: str
    from_status: Status
    to_status: Status
    cause: Kind


@dataclass(frozen=True)
class TransitionRefused:
    """Notification: an event the table does not allow in the case's status."""

    certificate_number: str
    anomaly: Anomaly


@dataclass(frozen=True)
class Command:
    """An order to a department, issued when its step becomes outstanding: ``register_household``
    (Public Security) or ``enrol_insurance`` (HRSS). The write-back sinks carry them out."""

    name: str
    department: str
    certificate_number: str
    newborn_identity_number: str | None = None


Message = StatusChanged | TransitionRefused | Command
_STEPS = {"register_household": "gongan", "enrol_insurance": "rsj"}


def outstanding(state: CaseState) -> tuple[str, ...]:
    """The departments' steps the case still waits for (empty unless an application is active)."""
    if state.status not in ACTIVE:
        return ()
    steps = []
    if state.household is None:
        steps.append("register_household")
    if state.insurance is None:
        steps.append("enrol_insurance")
    return tuple(steps)


# -- the core ------------------------------------------------------------------------------

def decide(state: CaseState, event: CaseEvent) -> tuple[CaseState, list[Message]]:
    """The case after ``event``, and what happened. A duplicate event changes nothing and says
    nothing; an illegal one leaves the case as it was except for a recorded anomaly."""
    refusal = _refusal(state, event)
    if refusal is not None:
        anomaly = Anomaly(event.kind, state.status, refusal, event.source.ref)
        if anomaly in state.anomalies:
            return state, []
        return (replace(state, anomalies=(*state.anomalies, anomaly)),
                [TransitionRefused(state.certificate_number, anomaly)])
    target = TRANSITIONS[(state.status, event.kind)]
    after = _record(state, event)
    if isinstance(target, Status):
        after = replace(after, status=target)
    # An application reopened (after a rejection or cancellation) waits for the certificate
    # in the table; the replay below moves it on when the case holds one.
    after = _replay(after)
    if after == state:
        return state, []
    messages: list[Message] = []
    if after.status != state.status:
        messages.append(StatusChanged(state.certificate_number, state.status, after.status, event.kind))
    for step in outstanding(after):
        if step not in outstanding(state):
            messages.append(Command(step, _STEPS[step], state.certificate_number,
                                    after.newborn_identity_number))
    return after, messages


def _refusal(state: CaseState, event: CaseEvent) -> str | None:
    """Why ``event`` may not happen to ``state`` (None: it may)."""
    if (state.status, event.kind) not in TRANSITIONS:
        return f"{event.kind} is not allowed when the case is {state.status}"
    application = event.fact if isinstance(event.fact, Application) else None
    if (application is not None and state.application is not None
            and application.case_id != state.application.case_id and state.status in _OPEN):
        return (f"application {application.case_id} while application "
                f"{state.application.case_id} is open for the same certificate")
    if event.kind is Kind.APPLICATION_CANCELLED and state.application is not None \
            and event.fact is None and event.source.record_key != state.application.case_id:
        return "a deleted application that is not the case's"
    return None


def _record(state: CaseState, event: CaseEvent) -> CaseState:
    """``state`` holding the event's fact (or without the withdrawn one)."""
    kind, fact = event.kind, event.fact
    if kind in (Kind.CERTIFICATE_ISSUED, Kind.CERTIFICATE_WITHDRAWN):
        return replace(state, certificate=fact if isinstance(fact, Certificate) else None)
    if isinstance(fact, Application):
        return replace(state, application=fact)
    if kind is Kind.HOUSEHOLD_REGISTERED or kind is Kind.HOUSEHOLD_DEREGISTERED:
        return replace(state, household=fact if isinstance(fact, Household) else None)
    if kind is Kind.INSURANCE_ENROLLED or kind is Kind.INSURANCE_ENDED:
        return replace(state, insurance=fact if isinstance(fact, Insurance) else None)
    return state  # an application deleted: the case keeps what it knew of it


def _replay(state: CaseState) -> CaseState:
    """Feed the held facts through the table again while one of them moves the status."""
    for _ in range(len(Status)):
        pending = [kind for kind, held in ((Kind.CERTIFICATE_ISSUED, state.certificate),
                                           (Kind.HOUSEHOLD_REGISTERED, state.household),
                                           (Kind.INSURANCE_ENROLLED, state.insurance)) if held]
        for kind in pending:
            target = TRANSITIONS.get((state.status, kind))
            if isinstance(target, Status) and target != state.status:
                state = replace(state, status=target)
                break
        else:
            return state
    return state
