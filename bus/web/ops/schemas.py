"""Schemas on the dashboard: subjects, versions, compatibility level and a side-by-side diff.

Read from the schema registry's Confluent REST API (``BUS_REGISTRY_URL``) on request; the
diff compares two versions of a subject pretty-printed, line by line (``difflib``).
"""

from __future__ import annotations

import difflib
import json
import re
from typing import Any
from urllib.parse import quote

import aiohttp
from aiohttp import web

from bus.problem import problem
from bus.settings import Settings
from bus.web.ops.listing import ListingError, Query, page_of

__all__ = ["RegistryReader", "add_routes", "side_by_side"]

_SUBJECT = re.compile(r"^[A-Za-z0-9._-]{1,249}$")


class RegistryUnavailable(Exception):
    pass


class NotFound(Exception):
    pass


class RegistryReader:
    """The few GETs of the registry the dashboard makes, on one session."""

    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")
        self._session: aiohttp.ClientSession | None = None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def get(self, path: str) -> Any:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5))
        try:
            async with self._session.get(self.url + path) as response:
                body = await response.json(content_type=None)
                if response.status == 404:
                    raise NotFound(str(body.get("message", "not found")) if isinstance(body, dict)
                                   else "not found")
                if response.status >= 400:
                    raise RegistryUnavailable(f"registry answered {response.status}")
                return body
        except (aiohttp.ClientError, OSError, TimeoutError, ValueError) as exc:
            raise RegistryUnavailable(f"{type(exc).__name__}: {exc}") from exc

    async def compatibility(self, subject: str | None = None) -> str:
        path = "/config" if subject is None else f"/config/{quote(subject)}?defaultToGlobal=true"
        try:
            body = await self.get(path)
        except NotFound:
            body = await self.get("/config")
        return str(body.get("compatibilityLevel") or body.get("compatibility") or "")


READER = web.AppKey("ops_registry", RegistryReader)


def pretty(schema_text: str) -> str:
    try:
        return json.dumps(json.loads(schema_text), indent=2, ensure_ascii=False, sort_keys=False)
    except ValueError:
        return schema_text


def side_by_side(left: str, right: str) -> list[dict[str, Any]]:
    """Rows of a two-column diff: ``op`` (equal, replace, delete, insert) and both lines."""
    a, b = left.splitlines(), right.splitlines()
    rows: list[dict[str, Any]] = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes():
        for k in range(max(i2 - i1, j2 - j1)):
            rows.append({"op": op,
                         "left": a[i1 + k] if i1 + k < i2 else None,
                         "right": b[j1 + k] if j1 + k < j2 else None})
    return rows


def _failed(exc: Exception) -> web.Response:
    if isinstance(exc, NotFound):
        return problem(404, "schema-not-found", "Not found", str(exc))
    response = problem(503, "registry-unavailable", "Schema registry unavailable", str(exc))
    response.headers["Retry-After"] = "5"
    return response


def _subject_of(request: web.Request) -> str:
    subject = request.match_info["subject"]
    if not _SUBJECT.match(subject):
        raise web.HTTPBadRequest(text="a subject is letters, digits, . _ -")
    return subject


async def list_subjects(request: web.Request) -> web.Response:
    reader = request.config_dict[READER]
    try:
        query = Query.parse(request.query, default_sort="subject")
    except ListingError as exc:
        return problem(400, "invalid-parameter", "Invalid query parameter", str(exc),
                       parameter=exc.parameter)
    try:
        subjects = [str(s) for s in await reader.get("/subjects")]
        level = await reader.compatibility()
    except (NotFound, RegistryUnavailable) as exc:
        return _failed(exc)
    page = page_of([{"subject": s} for s in subjects], query, name="subject", columns=["subject"])
    for item in page["items"]:
        try:
            item["versions"] = [int(v) for v in await reader.get(
                f"/subjects/{quote(item['subject'])}/versions")]
        except (NotFound, RegistryUnavailable):
            item["versions"] = []
    page["compatibility"] = level
    return web.json_response(page)


async def get_subject(request: web.Request) -> web.Response:
    subject = _subject_of(request)
    reader = request.config_dict[READER]
    try:
        versions = [int(v) for v in await reader.get(f"/subjects/{quote(subject)}/versions")]
        chosen = request.query.get("version") or str(versions[-1])
        schema = await reader.get(f"/subjects/{quote(subject)}/versions/{quote(chosen)}")
        level = await reader.compatibility(subject)
    except (NotFound, RegistryUnavailable) as exc:
        return _failed(exc)
    return web.json_response({"subject": subject, "versions": versions, "compatibility": level,
                              "version": schema.get("version"), "id": schema.get("id"),
                              "schema": pretty(str(schema.get("schema", "")))})


async def diff_subject(request: web.Request) -> web.Response:
    """``GET /ops/api/schemas/{subject}/diff?from=1&to=2`` (``to`` defaults to the latest)."""
    subject = _subject_of(request)
    reader = request.config_dict[READER]
    chosen = {k: request.query.get(k, "") for k in ("from", "to")}
    for name, value in chosen.items():
        if value and not (value.isdigit() or value == "latest"):
            return problem(400, "invalid-parameter", "Invalid query parameter",
                           f"{name} is a version number or latest", parameter=name)
    try:
        versions = [int(v) for v in await reader.get(f"/subjects/{quote(subject)}/versions")]
        old = chosen["from"] or str(versions[-2] if len(versions) > 1 else versions[-1])
        new = chosen["to"] or "latest"
        left = await reader.get(f"/subjects/{quote(subject)}/versions/{old}")
        right = await reader.get(f"/subjects/{quote(subject)}/versions/{new}")
    except (NotFound, RegistryUnavailable) as exc:
        return _failed(exc)
    rows = side_by_side(pretty(str(left.get("schema", ""))), pretty(str(right.get("schema", ""))))
    return web.json_response({"subject": subject, "from": left.get("version"),
                              "to": right.get("version"), "versions": versions,
                              "changed": sum(1 for r in rows if r["op"] != "equal"), "rows": rows})


def add_routes(ops: web.Application, settings: Settings) -> None:
    reader = RegistryReader(settings.registry_url)
    ops[READER] = reader

    async def close(_: web.Application) -> None:
        await reader.close()

    ops.on_cleanup.append(close)
    ops.router.add_get("/api/schemas", list_subjects)
    ops.router.add_get("/api/schemas/{subject}", get_subject)
    ops.router.add_get("/api/schemas/{subject}/diff", diff_subject)
