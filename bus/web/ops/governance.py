"""Governance on the dashboard: catalog search with lineage, and audit-log statistics.

The catalog is the service's own (``bus.web.catalog``). Audit statistics follow ``bus.audit``
incrementally: each call reads the records added since the last one (at most
:data:`READ_BUDGET` seconds of reading per call; the rest on the next), and counts them by
client, endpoint, result and day.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections import Counter
from typing import Any

from aiohttp import web
from aiokafka import AIOKafkaConsumer, TopicPartition

from bus.access.audit import AUDIT_TOPIC, AuditRecord
from bus.governance.catalog import UnknownField
from bus.problem import problem
from bus.serde.avro import AvroSerde
from bus.serde.registry_client import RegistryClient
from bus.settings import Settings
from bus.web.catalog import CATALOG

__all__ = ["AuditStats", "add_routes"]

READ_BUDGET = 2.0
_KINDS = ("legacy_table", "raw_topic", "canonical", "projection", "api")


async def search_catalog(request: web.Request) -> web.Response:
    kind = request.query.get("kind") or None
    if kind is not None and kind not in _KINDS:
        return problem(400, "invalid-parameter", "Invalid query parameter",
                       f"kind must be one of {', '.join(_KINDS)}", parameter="kind")
    body = request.config_dict[CATALOG].as_json(request.query.get("search") or None, kind)
    return web.json_response(body)


async def lineage(request: web.Request) -> web.Response:
    name = request.query.get("field", "").strip()
    if not name:
        return problem(400, "invalid-parameter", "Invalid query parameter",
                       "field is required, e.g. field=std.person.name", parameter="field")
    try:
        return web.json_response(request.config_dict[CATALOG].lineage(name))
    except UnknownField:
        return problem(404, "field-not-found", "Field not found", f"the catalog has no field {name!r}")


class AuditStats:
    """Counts of the audit log's records, kept up to date on demand."""

    def __init__(self, settings: Settings) -> None:
        self.bootstrap = settings.kafka_bootstrap
        self.registry = RegistryClient(settings.registry_url, timeout=5)
        self.serde = AvroSerde(self.registry)
        self.position = 0
        self.records = 0
        self.by: dict[str, Counter[str]] = {k: Counter() for k in ("client", "endpoint", "result",
                                                                   "day", "subject_kind")}
        self.last_at_ms: int | None = None
        self.chains: set[str] = set()
        self._lock = asyncio.Lock()

    def count(self, record: AuditRecord) -> None:
        self.records += 1
        day = dt.datetime.fromtimestamp(record.at_ms / 1000, dt.UTC).date().isoformat()
        for key, value in (("client", record.client), ("endpoint", record.endpoint),
                           ("result", record.result.partition(":")[0]), ("day", day),
                           ("subject_kind", record.subject_kind)):
            self.by[key][value] += 1
        self.last_at_ms = max(self.last_at_ms or 0, record.at_ms)
        self.chains.add(record.chain)

    async def catch_up(self) -> int:
        """Read what was added since the last call; the offset the topic ends at."""
        async with self._lock:
            consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, enable_auto_commit=False,
                                        request_timeout_ms=10_000)
            await consumer.start()
            try:
                if AUDIT_TOPIC not in await consumer.topics():
                    return 0  # nothing audited yet
                tp = TopicPartition(AUDIT_TOPIC, 0)
                consumer.assign([tp])
                end = (await consumer.end_offsets([tp]))[tp]
                consumer.seek(tp, self.position)
                started = time.monotonic()
                while self.position < end and time.monotonic() - started < READ_BUDGET:
                    batch = await consumer.getmany(tp, timeout_ms=1000)
                    for message in batch.get(tp, []):
                        if message.value is not None:
                            self.count(AuditRecord.from_avro(await self.serde.decode(message.value)))
                        self.position = message.offset + 1
                    if not batch:
                        break
                return int(end)
            finally:
                await consumer.stop()

    def as_json(self, end: int) -> dict[str, Any]:
        def top(counter: Counter[str], n: int = 20) -> list[dict[str, Any]]:
            return [{"name": k, "records": v} for k, v in counter.most_common(n)]

        return {"records": self.records, "read_to": self.position, "end_offset": end,
                "chains": len(self.chains), "last_at_ms": self.last_at_ms,
                "by_client": top(self.by["client"]), "by_endpoint": top(self.by["endpoint"]),
                "by_result": top(self.by["result"]), "by_subject_kind": top(self.by["subject_kind"]),
                "by_day": [{"name": k, "records": v} for k, v in sorted(self.by["day"].items())[-14:]]}


STATS = web.AppKey("ops_audit_stats", AuditStats)


async def audit_statistics(request: web.Request) -> web.Response:
    stats = request.config_dict[STATS]
    try:
        end = await stats.catch_up()
    except Exception as exc:
        response = problem(503, "audit-unavailable", "Audit log unavailable",
                           f"bus.audit cannot be read: {type(exc).__name__}: {exc}".splitlines()[0])
        response.headers["Retry-After"] = "5"
        return response
    return web.json_response(stats.as_json(end))


def add_routes(ops: web.Application, settings: Settings) -> None:
    stats = AuditStats(settings)
    ops[STATS] = stats

    async def close(_: web.Application) -> None:
        await stats.registry.close()

    ops.on_cleanup.append(close)
    ops.router.add_get("/api/catalog", search_catalog)
    ops.router.add_get("/api/catalog/lineage", lineage)
    ops.router.add_get("/api/audit", audit_statistics)
