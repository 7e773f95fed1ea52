"""``/v1/enterprises``: the unified enterprise profile (一企一档)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aiohttp import web

from bus.governance.declarations import ApiDeclaration, ApiField
from bus.standards.credit_code import parse_credit_code
from bus.web.profile_reads import ProfileEndpoint
from bus.web.search import ENTERPRISE_SEARCH, SearchEndpoint
from projections.enterprise_profile.declaration import DECLARATION as ENTERPRISE_PROFILE
from projections.enterprise_profile.queries import EnterpriseProfileQueries, enterprise_json

QUERIES = web.AppKey("enterprise_queries", EnterpriseProfileQueries)

#: What the endpoint answers, field by field, for the catalog's lineage.
API_DECLARATIONS = (
    ApiDeclaration("GET", "/v1/enterprises/{credit_code}", "One enterprise's profile.",
                   "enterprise_profile",
                   tuple(ApiField(f.name, f.name) for f in ENTERPRISE_PROFILE.fields)),
)


def _read(request: web.Request, code: str, moment: datetime | None) -> dict[str, Any] | None:
    return request.app[QUERIES].get(code, moment)


ENDPOINT = ProfileEndpoint(
    projection="enterprise_profile", subject_kind="enterprise", route="/v1/enterprises/{credit_code}",
    key_param="credit_code", parse_key=parse_credit_code,
    invalid_key=("invalid-credit-code", "Invalid unified social credit code"),
    not_found=("enterprise-not-found", "Enterprise not found",
               "no enterprise profile has this credit code"),
    readers=lambda request: request.app[QUERIES].readers, read=_read, to_json=enterprise_json,
    audit_every_read=False)


SEARCH = SearchEndpoint(
    projection="enterprise_profile", subject_kind="enterprise", route="/v1/enterprises/search",
    criteria=ENTERPRISE_SEARCH, required=("name", "legal_rep", "legal_rep_name", "status"),
    readers=lambda request: request.app[QUERIES].readers,
    read=lambda request, subject: request.app[QUERIES].get(subject), audit_every_read=False)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/v1/enterprises/search", SEARCH.handle)  # before the {credit_code} route
    app.router.add_get("/v1/enterprises/{credit_code}", ENDPOINT.get)
    app.router.add_get("/v1/enterprises/{credit_code}/history", ENDPOINT.history)
