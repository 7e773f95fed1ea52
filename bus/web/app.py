"""The aiohttp service: query API, health endpoints, problem+json for every error."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable

from aiohttp import web

from bus.access.audit import AuditSink, KafkaAuditLog
from bus.access.clients import ClientStore
from bus.access.cursors import load_key
from bus.access.ratelimit import RateLimiter
from bus.events.idempotency import IdempotencyStore
from bus.events.publisher import EventPublisher, EventSink
from bus.problem import problem
from bus.serde.avro import AvroSerde
from bus.serde.registry_client import RegistryClient
from bus.settings import Settings
from bus.web import (
    asyncapi,
    catalog,
    citizens,
    enterprises,
    events,
    me,
    openapi,
    quality,
    resolution,
    subscribe,
    webhooks,
)
from bus.web.auth import CLIENTS, JWT_SECRET, LIMITER, auth_middleware
from bus.web.ops import add_ops
from bus.web.privacy import AUDIT, POLICIES, policies_from
from bus.web.search import SEARCH_CURSOR_KEY
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


async def _close(clients: ClientStore) -> None:
    clients.close()


async def _close_readers(app: web.Application) -> None:
    app[citizens.QUERIES].readers.close()
    app[enterprises.QUERIES].readers.close()


async def _load_policies(app: web.Application) -> None:
    app[POLICIES] = policies_from(app[catalog.CATALOG])


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


def _kafka_audit(settings: Settings) -> Callable[[web.Application], AsyncIterator[None]]:
    """Start the ``bus.audit`` writer with the app, stop it with the app."""
    async def audit_context(app: web.Application) -> AsyncIterator[None]:
        registry = RegistryClient(settings.registry_url)
        audit = KafkaAuditLog(settings.kafka_bootstrap, AvroSerde(registry))
        await audit.start()
        app[AUDIT] = audit
        yield
        await audit.close()
        await registry.close()
    return audit_context


def create_web_app(settings: Settings, *, audit: AuditSink | None = None,
                   publisher: EventSink | None = None) -> web.Application:
    """The service; ``audit`` and ``publisher`` replace the Kafka audit log and event publisher
    (tests, tools without a broker)."""
    app = web.Application(middlewares=[problem_middleware, auth_middleware],
                          client_max_size=1024 * 1024)
    clients = ClientStore(settings.clients_path)
    app[CLIENTS] = clients
    app.on_cleanup.append(lambda _: _close(clients))
    if settings.jwt_secret:
        app[JWT_SECRET] = settings.jwt_secret
    app[LIMITER] = RateLimiter(settings.api_rate, settings.api_burst)
    publish_registry = RegistryClient(settings.registry_url)
    app.on_cleanup.append(lambda _: publish_registry.close())
    app[citizens.CURSOR_KEY] = load_key(settings.access_dir / "cursor.key")
    app[SEARCH_CURSOR_KEY] = app[citizens.CURSOR_KEY]
    if audit is None:
        app.cleanup_ctx.append(_kafka_audit(settings))
    else:
        app[AUDIT] = audit
    app[citizens.QUERIES] = CitizenProfileQueries.at(settings.read_store_path.resolve(),
                                                     settings.read_store_url)
    app[enterprises.QUERIES] = EnterpriseProfileQueries.at(
        settings.projection_store_path("enterprise_profile").resolve(), settings.read_store_url)
    app[citizens.ENTERPRISES] = app[enterprises.QUERIES]
    app.on_cleanup.append(_close_readers)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    citizens.add_routes(app)
    enterprises.add_routes(app)
    catalog.add_routes(app)
    app.on_startup.append(_load_policies)  # after the catalog's own startup hook
    me.add_routes(app)
    events.add_routes(app, publisher or EventPublisher(settings.kafka_bootstrap,
                                                       AvroSerde(publish_registry)),
                      IdempotencyStore(settings.access_dir / "idempotency.sqlite"))
    subscribe.add_routes(app, settings)
    webhooks.add_routes(app, settings)
    openapi.add_routes(app)
    asyncapi.add_routes(app, settings)
    quality.add_routes(app, settings)
    resolution.add_routes(app, settings)
    add_ops(app, settings)
    return app
