"""What the ``citizen_profile`` projection holds and where each field comes from (for the catalog)."""

from __future__ import annotations

from bus.governance.declarations import ProjectionDeclaration, ProjectionField

_SOURCE = ("std.person.source",)

DECLARATION = ProjectionDeclaration(
    name="citizen_profile",
    doc="One file per citizen (一人一档): the latest standardized person record, keyed by "
        "identity number, with the legacy record and Kafka position it came from.",
    inputs=("std.person",),
    key="identity_number",
    fields=(
        ProjectionField("identity_number", "Citizen identity number (GB 11643-1999).",
                        ("std.person.identity_number",)),
        ProjectionField("name", "Full name, normalized.", ("std.person.name",)),
        ProjectionField("sex_code", "Sex, GB/T 2261.1 code.", ("std.person.sex_code",)),
        ProjectionField("birth_date", "Date of birth (ISO 8601).", ("std.person.birth_date",)),
        ProjectionField("division_code", "GB/T 2260 division of the household register.",
                        ("std.person.division_code",)),
        ProjectionField("household_address", "Address of the household registration.",
                        ("std.person.household_address",)),
        ProjectionField("source_department", "Department of the legacy record.", _SOURCE),
        ProjectionField("source_table", "Legacy table of the record.", _SOURCE),
        ProjectionField("source_record_key", "Key of the legacy row.", _SOURCE),
        ProjectionField("source_event_id", "ce_id of the raw change event.", _SOURCE),
        ProjectionField("source_op", "Operation of the raw change (c, u, d, r).", _SOURCE),
        ProjectionField("source_updated_at", "Update time the legacy row carried.", _SOURCE),
        ProjectionField("version", "How many changes the profile has seen."),
        ProjectionField("projected_at", "When the projection applied the latest change."),
    ),
)
