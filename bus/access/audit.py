"""The audit log: every read of personal data, hash-chained on the ``bus.audit`` topic.

Each API process writes one chain: record n carries the hash of record n-1, and the chain's
first record the hash of the last record on the topic when the process started — so chains
of processes that ran one after another link up too. A changed record no longer matches its
hash, a removed one breaks the link of its successor, a reordered one shows in the sequence
numbers; :func:`verify` says which and where. (A hash chain cannot notice its own tail being
cut: ``bus audit verify`` prints the head so it can be kept elsewhere.)

A read is answered only after its record is acknowledged by Kafka (acks=all, idempotent): if
the audit cannot be written, the read fails (503) rather than going unrecorded.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import time
import uuid
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from contextlib import suppress
from dataclasses import asdict, dataclass, fields, replace
from typing import Any, Protocol

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from bus.envelope import CloudEvent
from bus.kafka import TopicSpec, ensure_topics
from bus.serde.avro import AvroSerde, subject_for
from schemas.avro_schemas import load_avro_schema

__all__ = ["AUDIT_TOPIC", "AuditEntry", "AuditRecord", "AuditSink", "Finding", "KafkaAuditLog",
           "MemoryAuditLog", "read_audit", "verify"]

log = logging.getLogger(__name__)

AUDIT_TOPIC = "bus.audit"
AUDIT_EVENT_TYPE = "rongtong.audit.read"
#: Records kept per subject for ``GET /v1/me/access-log`` (the topic keeps them all).
ACCESS_LOG_LIMIT = 1000
#: One partition: the topic's order is the order the chains are checked in.
AUDIT_TOPIC_SPEC = TopicSpec.history(AUDIT_TOPIC, 1)
GENESIS = "0" * 64


@dataclass(frozen=True)
class AuditEntry:
    """What a request reports about one read."""

    request_id: str
    client: str
    purpose: str | None
    subject_kind: str
    subject: str
    endpoint: str
    fields: Sequence[str]
    masked: Sequence[str]
    result: str
    status: int


@dataclass(frozen=True)
class AuditRecord:
    chain: str
    seq: int
    prev_hash: str
    at_ms: int
    request_id: str
    client: str
    purpose: str | None
    subject_kind: str
    subject: str
    endpoint: str
    fields: tuple[str, ...]
    masked: tuple[str, ...]
    result: str
    status: int
    hash: str = ""

    def content_hash(self) -> str:
        body = {name: getattr(self, name) for name in _HASHED}
        body["fields"], body["masked"] = list(self.fields), list(self.masked)
        text = json.dumps(body, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()

    def sealed(self) -> AuditRecord:
        return replace(self, hash=self.content_hash())

    def as_avro(self) -> dict[str, Any]:
        record = asdict(self)
        record["fields"], record["masked"] = list(self.fields), list(self.masked)
        return record

    @classmethod
    def from_avro(cls, record: Mapping[str, Any]) -> AuditRecord:
        values = dict(record)
        values["fields"] = tuple(values.get("fields") or ())
        values["masked"] = tuple(values.get("masked") or ())
        return cls(**values)


#: Every field but ``hash``: what the hash covers.
_HASHED = tuple(f.name for f in fields(AuditRecord) if f.name != "hash")


class AuditSink(Protocol):
    async def append(self, entry: AuditEntry) -> AuditRecord:
        """Record ``entry``; returns once it is stored (raises when it cannot be)."""

    async def append_many(self, entries: Sequence[AuditEntry]) -> list[AuditRecord]:
        """Record ``entries`` in their order; returns once all are stored (raises when any
        cannot be: then none of the reads they record may be answered)."""

    async def for_subject(self, subject: str) -> list[AuditRecord]:
        """The records about ``subject``, oldest first (the citizen's access log)."""

    async def close(self) -> None: ...


class _Chain:
    """The next link of one writer's chain."""

    def __init__(self, previous: str) -> None:
        self.id = uuid.uuid4().hex[:16]
        self.seq = 0
        self.head = previous

    def next(self, entry: AuditEntry) -> AuditRecord:
        record = AuditRecord(
            self.id, self.seq, self.head, int(time.time() * 1000), entry.request_id, entry.client,
            entry.purpose, entry.subject_kind, entry.subject, entry.endpoint, tuple(entry.fields),
            tuple(entry.masked), entry.result, entry.status).sealed()
        self.seq += 1
        self.head = record.hash
        return record


class MemoryAuditLog:
    """An in-process audit log (unit tests, and a service started without Kafka)."""

    def __init__(self) -> None:
        self.records: list[AuditRecord] = []
        self._chain = _Chain(GENESIS)

    async def append(self, entry: AuditEntry) -> AuditRecord:
        record = self._chain.next(entry)
        self.records.append(record)
        return record

    async def append_many(self, entries: Sequence[AuditEntry]) -> list[AuditRecord]:
        return [await self.append(entry) for entry in entries]

    async def for_subject(self, subject: str) -> list[AuditRecord]:
        return [r for r in self.records if r.subject == subject]

    async def close(self) -> None:
        return None


class KafkaAuditLog:
    """Appends records to ``bus.audit``; one chain per instance, in send order."""

    def __init__(self, bootstrap: str, serde: AvroSerde, topic: str = AUDIT_TOPIC) -> None:
        self.bootstrap = bootstrap
        self.serde = serde
        self.topic = topic
        self._schema = load_avro_schema("audit_record")
        self._producer: AIOKafkaProducer | None = None
        self._chain: _Chain | None = None
        self._lock = asyncio.Lock()
        #: The latest records per subject, read back from the topic (the citizens' access logs).
        self._by_subject: dict[str, deque[AuditRecord]] = {}
        self._follower: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await ensure_topics(self.bootstrap, [replace(AUDIT_TOPIC_SPEC, name=self.topic)])
        producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap, enable_idempotence=True,
                                    acks="all", linger_ms=1)
        await producer.start()
        self._producer = producer
        self._follower = asyncio.create_task(self._follow(), name="audit-follower")

    async def append(self, entry: AuditEntry) -> AuditRecord:
        return (await self.append_many([entry]))[0]

    async def append_many(self, entries: Sequence[AuditEntry]) -> list[AuditRecord]:
        """Link and send ``entries`` in one go (one lock, the producer batches them), then wait
        for every acknowledgement: a subscription's batch of events costs one round trip."""
        if self._producer is None:
            raise RuntimeError("the audit log is not started")
        if not entries:
            return []
        encode = await self.serde.encoder(subject_for(self.topic), self._schema)
        records, deliveries = [], []
        async with self._lock:  # links and sends in one order
            if self._chain is None:
                last = await _last_record(self.bootstrap, self.serde, self.topic)
                self._chain = _Chain(last.hash if last else GENESIS)
            chain = self._chain
            try:
                for entry in entries:
                    record = chain.next(entry)
                    event = CloudEvent(AUDIT_EVENT_TYPE, "/api/audit", id=record.hash,
                                       dataclassification="sensitive_personal",
                                       correlationid=record.request_id or None)
                    deliveries.append(await self._producer.send(
                        self.topic, encode(record.as_avro()), key=chain.id.encode(),
                        headers=event.to_headers()))
                    records.append(record)
            except Exception:
                self._chain = None  # the next record starts a new chain instead of a gap
                raise
        try:
            for delivery in deliveries:
                await delivery
        except Exception:
            async with self._lock:
                if self._chain is chain:
                    self._chain = None
            raise
        return records

    async def for_subject(self, subject: str) -> list[AuditRecord]:
        return list(self._by_subject.get(subject, ()))

    async def _follow(self) -> None:
        consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, enable_auto_commit=False)
        await consumer.start()
        try:
            tp = TopicPartition(self.topic, 0)
            consumer.assign([tp])
            await consumer.seek_to_beginning(tp)
            while True:
                batch = await consumer.getmany(tp, timeout_ms=1000)
                for message in batch.get(tp, []):
                    if message.value is None:
                        continue
                    try:
                        record = AuditRecord.from_avro(await self.serde.decode(message.value))
                    except Exception as exc:  # verify reports it; the index goes on
                        log.warning("audit record at offset %d unreadable: %s", message.offset, exc)
                        continue
                    self._by_subject.setdefault(
                        record.subject, deque(maxlen=ACCESS_LOG_LIMIT)).append(record)
        finally:
            await consumer.stop()

    async def close(self) -> None:
        if self._follower is not None:
            self._follower.cancel()
            with suppress(asyncio.CancelledError):
                await self._follower
            self._follower = None
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None


async def _last_record(bootstrap: str, serde: AvroSerde, topic: str) -> AuditRecord | None:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        tp = TopicPartition(topic, 0)
        consumer.assign([tp])
        end = (await consumer.end_offsets([tp]))[tp]
        if end == 0:
            return None
        consumer.seek(tp, end - 1)
        while True:
            batch = await consumer.getmany(tp, timeout_ms=2000)
            messages = batch.get(tp, [])
            if messages:
                return AuditRecord.from_avro(await serde.decode(messages[-1].value))
    finally:
        await consumer.stop()


async def read_audit(bootstrap: str, serde: AvroSerde, topic: str = AUDIT_TOPIC
                     ) -> list[tuple[int, AuditRecord]]:
    """Every record on the topic with its offset, in order."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    records: list[tuple[int, AuditRecord]] = []
    try:
        tp = TopicPartition(topic, 0)
        consumer.assign([tp])
        await consumer.seek_to_beginning(tp)
        end = (await consumer.end_offsets([tp]))[tp]
        while await consumer.position(tp) < end:
            batch = await consumer.getmany(tp, timeout_ms=2000)
            for message in batch.get(tp, []):
                if message.offset < end and message.value is not None:
                    records.append((message.offset,
                                    AuditRecord.from_avro(await serde.decode(message.value))))
    finally:
        await consumer.stop()
    return records


@dataclass(frozen=True)
class Finding:
    """A broken spot in the log: what is wrong and where (offset or line, chain, seq)."""

    position: int
    chain: str
    seq: int
    problem: str

    def __str__(self) -> str:
        return f"at {self.position} (chain {self.chain}, record {self.seq}): {self.problem}"


@dataclass
class _ChainState:
    seq: int
    head: str


def verify(records: Iterable[tuple[int, AuditRecord]]) -> tuple[list[Finding], dict[str, str]]:
    """Check every hash and link; the findings and each chain's head hash."""
    findings: list[Finding] = []
    chains: dict[str, _ChainState] = {}
    seen: set[str] = {GENESIS}
    for position, record in records:
        state = chains.get(record.chain)
        if record.content_hash() != record.hash:
            findings.append(Finding(position, record.chain, record.seq,
                                    "changed: its content does not match its hash"))
        if state is None:
            if record.seq != 0:
                findings.append(Finding(position, record.chain, record.seq,
                                        f"removed: records 0–{record.seq - 1} of this chain are missing"))
            elif record.prev_hash not in seen:
                findings.append(Finding(position, record.chain, record.seq,
                                        "removed: the record this chain starts from is missing"))
        elif record.seq <= state.seq:
            findings.append(Finding(position, record.chain, record.seq,
                                    f"reordered or repeated: comes after record {state.seq}"))
        elif record.seq != state.seq + 1:
            missing = (f"record {state.seq + 1}" if record.seq == state.seq + 2
                       else f"records {state.seq + 1}–{record.seq - 1}")
            findings.append(Finding(position, record.chain, record.seq,
                                    f"removed: {missing} of this chain missing before it"))
        elif record.prev_hash != state.head:
            findings.append(Finding(position, record.chain, record.seq,
                                    "broken link: prev_hash is not the previous record's hash"))
        if state is None:
            chains[record.chain] = _ChainState(record.seq, record.hash)
        elif record.seq > state.seq:
            state.seq, state.head = record.seq, record.hash
        seen.add(record.hash)
    return findings, {chain: state.head for chain, state in chains.items()}
