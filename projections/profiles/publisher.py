"""Publishes a profile store's outbox: ``projection.<name>`` (compacted) and data conflicts.

The store writes outgoing messages in the same transaction as the profiles they describe; this
publisher sends them in order and deletes them once Kafka acknowledged them. A crash between
the two sends a message again — harmless: a profile version is keyed by its subject on a
compacted topic, and a conflict carries a deterministic ``ce_id``. One publisher holds the
outbox lease at a time, so the versions of a subject always leave in order.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from typing import Any

from aiokafka import AIOKafkaProducer
from mode import Service

from bus.envelope import CloudEvent
from bus.kafka import TopicSpec, ensure_topics
from bus.serde.avro import AvroSerde, subject_for
from bus.serde.registry_client import RegistryClient
from projections.profiles.location import StoreLocation, live_store
from projections.profiles.store import ProfileStore
from schemas.avro_schemas import load_avro_schema

__all__ = ["CONFLICTS_TOPIC", "OutboxPublisher", "OutboxService", "output_topics"]

log = logging.getLogger(__name__)

CONFLICTS_TOPIC = "bus.data_conflicts"
_IDS = uuid.UUID("5b0c3d52-7a43-4c8e-9d51-2f4e8a0c6d17")
LEASE_MS = 15_000


def output_topics(projection: str) -> list[TopicSpec]:
    return [TopicSpec.compacted(f"projection.{projection}"), TopicSpec.history(CONFLICTS_TOPIC)]


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _provenance(data: dict[str, Any], with_op: bool = True) -> dict[str, Any]:
    record = {"department": data["department"], "table": data["table"],
              "record_key": data["record_key"], "event_id": data["event_id"],
              "topic": data["topic"], "partition": int(data["partition"]),
              "offset": int(data["offset"]), "event_time": int(data["event_time_ms"])}
    if with_op:
        record["op"] = data.get("op") or ""
    return record


def profile_record(body: dict[str, Any]) -> dict[str, Any]:
    """The Avro value of a profile version from its outbox body."""
    document = body["document"]
    return {
        "subject": document["subject"], "version": int(body["version"]),
        "believed_at": int(body["believed_at_ms"]),
        "fields": {name: {"value": _text(entry["value"]), "rule": entry["rule"],
                          "provenance": _provenance(entry["provenance"])}
                   for name, entry in document["fields"].items()},
        "facets": {name: [{"values": {k: _text(v) for k, v in item.items() if k != "provenance"},
                           "provenance": _provenance(item["provenance"])} for item in items]
                   for name, items in document["facets"].items()},
    }


def conflict_record(projection: str, key: str, body: dict[str, Any]) -> dict[str, Any]:
    return {"conflict_key": key, "projection": projection, "subject": body["subject"],
            "field": body["field"], "addressed_to": body["addressed_to"],
            "authoritative_value": _text(body["authoritative_value"]),
            "other_value": _text(body["other_value"]),
            "authoritative": _provenance(body["authoritative"], with_op=False),
            "other": _provenance(body["other"], with_op=False)}


class OutboxPublisher:
    """Drains one projection's outbox into Kafka."""

    def __init__(self, store: ProfileStore, projection: str, producer: AIOKafkaProducer,
                 serde: AvroSerde) -> None:
        self.store = store
        self.projection = projection
        self.topic = f"projection.{projection}"
        self.producer = producer
        self.serde = serde
        self.holder = uuid.uuid4().hex
        self._profile = load_avro_schema("projection_profile")
        self._profile_key = load_avro_schema("projection_profile_key")
        self._conflict = load_avro_schema("data_conflict")
        self._conflict_key = load_avro_schema("data_conflict_key")

    async def drain(self, limit: int = 500) -> int:
        """Send what is pending (if this publisher holds the lease); how many were sent."""
        if not self.store.lease(self.holder, int(time.time() * 1000), LEASE_MS):
            return 0
        rows = self.store.pending(limit)
        if not rows:
            return 0
        futures = []
        for _id, kind, key, body in rows:
            topic, encoded_key, value, headers = await self._message(kind, key, body)
            futures.append(await self.producer.send(topic, value, encoded_key, headers=headers))
        for future in futures:
            await future
        self.store.published(rows[-1][0])
        return len(rows)

    async def _message(self, kind: str, key: str, body: str | None
                       ) -> tuple[str, bytes, bytes | None, list[tuple[str, bytes]]]:
        if kind == "conflict":
            assert body is not None
            data = json.loads(body)
            value = await self.serde.encode(subject_for(CONFLICTS_TOPIC), self._conflict,
                                             conflict_record(self.projection, key, data))
            event = CloudEvent("rongtong.governance.data_conflict.detected",
                               f"/projections/{self.projection}",
                               id=str(uuid.uuid5(_IDS, f"{self.projection}|{key}")),
                               subject=data["subject"], dataclassification="sensitive_personal")
            encoded = await self.serde.encode(subject_for(CONFLICTS_TOPIC, is_key=True),
                                              self._conflict_key, {"conflict_key": key})
            return CONFLICTS_TOPIC, encoded, value, event.to_headers()
        encoded_key = await self.serde.encode(subject_for(self.topic, is_key=True),
                                              self._profile_key, {"subject": key})
        if body is None:
            return self.topic, encoded_key, None, []
        data = json.loads(body)
        value = await self.serde.encode(subject_for(self.topic), self._profile, profile_record(data))
        event = CloudEvent(f"rongtong.projection.{self.projection}.changed",
                           f"/projections/{self.projection}",
                           id=str(uuid.uuid5(_IDS, f"{self.projection}|{key}|{data['version']}")),
                           subject=key, dataclassification="sensitive_personal")
        return self.topic, encoded_key, value, event.to_headers()


class OutboxService(Service):
    """Runs an :class:`OutboxPublisher` beside a projection's agents (a faust app service)."""

    def __init__(self, *, bootstrap: str, registry_url: str, store_path: StoreLocation, projection: str,
                 authority: dict[str, str], interval: float = 0.5, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.bootstrap = bootstrap
        self.registry_url = registry_url
        self.store_path = store_path
        self.projection = projection
        self.authority = authority
        self.interval = interval
        self._producer: AIOKafkaProducer | None = None
        self._registry: RegistryClient | None = None
        self._store: ProfileStore | None = None

    async def on_start(self) -> None:
        await ensure_topics(self.bootstrap, output_topics(self.projection))
        self._producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap, acks="all",
                                          enable_idempotence=True, linger_ms=20)
        await self._producer.start()
        self._registry = RegistryClient(self.registry_url)
        self.add_future(self._run())

    def _publisher(self) -> OutboxPublisher:
        assert self._producer is not None and self._registry is not None
        self._store = ProfileStore(live_store(self.store_path), self.authority)
        return OutboxPublisher(self._store, self.projection, self._producer,
                               AvroSerde(self._registry))

    async def _run(self) -> None:
        publisher = self._publisher()
        while not self.should_stop:
            try:
                sent = await publisher.drain()
                if not sent and live_store(self.store_path) != publisher.store.path:
                    # A rebuild switched readers; the old outbox is empty: follow.
                    publisher.store.close()
                    publisher = self._publisher()
                    continue
            except Exception:  # Kafka or the registry away: keep the outbox, try again
                log.warning("publishing the %s outbox failed; retrying", self.projection,
                            exc_info=True)
                sent = 0
            if not sent:
                await self.sleep(self.interval)

    async def on_stop(self) -> None:
        if self._producer is not None:
            await self._producer.stop()
        if self._registry is not None:
            await self._registry.close()
        if self._store is not None:
            self._store.close()
