"""``GET /v1/subscribe``: canonical events as Server-Sent Events, for applications without Kafka.

A subscription names event types (``types``; each ``rongtong.std.<entity>.upserted|deleted``)
and may narrow them by ``subject`` (``<entity>/<key>``) and ``department``. Events come from
the canonical topics through a consumer of the connection's own (no consumer group), each with
its SSE ``id`` — the cursor ``topic:partition:next_offset,…`` after it. A client that reconnects
with ``Last-Event-ID`` (or ``?cursor=``) resumes exactly there; a new subscription starts at the
end of the log, or at its beginning with ``from=beginning``.

Back-pressure: the next batch is fetched only when the previous one is written out, so a slow
client holds a bounded buffer (one fetch and the socket's) and the log waits in Kafka. Every
event is a view: fields the client may not see are masked or left out by their classification
in the canonical schema, and events that showed personal fields are audited like reads.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from aiohttp import web
from aiokafka import AIOKafkaConsumer, TopicPartition

from bus.access.policy import Access, FieldPolicy
from bus.governance.sources import CanonicalEntity, load_entities
from bus.problem import problem
from bus.serde.avro import AvroSerde
from bus.serde.registry_client import RegistryClient
from bus.settings import Settings
from bus.web.auth import access_of
from bus.web.consistency import InvalidPosition, format_positions, parse_positions
from bus.web.privacy import audit_read

__all__ = ["add_routes", "entity_policy"]

log = logging.getLogger(__name__)
_TYPE = re.compile(r"rongtong\.std\.([a-z_]{1,40})\.(upserted|deleted)")
_SUBJECT = re.compile(r"[a-z_]{1,40}/[^\x00-\x1f]{1,200}")
_DEPARTMENT = re.compile(r"[a-z0-9_-]{1,40}")
MAX_TYPES = 20
FETCH_RECORDS = 200
KEEPALIVE_SECONDS = 15.0


def _plain(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def entity_policy(entity: CanonicalEntity) -> FieldPolicy:
    """Who sees which field of a canonical event: the schema's classifications."""
    classes: dict[str, str | None] = {}
    masks: dict[str, str] = {}
    for field in entity.value_schema["fields"]:
        name, kind = field["name"], field["type"]
        items = kind.get("items") if isinstance(kind, dict) and kind.get("type") == "array" else None
        if isinstance(items, dict) and items.get("type") == "record":
            for sub in items["fields"]:
                classes[f"{name}[].{sub['name']}"] = sub.get("classification")
            continue
        if name == "source":
            continue
        classes[name] = field.get("classification")
        if field.get("standard") == "GB 11643-1999":
            masks[name] = "identity_number"
        elif name.endswith("name") and field.get("classification") in ("personal", "sensitive_personal"):
            masks[name] = "name"
    return FieldPolicy.from_catalog(entity.entity, entity.key_fields[0], classes.items(), masks=masks)


class Subscriptions:
    """What the gateway needs: the entities, their policies, and a serde of its own."""

    def __init__(self, settings: Settings) -> None:
        self.bootstrap = settings.kafka_bootstrap
        self.registry = RegistryClient(settings.registry_url)
        self.serde = AvroSerde(self.registry)
        self.entities = {e.entity: e for e in load_entities()}
        self.policies = {name: entity_policy(e) for name, e in self.entities.items()}


SUBSCRIPTIONS = web.AppKey("subscriptions", Subscriptions)


async def subscribe(request: web.Request) -> web.StreamResponse:
    hub: Subscriptions = request.app[SUBSCRIPTIONS]
    raw_types = [t.strip() for t in request.query.get("types", "").split(",") if t.strip()]
    if not raw_types or len(raw_types) > MAX_TYPES:
        return problem(400, "invalid-parameter", "Invalid query parameter",
                       f"types lists 1–{MAX_TYPES} event types, e.g. rongtong.std.person.upserted",
                       parameter="types")
    wanted: set[str] = set()
    topics: set[str] = set()
    for event_type in raw_types:
        match = _TYPE.fullmatch(event_type)
        if match is None or match.group(1) not in hub.entities:
            return problem(400, "invalid-parameter", "Invalid query parameter",
                           f"{event_type[:80]!r} is not an event type of this bus", parameter="types")
        wanted.add(event_type)
        topics.add(hub.entities[match.group(1)].topic)
    subject = request.query.get("subject") or None
    if subject is not None and not _SUBJECT.fullmatch(subject):
        return problem(400, "invalid-parameter", "Invalid query parameter",
                       "subject is <entity>/<key>, e.g. person/330106199003071236",
                       parameter="subject")
    department = request.query.get("department") or None
    if department is not None and not _DEPARTMENT.fullmatch(department):
        return problem(400, "invalid-parameter", "Invalid query parameter",
                       "department is a department code, e.g. gongan", parameter="department")
    start = request.query.get("from", "end")
    if start not in ("end", "beginning"):
        return problem(400, "invalid-parameter", "Invalid query parameter",
                       "from is end or beginning", parameter="from")
    raw_cursor = request.headers.get("Last-Event-ID") or request.query.get("cursor")
    try:
        cursor = parse_positions(raw_cursor) if raw_cursor else {}
    except InvalidPosition as exc:
        return problem(400, "invalid-parameter", "Invalid cursor", str(exc), parameter="cursor")
    access = access_of(request)
    if not access.sees("internal"):
        return problem(403, "forbidden", "Forbidden",
                       f"client {access.client.id!r} is not granted internal data (events are)")

    consumer = AIOKafkaConsumer(bootstrap_servers=hub.bootstrap, enable_auto_commit=False,
                                isolation_level="read_committed", max_poll_records=FETCH_RECORDS)
    try:
        await consumer.start()
        partitions = await _partitions(consumer, sorted(topics))
    except Exception as exc:
        await consumer.stop()
        log.warning("subscription cannot reach Kafka: %s", exc)
        response = problem(503, "kafka-unavailable", "Events unavailable",
                           "the event log cannot be read now; retry")
        response.headers["Retry-After"] = "2"
        return response
    websocket = request.headers.get("Upgrade", "").lower() == "websocket"
    channel: _Channel = _WebSocket(request) if websocket else _EventStream(request)
    try:
        await channel.open()
        consumer.assign(partitions)
        positions: dict[tuple[str, int], int] = {}
        ends = await consumer.end_offsets(partitions)
        starts = await consumer.beginning_offsets(partitions) if start == "beginning" else ends
        for tp in partitions:
            offset = cursor.get((tp.topic, tp.partition), starts[tp])
            consumer.seek(tp, offset)
            positions[(tp.topic, tp.partition)] = offset
        await channel.hello(format_positions(positions))
        await _stream(request, channel, consumer, hub, access, wanted, subject, department, positions)
    except ConnectionResetError:
        pass  # the client went away
    finally:
        await consumer.stop()
        await channel.close()
    return channel.response


class _Channel:
    """Where a subscription's events go: an SSE stream or a WebSocket."""

    response: web.StreamResponse

    async def open(self) -> None: ...

    async def hello(self, cursor: str) -> None: ...

    async def keepalive(self) -> None: ...

    async def send(self, cursor: str, event_type: str, data: dict[str, Any]) -> None: ...

    async def close(self) -> None:
        return None


class _EventStream(_Channel):
    def __init__(self, request: web.Request) -> None:
        self.request = request
        self.response = web.StreamResponse(headers={
            "Content-Type": "text/event-stream", "Cache-Control": "no-cache",
            "X-Accel-Buffering": "no"})

    async def open(self) -> None:
        await self.response.prepare(self.request)

    async def hello(self, cursor: str) -> None:
        await self.response.write(f": subscribed {cursor}\n\n".encode())

    async def keepalive(self) -> None:
        await self.response.write(b": keep-alive\n\n")

    async def send(self, cursor: str, event_type: str, data: dict[str, Any]) -> None:
        frame = f"id: {cursor}\nevent: {event_type}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"
        await self.response.write(frame.encode())  # waits while the client is slow


class _WebSocket(_Channel):
    """The same events as JSON text messages ``{"id", "event", "data"}``; a client resumes by
    connecting again with ``?cursor=<id>``."""

    def __init__(self, request: web.Request) -> None:
        self.request = request
        self.socket = web.WebSocketResponse(heartbeat=KEEPALIVE_SECONDS)
        self.response = self.socket

    async def open(self) -> None:
        await self.socket.prepare(self.request)

    async def hello(self, cursor: str) -> None:
        await self.socket.send_str(json.dumps({"subscribed": cursor}))

    async def keepalive(self) -> None:
        if self.socket.closed:
            raise ConnectionResetError("the client closed the WebSocket")

    async def send(self, cursor: str, event_type: str, data: dict[str, Any]) -> None:
        if self.socket.closed:
            raise ConnectionResetError("the client closed the WebSocket")
        # send_str waits while the socket's buffer is full: back-pressure, as for SSE
        await self.socket.send_str(json.dumps({"id": cursor, "event": event_type, "data": data},
                                              ensure_ascii=False))

    async def close(self) -> None:
        if not self.socket.closed:
            await self.socket.close()


async def _partitions(consumer: AIOKafkaConsumer, topics: list[str]) -> list[TopicPartition]:
    found: list[TopicPartition] = []
    for topic in topics:
        partitions = consumer.partitions_for_topic(topic)
        if not partitions:
            await consumer._client.force_metadata_update()
            partitions = consumer.partitions_for_topic(topic) or {0}
        found += [TopicPartition(topic, p) for p in sorted(partitions)]
    return found


async def _stream(request: web.Request, channel: _Channel, consumer: AIOKafkaConsumer,
                  hub: Subscriptions, access: Access, wanted: set[str], subject: str | None,
                  department: str | None, positions: dict[tuple[str, int], int]) -> None:
    while True:
        batch = await consumer.getmany(timeout_ms=int(KEEPALIVE_SECONDS * 1000))
        if not batch:
            await channel.keepalive()
            continue
        for tp, messages in batch.items():
            for message in messages:
                positions[(tp.topic, tp.partition)] = message.offset + 1
                headers = {k: v.decode() for k, v in message.headers or ()}
                event_type = headers.get("ce_type", "")
                if event_type not in wanted:
                    continue
                if subject is not None and headers.get("ce_subject") != subject:
                    continue
                entity = hub.entities[event_type.split(".")[2]]
                value = None if message.value is None else _plain(await hub.serde.decode(message.value))
                if department is not None and (value or {}).get("source", {}).get("department") != department:
                    continue
                data: dict[str, Any] = {"type": event_type, "id": headers.get("ce_id"),
                                        "subject": _subject(hub.policies[entity.entity], access,
                                                            headers.get("ce_subject")),
                                        "time": headers.get("ce_time"), "data": None}
                if value is not None:
                    view = hub.policies[entity.entity].view(value, access)
                    data["data"] = view.body
                    if view.personal:
                        refused = await audit_read(
                            request, access, subject_kind=entity.entity,
                            subject=(headers.get("ce_subject") or "").partition("/")[2],
                            endpoint="GET /v1/subscribe", view=view, status=200)
                        if refused is not None:
                            return  # not recorded, not delivered: the client reconnects later
                await channel.send(format_positions(positions), event_type, data)


def _subject(policy: FieldPolicy, access: Access, subject: str | None) -> str | None:
    """``<entity>/<key>``, the key masked (or the subject left out) like the key field."""
    if subject is None:
        return None
    entity, _, key = subject.partition("/")
    value = policy.view({policy.key_field: key}, access).body.get(policy.key_field)
    return None if value is None else f"{entity}/{value}"


def add_routes(app: web.Application, settings: Settings) -> None:
    hub = Subscriptions(settings)
    app[SUBSCRIPTIONS] = hub

    async def close(_: web.Application) -> None:
        await hub.registry.close()

    app.on_cleanup.append(close)
    app.router.add_get("/v1/subscribe", subscribe)
