"""``POST /v1/events/{type}``: new applications publish canonical events through the API.

The body is checked against the event's registered Avro schema and the data standard (every
field error listed in one problem+json), the bus fills ``source`` (who published, when), and
the answer — ``202`` with the event id and its Kafka position — comes once Kafka has the event.
An ``Idempotency-Key`` makes a retry safe: the same key and body answer the same and publish
once; the same key with another body is refused. The answer's ``position`` can be given as
``min_position`` to a read, which then reflects the event (read-your-writes).
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import uuid
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from bus.envelope import CloudEvent
from bus.events.idempotency import IdempotencyStore, KeyReused
from bus.events.publisher import EventSink
from bus.events.validation import to_record
from bus.governance.sources import CanonicalEntity, load_entities
from bus.problem import problem
from bus.web.auth import access_of, request_id_of

__all__ = ["ENTITIES", "IDEMPOTENCY", "PUBLISHER", "add_routes"]

log = logging.getLogger(__name__)
PUBLISHER = web.AppKey("event_publisher", EventSink)
IDEMPOTENCY = web.AppKey("idempotency", IdempotencyStore)
ENTITIES = web.AppKey("publishable_entities", dict[str, CanonicalEntity])
_TYPE = re.compile(r"rongtong\.std\.([a-z_]{1,40})\.(upserted|deleted)")
_KEY = re.compile(r"[A-Za-z0-9._:-]{1,128}")
_NAMESPACE = uuid.UUID("5d0c4c7e-2b7a-4f0e-9d55-4e3b8b3c9a01")
_CLASS_ORDER = ("public", "internal", "personal", "sensitive_personal")


def _classification(entity: CanonicalEntity) -> str:
    found = [f.classification for f in entity.fields if f.classification in _CLASS_ORDER]
    return max(found, key=_CLASS_ORDER.index) if found else "sensitive_personal"


async def publish_event(request: web.Request) -> web.Response:
    event_type = request.match_info["type"]
    match = _TYPE.fullmatch(event_type)
    entity = request.app[ENTITIES].get(match.group(1)) if match else None
    if match is None or entity is None:
        types = sorted(f"rongtong.std.{name}.{kind}" for name in request.app[ENTITIES]
                       for kind in ("upserted", "deleted"))
        return problem(404, "event-type-not-found", "Unknown event type",
                       f"{event_type[:80]!r} is not an event type of this bus", types=types)
    access = access_of(request)
    if entity.entity not in access.client.publishes:
        return problem(403, "forbidden", "Forbidden",
                       f"client {access.client.id!r} may not publish {entity.entity} events")
    idempotency_key = request.headers.get("Idempotency-Key")
    if idempotency_key is not None and not _KEY.fullmatch(idempotency_key):
        return problem(400, "invalid-idempotency-key", "Invalid Idempotency-Key",
                       "Idempotency-Key must be 1–128 letters, digits or . _ : -")
    try:
        body = await request.json()
    except (ValueError, UnicodeDecodeError):
        return problem(400, "invalid-body", "Invalid request body", "the body is not JSON")
    deleted = match.group(2) == "deleted"
    record, errors = to_record(entity, body)
    if deleted:  # a tombstone needs only the key
        errors = [e for e in errors if e.field in entity.key_fields or e.field == ""
                  or "not a field" in e.message or "filled by the bus" in e.message]
    if errors:
        return problem(422, "invalid-event", "The event does not fit its schema",
                       f"{len(errors)} field(s) do not fit {entity.full_name}",
                       errors=[e.as_json() for e in errors])
    key = {name: record[name] for name in entity.key_fields}
    key_text = "|".join(str(v) for v in key.values())
    client = access.client.id
    event_id = str(uuid.uuid4())
    store = request.app[IDEMPOTENCY]
    if idempotency_key is not None:
        digest = hashlib.sha256(json.dumps([event_type, body], sort_keys=True, ensure_ascii=False,
                                           default=str).encode()).hexdigest()
        event_id = str(uuid.uuid5(_NAMESPACE, f"{client}:{idempotency_key}"))
        try:
            claim = store.claim(client, idempotency_key, digest, event_id)
        except KeyReused:
            return problem(422, "idempotency-key-reused", "Idempotency-Key reused",
                           "this Idempotency-Key was used before with another body")
        if claim.answer is not None:
            return web.json_response(claim.answer, status=202, headers={"Idempotent-Replayed": "true"})
    now = datetime.now(UTC)
    value: dict[str, Any] | None = None
    if not deleted:
        value = {**record, "source": {"department": client, "table": "api", "record_key": key_text,
                                      "event_id": event_id, "op": "u", "updated_at": now}}
    event = CloudEvent(event_type, f"/clients/{client}", id=event_id, time=now,
                       subject=f"{entity.entity}/{key_text}",
                       dataclassification=_classification(entity),
                       correlationid=request_id_of(request) or None)
    try:
        published = await request.app[PUBLISHER].publish(entity, key, value, event)
    except Exception as exc:
        log.error("publishing %s for %s failed: %s", event_type, client, exc)
        response = problem(503, "kafka-unavailable", "Event not published",
                           "Kafka did not take the event; nothing was published — retry "
                           "(with the same Idempotency-Key)")
        response.headers["Retry-After"] = "2"
        return response
    answer = {"event_id": event_id, "type": event_type, "subject": event.subject,
              "topic": published.topic, "partition": published.partition,
              "offset": published.offset,
              "position": f"{published.topic}:{published.partition}:{published.offset + 1}"}
    if idempotency_key is not None:
        store.complete(client, idempotency_key, answer)
    return web.json_response(answer, status=202)


def add_routes(app: web.Application, publisher: EventSink, store: IdempotencyStore) -> None:
    app[PUBLISHER] = publisher
    app[IDEMPOTENCY] = store
    app[ENTITIES] = {entity.entity: entity for entity in load_entities()}

    async def close(_: web.Application) -> None:
        await publisher.close()
        store.close()

    app.on_cleanup.append(close)
    app.router.add_post("/v1/events/{type}", publish_event)
