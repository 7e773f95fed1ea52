"""``/openapi.json``: the OpenAPI 3.1 document of the query API, from the pydantic models.

Every route the service registers is declared here with its parameters and every status it
can answer (a test compares this table with the router, another runs schemathesis against
the running service).
"""

from __future__ import annotations

import importlib.metadata
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from pydantic import BaseModel

from bus.web import api_models as m

__all__ = ["OPERATIONS", "Operation", "Parameter", "openapi_document"]

_IDENTITY = r"^[0-9]{15}$|^[0-9]{17}[0-9Xx]$"
_CREDIT_CODE = r"^[0-9A-HJ-NPQRTUWXYa-hj-npqrtuwxy]{18}$"
_PURPOSE_CODE = r"^[a-z0-9][a-z0-9._-]{0,62}$"


@dataclass(frozen=True)
class Parameter:
    name: str
    where: str  # path, query, header
    schema: dict[str, Any]
    description: str
    required: bool = False


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    operation_id: str
    summary: str
    tag: str
    ok: type[BaseModel]
    ok_status: int = 200
    errors: tuple[int, ...] = ()
    parameters: tuple[Parameter, ...] = ()
    body: type[BaseModel] | None = None
    secured: bool = True
    citizen: bool = False
    cached: bool = False
    description: str = ""
    extra_headers: dict[str, str] = field(default_factory=dict)
    media: str = "application/json"


def _query(name: str, description: str, **schema: Any) -> Parameter:
    return Parameter(name, "query", {"type": "string", **schema}, description)


_PURPOSE = Parameter("X-Purpose", "header", {"type": "string", "pattern": _PURPOSE_CODE},
                     "The purpose of this read; personal fields are shown only for a purpose "
                     "the client was granted.")
_IF_NONE_MATCH = Parameter("If-None-Match", "header", {"type": "string"},
                           "An ETag of an earlier answer: 304 when it is still current.")
_AS_OF = _query("as_of", "ISO 8601 time: what the bus believed then.", format="date-time")
_EXPLAIN = Parameter("explain", "query", {"type": "boolean"},
                     "true: add each field's provenance and survivorship rule.")
_MIN_POSITION = _query("min_position", "Wait (≤ 5 s) until the projection has applied these "
                       "input positions: topic:partition:next_offset, comma-separated.",
                       maxLength=4096, pattern=r"^[A-Za-z0-9._-]+:[0-9]{1,6}:[0-9]{1,19}"
                       r"(,[A-Za-z0-9._-]+:[0-9]{1,6}:[0-9]{1,19})*$")
_LIMIT = Parameter("limit", "query", {"type": "integer", "minimum": 1, "maximum": 500},
                   "Page size.")
_HISTORY_LIMIT = Parameter("limit", "query", {"type": "integer", "minimum": 1, "maximum": 200},
                           "Versions per page.")
_SEARCH_LIMIT = Parameter("limit", "query", {"type": "integer", "minimum": 1, "maximum": 100},
                          "Page size.")
_AFTER_VERSION = Parameter("after", "query", {"type": "integer", "minimum": 0},
                           "The `next` of the previous page (a version number).")
_IDENTITY_NUMBER = Parameter("identity_number", "path", {"type": "string", "pattern": _IDENTITY},
                             "GB 11643 citizen identity number, 18 or 15 digits.", True)
_CREDIT = Parameter("credit_code", "path", {"type": "string", "pattern": _CREDIT_CODE},
                    "GB 32100 unified social credit code.", True)
_PAIR = Parameter("pair_id", "path", {"type": "string", "minLength": 1, "maxLength": 500},
                  "The pair of records, as listed by the review queue.", True)
_PROFILE_ERRORS = (400, 401, 403, 404, 429, 503)
_WEBHOOK = Parameter("webhook_id", "path", {"type": "string", "minLength": 1, "maxLength": 100},
                     "The webhook's id (wh_…).", True)

OPERATIONS: tuple[Operation, ...] = (
    Operation("get", "/healthz", "health", "The service answers.", "service", m.Health,
              secured=False),
    Operation("get", "/readyz", "readiness", "The citizen read store exists; its positions.",
              "service", m.Ready, errors=(503,), secured=False),
    Operation("get", "/openapi.json", "openapi", "This document.", "service", m.Document,
              secured=False),
    Operation("get", "/asyncapi.json", "asyncapi", "The AsyncAPI 3.0 document of every topic.",
              "service", m.Document, secured=False),
    Operation("get", "/v1/citizens", "listCitizens", "Citizen profiles, a page at a time.",
              "citizens", m.CitizenPage, errors=(400, 401, 403, 429, 503), cached=True,
              parameters=(_LIMIT, _query("after", "The opaque `next` cursor of the previous page.",
                                         maxLength=256), _PURPOSE)),
    Operation("get", "/v1/citizens/search", "searchCitizens",
              "Citizens by name (and birth date, division); needs a granted purpose.", "citizens",
              m.CitizenPage, errors=(400, 401, 403, 429, 503), cached=True,
              parameters=(Parameter("name", "query", {"type": "string", "minLength": 1,
                                                      "maxLength": 60}, "Full name.", True),
                          _query("birth_date", "ISO date.", format="date"),
                          _query("division_code", "GB/T 2260 code.", pattern="^[0-9]{6}$"),
                          _SEARCH_LIMIT, _query("after", "The `next` cursor.", maxLength=256),
                          _PURPOSE)),
    Operation("get", "/v1/citizens/{identity_number}", "getCitizen", "One citizen's profile.",
              "citizens", m.CitizenProfile, errors=_PROFILE_ERRORS, cached=True,
              parameters=(_IDENTITY_NUMBER, _AS_OF, _EXPLAIN, _MIN_POSITION, _PURPOSE,
                          _IF_NONE_MATCH)),
    Operation("get", "/v1/citizens/{identity_number}/history", "getCitizenHistory",
              "Every version of a citizen's profile, with the event that caused it.", "citizens",
              m.CitizenHistory, errors=_PROFILE_ERRORS, cached=True,
              parameters=(_IDENTITY_NUMBER, _AFTER_VERSION, _HISTORY_LIMIT, _EXPLAIN,
                          _MIN_POSITION, _PURPOSE, _IF_NONE_MATCH)),
    Operation("get", "/v1/citizens/{identity_number}/links", "getCitizenLinks",
              "The enterprises a citizen leads or is insured by.", "citizens", m.CitizenLinks,
              errors=_PROFILE_ERRORS, cached=True,
              parameters=(_IDENTITY_NUMBER, _AS_OF, _MIN_POSITION, _PURPOSE, _IF_NONE_MATCH)),
    Operation("get", "/v1/enterprises/search", "searchEnterprises",
              "Enterprises by name, legal representative or status (at least one).",
              "enterprises", m.EnterprisePage, errors=(400, 401, 403, 429, 503), cached=True,
              parameters=(_query("name", "Registered name.", maxLength=60),
                          _query("legal_rep", "The legal representative's identity number "
                                 "(needs a granted purpose).", pattern=_IDENTITY),
                          _query("legal_rep_name", "The legal representative's name (needs a "
                                 "granted purpose).", maxLength=60),
                          _query("status", "Status code, e.g. active.", pattern="^[a-z_]{1,32}$"),
                          _SEARCH_LIMIT, _query("after", "The `next` cursor.", maxLength=256),
                          _PURPOSE)),
    Operation("get", "/v1/enterprises/{credit_code}", "getEnterprise", "One enterprise's profile.",
              "enterprises", m.EnterpriseProfile, errors=_PROFILE_ERRORS, cached=True,
              parameters=(_CREDIT, _AS_OF, _EXPLAIN, _MIN_POSITION, _PURPOSE, _IF_NONE_MATCH)),
    Operation("get", "/v1/enterprises/{credit_code}/history", "getEnterpriseHistory",
              "Every version of an enterprise's profile.", "enterprises", m.EnterpriseHistory,
              errors=_PROFILE_ERRORS, cached=True,
              parameters=(_CREDIT, _AFTER_VERSION, _HISTORY_LIMIT, _EXPLAIN, _MIN_POSITION,
                          _PURPOSE, _IF_NONE_MATCH)),
    Operation("get", "/v1/me/access-log", "getMyAccessLog",
              "Who read my data, when and why (a citizen's token).", "citizens", m.AccessLog,
              errors=(401, 403, 429), citizen=True),
    Operation("post", "/v1/events/{type}", "publishEvent",
              "Publish a canonical event (clients granted its entity).", "events",
              m.PublishedEvent, ok_status=202, errors=(400, 401, 403, 404, 422, 429, 503),
              parameters=(Parameter("type", "path", {"type": "string", "pattern": r"^rongtong\.std\."
                                                     r"[a-z_]+\.(upserted|deleted)$"},
                                    "rongtong.std.<entity>.upserted or .deleted.", True),
                          Parameter("Idempotency-Key", "header",
                                    {"type": "string", "pattern": "^[A-Za-z0-9._:-]{1,128}$"},
                                    "Publish once: a retry with the same key and body gets the "
                                    "same answer.")),
              body=m.EventBody),
    Operation("get", "/v1/subscribe", "subscribe",
              "Canonical events as Server-Sent Events, masked by classification; resumable.",
              "events", m.EventStream, errors=(400, 401, 403, 429, 503), media="text/event-stream",
              parameters=(Parameter("types", "query", {"type": "string", "maxLength": 2000},
                                    "Comma-separated event types, e.g. "
                                    "rongtong.std.person.upserted or "
                                    "rongtong.projection.newborn_case.changed.", True),
                          _query("subject", "Only events about <entity>/<key>.", maxLength=240),
                          _query("department", "Only events whose source is this department.",
                                 pattern="^[a-z0-9_-]{1,40}$"),
                          Parameter("from", "query", {"type": "string", "enum": ["end", "beginning"]},
                                    "Where a new subscription starts (default end)."),
                          _query("cursor", "Resume after this cursor (as Last-Event-ID).",
                                 maxLength=4096),
                          Parameter("Last-Event-ID", "header", {"type": "string", "maxLength": 4096},
                                    "The id of the last event received: resume after it."),
                          _PURPOSE)),
    Operation("post", "/v1/webhooks", "registerWebhook",
              "Register a webhook: canonical events POSTed to a URL, signed (Standard Webhooks); "
              "the secret is in this answer only.", "webhooks", m.NewWebhook, ok_status=201,
              errors=(400, 401, 403, 409, 422, 429), body=m.WebhookCommand),
    Operation("get", "/v1/webhooks", "listWebhooks", "The client's webhooks.", "webhooks",
              m.WebhookList, errors=(401, 403, 429)),
    Operation("get", "/v1/webhooks/{webhook_id}", "getWebhook", "One of the client's webhooks.",
              "webhooks", m.Webhook, errors=(401, 403, 404, 429), parameters=(_WEBHOOK,)),
    Operation("delete", "/v1/webhooks/{webhook_id}", "deleteWebhook",
              "Delete a webhook and its delivery log; the answer is the webhook as it was.",
              "webhooks", m.Webhook, errors=(401, 403, 404, 429), parameters=(_WEBHOOK,)),
    Operation("get", "/v1/webhooks/{webhook_id}/deliveries", "listWebhookDeliveries",
              "The delivery log: every attempt, newest first.", "webhooks", m.DeliveryLog,
              errors=(400, 401, 403, 404, 429),
              parameters=(_WEBHOOK, Parameter("limit", "query", {"type": "integer", "minimum": 1,
                                                                 "maximum": 200}, "Page size."),
                          Parameter("after", "query", {"type": "integer", "minimum": 1},
                                    "The `next` of the previous page."))),
    Operation("post", "/v1/webhooks/{webhook_id}/rotate-secret", "rotateWebhookSecret",
              "A new signing secret; the previous one keeps signing too for a grace period.",
              "webhooks", m.WebhookSecret, errors=(401, 403, 404, 429), parameters=(_WEBHOOK,)),
    Operation("get", "/v1/catalog", "getCatalog", "The data catalog.", "governance", m.Document,
              errors=(400, 401, 403, 429),
              parameters=(_query("search", "Words to look for.", maxLength=200),
                          Parameter("kind", "query", {"type": "string", "enum": [
                              "legacy_table", "raw_topic", "canonical", "projection", "api"]},
                              "Only datasets of this kind."))),
    Operation("get", "/v1/catalog/lineage", "getLineage", "Where a field comes from and goes to.",
              "governance", m.Document, errors=(400, 401, 403, 404, 429),
              parameters=(Parameter("field", "query", {"type": "string", "maxLength": 300},
                                    "A field id, e.g. std.person.name.", True),)),
    Operation("get", "/v1/quality", "getQuality", "Accepted and quarantined rows per table and rule.",
              "governance", m.Document, errors=(400, 401, 403, 404, 429, 503),
              parameters=(_query("department", "A department code.", maxLength=64),
                          _query("table", "A legacy table.", maxLength=64))),
    Operation("get", "/v1/resolution/reviews", "listReviews",
              "Record pairs in the review band (operators).", "resolution", m.ReviewPage,
              errors=(400, 401, 403, 429),
              parameters=(_LIMIT, _query("after", "The `next` cursor.", maxLength=1000))),
    Operation("post", "/v1/resolution/reviews/{pair_id}", "decideReview",
              "Accept or reject a pair in the review band (operators).", "resolution",
              m.ReviewDecision, ok_status=202, errors=(400, 401, 403, 404, 409, 429, 503),
              parameters=(_PAIR,), body=m.ReviewCommand),
    Operation("post", "/v1/resolution/links/{pair_id}/split", "splitLink",
              "Undo an accepted link (operators).", "resolution", m.ReviewDecision, ok_status=202,
              errors=(400, 401, 403, 404, 409, 429, 503), parameters=(_PAIR,), body=m.SplitCommand),
)

_ERROR_TEXT = {400: "Invalid request", 401: "No valid credentials", 403: "Not granted",
               404: "Not found", 409: "Conflict with the current state",
               422: "The body does not fit (every field error listed)",
               429: "Rate limit reached (see Retry-After)",
               503: "Not available yet (see Retry-After)"}


def _schemas(models: Sequence[type[BaseModel]]) -> dict[str, Any]:
    components: dict[str, Any] = {}
    for model in models:
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        components.update(schema.pop("$defs", {}))
        components[model.__name__] = schema
    return components


def _operation(op: Operation) -> dict[str, Any]:
    ref = {"$ref": f"#/components/schemas/{op.ok.__name__}"}
    ok_headers = {"X-Request-ID": {"schema": {"type": "string"}, "description": "The request id "
                                   "the audit log records."}}
    if op.cached:
        ok_headers["ETag"] = {"schema": {"type": "string"}}
    responses: dict[str, Any] = {str(op.ok_status): {
        "description": "OK", "headers": ok_headers, "content": {op.media: {"schema": ref}}}}
    if op.cached:
        responses["304"] = {"description": "Not modified (If-None-Match)"}
    problem = {"$ref": "#/components/schemas/Problem"}
    for status in op.errors:
        responses[str(status)] = {"description": _ERROR_TEXT[status],
                                  "content": {"application/problem+json": {"schema": problem}}}
    body: dict[str, Any] = {
        "operationId": op.operation_id, "summary": op.summary, "tags": [op.tag],
        "parameters": [{"name": p.name, "in": p.where, "required": p.required or p.where == "path",
                        "description": p.description, "schema": p.schema} for p in op.parameters],
        "responses": responses,
    }
    if op.body is not None:
        body["requestBody"] = {"required": True, "content": {"application/json": {
            "schema": {"$ref": f"#/components/schemas/{op.body.__name__}"}}}}
    if op.citizen:
        body["security"] = [{"citizenToken": []}]
    elif op.secured:
        body["security"] = [{"bearer": []}, {"apiKey": []}]
    else:
        body["security"] = []
    return body


def openapi_document() -> dict[str, Any]:
    paths: dict[str, Any] = {}
    for op in OPERATIONS:
        paths.setdefault(op.path, {})[op.method] = _operation(op)
    models = {op.ok for op in OPERATIONS} | {op.body for op in OPERATIONS if op.body} | {m.Problem}
    try:
        version = importlib.metadata.version("rongtong")
    except importlib.metadata.PackageNotFoundError:
        version = "0"
    return {
        "openapi": "3.1.0",
        "info": {"title": "Rongtong 融通 query API", "version": version,
                 "description": "One answer instead of six departments: citizen and enterprise "
                                "profiles with provenance and history, default-deny, masked by "
                                "classification, purpose-bound and audited (docs/access.md)."},
        "paths": paths,
        "components": {
            "schemas": _schemas(sorted(models, key=lambda model: model.__name__)),
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer",
                           "description": "An API key (rtk_…) or a client's JWT."},
                "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
                "citizenToken": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
                                 "description": "A citizen's JWT (sub = citizen:<identity number>)."},
            },
        },
    }


async def get_openapi(request: web.Request) -> web.Response:
    return web.json_response(request.app[OPENAPI], dumps=lambda v: json.dumps(v, ensure_ascii=False))


OPENAPI = web.AppKey("openapi", dict[str, Any])


def add_routes(app: web.Application) -> None:
    app[OPENAPI] = openapi_document()
    app.router.add_get("/openapi.json", get_openapi)
