"""What ``enterprise_profile`` holds and where each field comes from (for the catalog)."""

from __future__ import annotations

from bus.governance.declarations import ProjectionDeclaration, ProjectionField
from projections.enterprise_profile.extract import EXTRACTORS

DECLARATION = ProjectionDeclaration(
    name="enterprise_profile",
    doc="One file per enterprise (一企一档), keyed by unified social credit code: the register "
        "from Market Regulation (authoritative; Tax's names are checked against it), tax "
        "registrations from Tax, insured employees from HRSS — each value with its provenance.",
    inputs=tuple(EXTRACTORS),
    key="credit_code",
    fields=(
        ProjectionField("credit_code", "Unified social credit code (GB 32100-2015).",
                        ("std.enterprise.credit_code", "std.tax_registration.taxpayer_id",
                         "std.social_insurance.employer_credit_code")),
        ProjectionField("name", "Registered name: Market Regulation's, else the most recent.",
                        ("std.enterprise.name", "std.tax_registration.taxpayer_name")),
        ProjectionField("legal_rep_identity_number", "Legal representative's identity number.",
                        ("std.enterprise.legal_rep_identity_number",)),
        ProjectionField("legal_rep_name", "Legal representative's name.",
                        ("std.enterprise.legal_rep_name", "std.tax_registration.legal_rep_name")),
        ProjectionField("registered_capital", "Registered capital.",
                        ("std.enterprise.registered_capital",)),
        ProjectionField("founding_date", "Founding date.", ("std.enterprise.founding_date",)),
        ProjectionField("status_code", "Register status.", ("std.enterprise.status_code",)),
        ProjectionField("tax_registrations[].status_code", "Tax registration status.",
                        ("std.tax_registration.status_code",)),
        ProjectionField("tax_registrations[].registration_date", "Tax registration date.",
                        ("std.tax_registration.registration_date",)),
        ProjectionField("insured_employees[].identity_number", "Insured employee's identity number.",
                        ("std.social_insurance.identity_number",)),
        ProjectionField("insured_employees[].name", "Insured employee's name.",
                        ("std.social_insurance.name",)),
        ProjectionField("version", "How many versions of the profile the bus has held."),
        ProjectionField("projected_at", "When the bus came to believe this version."),
    ),
)
