"""The ops dashboard ``/ops/``: a sub-application of the web service, and ``/metrics``.

:func:`add_ops` wires it into the service built by ``bus.web.app.create_web_app``: the
collector (started and stopped with the service), the sign-in, the JSON and SSE endpoints,
the page and its assets (served from the package: no CDN, no build step).
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path
from typing import Any

from aiohttp import web

from bus.settings import Settings
from bus.web.citizens import QUERIES as CITIZEN_QUERIES
from bus.web.enterprises import QUERIES as ENTERPRISE_QUERIES
from bus.web.ops import api, governance, messages, quarantine, rebuild_jobs, schemas
from bus.web.ops.collector import Collector, KafkaSampler, PositionsReader
from bus.web.ops.metrics import METRICS, get_metrics, metrics_registry
from bus.web.ops.rebuilds import rebuild_reader, store_positions
from bus.web.ops.session import SESSIONS, SessionStore, login, logout, ops_auth_middleware, whoami

__all__ = ["add_ops"]

STATIC = Path(str(files("bus.web.ops").joinpath("static")))


async def _page(request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-store"})


async def _login_page(request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC / "login.html", headers={"Cache-Control": "no-store"})


async def _to_dashboard(request: web.Request) -> web.Response:
    raise web.HTTPFound("/ops/")


def positions_reader(queries: Any) -> PositionsReader:
    """The stored input positions of a profile read store (its ``projection_position`` table)."""
    def read() -> list[dict[str, Any]]:
        with queries.readers.connection() as db:
            if db is None:
                return []
            try:
                return [dict(r) for r in db.execute(
                    "SELECT topic, partition, next_offset FROM projection_position ORDER BY 1, 2")]
            except db.not_ready:
                return []
    return read


def add_ops(app: web.Application, settings: Settings) -> None:
    """Mount ``/ops/`` and ``/metrics`` on ``app`` (after its read stores are set)."""
    readers: dict[str, PositionsReader] = {
        "citizen_profile": positions_reader(app[CITIZEN_QUERIES]),
        "enterprise_profile": positions_reader(app[ENTERPRISE_QUERIES]),
    }
    if not settings.read_store_url:  # on PostgreSQL the case store is read by its workers only
        readers["newborn_case"] = store_positions(settings.projection_store_path("newborn_case").resolve())
    rebuilds = {} if settings.read_store_url else {
        name: rebuild_reader(name, settings.projection_store_path(name).resolve())
        for name in readers}
    collector = Collector(KafkaSampler(settings.kafka_bootstrap), settings.adapters_url, readers,
                          rebuilds, interval=settings.ops_sample_interval)
    app[api.COLLECTOR] = collector
    app[api.PROJECTION_GROUPS] = [settings.projections_app_id]
    app[SESSIONS] = SessionStore(settings.ops_session_minutes * 60)
    app[METRICS] = metrics_registry(collector)
    app.cleanup_ctx.append(api.run_collector)
    app.router.add_get("/metrics", get_metrics)
    app.router.add_get("/ops", _to_dashboard)

    ops = web.Application(middlewares=[ops_auth_middleware])
    ops.router.add_get("/", _page)
    ops.router.add_get("/login", _login_page)
    ops.router.add_post("/api/login", login)
    ops.router.add_post("/api/logout", logout)
    ops.router.add_get("/api/me", whoami)
    api.add_routes(ops, settings)
    quarantine.add_routes(ops, settings)
    schemas.add_routes(ops, settings)
    messages.add_routes(ops, settings)
    governance.add_routes(ops, settings)
    rebuild_jobs.add_routes(ops, settings, list(readers))
    ops.router.add_static("/static/", STATIC, append_version=True)
    app.add_subapp("/ops/", ops)
