"""``/v1/enterprises``: the unified enterprise profile (一企一档)."""

from __future__ import annotations

import asyncio
import json

from aiohttp import web

from bus.governance.declarations import ApiDeclaration, ApiField
from bus.problem import problem
from bus.standards.credit_code import parse_credit_code
from bus.standards.errors import StandardViolation
from bus.web.as_of import InvalidAsOf, as_of
from bus.web.auth import access_of
from bus.web.privacy import audit_read, view_of
from projections.enterprise_profile.declaration import DECLARATION as ENTERPRISE_PROFILE
from projections.enterprise_profile.queries import EnterpriseProfileQueries

QUERIES = web.AppKey("enterprise_queries", EnterpriseProfileQueries)

#: What the endpoint answers, field by field, for the catalog's lineage.
API_DECLARATIONS = (
    ApiDeclaration("GET", "/v1/enterprises/{credit_code}", "One enterprise's profile.",
                   "enterprise_profile",
                   tuple(ApiField(f.name, f.name) for f in ENTERPRISE_PROFILE.fields)),
)


async def get_enterprise(request: web.Request) -> web.Response:
    raw = request.match_info["credit_code"]
    try:
        code = parse_credit_code(raw)
    except StandardViolation as violation:
        return problem(400, "invalid-credit-code", "Invalid unified social credit code",
                       violation.message_en, rule_id=violation.rule_id,
                       detail_zh=violation.message_zh)
    try:
        moment = as_of(request)
    except InvalidAsOf as exc:
        return problem(400, "invalid-parameter", "Invalid query parameter", str(exc),
                       parameter="as_of")
    access = access_of(request)
    profile = await asyncio.to_thread(request.app[QUERIES].get, code, moment)
    if profile is None:
        return problem(404, "enterprise-not-found", "Enterprise not found",
                       "no enterprise profile has this credit code"
                       + (" at that time" if moment else ""))
    view = view_of(request, "enterprise_profile", profile, access)
    if view.personal:  # a legal representative's or employees' data was read
        refused = await audit_read(request, access, subject_kind="enterprise", subject=code,
                                   endpoint="GET /v1/enterprises/{credit_code}", view=view,
                                   status=200)
        if refused is not None:
            return refused
    return web.json_response(view.body, dumps=lambda v: json.dumps(v, ensure_ascii=False))


def add_routes(app: web.Application) -> None:
    app.router.add_get("/v1/enterprises/{credit_code}", get_enterprise)
