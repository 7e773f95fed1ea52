"""``/v1/catalog``: the data catalog and field lineage, generated from the data standard."""

from __future__ import annotations

import json

from aiohttp import web

from bus.governance.catalog import Catalog, UnknownField, build_catalog
from bus.governance.sources import load_entities, load_mappings
from bus.problem import problem
from bus.web.citizens import API_DECLARATIONS as CITIZEN_API
from bus.web.enterprises import API_DECLARATIONS as ENTERPRISE_API
from projections.citizen_profile.declaration import DECLARATION as CITIZEN_PROFILE
from projections.enterprise_profile.declaration import DECLARATION as ENTERPRISE_PROFILE
from projections.newborn_case.declaration import DECLARATION as NEWBORN_CASE

CATALOG = web.AppKey("catalog", Catalog)
_KINDS = ("legacy_table", "raw_topic", "canonical", "projection", "api")


def current_catalog() -> Catalog:
    """The catalog of what this installation ships: schemas, mappings, projections, API."""
    return build_catalog(load_entities(), load_mappings(),
                         [CITIZEN_PROFILE, ENTERPRISE_PROFILE, NEWBORN_CASE], [*CITIZEN_API, *ENTERPRISE_API])


def _dumps(value: object) -> str:
    return json.dumps(value, ensure_ascii=False)


async def get_catalog(request: web.Request) -> web.Response:
    kind = request.query.get("kind") or None
    if kind is not None and kind not in _KINDS:
        return problem(400, "invalid-parameter", "Invalid query parameter",
                       f"kind must be one of {', '.join(_KINDS)}", parameter="kind")
    return web.json_response(request.app[CATALOG].as_json(request.query.get("search"), kind),
                             dumps=_dumps)


async def get_lineage(request: web.Request) -> web.Response:
    name = request.query.get("field", "").strip()
    if not name:
        return problem(400, "invalid-parameter", "Invalid query parameter",
                       "field is required, e.g. field=std.person.name", parameter="field")
    try:
        lineage = request.app[CATALOG].lineage(name)
    except UnknownField:
        return problem(404, "field-not-found", "Field not found",
                       f"the catalog has no field {name!r}; GET /v1/catalog?search=… lists them")
    return web.json_response(lineage, dumps=_dumps)


async def _load(app: web.Application) -> None:
    app[CATALOG] = current_catalog()


def add_routes(app: web.Application) -> None:
    app.on_startup.append(_load)
    app.router.add_get("/v1/catalog", get_catalog)
    app.router.add_get("/v1/catalog/lineage", get_lineage)
