"""``/v1/webhooks``: register, list, read, delete webhooks; their delivery logs; new secrets.

A client registers a URL with the filters of ``GET /v1/subscribe`` (types, subject, department)
and the purpose its deliveries serve; the answer (``201``) carries the signing secret, shown
once. Each client sees and manages only its own webhooks (another client's are ``404``). The
dispatcher (``bus webhooks run``) delivers; this module only keeps the registrations.
"""

from __future__ import annotations

import time

from aiohttp import web
from pydantic import ValidationError

from bus.governance.sources import CanonicalEntity
from bus.problem import problem
from bus.settings import Settings
from bus.web.api_models import WebhookCommand
from bus.web.auth import access_of
from bus.web.event_views import InvalidFilter, parse_filter, subscribable_entities
from bus.webhooks.guard import Destinations, ForbiddenDestination
from bus.webhooks.store import Webhook, WebhookStore

__all__ = ["STORE", "add_routes"]

STORE = web.AppKey("webhook_store", WebhookStore)
_DESTINATIONS = web.AppKey("webhook_destinations", Destinations)
_ENTITIES = web.AppKey("webhook_entities", dict[str, CanonicalEntity])
_GRACE = web.AppKey("webhook_rotation_grace", float)
#: Webhooks one client may keep.
MAX_PER_CLIENT = 100
MAX_PAGE = 200


def _invalid(errors: list[dict[str, str]]) -> web.Response:
    return problem(422, "invalid-webhook", "The webhook does not fit",
                   f"{len(errors)} field(s) do not fit", errors=errors)


def _not_found(webhook_id: str) -> web.Response:
    return problem(404, "webhook-not-found", "Webhook not found",
                   f"this client has no webhook {webhook_id[:80]!r}")


def _own(request: web.Request) -> Webhook | web.Response:
    webhook_id = request.match_info["webhook_id"]
    webhook = request.app[STORE].get(webhook_id)
    if webhook is None or webhook.client != access_of(request).client.id:
        return _not_found(webhook_id)
    return webhook


async def register(request: web.Request) -> web.Response:
    access = access_of(request)
    if not access.sees("internal"):
        return problem(403, "forbidden", "Forbidden",
                       f"client {access.client.id!r} is not granted internal data (events are)")
    try:
        body = await request.json()
    except (ValueError, UnicodeDecodeError):
        return problem(400, "invalid-body", "Invalid request body", "the body is not JSON")
    try:
        command = WebhookCommand.model_validate(body)
    except ValidationError as exc:
        return _invalid([{"field": ".".join(str(p) for p in e["loc"]), "message": e["msg"]}
                         for e in exc.errors(include_url=False)])
    errors: list[dict[str, str]] = []
    try:
        request.app[_DESTINATIONS].check_url(command.url)
    except ForbiddenDestination as exc:
        errors.append({"field": "url", "message": str(exc)})
    filters = command.filters
    types: list[str] = []
    entities: dict[str, CanonicalEntity] = request.app[_ENTITIES]
    try:
        types = sorted(parse_filter(entities, filters.types, filters.subject,
                                    filters.department).types)
    except InvalidFilter as exc:
        errors.append({"field": f"filters.{exc.parameter}", "message": exc.detail})
    if errors:
        return _invalid(errors)
    if command.purpose is not None and command.purpose not in access.client.purposes:
        return problem(403, "purpose-not-granted", "Purpose not granted",
                       f"client {access.client.id!r} is not granted the purpose {command.purpose!r}")
    store = request.app[STORE]
    if len(store.of_client(access.client.id)) >= MAX_PER_CLIENT:
        return problem(409, "too-many-webhooks", "Too many webhooks",
                       f"a client keeps at most {MAX_PER_CLIENT} webhooks; delete one first")
    webhook, secret = store.register(
        access.client.id, command.url, types, filters.subject,
        filters.department, purpose=command.purpose, description=command.description,
        start=command.start)
    response = web.json_response({**webhook.as_json(), "secret": secret}, status=201)
    response.headers["Location"] = f"/v1/webhooks/{webhook.id}"
    return response


async def list_webhooks(request: web.Request) -> web.Response:
    client = access_of(request).client.id
    return web.json_response({"items": [w.as_json() for w in request.app[STORE].of_client(client)]})


async def get_webhook(request: web.Request) -> web.Response:
    webhook = _own(request)
    if isinstance(webhook, web.Response):
        return webhook
    return web.json_response(webhook.as_json())


async def delete_webhook(request: web.Request) -> web.Response:
    webhook = _own(request)
    if isinstance(webhook, web.Response):
        return webhook
    request.app[STORE].delete(webhook.id)
    return web.json_response(webhook.as_json())


def _int(request: web.Request, name: str, default: int | None, low: int, high: int
         ) -> int | web.Response | None:
    text = request.query.get(name)
    if text is None:
        return default
    if not text.isdigit() or not low <= int(text) <= high:
        return problem(400, "invalid-parameter", "Invalid query parameter",
                       f"{name} is an integer from {low} to {high}", parameter=name)
    return int(text)


async def deliveries(request: web.Request) -> web.Response:
    webhook = _own(request)
    if isinstance(webhook, web.Response):
        return webhook
    limit = _int(request, "limit", 50, 1, MAX_PAGE)
    after = _int(request, "after", None, 1, 2**62)
    if isinstance(limit, web.Response):
        return limit
    if isinstance(after, web.Response):
        return after
    attempts, following = request.app[STORE].deliveries(webhook.id, before=after, limit=limit or 50)
    return web.json_response({"items": [a.as_json() for a in attempts], "next": following})


async def rotate_secret(request: web.Request) -> web.Response:
    webhook = _own(request)
    if isinstance(webhook, web.Response):
        return webhook
    grace = request.app[_GRACE]
    secret = request.app[STORE].rotate(webhook.id, grace_seconds=grace)
    if secret is None:
        return _not_found(webhook.id)
    until = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + grace))
    return web.json_response({"id": webhook.id, "secret": secret, "previous_valid_until": until})


def add_routes(app: web.Application, settings: Settings) -> None:
    store = WebhookStore(settings.webhooks_path)
    app[STORE] = store
    app[_DESTINATIONS] = Destinations.parse(settings.webhooks_allowed_hosts)
    app[_ENTITIES] = subscribable_entities()
    app[_GRACE] = settings.webhooks_rotation_grace

    async def close(_: web.Application) -> None:
        store.close()

    app.on_cleanup.append(close)
    app.router.add_post("/v1/webhooks", register)
    app.router.add_get("/v1/webhooks", list_webhooks)
    app.router.add_get("/v1/webhooks/{webhook_id}", get_webhook)
    app.router.add_delete("/v1/webhooks/{webhook_id}", delete_webhook)
    app.router.add_get("/v1/webhooks/{webhook_id}/deliveries", deliveries)
    app.router.add_post("/v1/webhooks/{webhook_id}/rotate-secret", rotate_secret)
