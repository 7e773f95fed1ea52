"""Building a batch's change records (envelope, Avro key and value, event id), here or in a
worker process.

:func:`build_records` gives per change the Avro key and value bytes (the schemas' registered
ids in their wire-format headers), the ``ce_id`` and the key text; the runner adds the
CloudEvents headers (a template per batch) and the tombstones. Where ``bus/_speedups.c`` is
built a batch is one C call (``change_records``), else the Python loop below — the same bytes.
With ``BUS_CAPTURE_WORKERS`` > 0 batches are built in a pool of worker processes (started
with ``spawn``, shared by every runner of the process) while the event loop reads the next
batch and talks to Kafka. Rows to quarantine are never built here: a batch holding one is
built by the runner's own loop.
"""

from __future__ import annotations

import asyncio
import atexit
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any

import fastavro

from adapters.capture.change_event import (
    OPS,
    ChangeEventIds,
    ChangeRecords,
    PairsForm,
    avro_name,
    event_id_prefix,
)
from adapters.capture.child_process import spawned_pool
from adapters.capture.source import Change, key_text
from bus.envelope import HeaderTemplate
from bus.kafka import OutgoingRecord
from bus.serde.encoder import Encoder, compile_encoder, string_bytes
from bus.speedups import speedups

#: One change as it travels to a worker: op, key, before, after, position, ts_ms, snapshot.
WireChange = tuple[str, Mapping[str, str | None], Mapping[str, str | None] | None,
                   Mapping[str, str | None] | None, str, int, bool]
#: What a worker returns per change: key bytes, value bytes, ce_id, key text.
Built = tuple[bytes, bytes, str, str]


@dataclass(frozen=True)
class RecordPlan:
    """Everything a worker needs to build the records of one table and column set.

    ``value_prefix`` and ``key_prefix`` are the Confluent wire-format headers (magic byte and
    schema id) the runner's encoders write, so a worker writes the same bytes without asking
    the registry.
    """

    department: str
    table: str
    engine: str
    database: str
    columns: tuple[str, ...]
    key_columns: tuple[str, ...]
    value_schema: str  # JSON text of the writer schema (hashable)
    value_prefix: bytes
    key_schema: str
    key_prefix: bytes


def wire(change: Change) -> WireChange:
    return (change.op, change.key, change.before, change.after, change.position,
            change.commit_ts_ms, change.snapshot)


class _Builder:
    """The per-plan state of a worker: encoders, envelope builder, event ids."""

    def __init__(self, plan: RecordPlan) -> None:
        import json

        self.encode_value = _encoder(json.loads(plan.value_schema), plan.value_prefix)
        self.encode_key = _encoder(json.loads(plan.key_schema), plan.key_prefix)
        self.records = ChangeRecords(plan.columns, department=plan.department, engine=plan.engine,
                                     database=plan.database, table=plan.table)
        self.event_ids = ChangeEventIds(plan.department, plan.table)
        self.key_record = key_record(plan.key_columns)
        self.accelerated: Any = speedups()
        self.native = native_plan(plan) if self.accelerated is not None else None

    def build(self, changes: Sequence[WireChange | Change], captured_ms: int) -> list[Built]:
        if self.native is not None:
            return self._build_natively(changes, captured_ms)
        return self._build(changes, captured_ms)

    def _build_natively(self, changes: Sequence[WireChange | Change],
                        captured_ms: int) -> list[Built]:
        """The same records from ``bus/_speedups.c``; it leaves the event ids of deletes and
        of images with other columns (None) to :class:`ChangeEventIds`."""
        built: list[Any] = self.accelerated.change_records(self.native, list(changes), captured_ms)
        event_id = self.event_ids.of_change
        for i, (key, value, ce_id, key_string) in enumerate(built):
            if ce_id is None:
                op, change_key, _, after = changes[i][:4]
                built[i] = (key, value, event_id(key_string, op, after or change_key), key_string)
        return built

    def _build(self, changes: Sequence[WireChange | Change], captured_ms: int) -> list[Built]:
        build, encode_value, encode_key = self.records.record, self.encode_value, self.encode_key
        event_id, key_record_of = self.event_ids.of_change, self.key_record
        out: list[Built] = []
        for op, change_key, before, after, position, ts_ms, snapshot, *_ in changes:
            key_string = key_text(change_key)
            value = encode_value(build(op, before, after, position=position, snapshot=snapshot,
                                       ts_ms=ts_ms, captured_ms=captured_ms))
            out.append((encode_key(key_record_of(change_key)), value,
                        event_id(key_string, op, after or change_key), key_string))
        return out


def outgoing_records(topic: str, changes: Sequence[Change], built: Sequence[Built],
                     template: HeaderTemplate, subject_prefix: str) -> list[OutgoingRecord]:
    """The records that publish ``changes`` (built as ``built``): each with its CloudEvents
    headers, a delete followed by its tombstone so compacted consumers forget the row."""
    accelerated = speedups()
    if accelerated is not None:  # the same, from one C call (bus/_speedups_kafka.c)
        records: list[OutgoingRecord] = accelerated.outgoing_records(
            list(built), list(changes), topic, *template.parts, subject_prefix)
        return records
    headers = template.headers
    records = []
    for change, (key, value, ce_id, key_string) in zip(changes, built, strict=True):
        event_headers = headers(ce_id, subject_prefix + key_string)
        records.append((topic, key, value, event_headers))
        if change.op == "d":
            records.append((topic, key, None, event_headers))
    return records


def native_plan(plan: RecordPlan) -> tuple[Any, ...] | None:
    """What ``change_records`` in ``bus/_speedups.c`` needs of ``plan``; None when a key
    column is not a valid Avro name (the key record would not be written as it is named)."""
    if any(avro_name(column) != column for column in plan.key_columns):
        return None
    columns = tuple(plan.columns)
    forms = {}
    for op in OPS:
        form = PairsForm(op, columns)
        forms[op] = (form.fragments, tuple(columns.index(name) for name in form.filled))
    source_head = b"".join(string_bytes(text) for text in (
        plan.department, plan.engine, plan.database, plan.table))
    return (columns, tuple(plan.key_columns), plan.key_prefix, plan.value_prefix, source_head,
            event_id_prefix(plan.department, plan.table), forms)


def key_record(key_columns: tuple[str, ...]) -> Callable[[Mapping[str, str | None]], dict[str, str]]:
    """What the key schema encodes of a change's key: every key column, missing ones empty."""
    if len(key_columns) == 1:
        (column,) = key_columns
        return lambda key: {column: key.get(column) or ""}
    return lambda key: {column: key.get(column) or "" for column in key_columns}


def _encoder(schema: dict[str, Any], prefix: bytes) -> Encoder:
    compiled = compile_encoder(schema, prefix)
    if compiled is not None:
        return compiled
    parsed = fastavro.parse_schema(schema)

    def encode(record: Any) -> bytes:
        import io

        out = io.BytesIO()
        out.write(prefix)
        fastavro.schemaless_writer(out, parsed, record)
        return out.getvalue()

    return encode


_builders: dict[RecordPlan, _Builder] = {}


def build_records(plan: RecordPlan, changes: Sequence[WireChange | Change],
                  captured_ms: int) -> list[Built]:
    """In a worker or in-process: the records of ``changes``."""
    builder = _builders.get(plan)
    if builder is None:
        builder = _builders[plan] = _Builder(plan)
    return builder.build(changes, captured_ms)


class RecordWorkers:
    """A pool of ``size`` worker processes, shared by the runners of this process."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._pool: ProcessPoolExecutor | None = None

    def _executor(self) -> ProcessPoolExecutor:
        if self._pool is None:
            self._pool = spawned_pool(self.size)
        return self._pool

    async def build(self, plan: RecordPlan, changes: Sequence[WireChange],
                    captured_ms: int) -> list[Built]:
        """The records of ``changes``, split over the pool's processes in order."""
        pool, loop = self._executor(), asyncio.get_running_loop()
        if self.size == 1 or len(changes) < 2 * self.size:
            return await loop.run_in_executor(pool, build_records, plan, changes, captured_ms)
        step = -(-len(changes) // self.size)
        parts = await asyncio.gather(*(
            loop.run_in_executor(pool, build_records, plan, changes[i:i + step], captured_ms)
            for i in range(0, len(changes), step)))
        return [built for part in parts for built in part]

    def reset(self) -> None:
        """Drop a broken pool (a worker died); the next build starts a new one."""
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)

    def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)


_shared: dict[int, RecordWorkers] = {}
_lock = threading.Lock()


def shared_workers(size: int) -> RecordWorkers:
    """The process-wide pool of ``size`` workers (created on first use, closed at exit)."""
    with _lock:
        workers = _shared.get(size)
        if workers is None:
            workers = _shared[size] = RecordWorkers(size)
            atexit.register(workers.close)
        return workers


__all__ = ["Built", "RecordPlan", "RecordWorkers", "build_records", "key_record",
           "outgoing_records", "shared_workers", "wire"]
