"""Canonical events as one client may see them: the filters, decoding and masking shared by the
HTTP subscription (``GET /v1/subscribe``) and the webhook dispatcher.

A filter names event types (``rongtong.std.<entity>.upserted|deleted``, or the changes of a
projection new applications follow, ``rongtong.projection.newborn_case.changed``) and may narrow them by
``subject`` (``<entity>/<key>``) and ``department``. :meth:`EventViews.view` turns one Kafka
record into the object both channels deliver — ``{type, id, subject, time, data}`` — with the
fields the client may not see masked or left out by their classification in the canonical
schema (the subject's key like the key field), and says whether personal fields were shown, so
the caller audits the delivery like a read.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition

from bus.access.policy import Access, FieldPolicy, View
from bus.governance.sources import CanonicalEntity, load_entities, load_schema
from bus.serde.avro import AvroSerde
from bus.serde.registry_client import RegistryClient

__all__ = ["MAX_TYPES", "PROJECTION_STREAMS", "EventFilter", "EventView", "EventViews",
           "InvalidFilter", "entity_policy", "parse_filter", "partitions_of", "projection_entity",
           "subscribable_entities"]

_TYPE = re.compile(r"rongtong\.(?:std\.([a-z_]{1,40})\.(?:upserted|deleted)"
                   r"|projection\.([a-z_]{1,40})\.changed)")
#: Projections whose changes new applications may follow: schema name → topic.
PROJECTION_STREAMS = {"newborn_case": "projection.newborn_case"}
_SUBJECT = re.compile(r"[a-z_]{1,40}/[^\x00-\x1f]{1,200}")
_DEPARTMENT = re.compile(r"[a-z0-9_-]{1,40}")
MAX_TYPES = 20


class InvalidFilter(ValueError):
    """A filter parameter that does not fit; ``parameter`` names it."""

    def __init__(self, parameter: str, detail: str) -> None:
        super().__init__(detail)
        self.parameter = parameter
        self.detail = detail


@dataclass(frozen=True)
class EventFilter:
    """Which canonical events a subscriber wants, and the topics that carry them."""

    types: frozenset[str]
    topics: tuple[str, ...]
    subject: str | None = None
    department: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {"types": sorted(self.types), "subject": self.subject, "department": self.department}


@dataclass(frozen=True)
class EventView:
    """One delivered event: its type, its entity and the body as the client may see it."""

    type: str
    entity: str
    subject_key: str
    body: dict[str, Any]
    view: View | None

    @property
    def personal(self) -> bool:
        return self.view is not None and self.view.personal


def parse_filter(entities: Mapping[str, CanonicalEntity], types: Iterable[str],
                 subject: str | None, department: str | None) -> EventFilter:
    wanted = [t.strip() for t in types if t.strip()]
    if not wanted or len(wanted) > MAX_TYPES:
        raise InvalidFilter("types", f"types lists 1–{MAX_TYPES} event types, e.g. "
                                     "rongtong.std.person.upserted")
    topics: set[str] = set()
    for event_type in wanted:
        match = _TYPE.fullmatch(event_type)
        std, projection = match.groups() if match else (None, None)
        if std is not None and std in entities and std not in PROJECTION_STREAMS:
            topics.add(entities[std].topic)
        elif projection is not None and projection in entities and projection in PROJECTION_STREAMS:
            topics.add(PROJECTION_STREAMS[projection])
        else:
            raise InvalidFilter("types", f"{event_type[:80]!r} is not an event type of this bus")
    if subject is not None and not _SUBJECT.fullmatch(subject):
        raise InvalidFilter("subject", "subject is <entity>/<key>, e.g. person/330106199003071236")
    if department is not None and not _DEPARTMENT.fullmatch(department):
        raise InvalidFilter("department", "department is a department code, e.g. gongan")
    return EventFilter(frozenset(wanted), tuple(sorted(topics)), subject, department)


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


def projection_entity(name: str) -> CanonicalEntity:
    """A projection's output described like a canonical entity (schema, key), for its policy."""
    value, key = load_schema(name), load_schema(f"{name}_key")
    return CanonicalEntity(entity=name, full_name=f"{value['namespace']}.{value['name']}",
                           doc=str(value.get("doc", "")), fields=(),
                           key_fields=tuple(str(f["name"]) for f in key["fields"]),
                           value_schema=value, key_schema=key)


def subscribable_entities() -> dict[str, CanonicalEntity]:
    """What a filter may name: the canonical entities and the projections in PROJECTION_STREAMS."""
    entities = {e.entity: e for e in load_entities()}
    return entities | {name: projection_entity(name) for name in PROJECTION_STREAMS}


class EventViews:
    """The canonical entities, their field policies and a serde of its own."""

    def __init__(self, bootstrap: str, registry_url: str) -> None:
        self.bootstrap = bootstrap
        self.registry = RegistryClient(registry_url)
        self.serde = AvroSerde(self.registry)
        self.entities = subscribable_entities()
        self.policies = {name: entity_policy(e) for name, e in self.entities.items()}

    def parse(self, types: Iterable[str], subject: str | None, department: str | None
              ) -> EventFilter:
        return parse_filter(self.entities, types, subject, department)

    async def view(self, message: ConsumerRecord[bytes, bytes], wanted: EventFilter,
                   access: Access) -> EventView | None:
        """The event as ``access`` may see it, or None when ``wanted`` does not take it."""
        headers = {k: v.decode() for k, v in message.headers or ()}
        event_type = headers.get("ce_type", "")
        if event_type not in wanted.types:
            return None
        subject = headers.get("ce_subject")
        if wanted.subject is not None and subject != wanted.subject:
            return None
        entity = event_type.split(".")[2]
        value = None if message.value is None else _plain(await self.serde.decode(message.value))
        if wanted.department is not None and \
                (value or {}).get("source", {}).get("department") != wanted.department:
            return None
        policy = self.policies[entity]
        body: dict[str, Any] = {"type": event_type, "id": headers.get("ce_id"),
                                "subject": _masked_subject(policy, access, subject),
                                "time": headers.get("ce_time"), "data": None}
        view = None
        if value is not None:
            view = policy.view(value, access)
            body["data"] = view.body
        return EventView(event_type, entity, (subject or "").partition("/")[2], body, view)

    async def close(self) -> None:
        await self.registry.close()


def _masked_subject(policy: FieldPolicy, access: Access, subject: str | None) -> str | None:
    """``<entity>/<key>``, the key masked (or the subject left out) like the key field."""
    if subject is None:
        return None
    entity, _, key = subject.partition("/")
    value = policy.view({policy.key_field: key}, access).body.get(policy.key_field)
    return None if value is None else f"{entity}/{value}"


async def partitions_of(consumer: AIOKafkaConsumer, topics: Iterable[str]) -> list[TopicPartition]:
    """Every partition of ``topics`` (partition 0 of a topic the broker does not know yet)."""
    found: list[TopicPartition] = []
    for topic in topics:
        partitions = consumer.partitions_for_topic(topic)
        if not partitions:
            await consumer._client.force_metadata_update()
            partitions = consumer.partitions_for_topic(topic) or {0}
        found += [TopicPartition(topic, p) for p in sorted(partitions)]
    return found
