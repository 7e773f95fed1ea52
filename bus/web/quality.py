"""``GET /v1/quality``: accepted and quarantined records per department, table and rule.

A background task (started and stopped with the app through ``cleanup_ctx``) reads ``std.*``
and ``quarantine.*`` from the beginning, read_committed, and keeps a ``QualityAggregate`` up
to date. Until it has caught up with the log once, or while Kafka or the registry cannot be
reached, the endpoint answers 503 problem+json with ``Retry-After``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import re
import time
from collections.abc import AsyncIterator
from contextlib import suppress
from typing import Any

import aiohttp
from aiohttp import web
from aiokafka.errors import KafkaError

from bus.governance.quality import LogReader, QualityAggregate, quality_consumer
from bus.governance.sources import load_mappings
from bus.problem import problem
from bus.serde.avro import AvroSerde
from bus.serde.registry_client import RegistryClient, RegistryError
from bus.settings import Settings
from bus.web.auth import access_of

log = logging.getLogger(__name__)

_NAME = re.compile(r"^[a-z0-9_]{1,64}$")
#: Seconds between two looks for new quality topics once caught up.
_TOPIC_REFRESH = 10.0


class QualityFeed:
    """Follows the quality topics into an aggregate; retries with backoff when Kafka is away."""

    def __init__(self, bootstrap: str, registry_url: str, *, max_backoff: float = 30.0) -> None:
        self.bootstrap = bootstrap
        self.registry_url = registry_url
        self.max_backoff = max_backoff
        self.aggregate = self._fresh()
        self.ready = False
        self.error: str | None = None
        self.retry_at = 0.0
        self._backoff = 1.0

    @staticmethod
    def _fresh() -> QualityAggregate:
        aggregate = QualityAggregate()
        for m in load_mappings():
            aggregate.expect(m.department, m.table, m.entity)
        return aggregate

    def retry_after(self) -> int:
        """Seconds a client should wait before asking again."""
        return max(1, math.ceil(self.retry_at - time.monotonic())) if self.error else 2

    async def run(self) -> None:
        while True:
            try:
                await self._follow()
            except (TimeoutError, KafkaError, aiohttp.ClientError, RegistryError, OSError) as exc:
                self._failed(f"{type(exc).__name__}: {exc}")
            except Exception as exc:  # a bug: loud in the log, and the endpoint says so
                log.exception("quality feed failed")
                self._failed(f"internal error {type(exc).__name__}; see the service log")
            await asyncio.sleep(self._backoff)
            self._backoff = min(self._backoff * 2, self.max_backoff)

    def _failed(self, error: str) -> None:
        self.error, self.ready = error, False
        self.retry_at = time.monotonic() + self._backoff
        log.warning("quality feed: %s; retrying in %.0f s", error, self._backoff)

    async def _follow(self) -> None:
        consumer = quality_consumer(self.bootstrap)
        try:
            await consumer.start()
            async with RegistryClient(self.registry_url) as registry:
                aggregate = self._fresh()
                reader = LogReader(consumer, AvroSerde(registry), aggregate)
                tps = await reader.assign()
                end = await consumer.end_offsets(tps) if tps else {}
                while not await reader.caught_up(end):
                    await reader.poll()
                self.aggregate, self.ready, self.error = aggregate, True, None
                self._backoff = 1.0
                refreshed = time.monotonic()
                while True:
                    await reader.poll(timeout_ms=1000)
                    if time.monotonic() - refreshed > _TOPIC_REFRESH:
                        await reader.assign()
                        refreshed = time.monotonic()
        finally:
            await consumer.stop()


FEED = web.AppKey("quality_feed", QualityFeed)


async def get_quality(request: web.Request) -> web.Response:
    department = request.query.get("department") or None
    table = request.query.get("table") or None
    for name, value in (("department", department), ("table", table)):
        if value is not None and not _NAME.match(value):
            return problem(400, "invalid-parameter", "Invalid query parameter",
                           f"{name} is a lower-case code such as gongan or hj_ryxx", parameter=name)
    feed = request.app[FEED]
    if not feed.ready:
        detail = (f"the quality figures cannot be read from Kafka: {feed.error}" if feed.error
                  else "the quality figures are still being read from Kafka")
        response = problem(503, "quality-unavailable", "Quality figures unavailable", detail)
        response.headers["Retry-After"] = str(feed.retry_after())
        return response
    if department is not None and department not in feed.aggregate.departments():
        return problem(404, "department-not-found", "Department not found",
                       f"no mapping and no event names department {department!r}")
    report = feed.aggregate.report(department, table).as_json()
    if not access_of(request).sees("personal"):
        _without_examples(report)  # legacy record keys can be identity numbers
    return web.json_response(report, dumps=lambda v: json.dumps(v, ensure_ascii=False))


def _without_examples(report: Any) -> None:
    """Empty every ``examples`` list in the report, at any depth."""
    if isinstance(report, dict):
        for key, value in report.items():
            if key == "examples" and isinstance(value, list):
                value.clear()
            else:
                _without_examples(value)
    elif isinstance(report, list):
        for item in report:
            _without_examples(item)


async def _follow_log(app: web.Application) -> AsyncIterator[None]:
    task = asyncio.create_task(app[FEED].run(), name="quality-feed")
    yield
    task.cancel()
    with suppress(asyncio.CancelledError):
        await task


def add_routes(app: web.Application, settings: Settings) -> None:
    app[FEED] = QualityFeed(settings.kafka_bootstrap, settings.registry_url)
    app.cleanup_ctx.append(_follow_log)
    app.router.add_get("/v1/quality", get_quality)
