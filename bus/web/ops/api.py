"""The dashboard's JSON endpoints over the collector's state (``/ops/api/…``).

Tables are filtered, sorted and paged on the server (see :mod:`bus.web.ops.listing`), so a
page with hundreds of topics or groups moves one page at a time. Every call keeps the
collector awake (:meth:`Collector.watch`).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import suppress
from typing import Any

from aiohttp import web

from bus.problem import problem
from bus.settings import Settings
from bus.web.ops.collector import Collector
from bus.web.ops.listing import ListingError, Query, page_of
from bus.web.ops.samples import group_detail, group_rows, topic_rows
from bus.web.ops.views import adapter_rows, group_health, overview, projection_rows

__all__ = ["COLLECTOR", "PROJECTION_GROUPS", "add_routes", "current_overview", "run_collector"]

COLLECTOR = web.AppKey("ops_collector", Collector)
PROJECTION_GROUPS = web.AppKey("ops_projection_groups", list[str])
TOPIC_COLUMNS = ("name", "kind", "partitions", "messages", "end_offset", "messages_per_second",
                 "bytes", "bytes_per_second")
GROUP_COLUMNS = ("group", "state", "members", "partitions", "lag", "lag_seconds", "topics")
SPARK_POINTS = 30


def _collector(request: web.Request) -> Collector:
    collector = request.config_dict[COLLECTOR]
    collector.watch()
    return collector


def _json(body: Any) -> web.Response:
    return web.json_response(body, dumps=lambda v: json.dumps(v, ensure_ascii=False))


def _bad(exc: ListingError) -> web.Response:
    return problem(400, "invalid-parameter", "Invalid query parameter", str(exc),
                   parameter=exc.parameter)


def current_overview(request: web.Request, collector: Collector) -> dict[str, Any]:
    """The overview of the collector's latest round (computed once per round)."""
    groups: list[str] = request.config_dict[PROJECTION_GROUPS]

    def compute() -> dict[str, Any]:
        return overview(collector.history, kafka_error=collector.kafka_error,
                        adapters=collector.adapters, adapters_error=collector.adapters_error,
                        positions=collector.positions, projection_groups=groups,
                        rebuilds=collector.rebuilds)
    body: dict[str, Any] = dict(collector.memo("overview", compute))
    return body


async def get_overview(request: web.Request) -> web.Response:
    collector = _collector(request)
    body = current_overview(request, collector)
    body["samples"] = collector.samples_taken
    return _json(body)


async def list_topics(request: web.Request) -> web.Response:
    collector = _collector(request)
    try:
        query = Query.parse(request.query, default_sort="name")
        page = page_of(topic_rows(collector.history, include_internal=True), query, name="name",
                       columns=TOPIC_COLUMNS)
    except ListingError as exc:
        return _bad(exc)
    for item in page["items"]:
        item["history"] = collector.history.rate_series(item["name"], SPARK_POINTS)
    page["kafka_error"] = collector.kafka_error
    return _json(page)


async def list_groups(request: web.Request) -> web.Response:
    collector = _collector(request)
    rows = group_rows(collector.history)
    for row in rows:
        row["health"] = group_health(row)
    try:
        query = Query.parse(request.query, default_sort="-lag")
        page = page_of(rows, query, name="group", columns=GROUP_COLUMNS)
    except ListingError as exc:
        return _bad(exc)
    for item in page["items"]:
        item["history"] = collector.history.lag_series(item["group"], SPARK_POINTS)
    page["kafka_error"] = collector.kafka_error
    return _json(page)


async def get_group(request: web.Request) -> web.Response:
    collector = _collector(request)
    group = request.match_info["group"]
    partitions = group_detail(collector.history, group)
    if partitions is None:
        return problem(404, "group-not-found", "Consumer group not found",
                       f"no consumer group {group!r} in the latest sample")
    return _json({"group": group, "partitions": partitions})


async def list_adapters(request: web.Request) -> web.Response:
    collector = _collector(request)
    return _json({"items": adapter_rows(collector.adapters), "error": collector.adapters_error})


async def list_projections(request: web.Request) -> web.Response:
    collector = _collector(request)
    groups = {g["group"]: g for g in group_rows(collector.history)}
    return _json({"items": projection_rows(collector.history, collector.positions,
                                           collector.rebuilds),
                  "groups": [groups[g] for g in request.config_dict[PROJECTION_GROUPS]
                             if g in groups]})


async def stream(request: web.Request) -> web.StreamResponse:
    """``GET /ops/api/stream``: one ``overview`` event per collector round (Server-Sent Events)."""
    collector = _collector(request)
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream",
                                           "Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
    await response.prepare(request)
    seen = -1
    try:
        while True:
            collector.watch()
            if collector.samples_taken != seen:
                seen = collector.samples_taken
                body = current_overview(request, collector)
                body["samples"] = seen
                data = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
                await response.write(f"id: {seen}\nevent: overview\ndata: {data}\n\n".encode())
            else:
                await response.write(b": keep-alive\n\n")
            await collector.next_sample(seen, timeout=15.0)
    except ConnectionResetError:  # the dashboard was closed
        return response


async def run_collector(app: web.Application) -> AsyncIterator[None]:
    task = asyncio.create_task(app[COLLECTOR].run(), name="ops-collector")
    yield
    task.cancel()
    with suppress(asyncio.CancelledError):
        await task


def add_routes(ops: web.Application, settings: Settings) -> None:
    ops.router.add_get("/api/overview", get_overview)
    ops.router.add_get("/api/topics", list_topics)
    ops.router.add_get("/api/groups", list_groups)
    ops.router.add_get("/api/groups/{group}", get_group)
    ops.router.add_get("/api/adapters", list_adapters)
    ops.router.add_get("/api/projections", list_projections)
    ops.router.add_get("/api/stream", stream)
