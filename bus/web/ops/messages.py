"""The message browser: a topic's messages decoded through the registry, masked, audited.

``GET /ops/api/messages?topic=&partition=&offset=&limit=`` reads up to ``limit`` (20, at
most 100) messages of one partition from ``offset`` (default: the last ``limit``), decodes
Confluent-framed Avro keys and values with the writer schema the registry names, and shows
each field as the client may see it: canonical and projection events by their schema's field
classifications (as ``/v1/subscribe`` does); everything else — legacy rows, quarantine
records, the audit log — as the most sensitive data, in full only to a client that sees
``sensitive_personal`` with a purpose declared at sign-in, else every text partially masked.
Each browse is recorded in the audit log first (no record, no read).
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from aiohttp import web
from aiokafka import AIOKafkaConsumer, TopicPartition

from bus.access import masking
from bus.access.audit import AuditEntry
from bus.access.policy import Access, FieldPolicy
from bus.governance.sources import load_entities
from bus.problem import problem
from bus.serde.avro import AvroSerde
from bus.serde.registry_client import RegistryClient
from bus.settings import Settings
from bus.web.auth import request_id_of
from bus.web.event_views import PROJECTION_STREAMS, entity_policy, projection_entity
from bus.web.ops.session import ops_access
from bus.web.privacy import AUDIT

__all__ = ["MessageBrowser", "add_routes", "masked_value"]

log = logging.getLogger(__name__)
_TOPIC = re.compile(r"^[A-Za-z0-9._-]{1,249}$")
_IDENTITY_LIKE = re.compile(r"^[0-9]{15}$|^[0-9]{17}[0-9Xx]$")
MAX_LIMIT = 100
ENDPOINT = "GET /ops/api/messages"


def _plain(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def masked_value(value: Any) -> Any:
    """Every text partially masked (identity numbers as such), at any depth."""
    if isinstance(value, str):
        if not value:
            return value
        return masking.identity_number(value) if _IDENTITY_LIKE.match(value) else masking.name(value)
    if isinstance(value, Mapping):
        return {k: masked_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [masked_value(v) for v in value]
    return value


class MessageBrowser:
    """Field policies of the canonical and projection topics, and a serde."""

    def __init__(self, settings: Settings) -> None:
        self.bootstrap = settings.kafka_bootstrap
        self.registry = RegistryClient(settings.registry_url, timeout=5)
        self.serde = AvroSerde(self.registry)
        self.policies: dict[str, FieldPolicy] = {
            f"std.{e.entity}": entity_policy(e) for e in load_entities()}
        self.policies |= {topic: entity_policy(projection_entity(name))
                          for name, topic in PROJECTION_STREAMS.items()}

    async def close(self) -> None:
        await self.registry.close()

    async def decoded(self, data: bytes | None) -> tuple[Any, str]:
        """(value, encoding): Avro through the registry, else UTF-8 text, else hex."""
        if data is None:
            return None, "null"
        if len(data) > 5 and data[0] == 0:
            try:
                return _plain(await self.serde.decode(data)), "avro"
            except Exception:  # not Avro of this registry after all
                log.debug("not decodable as registry Avro", exc_info=True)
        try:
            return data.decode("utf-8"), "text"
        except UnicodeDecodeError:
            return data.hex(), "hex"

    def shown(self, topic: str, value: Any, access: Access) -> Any:
        policy = self.policies.get(topic)
        if policy is not None and isinstance(value, Mapping):
            return policy.view(value, access).body
        if access.sees("sensitive_personal"):
            return value
        return masked_value(value)


BROWSER = web.AppKey("ops_messages", MessageBrowser)


def _int(request: web.Request, name: str, default: int | None) -> int | None:
    raw = request.query.get(name, "")
    if raw == "":
        return default
    if not raw.isdigit():
        raise web.HTTPBadRequest(text=f"{name} is a whole number")
    return int(raw)


async def browse(request: web.Request) -> web.Response:
    topic = request.query.get("topic", "")
    if not _TOPIC.match(topic):
        return problem(400, "invalid-parameter", "Invalid query parameter",
                       "topic is a topic name (letters, digits, . _ -)", parameter="topic")
    partition = _int(request, "partition", 0) or 0
    limit = min(MAX_LIMIT, max(1, _int(request, "limit", 20) or 20))
    start = _int(request, "offset", None)
    access = ops_access(request)
    entry = AuditEntry(request_id_of(request), access.client.id, access.purpose, "topic",
                       f"{topic}/{partition}", ENDPOINT, (), (), "ok", 200)
    try:
        await request.config_dict[AUDIT].append(entry)
    except Exception as exc:
        log.error("audit record of a message browse not stored: %s", exc)
        response = problem(503, "audit-unavailable", "Audit log unavailable",
                           "the browse could not be recorded in the audit log; try again shortly")
        response.headers["Retry-After"] = "5"
        return response
    browser = request.config_dict[BROWSER]
    consumer = AIOKafkaConsumer(bootstrap_servers=browser.bootstrap, enable_auto_commit=False,
                                request_timeout_ms=10_000)
    try:
        await consumer.start()
        partitions = await consumer._client.fetch_all_metadata()
        if partition not in (partitions.partitions_for_topic(topic) or set()):
            return problem(404, "partition-not-found", "Partition not found",
                           f"topic {topic!r} has no partition {partition}")
        tp = TopicPartition(topic, partition)
        consumer.assign([tp])
        begin = (await consumer.beginning_offsets([tp]))[tp]
        end = (await consumer.end_offsets([tp]))[tp]
        first = max(begin, end - limit) if start is None else max(begin, start)
        consumer.seek(tp, first)
        records: list[Any] = []
        while first < end and len(records) < limit:
            batch = await consumer.getmany(tp, timeout_ms=1000, max_records=limit - len(records))
            got = batch.get(tp, [])
            if not got:
                break
            records += got
            if got[-1].offset + 1 >= end:
                break
        items = []
        for record in records[:limit]:
            key, key_encoding = await browser.decoded(record.key)
            value, value_encoding = await browser.decoded(record.value)
            items.append({
                "offset": record.offset, "timestamp_ms": record.timestamp,
                "headers": {k: v.decode("utf-8", "replace") for k, v in record.headers or ()},
                "key": browser.shown("", key, access) if key_encoding != "null" else None,
                "value": browser.shown(topic, value, access), "encoding": value_encoding})
    except web.HTTPException:
        raise
    except Exception as exc:
        response = problem(503, "kafka-unavailable", "Kafka unavailable",
                           f"{type(exc).__name__}: {exc}".splitlines()[0])
        response.headers["Retry-After"] = "5"
        return response
    finally:
        await consumer.stop()
    return web.json_response({"topic": topic, "partition": partition, "begin": begin, "end": end,
                              "items": items,
                              "masked": not access.sees("sensitive_personal")})


def add_routes(ops: web.Application, settings: Settings) -> None:
    browser = MessageBrowser(settings)
    ops[BROWSER] = browser

    async def close(_: web.Application) -> None:
        await browser.close()

    ops.on_cleanup.append(close)
    ops.router.add_get("/api/messages", browse)
