"""What each canonical event says about citizens: contributions to ``citizen_profile``.

One file per citizen (一人一档), keyed by the 18-digit identity number, from five departments:

| input | department | contributes |
|---|---|---|
| ``std.person`` | Public Security | identity: name, sex, birth date, division, household address |
| ``std.social_insurance`` | HRSS | facet ``social_insurance``; name, sex, birth date (checked) |
| ``std.marriage`` | Civil Affairs | facet ``marriages`` for both spouses; their names |
| ``std.social_assistance`` | Civil Affairs | facet ``social_assistance``; name |
| ``std.birth_certificate`` | Health | facet ``births`` for mother and father; their names |
| ``std.enterprise`` | Market Regulation | facet ``enterprises`` (as legal representative); name |
| ``std.link_decision`` | entity resolution | facet ``linked_records``: quarantined rows linked to them |

A link decision is keyed by its pair: an ``accepted`` one naming a ``subject`` adds the joining
(quarantined) record to that citizen's ``linked_records`` with the link's score and explanation;
any later decision about the pair (``split``, ``rejected``) replaces it with nothing.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from projections.profiles.model import Contribution, Provenance, Value
from projections.profiles.projection import Extractor, ProfileProjection, plain
from projections.profiles.store import InputPosition
from schemas.avro_schemas import load_avro_schema

__all__ = ["EXTRACTORS", "IDENTITY_FIELDS", "INPUT_TOPICS", "LINK_DECISIONS_TOPIC", "authority",
           "citizen_projection", "contributions", "from_event"]

IDENTITY_FIELDS = ("name", "sex_code", "birth_date", "division_code", "household_address")


def _pick(event: Mapping[str, Any], **names: str) -> dict[str, Value]:
    """``{target: plain(event[source])}`` for the ``target=source`` pairs given."""
    return {target: plain(event.get(source)) for target, source in names.items()}


def _person(event: Mapping[str, Any], at: Provenance) -> list[Contribution]:
    return [Contribution(str(event["identity_number"]), at,
                         {f: plain(event.get(f)) for f in IDENTITY_FIELDS})]


def _insurance(event: Mapping[str, Any], at: Provenance) -> list[Contribution]:
    return [Contribution(
        str(event["identity_number"]), at,
        _pick(event, name="name", sex_code="sex_code", birth_date="birth_date"),
        "social_insurance",
        _pick(event, insurance_number="insurance_number", status_code="status_code",
              employer_credit_code="employer_credit_code"))]


def _marriage(event: Mapping[str, Any], at: Provenance) -> list[Contribution]:
    item = _pick(event, registration_number="registration_number",
                 registration_type="registration_type", registration_date="registration_date")
    spouses = (("husband", "wife"), ("wife", "husband"))
    return [Contribution(
        str(event[f"{me}_identity_number"]), at, {"name": plain(event.get(f"{me}_name"))},
        "marriages",
        {**item, "role": me, "spouse_identity_number": plain(event.get(f"{other}_identity_number")),
         "spouse_name": plain(event.get(f"{other}_name"))}) for me, other in spouses]


def _assistance(event: Mapping[str, Any], at: Provenance) -> list[Contribution]:
    return [Contribution(
        str(event["identity_number"]), at, {"name": plain(event.get("name"))}, "social_assistance",
        _pick(event, assistance_number="assistance_number", assistance_type="assistance_type",
              amount="amount", payment_date="payment_date"))]


def _births(event: Mapping[str, Any], at: Provenance) -> list[Contribution]:
    item = _pick(event, certificate_number="certificate_number", newborn_name="newborn_name",
                 newborn_sex_code="newborn_sex_code", birth_date="birth_date")
    return [Contribution(str(event[f"{parent}_identity_number"]), at,
                         {"name": plain(event.get(f"{parent}_name"))}, "births",
                         {**item, "role": parent})
            for parent in ("mother", "father") if event.get(f"{parent}_identity_number")]


def _enterprise(event: Mapping[str, Any], at: Provenance) -> list[Contribution]:
    return [Contribution(
        str(event["legal_rep_identity_number"]), at, {"name": plain(event.get("legal_rep_name"))},
        "enterprises",
        {**_pick(event, credit_code="credit_code", name="name", status_code="status_code"),
         "role": "legal_representative"})]


LINK_DECISIONS_TOPIC = "std.link_decision"


def _linked_record(event: Mapping[str, Any], at: Provenance) -> list[Contribution]:
    """An accepted link of a quarantined row to a citizen: the row in ``linked_records``."""
    subject, side = event.get("subject"), event.get("joining")
    if event.get("kind") != "accepted" or not subject or side not in ("left", "right"):
        return []
    joining, other = (event["left"], event["right"]) if side == "left" else (event["right"], event["left"])
    explanation = ", ".join(f"{w['field']}={w['level']} {w['weight']:+.1f}"
                            for w in event.get("weights") or ())
    return [Contribution(str(subject), at, {}, "linked_records", {
        "pair_id": str(event["pair_id"]), "record": _ref_key(joining), "role": str(joining["role"]),
        "linked_to": _ref_key(other), "score": event.get("score"), "explanation": explanation or None,
        "rule": str(event["rule"]), "decided_by": str(event["decided_by"])})]


def _ref_key(ref: Mapping[str, Any]) -> str:
    return f"{ref['department']}.{ref['table']}/{ref['record_key']}#{ref['role']}"


def _link_provenance(at: InputPosition, event: Mapping[str, Any]) -> Provenance:
    """The joining record is the source; the decision is the event."""
    side = event["left"] if event.get("joining") == "left" else event["right"]
    decided = event["decided_at"]
    ms = int(decided.timestamp() * 1000) if isinstance(decided, dt.datetime) else int(decided)
    return Provenance(ms, at.topic, at.partition, at.offset, str(side["department"]), str(side["table"]),
                      str(side["record_key"]), str(event["decision_id"]), "")


EXTRACTORS: dict[str, tuple[str, Extractor]] = {
    # topic: (key field of the topic, extractor)
    "std.person": ("identity_number", _person),
    "std.social_insurance": ("insurance_number", _insurance),
    "std.marriage": ("registration_number", _marriage),
    "std.social_assistance": ("assistance_number", _assistance),
    "std.birth_certificate": ("certificate_number", _births),
    "std.enterprise": ("credit_code", _enterprise),
    LINK_DECISIONS_TOPIC: ("pair_id", _linked_record),
}
INPUT_TOPICS = tuple(EXTRACTORS)


def contributions(topic: str, event: Mapping[str, Any], at: Provenance) -> list[Contribution]:
    return EXTRACTORS[topic][1](event, at)


def authority() -> dict[str, str]:
    """Authoritative source of each identity field, as the person schema declares it."""
    fields = load_avro_schema("person")["fields"]
    return {str(f["name"]): str(f["authoritative_source"]) for f in fields
            if f["name"] in IDENTITY_FIELDS and f.get("authoritative_source")}


@dataclass(frozen=True)
class _CitizenProjection(ProfileProjection):
    """Link decisions carry no canonical ``source``: their provenance is the joining record."""

    def from_event(self, at: InputPosition, key: Mapping[str, Any], event: Mapping[str, Any] | None
                   ) -> tuple[str, list[Contribution] | None]:
        if at.topic != LINK_DECISIONS_TOPIC:
            return super().from_event(at, key, event)
        pair = str(key["pair_id"])
        if event is None:
            return pair, None
        return pair, _linked_record(event, _link_provenance(at, event))


@functools.cache
def citizen_projection() -> ProfileProjection:
    return _CitizenProjection("citizen_profile", EXTRACTORS, authority())


def from_event(at: InputPosition, key: Mapping[str, Any], event: Mapping[str, Any] | None
               ) -> tuple[str, list[Contribution] | None]:
    return citizen_projection().from_event(at, key, event)
