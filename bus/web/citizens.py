"""``/v1/citizens``: the unified citizen profile, one answer instead of six departments."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from aiohttp import web

from bus.access.cursors import InvalidCursor, seal, unseal
from bus.governance.declarations import ApiDeclaration, ApiField
from bus.problem import problem
from bus.standards.idcard import parse_identity_number
from bus.web.auth import access_of
from bus.web.privacy import audit_read, view_of
from bus.web.profile_reads import ProfileEndpoint, json_answer, off_loop
from bus.web.search import CITIZEN_SEARCH, SearchEndpoint
from projections.citizen_profile.declaration import DECLARATION as CITIZEN_PROFILE
from projections.citizen_profile.queries import CitizenProfileQueries, profile_json
from projections.enterprise_profile.queries import EnterpriseProfileQueries

QUERIES = web.AppKey("citizen_queries", CitizenProfileQueries)
ENTERPRISES = web.AppKey("citizen_links_enterprises", EnterpriseProfileQueries)
CURSOR_KEY = web.AppKey("cursor_key", bytes)
_ONE = "GET /v1/citizens/{identity_number}"
_LIST = "GET /v1/citizens"
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
    cursor = request.query.get("after") or None
    try:
        after = None if cursor is None else unseal(request.app[CURSOR_KEY], cursor)
    except InvalidCursor:
        return problem(400, "invalid-parameter", "Invalid query parameter",
                       "after must be the 'next' cursor of the previous page", parameter="after")
    access = access_of(request)
    queries = request.app[QUERIES]
    page = await off_loop(queries.readers, queries.page, int(raw_limit), after)
    items = []
    for profile in page.items:
        view = view_of(request, "citizen_profile", profile, access)
        refused = await audit_read(request, access, subject_kind="citizen",
                                   subject=profile["identity_number"], endpoint=_LIST,
                                   view=view, status=200)
        if refused is not None:
            return refused
        items.append(view.body)
    following = None if page.next is None else seal(request.app[CURSOR_KEY], page.next)
    return json_answer(request, {"items": items, "next": following})


def _read(request: web.Request, number: str, moment: datetime | None) -> dict[str, Any] | None:
    return request.app[QUERIES].get(number, moment)


ENDPOINT = ProfileEndpoint(
    projection="citizen_profile", subject_kind="citizen", route="/v1/citizens/{identity_number}",
    key_param="identity_number", parse_key=lambda raw: parse_identity_number(raw).number,
    invalid_key=("invalid-identity-number", "Invalid identity number"),
    not_found=("citizen-not-found", "Citizen not found",
               "no citizen profile has this identity number"),
    readers=lambda request: request.app[QUERIES].readers, read=_read, to_json=profile_json,
    audit_every_read=True)


SEARCH = SearchEndpoint(
    projection="citizen_profile", subject_kind="citizen", route="/v1/citizens/search",
    criteria=CITIZEN_SEARCH, required=("name",),
    readers=lambda request: request.app[QUERIES].readers,
    read=lambda request, subject: request.app[QUERIES].get(subject), audit_every_read=True)


async def get_links(request: web.Request) -> web.Response:
    """The enterprises a citizen leads or works for, from what the client may see."""
    return await ENDPOINT.derived(request, "/links", _links)


async def _links(request: web.Request, view: dict[str, Any]) -> dict[str, Any]:
    led = [{"credit_code": e.get("credit_code"), "name": e.get("name"),
            "status_code": e.get("status_code")}
           for e in view.get("enterprises", []) if e.get("credit_code")]
    codes = sorted({str(i["employer_credit_code"]) for i in view.get("social_insurance", [])
                    if i.get("employer_credit_code")})
    names = await off_loop(request.app[ENTERPRISES].readers, _enterprise_names, request, codes)
    employed = [{"credit_code": code, "name": names.get(code),
                 "insurance_status": [i.get("status_code") for i in view["social_insurance"]
                                      if i.get("employer_credit_code") == code]}
                for code in codes]
    return {"identity_number": view.get("identity_number"), "legal_representative_of": led,
            "insured_by_employer": employed,
            "links": [f"/v1/enterprises/{e['credit_code']}" for e in led]
            + [f"/v1/enterprises/{e['credit_code']}" for e in employed]}


def _enterprise_names(request: web.Request, codes: list[str]) -> dict[str, str | None]:
    """Enterprise names are public: the register's, where the enterprise is known."""
    queries = request.app[ENTERPRISES]
    found: dict[str, str | None] = {}
    for code in codes[:200]:
        profile = queries.get(code)
        found[code] = None if profile is None else profile.get("name")
    return found


def _dumps(value: object) -> str:
    return json.dumps(value, ensure_ascii=False)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/v1/citizens", list_citizens)
    app.router.add_get("/v1/citizens/search", SEARCH.handle)  # before the {identity_number} route
    app.router.add_get("/v1/citizens/{identity_number}", ENDPOINT.get)
    app.router.add_get("/v1/citizens/{identity_number}/history", ENDPOINT.history)
    app.router.add_get("/v1/citizens/{identity_number}/links", get_links)
