"""The aiohttp service: query API, health endpoints, problem+json for every error."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from bus.problem import problem
from bus.settings import Settings
from bus.web import asyncapi, catalog, citizens, enterprises, quality, resolution
from projections.citizen_profile.queries import CitizenProfileQueries
from projections.enterprise_profile.queries import EnterpriseProfileQueries

log = logging.getLogger(__name__)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def problem_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every error leaves as problem+json; no traceback ever reaches a client."""
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return problem(exc.status, _slug(exc.reason), exc.reason, exc.text
                       if exc.text and not exc.text.startswith(str(exc.status)) else None)
    except Exception:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return problem(500, "internal-error", "Internal error",
                       "the request failed; the error is in the service log")


def _slug(reason: str) -> str:
    return reason.lower().replace(" ", "-")


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    queries = request.app[citizens.QUERIES]
    if not queries.path.exists():
        return problem(503, "not-ready", "Not ready",
                       "the citizen_profile store does not exist yet")
    return web.json_response({"status": "ready", "positions": queries.positions()})


def create_web_app(settings: Settings) -> web.Application:
    app = web.Application(middlewares=[problem_middleware], client_max_size=1024 * 1024)
    app[citizens.QUERIES] = CitizenProfileQueries.at(settings.read_store_path.resolve(),
                                                     settings.read_store_url)
    app[enterprises.QUERIES] = EnterpriseProfileQueries.at(
        settings.projection_store_path("enterprise_profile").resolve(), settings.read_store_url)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    citizens.add_routes(app)
    enterprises.add_routes(app)
    catalog.add_routes(app)
    asyncapi.add_routes(app, settings)
    quality.add_routes(app, settings)
    resolution.add_routes(app, settings)
    return app
