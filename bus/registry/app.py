"""The registry's HTTP API: the subset of Confluent's Schema Registry REST API the bus uses.

Subjects, versions (with soft and hard deletes and ``?deleted=true``), schemas by id (with
the subject-versions using each id), lookup, compatibility checks, global and per-subject
compatibility configuration, and a read-only ``/mode``. ``docs/schema-governance.md`` lists
every route.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from aiohttp import web

from bus.registry.compat import parse_level
from bus.registry.errors import (
    BadRequest,
    RegistryError,
    SubjectModeNotFound,
    UnsupportedMediaType,
)
from bus.registry.service import SchemaRegistry, SchemaStore, parse_version
from bus.registry.state import RegisteredVersion
from bus.registry.store import DEFAULT_TOPIC, KafkaSchemaStore

__all__ = ["REGISTRY", "create_registry_app", "create_registry_app_for"]

CONTENT_TYPE = "application/vnd.schemaregistry.v1+json"
_ACCEPTED_BODY_TYPES = frozenset(
    {
        "",
        "application/json",
        "application/octet-stream",
        "application/vnd.schemaregistry+json",
        "application/vnd.schemaregistry.v1+json",
    }
)

REGISTRY = web.AppKey("registry", SchemaRegistry)

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def create_registry_app(bootstrap_servers: str, topic: str = DEFAULT_TOPIC) -> web.Application:
    """The registry web app, storing its records in the Kafka topic ``topic``."""
    return create_registry_app_for(KafkaSchemaStore(bootstrap_servers, topic))


def create_registry_app_for(store: SchemaStore) -> web.Application:
    """The registry web app over any store; the store starts and stops with the app."""
    app = web.Application(middlewares=[_errors_as_json])

    async def registry_ctx(app: web.Application) -> AsyncIterator[None]:
        await store.start()
        app[REGISTRY] = SchemaRegistry(store)
        yield
        await store.stop()

    app.cleanup_ctx.append(registry_ctx)
    app.router.add_routes(_ROUTES)
    return app


def _reply(data: Any, status: int = 200) -> web.Response:
    return web.json_response(data, status=status, content_type=CONTENT_TYPE)


def _error(status: int, error_code: int, message: str) -> web.Response:
    return _reply({"error_code": error_code, "message": message}, status=status)


@web.middleware
async def _errors_as_json(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except RegistryError as exc:
        return _error(exc.http_status, exc.error_code, exc.message)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return _error(exc.status, exc.status, f"HTTP {exc.status} {exc.reason}")
    except Exception:
        log.exception("registry request %s %s failed", request.method, request.path)
        return _error(500, 50001, "Error in the backend data store")


# -- request helpers ---------------------------------------------------------------------


async def _body(request: web.Request) -> dict[str, Any]:
    if request.content_type not in _ACCEPTED_BODY_TYPES:
        raise UnsupportedMediaType(f"Unsupported content type {request.content_type!r}")
    try:
        body = json.loads(await request.text())
    except ValueError as exc:
        raise BadRequest(f"Request body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise BadRequest("Request body must be a JSON object")
    return body


async def _schema_body(request: web.Request) -> tuple[str, str | None]:
    body = await _body(request)
    schema, schema_type = body.get("schema"), body.get("schemaType")
    if not isinstance(schema, str):
        raise BadRequest("The request body needs a 'schema' string")
    if schema_type is not None and not isinstance(schema_type, str):
        raise BadRequest("'schemaType' must be a string")
    if body.get("references"):
        raise BadRequest("Schema references are not supported by this registry")
    return schema, schema_type


def _flag(request: web.Request, name: str) -> bool:
    return request.query.get(name, "false").lower() == "true"


def _registered(v: RegisteredVersion) -> dict[str, Any]:
    return {"subject": v.subject, "version": v.version, "id": v.schema_id, "schema": v.schema}


def _schema_id(request: web.Request) -> int:
    try:
        return int(request.match_info["id"])
    except ValueError:
        raise BadRequest(f"Invalid schema id {request.match_info['id']!r}") from None


def _registry(request: web.Request) -> SchemaRegistry:
    return request.app[REGISTRY]


# -- handlers ----------------------------------------------------------------------------


async def root(request: web.Request) -> web.Response:
    return _reply({})


async def register(request: web.Request) -> web.Response:
    schema, schema_type = await _schema_body(request)
    registered = await _registry(request).register(
        request.match_info["subject"], schema, schema_type
    )
    return _reply({"id": registered.schema_id})


async def lookup(request: web.Request) -> web.Response:
    schema, schema_type = await _schema_body(request)
    found = _registry(request).lookup(
        request.match_info["subject"], schema, schema_type, include_deleted=_flag(request, "deleted")
    )
    return _reply(_registered(found))


async def list_subjects(request: web.Request) -> web.Response:
    subjects = _registry(request).state.subjects(
        include_deleted=_flag(request, "deleted"), deleted_only=_flag(request, "deletedOnly")
    )
    return _reply(subjects)


async def list_versions(request: web.Request) -> web.Response:
    versions = _registry(request).versions(
        request.match_info["subject"],
        include_deleted=_flag(request, "deleted"),
        deleted_only=_flag(request, "deletedOnly"),
    )
    return _reply([v.version for v in versions])


def _requested_version(request: web.Request) -> RegisteredVersion:
    version = parse_version(request.match_info["version"])
    return _registry(request).version(
        request.match_info["subject"], version, include_deleted=_flag(request, "deleted")
    )


async def get_version(request: web.Request) -> web.Response:
    return _reply(_registered(_requested_version(request)))


async def get_version_schema(request: web.Request) -> web.Response:
    return web.Response(text=_requested_version(request).schema, content_type=CONTENT_TYPE)


async def referenced_by(request: web.Request) -> web.Response:
    """Ids of schemas that reference this version: none, since references are refused."""
    _requested_version(request)
    return _reply([])


async def delete_subject(request: web.Request) -> web.Response:
    deleted = await _registry(request).delete_subject(
        request.match_info["subject"], permanent=_flag(request, "permanent")
    )
    return _reply(deleted)


async def delete_version(request: web.Request) -> web.Response:
    version = parse_version(request.match_info["version"])
    deleted = await _registry(request).delete_version(
        request.match_info["subject"], version, permanent=_flag(request, "permanent")
    )
    return _reply(deleted)


async def get_schema_by_id(request: web.Request) -> web.Response:
    return _reply({"schema": _registry(request).schema_by_id(_schema_id(request))})


async def get_schema_text_by_id(request: web.Request) -> web.Response:
    text = _registry(request).schema_by_id(_schema_id(request))
    return web.Response(text=text, content_type=CONTENT_TYPE)


async def versions_of_id(request: web.Request) -> web.Response:
    uses = _registry(request).uses_of(_schema_id(request), include_deleted=_flag(request, "deleted"))
    subject = request.query.get("subject")
    return _reply(
        [{"subject": v.subject, "version": v.version} for v in uses if subject in (None, v.subject)]
    )


async def subjects_of_id(request: web.Request) -> web.Response:
    uses = _registry(request).uses_of(_schema_id(request), include_deleted=_flag(request, "deleted"))
    subject = request.query.get("subject")
    return _reply(sorted({v.subject for v in uses if subject in (None, v.subject)}))


async def schema_types(request: web.Request) -> web.Response:
    return _reply(["AVRO"])


async def check_compatibility(request: web.Request) -> web.Response:
    schema, schema_type = await _schema_body(request)
    version = parse_version(request.match_info["version"])
    problems = _registry(request).check(request.match_info["subject"], version, schema, schema_type)
    reply: dict[str, Any] = {"is_compatible": not problems}
    if _flag(request, "verbose"):
        reply["messages"] = problems
    return _reply(reply)


async def get_config(request: web.Request) -> web.Response:
    subject = request.match_info.get("subject")
    level = _registry(request).level(subject, _flag(request, "defaultToGlobal"))
    return _reply({"compatibilityLevel": level.value})


async def put_config(request: web.Request) -> web.Response:
    body = await _body(request)
    level = parse_level(body.get("compatibility"))
    await _registry(request).set_level(request.match_info.get("subject"), level)
    return _reply({"compatibility": level.value})


async def delete_config(request: web.Request) -> web.Response:
    subject = request.match_info["subject"]
    registry = _registry(request)
    previous = registry.level(subject)
    await registry.set_level(subject, None)
    return _reply({"compatibilityLevel": previous.value})


async def get_mode(request: web.Request) -> web.Response:
    """Always READWRITE: this registry has no READONLY or IMPORT mode."""
    subject = request.match_info.get("subject")
    if subject is not None and not _flag(request, "defaultToGlobal"):
        raise SubjectModeNotFound(subject)
    return _reply({"mode": "READWRITE"})


_ROUTES = [
    web.get("/", root),
    web.get("/subjects", list_subjects),
    web.post("/subjects/{subject}", lookup),
    web.get("/subjects/{subject}/versions", list_versions),
    web.post("/subjects/{subject}/versions", register),
    web.get("/subjects/{subject}/versions/{version}", get_version),
    web.get("/subjects/{subject}/versions/{version}/schema", get_version_schema),
    web.get("/subjects/{subject}/versions/{version}/referencedby", referenced_by),
    web.delete("/subjects/{subject}", delete_subject),
    web.delete("/subjects/{subject}/versions/{version}", delete_version),
    web.get("/schemas/ids/{id}", get_schema_by_id),
    web.get("/schemas/ids/{id}/schema", get_schema_text_by_id),
    web.get("/schemas/ids/{id}/versions", versions_of_id),
    web.get("/schemas/ids/{id}/subjects", subjects_of_id),
    web.get("/schemas/types", schema_types),
    web.post("/compatibility/subjects/{subject}/versions/{version}", check_compatibility),
    web.get("/config", get_config),
    web.put("/config", put_config),
    web.get("/config/{subject}", get_config),
    web.put("/config/{subject}", put_config),
    web.delete("/config/{subject}", delete_config),
    web.get("/mode", get_mode),
    web.get("/mode/{subject}", get_mode),
]
