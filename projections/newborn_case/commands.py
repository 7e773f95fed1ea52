"""The orders the newborn case sends to departments, as canonical events for the write-back sinks.

When a step becomes outstanding (``model.outstanding``: the case is active and Public Security's
or HRSS's row has not come back), the case issues a command; it stays open until the step is no
longer outstanding, and a step outstanding again later (a household row deleted at the counter)
issues a new one. Each command is a canonical event — ``std.household_registration`` for
``register_household`` (gongan), ``std.insurance_enrolment`` for ``enrol_insurance`` (rsj) — that
the sinks write into the legacy tables, where the departments' clerks take it from there.

Everything here is a function of the case and the log position, so a rebuild from the log issues
the very same commands with the very same ids, and the sinks (idempotent by event id) do nothing
twice.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from projections.newborn_case.model import CaseState

__all__ = ["COMMAND_TOPICS", "IssuedCommand", "command_body", "command_event_id", "command_id"]

#: Command name → (department, canonical entity carrying it).
COMMAND_TOPICS = {
    "register_household": ("gongan", "household_registration"),
    "enrol_insurance": ("rsj", "insurance_enrolment"),
}
#: Short step codes in command ids (legacy key columns are narrow): 户籍 household, 参保 insurance.
_STEP_CODES = {"register_household": "HJ", "enrol_insurance": "CB"}
_KEY_FIELD = {"household_registration": "registration_id", "insurance_enrolment": "enrolment_id"}
_IDS = uuid.UUID("6b0f3c52-8d4e-4a71-9e2b-3c5d7f1a9e04")


@dataclass(frozen=True)
class IssuedCommand:
    """A command as the store keeps it and the publisher sends it."""

    command_id: str
    name: str
    entity: str
    body: dict[str, Any]

    @property
    def topic(self) -> str:
        return f"std.{self.entity}"

    @property
    def key(self) -> dict[str, str]:
        return {_KEY_FIELD[self.entity]: self.command_id}

    @property
    def event_id(self) -> str:
        return command_event_id(self.command_id)


def command_id(case_id: str, name: str, ordinal: int) -> str:
    """``<case id>-<HJ|CB><n>``: the n-th time this application needed this step (HJ: the
    household registration, CB: the insurance enrolment)."""
    return f"{case_id}-{_STEP_CODES[name]}{ordinal}"


def command_event_id(identifier: str) -> str:
    """The ``ce_id`` of a command's event: the same however often it is published."""
    return str(uuid.uuid5(_IDS, identifier))


def command_body(name: str, identifier: str, state: CaseState,
                 household: tuple[str | None, str | None] | None, requested_at_ms: int) -> dict[str, Any]:
    """The canonical event of command ``name`` for ``state`` (which must hold a certificate and an
    application); ``household`` is a parent's (division code, address) in the register, if known.
    Dates stay ISO strings here (JSON in the store); the publisher makes them Avro dates."""
    certificate, application = state.certificate, state.application
    if certificate is None or application is None:
        raise ValueError(f"case {state.certificate_number} has no certificate and application yet")
    source = {"department": "rongtong", "table": "newborn_case",
              "record_key": state.certificate_number, "event_id": command_event_id(identifier),
              "op": "c", "updated_at": requested_at_ms}
    common = {"case_id": application.case_id, "certificate_number": state.certificate_number,
              "name": certificate.newborn_name, "sex_code": certificate.newborn_sex_code,
              "birth_date": certificate.birth_date, "requested_at": requested_at_ms,
              "source": source}
    if name == "register_household":
        division, address = household or (None, None)
        return {"registration_id": identifier, **common, "division_code": division,
                "household_address": address,
                "mother_identity_number": certificate.mother_identity_number,
                "father_identity_number": certificate.father_identity_number}
    if name == "enrol_insurance":
        return {"enrolment_id": identifier, **common,
                "identity_number": state.newborn_identity_number, "employer_credit_code": None}
    raise ValueError(f"unknown command {name!r}")
