"""Publishes the ``newborn_case`` outboxes: case versions on ``projection.newborn_case``
(compacted, Avro) and the commands to departments on ``std.household_registration`` and
``std.insurance_enrolment`` (the write-back sinks' inputs).

The store writes each case version and each command into an outbox in the same transaction as
the case; this publisher sends them in order and deletes them once Kafka acknowledged them. A
crash between the two sends a message again — harmless: the case topic is compacted by
certificate number, and every ``ce_id`` is deterministic, so the sinks (idempotent by event id)
skip a command they already wrote. One publisher holds the outbox lease at a time. After a
rebuild switched readers, the stores left behind are drained before the new one (see
:class:`CasePublisherService`).
"""

from __future__ import annotations

import datetime as dt
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
from projections.newborn_case.commands import COMMAND_TOPICS, IssuedCommand
from projections.newborn_case.store import CaseStore
from projections.profiles.location import StoreLocation, live_store
from schemas.avro_schemas import load_avro_schema

__all__ = ["COMMAND_OUTPUT_TOPICS", "OUTPUT_TOPIC", "CasePublisher", "CasePublisherService",
           "case_record", "command_record"]

log = logging.getLogger(__name__)

OUTPUT_TOPIC = "projection.newborn_case"
COMMAND_OUTPUT_TOPICS = tuple(f"std.{entity}" for _, entity in COMMAND_TOPICS.values())
_IDS = uuid.UUID("0f6a7d3e-2c1b-4e8a-9b5d-6a1c3e7f9b20")
LEASE_MS = 15_000


def case_record(document: dict[str, Any]) -> dict[str, Any]:
    """The Avro value of a case version from its stored JSON document."""
    birth = document.get("birth_date")
    return {**document, "birth_date": None if birth is None else dt.date.fromisoformat(birth)}


def command_record(command: IssuedCommand) -> dict[str, Any]:
    """The Avro value of a command from its stored JSON body."""
    body = command.body
    return {**body, "birth_date": dt.date.fromisoformat(body["birth_date"])}


class CasePublisher:
    """Drains the case store's outbox into Kafka."""

    def __init__(self, store: CaseStore, producer: AIOKafkaProducer, serde: AvroSerde) -> None:
        self.store = store
        self.producer = producer
        self.serde = serde
        self.holder = uuid.uuid4().hex
        self._value = load_avro_schema("newborn_case")
        self._key = load_avro_schema("newborn_case_key")
        self._commands = {entity: (load_avro_schema(entity), load_avro_schema(f"{entity}_key"))
                          for _, entity in COMMAND_TOPICS.values()}

    async def drain(self, limit: int = 500) -> int:
        """Send what is pending (if this publisher holds the lease); how many were sent."""
        if not self.store.lease(self.holder, int(time.time() * 1000), LEASE_MS):
            return 0
        return await self._drain_cases(limit) + await self._drain_commands(limit)

    async def _drain_commands(self, limit: int) -> int:
        rows = self.store.pending_commands(limit)
        if not rows:
            return 0
        futures = []
        for _id, command in rows:
            value_schema, key_schema = self._commands[command.entity]
            key = await self.serde.encode(subject_for(command.topic, is_key=True), key_schema,
                                          command.key)
            value = await self.serde.encode(subject_for(command.topic), value_schema,
                                            command_record(command))
            event = CloudEvent(f"rongtong.std.{command.entity}.upserted", "/projections/newborn_case",
                               id=command.event_id,
                               subject=f"{command.entity}/{command.command_id}",
                               dataclassification="sensitive_personal",
                               correlationid=str(command.body.get("case_id")))
            futures.append(await self.producer.send(command.topic, value, key,
                                                    headers=event.to_headers()))
        for future in futures:
            await future
        self.store.commands_published(rows[-1][0])
        return len(rows)

    async def _drain_cases(self, limit: int) -> int:
        rows = self.store.pending(limit)
        if not rows:
            return 0
        futures = []
        for _id, number, body in rows:
            document = json.loads(body)
            key = await self.serde.encode(subject_for(OUTPUT_TOPIC, is_key=True), self._key,
                                          {"certificate_number": number})
            value = await self.serde.encode(subject_for(OUTPUT_TOPIC), self._value, case_record(document))
            event = CloudEvent("rongtong.projection.newborn_case.changed", "/projections/newborn_case",
                               id=str(uuid.uuid5(_IDS, f"{number}|{document['version']}")),
                               subject=f"newborn_case/{number}",
                               dataclassification="sensitive_personal")
            futures.append(await self.producer.send(OUTPUT_TOPIC, value, key, headers=event.to_headers()))
        for future in futures:
            await future
        self.store.published(rows[-1][0])
        return len(rows)


class CasePublisherService(Service):
    """Runs a :class:`CasePublisher` beside the case agents (a faust app service).

    It publishes the live store (``store_path``, or the store the pointer file beside it names
    after a rebuild). When a rebuild switched readers, it keeps draining the stores it published
    before — first, so a case's versions leave in order — until each is empty and every
    partition it had applied is covered by the new store (the agents have adopted it)."""

    def __init__(self, *, bootstrap: str, registry_url: str, store_path: StoreLocation,
                 interval: float = 0.5,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.bootstrap = bootstrap
        self.registry_url = registry_url
        self.store_path = store_path
        self.interval = interval
        self._producer: AIOKafkaProducer | None = None
        self._registry: RegistryClient | None = None
        self._publishers: list[CasePublisher] = []  # the stores left behind, then the live one

    async def on_start(self) -> None:
        await ensure_topics(self.bootstrap, [TopicSpec.compacted(OUTPUT_TOPIC),
                                             *(TopicSpec.history(t) for t in COMMAND_OUTPUT_TOPICS)])
        self._producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap, acks="all",
                                          enable_idempotence=True, linger_ms=20)
        await self._producer.start()
        self._registry = RegistryClient(self.registry_url)
        self.add_future(self._run())

    def _publisher(self, path: StoreLocation) -> CasePublisher:
        assert self._producer is not None and self._registry is not None
        holder = self._publishers[-1].holder if self._publishers else None
        publisher = CasePublisher(CaseStore(path), self._producer, AvroSerde(self._registry))
        if holder is not None:
            publisher.holder = holder  # one holder: the lease on the old store is still ours
        return publisher

    async def _run(self) -> None:
        self._publishers = [self._publisher(live_store(self.store_path))]
        while not self.should_stop:
            live = live_store(self.store_path)
            if live != self._publishers[-1].store.path:
                log.info("newborn_case: publishing the rebuilt store %s", live.name)
                self._publishers.append(self._publisher(live))
            sent = 0
            for publisher in list(self._publishers):
                try:
                    drained = await publisher.drain()
                except Exception:  # Kafka or the registry away: keep the outbox, try again
                    log.warning("publishing the newborn_case outbox failed; retrying", exc_info=True)
                    break
                sent += drained
                if publisher is self._publishers[-1] or drained:
                    break  # a store left behind first, until it is empty
                if self._publishers[-1].store.covers(publisher.store):
                    publisher.store.close()  # empty, and nothing more will be written to it
                    self._publishers.remove(publisher)
            if not sent:
                await self.sleep(self.interval)

    async def on_stop(self) -> None:
        if self._producer is not None:
            await self._producer.stop()
        if self._registry is not None:
            await self._registry.close()
        for publisher in self._publishers:
            publisher.store.close()
