"""What ``citizen_profile`` holds and where each field comes from (for the catalog)."""

from __future__ import annotations

from bus.governance.declarations import ProjectionDeclaration, ProjectionField
from projections.citizen_profile.extract import INPUT_TOPICS


def _facet(facet: str, entity: str, *pairs: tuple[str, str]) -> tuple[ProjectionField, ...]:
    return tuple(ProjectionField(f"{facet}[].{name}", f"{facet}: {source.replace('_', ' ')}",
                                 (f"std.{entity}.{source}",)) for name, source in pairs)


DECLARATION = ProjectionDeclaration(
    name="citizen_profile",
    doc="One file per citizen (一人一档), keyed by identity number: identity from Public "
        "Security (authoritative; other departments' values are checked against it), social "
        "insurance from HRSS, marriages and assistance from Civil Affairs, births from Health, "
        "enterprises led from Market Regulation — each value with its provenance.",
    inputs=INPUT_TOPICS,
    key="identity_number",
    fields=(
        ProjectionField("identity_number", "Citizen identity number (GB 11643-1999).", (
            "std.person.identity_number", "std.social_insurance.identity_number",
            "std.social_assistance.identity_number", "std.marriage.husband_identity_number",
            "std.marriage.wife_identity_number", "std.birth_certificate.mother_identity_number",
            "std.birth_certificate.father_identity_number",
            "std.enterprise.legal_rep_identity_number")),
        ProjectionField("name", "Full name: Public Security's, else the most recent.", (
            "std.person.name", "std.social_insurance.name", "std.social_assistance.name",
            "std.marriage.husband_name", "std.marriage.wife_name",
            "std.birth_certificate.mother_name", "std.birth_certificate.father_name",
            "std.enterprise.legal_rep_name")),
        ProjectionField("sex_code", "Sex, GB/T 2261.1 code.",
                        ("std.person.sex_code", "std.social_insurance.sex_code")),
        ProjectionField("birth_date", "Date of birth (ISO 8601).",
                        ("std.person.birth_date", "std.social_insurance.birth_date")),
        ProjectionField("division_code", "GB/T 2260 division of the household register.",
                        ("std.person.division_code",)),
        ProjectionField("household_address", "Address of the household registration.",
                        ("std.person.household_address",)),
        ProjectionField("provenance", "Per field: the rule that chose the value and the record, "
                                      "event and log position it came from.", ("std.person.source",)),
        *_facet("social_insurance", "social_insurance", ("insurance_number", "insurance_number"),
                ("status_code", "status_code"), ("employer_credit_code", "employer_credit_code")),
        *_facet("marriages", "marriage", ("registration_number", "registration_number"),
                ("registration_type", "registration_type"),
                ("registration_date", "registration_date")),
        *_facet("social_assistance", "social_assistance", ("assistance_number", "assistance_number"),
                ("assistance_type", "assistance_type"), ("amount", "amount"),
                ("payment_date", "payment_date")),
        *_facet("births", "birth_certificate", ("certificate_number", "certificate_number"),
                ("newborn_name", "newborn_name"), ("birth_date", "birth_date")),
        *_facet("enterprises", "enterprise", ("credit_code", "credit_code"), ("name", "name"),
                ("status_code", "status_code")),
        ProjectionField("linked_records", "Quarantined rows (e.g. a broken identity number) that "
                        "entity resolution linked to this citizen, with score, per-field weights "
                        "and provenance; they leave on a split or reject (std.link_decision)."),
        ProjectionField("version", "How many versions of the profile the bus has held."),
        ProjectionField("projected_at", "When the bus came to believe this version."),
    ),
)
