"""What each canonical event says about enterprises: contributions to ``enterprise_profile``.

One file per enterprise (一企一档), keyed by the unified social credit code (GB 32100):

| input | department | contributes |
|---|---|---|
| ``std.enterprise`` | Market Regulation | register: name, legal representative, capital, founding, status |
| ``std.tax_registration`` | Tax | facet ``tax_registrations``; name and legal representative (checked) |
| ``std.social_insurance`` | HRSS | facet ``insured_employees`` of the employer |
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

from projections.profiles.model import Contribution, Provenance
from projections.profiles.projection import Extractor, ProfileProjection, plain
from schemas.avro_schemas import load_avro_schema

__all__ = ["EXTRACTORS", "REGISTER_FIELDS", "enterprise_projection"]

REGISTER_FIELDS = ("name", "legal_rep_identity_number", "legal_rep_name", "registered_capital",
                   "founding_date", "status_code")


def _register(event: Mapping[str, Any], at: Provenance) -> list[Contribution]:
    return [Contribution(str(event["credit_code"]), at,
                         {f: plain(event.get(f)) for f in REGISTER_FIELDS})]


def _tax(event: Mapping[str, Any], at: Provenance) -> list[Contribution]:
    return [Contribution(
        str(event["taxpayer_id"]), at,
        {"name": plain(event.get("taxpayer_name")), "legal_rep_name": plain(event.get("legal_rep_name"))},
        "tax_registrations",
        {"taxpayer_id": plain(event.get("taxpayer_id")), "status_code": plain(event.get("status_code")),
         "registration_date": plain(event.get("registration_date"))})]


def _employee(event: Mapping[str, Any], at: Provenance) -> list[Contribution]:
    employer = event.get("employer_credit_code")
    if not employer:
        return []
    return [Contribution(
        str(employer), at, {}, "insured_employees",
        {"insurance_number": plain(event.get("insurance_number")),
         "identity_number": plain(event.get("identity_number")), "name": plain(event.get("name")),
         "status_code": plain(event.get("status_code"))})]


EXTRACTORS: dict[str, tuple[str, Extractor]] = {
    "std.enterprise": ("credit_code", _register),
    "std.tax_registration": ("taxpayer_id", _tax),
    "std.social_insurance": ("insurance_number", _employee),
}


def _authority() -> dict[str, str]:
    """Authoritative source of each register field, as the enterprise schema declares it."""
    fields = load_avro_schema("enterprise")["fields"]
    return {str(f["name"]): str(f["authoritative_source"]) for f in fields
            if f["name"] in REGISTER_FIELDS and f.get("authoritative_source")}


@functools.cache
def enterprise_projection() -> ProfileProjection:
    return ProfileProjection("enterprise_profile", EXTRACTORS, _authority())
