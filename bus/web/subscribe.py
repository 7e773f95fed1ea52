"""``GET /v1/subscribe``: canonical events as Server-Sent Events, for applications without Kafka.

A subscription names event types (``types``; each ``rongtong.std.<entity>.upserted|deleted``,
or a projection's changes, ``rongtong.projection.newborn_case.changed``) and may narrow them by
``subject`` (``<entity>/<key>``) and ``department``. Events come from the canonical topics (and
``projection.newborn_case``, the case files new applications follow) through a consumer of the
connection's own (no consumer group), each with its SSE ``id`` — the cursor
``topic:partition:next_offset,…`` after it. A client that reconnects with ``Last-Event-ID`` (or
``?cursor=``) resumes exactly there; a new subscription starts at the end of the log, or at its
beginning with ``from=beginning``.

Back-pressure: the next batch is fetched only when the previous one is written out, so a slow
client holds a bounded buffer (one fetch and the socket's) and the log waits in Kafka. Every
event is a view: fields the client may not see are masked or left out by their classification
in the canonical schema, and events that showed personal fields are audited like reads.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from aiohttp import web
from aiokafka import AIOKafkaConsumer

from bus.access.policy import Access
from bus.problem import problem
from bus.settings import Settings
from bus.web.auth import access_of
from bus.web.consistency import InvalidPosition, format_positions, parse_positions
from bus.web.event_views import EventFilter, EventView, EventViews, InvalidFilter, partitions_of
from bus.web.privacy import audit_entry, audit_reads

__all__ = ["add_routes"]

log = logging.getLogger(__name__)
FETCH_RECORDS = 200
KEEPALIVE_SECONDS = 15.0
SUBSCRIPTIONS = web.AppKey("subscriptions", EventViews)


async def subscribe(request: web.Request) -> web.StreamResponse:
    hub = request.app[SUBSCRIPTIONS]
    try:
        wanted = hub.parse(request.query.get("types", "").split(","),
                           request.query.get("subject") or None,
                           request.query.get("department") or None)
    except InvalidFilter as exc:
        return problem(400, "invalid-parameter", "Invalid query parameter", exc.detail,
                       parameter=exc.parameter)
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
        partitions = await partitions_of(consumer, wanted.topics)
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
        await _stream(request, channel, consumer, hub, access, wanted, positions)
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


async def _stream(request: web.Request, channel: _Channel, consumer: AIOKafkaConsumer,
                  hub: EventViews, access: Access, wanted: EventFilter,
                  positions: dict[tuple[str, int], int]) -> None:
    while True:
        batch = await consumer.getmany(timeout_ms=int(KEEPALIVE_SECONDS * 1000))
        if not batch:
            await channel.keepalive()
            continue
        # the whole fetch is viewed, then audited in one go (one round trip to Kafka for the
        # batch's records), then written out: nothing is delivered before it is recorded
        ready: list[tuple[str, EventView]] = []
        for tp, messages in batch.items():
            for message in messages:
                positions[(tp.topic, tp.partition)] = message.offset + 1
                event = await hub.view(message, wanted, access)
                if event is not None:
                    ready.append((format_positions(positions), event))
        refused = await audit_reads(request, [
            audit_entry(request, access, subject_kind=event.entity, subject=event.subject_key,
                        endpoint="GET /v1/subscribe", view=event.view, status=200)
            for _cursor, event in ready if event.personal])
        if refused is not None:
            return  # not recorded, not delivered: the client reconnects later
        for cursor, event in ready:
            await channel.send(cursor, event.type, event.body)


def add_routes(app: web.Application, settings: Settings) -> None:
    hub = EventViews(settings.kafka_bootstrap, settings.registry_url)
    app[SUBSCRIPTIONS] = hub

    async def close(_: web.Application) -> None:
        await hub.close()

    app.on_cleanup.append(close)
    app.router.add_get("/v1/subscribe", subscribe)
