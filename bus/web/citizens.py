"""``/v1/citizens``: the unified citizen profile, one answer instead of six departments."""

from __future__ import annotations

import asyncio
import json

from aiohttp import web

from bus.governance.declarations import ApiDeclaration, ApiField
from bus.problem import problem
from bus.standards.errors import StandardViolation
from bus.standards.idcard import parse_identity_number
from bus.web.as_of import InvalidAsOf, as_of
from projections.citizen_profile.declaration import DECLARATION as CITIZEN_PROFILE
from projections.citizen_profile.queries import CitizenProfileQueries

QUERIES = web.AppKey("citizen_queries", CitizenProfileQueries)
MAX_LIMIT = 500
DEFAULT_LIMIT = 50

_FACETS = ("social_insurance", "marriages", "social_assistance", "births", "enterprises",
           "linked_records")
_PROFILE_FIELDS = (
    *(ApiField(name, name) for name in (
        "identity_number", "name", "sex_code", "birth_date", "division_code",
        "household_address", "version", "projected_at", "provenance")),
    *(ApiField(f.name, f.name) for f in CITIZEN_PROFILE.fields if f.name.startswith(_FACETS)),
)
#: What the endpoints answer, field by field, for the catalog's lineage.
API_DECLARATIONS = (
    ApiDeclaration("GET", "/v1/citizens/{identity_number}", "One citizen's profile.",
                   "citizen_profile", _PROFILE_FIELDS),
    ApiDeclaration("GET", "/v1/citizens", "Citizen profiles, a page at a time.", "citizen_profile",
                   tuple(ApiField(f"items[].{f.path}", f.projection_field) for f in _PROFILE_FIELDS)),
)


async def list_citizens(request: web.Request) -> web.Response:
    raw_limit = request.query.get("limit", str(DEFAULT_LIMIT))
    if not (raw_limit.isascii() and raw_limit.isdigit()) or not 1 <= int(raw_limit) <= MAX_LIMIT:
        return problem(400, "invalid-parameter", "Invalid query parameter",
                       f"limit must be an integer between 1 and {MAX_LIMIT}", parameter="limit")
    after = request.query.get("after") or None
    page = await asyncio.to_thread(request.app[QUERIES].page, int(raw_limit), after)
    return web.json_response({"items": page.items, "next": page.next},
                             dumps=_dumps)


async def get_citizen(request: web.Request) -> web.Response:
    raw = request.match_info["identity_number"]
    try:
        number = parse_identity_number(raw).number
    except StandardViolation as violation:
        return problem(400, "invalid-identity-number", "Invalid identity number",
                       violation.message_en, rule_id=violation.rule_id,
                       detail_zh=violation.message_zh)
    try:
        moment = as_of(request)
    except InvalidAsOf as exc:
        return problem(400, "invalid-parameter", "Invalid query parameter", str(exc),
                       parameter="as_of")
    profile = await asyncio.to_thread(request.app[QUERIES].get, number, moment)
    if profile is None:
        return problem(404, "citizen-not-found", "Citizen not found",
                       "no citizen profile has this identity number"
                       + (" at that time" if moment else ""))
    return web.json_response(profile, dumps=_dumps)


def _dumps(value: object) -> str:
    return json.dumps(value, ensure_ascii=False)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/v1/citizens", list_citizens)
    app.router.add_get("/v1/citizens/{identity_number}", get_citizen)
