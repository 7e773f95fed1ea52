"""Response and request bodies of the query API, as pydantic models (the OpenAPI schemas).

Profiles are views: a field the client may not see is left out, so every field is optional;
masked values are still text. Facet items are objects whose fields follow the catalog.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class Problem(BaseModel):
    """RFC 9457 problem details; ``type`` is stable per kind of error."""

    model_config = ConfigDict(extra="allow")
    type: str = Field(examples=["/problems/invalid-identity-number"])
    title: str
    status: int
    detail: str | None = None


class Origin(BaseModel):
    """Where a value came from: the legacy record, the canonical event and its log position."""

    model_config = ConfigDict(extra="forbid")
    department: str
    table: str
    record_key: str | None = None
    event_id: str
    op: str | None = None
    updated_at: str | None = None
    topic: str | None = None
    partition: int | None = None
    offset: int | None = None


class Explained(Origin):
    """A field's provenance and the survivorship rule that chose its value."""

    rule: str


class LogPosition(BaseModel):
    model_config = ConfigDict(extra="forbid")
    topic: str
    partition: int
    offset: int


Item = dict[str, Any]


class CitizenProfile(BaseModel):
    """One citizen (一人一档) as the client may see it."""

    model_config = ConfigDict(extra="forbid")
    identity_number: str | None = None
    name: str | None = None
    sex_code: str | None = None
    birth_date: str | None = None
    division_code: str | None = None
    household_address: str | None = None
    version: int | None = None
    source: Origin | None = None
    position: LogPosition | None = None
    projected_at: str | None = None
    provenance: dict[str, Explained] | None = Field(
        default=None, description="Per field, only with ?explain=true.")
    social_insurance: list[Item] | None = None
    marriages: list[Item] | None = None
    social_assistance: list[Item] | None = None
    births: list[Item] | None = None
    enterprises: list[Item] | None = None
    linked_records: list[Item] | None = None


class EnterpriseProfile(BaseModel):
    """One enterprise (一企一档) as the client may see it."""

    model_config = ConfigDict(extra="forbid")
    credit_code: str | None = None
    name: str | None = None
    legal_rep_identity_number: str | None = None
    legal_rep_name: str | None = None
    registered_capital: str | None = None
    founding_date: str | None = None
    status_code: str | None = None
    version: int | None = None
    projected_at: str | None = None
    provenance: dict[str, Explained] | None = None
    tax_registrations: list[Item] | None = None
    insured_employees: list[Item] | None = None


class CitizenPage(BaseModel):
    model_config = ConfigDict(extra="forbid")
    items: list[CitizenProfile]
    next: str | None = Field(description="Opaque cursor of the next page (`after`), or null.")


class EnterprisePage(BaseModel):
    model_config = ConfigDict(extra="forbid")
    items: list[EnterpriseProfile]
    next: str | None = Field(description="Opaque cursor of the next page (`after`), or null.")


class CitizenVersion(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: int
    believed_at: str
    cause: LogPosition
    profile: CitizenProfile | None = Field(description="null: the profile was gone then.")


class EnterpriseVersion(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: int
    believed_at: str
    cause: LogPosition
    profile: EnterpriseProfile | None


class CitizenHistory(BaseModel):
    model_config = ConfigDict(extra="forbid")
    versions: list[CitizenVersion]
    next: str | None


class EnterpriseHistory(BaseModel):
    model_config = ConfigDict(extra="forbid")
    versions: list[EnterpriseVersion]
    next: str | None


class LedEnterprise(BaseModel):
    model_config = ConfigDict(extra="forbid")
    credit_code: str | None
    name: str | None
    status_code: str | None


class Employer(BaseModel):
    model_config = ConfigDict(extra="forbid")
    credit_code: str
    name: str | None = Field(description="The register's name, when the enterprise is known.")
    insurance_status: list[str | None]


class CitizenLinks(BaseModel):
    """The enterprises a citizen leads (Market Regulation) or is insured by (HRSS)."""

    model_config = ConfigDict(extra="forbid")
    identity_number: str | None = None
    legal_representative_of: list[LedEnterprise]
    insured_by_employer: list[Employer]
    links: list[str] = Field(description="The enterprises' profiles in this API.")


class AccessLogItem(BaseModel):
    model_config = ConfigDict(extra="forbid")
    at: str
    client: str
    client_name: str
    purpose: str | None
    endpoint: str
    fields: list[str]
    masked: list[str]
    result: str
    request_id: str


class AccessLog(BaseModel):
    """Who read the citizen's data, when, why and which fields (newest first)."""

    model_config = ConfigDict(extra="forbid")
    subject: str
    items: list[AccessLogItem]


class Health(BaseModel):
    status: Literal["ok"]


class Ready(BaseModel):
    status: Literal["ready"]
    positions: list[dict[str, Any]]


class Document(BaseModel):
    """A JSON document (catalog, lineage, quality report, AsyncAPI, OpenAPI)."""

    model_config = ConfigDict(extra="allow")


class ReviewDecision(BaseModel):
    """A link decision about a pair of records (see docs/entity-resolution.md)."""

    model_config = ConfigDict(extra="allow")
    pair_id: str
    decision_id: str
    kind: str


class ReviewPage(BaseModel):
    model_config = ConfigDict(extra="forbid")
    items: list[dict[str, Any]]
    next: str | None


class ReviewCommand(BaseModel):
    """A reviewer's decision on a pair in the review band."""

    model_config = ConfigDict(extra="forbid")
    decision: Literal["accept", "reject"]
    reviewer: str = Field(min_length=1, max_length=100)
    reason: str | None = Field(default=None, max_length=1000)


class SplitCommand(BaseModel):
    """Undo an accepted link."""

    model_config = ConfigDict(extra="forbid")
    reviewer: str = Field(min_length=1, max_length=100)
    reason: str | None = Field(default=None, max_length=1000)


class EventBody(BaseModel):
    """The canonical record of the event type (its Avro schema, as JSON: dates and times in ISO
    8601, decimals as strings); ``source`` is filled by the bus. A ``deleted`` event needs only
    the key field(s)."""

    model_config = ConfigDict(extra="allow")


class FieldProblem(BaseModel):
    model_config = ConfigDict(extra="forbid")
    field: str
    message: str


class PublishedEvent(BaseModel):
    """The event as Kafka stored it; ``position`` can be given as a read's ``min_position``."""

    model_config = ConfigDict(extra="forbid")
    event_id: str
    type: str
    subject: str | None
    topic: str
    partition: int
    offset: int
    position: str


class EventStream(BaseModel):
    """``text/event-stream``: each event has ``id`` (the cursor after it), ``event`` (its type)
    and ``data``: {type, id, subject, time, data (the canonical record as the client may see it,
    null for a deletion)}; comment lines keep the connection alive."""

    model_config = ConfigDict(extra="allow")


class WebhookFilters(BaseModel):
    """Which events a webhook receives: the filters of ``GET /v1/subscribe``."""

    model_config = ConfigDict(extra="forbid")
    types: list[str] = Field(min_length=1, max_length=20,
                             examples=[["rongtong.std.person.upserted"]])
    subject: str | None = Field(default=None, max_length=240,
                                description="Only events about <entity>/<key>.")
    department: str | None = Field(default=None, pattern="^[a-z0-9_-]{1,40}$",
                                   description="Only events whose source is this department.")


class WebhookCommand(BaseModel):
    """Register a webhook: where to POST, which events, and the purpose deliveries serve."""

    model_config = ConfigDict(extra="forbid")
    url: str = Field(min_length=1, max_length=2000, examples=["https://app.example.gov.cn/hooks"])
    filters: WebhookFilters
    description: str = Field(default="", max_length=500)
    purpose: str | None = Field(default=None, pattern="^[a-z0-9][a-z0-9._-]{0,62}$",
                                description="A purpose the client was granted: personal fields "
                                            "are delivered in full only with one.")
    start: Literal["end", "beginning"] = Field(
        default="end", description="end: events appended after the registration; beginning: "
                                   "the whole log first.")


class Webhook(BaseModel):
    """A registered webhook (its secret is shown only when it is created or rotated)."""

    model_config = ConfigDict(extra="forbid")
    id: str
    url: str
    filters: WebhookFilters
    purpose: str | None
    description: str
    start: Literal["end", "beginning"]
    state: Literal["active", "disabled"]
    state_reason: str | None = Field(description="Why a disabled webhook stopped (410 Gone, "
                                                 "client revoked).")
    created: str


class NewWebhook(Webhook):
    secret: str = Field(description="whsec_…: verifies the webhook-signature of deliveries. "
                                    "Shown once.")


class WebhookList(BaseModel):
    model_config = ConfigDict(extra="forbid")
    items: list[Webhook]


class WebhookSecret(BaseModel):
    """A new signing secret; the previous one keeps signing too until ``previous_valid_until``."""

    model_config = ConfigDict(extra="forbid")
    id: str
    secret: str
    previous_valid_until: str


class DeliveryAttempt(BaseModel):
    model_config = ConfigDict(extra="forbid")
    event_id: str = Field(description="The webhook-id header of the attempt.")
    event_type: str
    position: str = Field(description="topic:partition:offset of the event.")
    attempt: int
    at: str
    status: int | None = Field(description="The receiver's HTTP status; null when none came.")
    error: str | None = Field(description="Why no status came (timeout, refused connection…).")
    duration_ms: float
    outcome: Literal["delivered", "failed", "dead_lettered", "disabled"]


class DeliveryLog(BaseModel):
    """Every attempt of a webhook, newest first."""

    model_config = ConfigDict(extra="forbid")
    items: list[DeliveryAttempt]
    next: int | None = Field(description="The `after` of the next (older) page, or null.")
