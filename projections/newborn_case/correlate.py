"""Correlation: which case a canonical event is about, and the case events it means.

A case is keyed by the **birth certificate number** (one birth, one case). The rules, in the
order they are tried (docs/newborn-case.md explains them):

1. ``std.birth_certificate``: its ``certificate_number`` is the case.
2. ``std.service_case`` of type ``newborn``: its ``subject_reference``
   ``wsjk.csyxzm/<certificate number>`` names the case. A newborn case without that reference
   cannot be placed; it is kept (with its case id) and counted, never guessed from the parents.
3. ``std.person`` is the newborn's household registration when either
   a. its identity number is the newborn identity number the application records
      (rule ``identity_on_application``), or
   b. its birth date, name and sex are the certificate's, the birth date inside its identity
      number (GB 11643 digits 7–14) is that date too, and its household (division code and
      address) is the mother's or the father's household in the register
      (rule ``birth_and_parent_household``).
   Exactly one candidate links; two or more link none (the case waits, never picks).
4. ``std.social_insurance`` is the newborn's enrolment when its identity number is the
   newborn's (from 3); with several, the lowest insurance number of those ``paying`` or
   ``suspended``; ``terminated`` is no enrolment.

Facts that match no case yet (a household registration before the certificate, insurance
before the household registration, an application before the certificate) are kept by the store
and matched again whenever a fact they depend on arrives, so the order of arrival does not matter.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from projections.newborn_case.model import (
    Application,
    CaseEvent,
    Certificate,
    Household,
    Insurance,
    Kind,
    Source,
)

__all__ = [
    "ACTIVE_INSURANCE",
    "BY_APPLICATION",
    "BY_BIRTH",
    "CERTIFICATE_REFERENCE",
    "PersonRecord",
    "application_event",
    "certificate_event",
    "identity_birth_date",
    "insurance_fact",
    "insurance_of",
    "newborn_household",
    "person_record",
    "referenced_certificate",
    "source_of",
]

CERTIFICATE_REFERENCE = "wsjk.csyxzm/"
BY_APPLICATION = "identity_on_application"
BY_BIRTH = "birth_and_parent_household"
ACTIVE_INSURANCE = frozenset({"paying", "suspended"})
_APPLICATION_KINDS = {"submitted": Kind.APPLICATION_SUBMITTED, "in_progress": Kind.APPLICATION_SUBMITTED,
                      "completed": Kind.APPLICATION_SUBMITTED, "rejected": Kind.APPLICATION_REJECTED,
                      "cancelled": Kind.APPLICATION_CANCELLED}


@dataclass(frozen=True)
class PersonRecord:
    """What the case needs of a std.person: identity, birth, and household."""

    identity_number: str
    name: str
    sex_code: str
    birth_date: str
    division_code: str | None
    household_address: str | None
    source: Source

    @property
    def household(self) -> tuple[str | None, str | None] | None:
        if self.division_code is None and self.household_address is None:
            return None
        return self.division_code, self.household_address


def _iso(value: Any) -> str:
    return value.isoformat() if isinstance(value, dt.date) else str(value)


def _ms(value: Any) -> int:
    return int(value.timestamp() * 1000) if isinstance(value, dt.datetime) else int(value or 0)


def source_of(event: Mapping[str, Any]) -> Source:
    source = event["source"]
    return Source(str(source["department"]), str(source["table"]), str(source["record_key"]),
                  str(source.get("event_id") or ""))


def identity_birth_date(identity_number: str) -> str | None:
    """The birth date an 18-digit identity number carries (GB 11643-1999), ISO 8601."""
    digits = identity_number[6:14]
    if len(identity_number) != 18 or not digits.isdigit():
        return None
    return f"{digits[:4]}-{digits[4:6]}-{digits[6:]}"


def referenced_certificate(subject_reference: str | None) -> str | None:
    """The certificate number a service case refers to (``wsjk.csyxzm/<number>``)."""
    if subject_reference and subject_reference.startswith(CERTIFICATE_REFERENCE):
        return subject_reference.removeprefix(CERTIFICATE_REFERENCE).strip() or None
    return None


def certificate_event(certificate_number: str, event: Mapping[str, Any] | None) -> CaseEvent:
    """A std.birth_certificate value (None: a tombstone) as a case event."""
    if event is None:
        return CaseEvent(Kind.CERTIFICATE_WITHDRAWN, Source("wsjk", "csyxzm", certificate_number))
    father = event.get("father_identity_number")
    return CaseEvent(Kind.CERTIFICATE_ISSUED, source_of(event), Certificate(
        str(event["certificate_number"]), _iso(event["birth_date"]), str(event["newborn_name"]),
        str(event["newborn_sex_code"]), str(event["mother_identity_number"]),
        None if father is None else str(father)))


def application_event(case_id: str, event: Mapping[str, Any] | None) -> CaseEvent | None:
    """A std.service_case value as a case event; None when it is not a newborn case or its
    status is unknown. A tombstone is the application cancelled."""
    if event is None:
        return CaseEvent(Kind.APPLICATION_CANCELLED, Source("zwfw", "service_case", case_id))
    kind = _APPLICATION_KINDS.get(str(event["status_code"]))
    if event.get("case_type") != "newborn" or kind is None:
        return None
    newborn = event.get("newborn_identity_number")  # not in std.service_case yet: read when it is
    return CaseEvent(kind, source_of(event), Application(
        str(event["case_id"]), str(event["status_code"]), str(event["applicant_identity_number"]),
        _ms(event["submitted_at"]), _ms(event["updated_at"]), None if newborn is None else str(newborn)))


def person_record(event: Mapping[str, Any]) -> PersonRecord:
    division, address = event.get("division_code"), event.get("household_address")
    return PersonRecord(str(event["identity_number"]), str(event["name"]), str(event["sex_code"]),
                        _iso(event["birth_date"]), None if division is None else str(division),
                        None if address is None else str(address), source_of(event))


def insurance_fact(event: Mapping[str, Any]) -> Insurance:
    return Insurance(str(event["insurance_number"]), str(event["identity_number"]),
                     str(event["status_code"]))


def newborn_household(certificate: Certificate | None, named_identity: str | None,
                      candidates: Iterable[PersonRecord],
                      parent_households: Iterable[tuple[str | None, str | None]]) -> Household | None:
    """The newborn's household registration among ``candidates`` (rule 3), or None.

    ``candidates`` are person records with the certificate's birth date, name and sex, and the
    person named by the application; ``parent_households`` the households of the mother and
    the father as the register has them.
    """
    people = list(candidates)
    if named_identity is not None:
        named = [p for p in people if p.identity_number == named_identity]
        if named:
            return _household(named[0], BY_APPLICATION)
    if certificate is None:
        return None
    households = {h for h in parent_households if h is not None}
    matches = [p for p in people
               if (p.birth_date, p.name, p.sex_code) == (certificate.birth_date, certificate.newborn_name,
                                                         certificate.newborn_sex_code)
               and identity_birth_date(p.identity_number) == certificate.birth_date
               and p.household is not None and p.household in households]
    return _household(matches[0], BY_BIRTH) if len(matches) == 1 else None


def _household(person: PersonRecord, rule: str) -> Household:
    return Household(person.identity_number, person.source.record_key, person.division_code, rule)


def insurance_of(identity_number: str | None, enrolments: Iterable[Insurance]) -> Insurance | None:
    """The newborn's enrolment (rule 4), or None."""
    if identity_number is None:
        return None
    active = sorted((e for e in enrolments if e.identity_number == identity_number
                     and e.status_code in ACTIVE_INSURANCE), key=lambda e: e.insurance_number)
    return active[0] if active else None
