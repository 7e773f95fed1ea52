"""What ``newborn_case`` holds and where each field comes from (for the catalog)."""

from __future__ import annotations

from bus.governance.declarations import ProjectionDeclaration, ProjectionField
from projections.newborn_case.store import INPUT_TOPICS

_CERTIFICATE = "std.birth_certificate"
_CASE = "std.service_case"

DECLARATION = ProjectionDeclaration(
    name="newborn_case",
    doc="The cross-department newborn flow (新生儿出生“一件事”), one case per birth certificate: "
        "Health's certificate, the citizen app's application, Public Security's household "
        "registration and HRSS's insurance enrolment as they come back through capture, with "
        "the state the case is in and the steps it still awaits.",
    inputs=INPUT_TOPICS,
    key="certificate_number",
    fields=(
        ProjectionField("certificate_number", "Birth certificate number: the case's key.",
                        (f"{_CERTIFICATE}.certificate_number",)),
        ProjectionField("status", "State of the case (docs/newborn-case.md).",
                        (f"{_CASE}.status_code",)),
        ProjectionField("awaiting", "Departments' steps still outstanding."),
        ProjectionField("case_id", "Case number of the application.", (f"{_CASE}.case_id",)),
        ProjectionField("application_status", "Status of the application as the platform reports it.",
                        (f"{_CASE}.status_code",)),
        ProjectionField("applicant_identity_number", "Identity number of the applicant.",
                        (f"{_CASE}.applicant_identity_number",)),
        ProjectionField("submitted_at", "When the application was submitted.",
                        (f"{_CASE}.submitted_at",)),
        ProjectionField("birth_date", "Date of birth of the newborn.", (f"{_CERTIFICATE}.birth_date",)),
        ProjectionField("newborn_name", "Name of the newborn.", (f"{_CERTIFICATE}.newborn_name",)),
        ProjectionField("newborn_sex_code", "Sex of the newborn, GB/T 2261.1.",
                        (f"{_CERTIFICATE}.newborn_sex_code",)),
        ProjectionField("mother_identity_number", "Identity number of the mother.",
                        (f"{_CERTIFICATE}.mother_identity_number",)),
        ProjectionField("father_identity_number", "Identity number of the father.",
                        (f"{_CERTIFICATE}.father_identity_number",)),
        ProjectionField("newborn_identity_number", "The newborn's identity number from the "
                        "household registration.", ("std.person.identity_number",)),
        ProjectionField("household.record_key", "The register row of the newborn.",
                        ("std.person.source",)),
        ProjectionField("household.division_code", "Division of the household registration.",
                        ("std.person.division_code",)),
        ProjectionField("insurance.insurance_number", "The newborn's insurance number.",
                        ("std.social_insurance.insurance_number",)),
        ProjectionField("insurance.status_code", "The newborn's insurance status.",
                        ("std.social_insurance.status_code",)),
        ProjectionField("anomalies", "Transitions the state machine refused."),
        ProjectionField("version", "How many versions of the case the bus has held."),
        ProjectionField("believed_at", "When the bus came to believe this version."),
    ),
)
