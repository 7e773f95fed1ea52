"""Data quality from the log: accepted and quarantined legacy records per department, table, rule.

Kafka is the source of truth, so the figures are a fold over what the standardize stage wrote:
canonical events on ``std.<entity>`` and rejected rows on ``quarantine.<dept>.<table>``.

How a record counts (docs/quality.md):

* A **record** is one legacy row, ``(department, table, record key)``. Its state is that of the
  **latest** event about it: a row quarantined and later fixed in the legacy system (or replayed
  after a mapping fix) counts as accepted once, not as one rejection and one acceptance.
* "Latest" compares the events' Kafka timestamps (the stage's clock); at the same millisecond
  a canonical event wins over a quarantine record, then the topic offset decides.
* A tombstone on ``std.<entity>`` (a delete) turns the records that last published its key
  into **deleted**: deleted rows are neither accepted nor quarantined.
* A quarantine record without a record key (an undecodable event, a change without a row image)
  counts as a record of its own. ``event.tombstone_without_delete`` is not a row at all (earlier
  stages quarantined the raw tombstone the capture writes after every delete; the stage now
  skips it) and counts only as an event.

:class:`QualityAggregate` is pure (no I/O); :func:`canonical_seen` and :func:`quarantine_seen`
turn decoded Kafka records into its inputs; :class:`LogReader` feeds it from Kafka.
"""

from __future__ import annotations

import html
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition

from bus.envelope import CloudEvent, InvalidEnvelope, header_value
from bus.serde.avro import AvroSerde
from bus.serde.registry_client import RegistryError

__all__ = ["CanonicalSeen", "LogPosition", "LogReader", "QualityAggregate", "QualityReport",
           "QuarantineSeen", "RuleQuality", "TableQuality", "canonical_seen", "is_quality_topic",
           "quality_consumer", "quarantine_seen", "read_quality", "render_html"]

#: Rules that reject an event, not a legacy row: counted as events, never as records.
NOT_A_ROW_RULES = frozenset({"event.tombstone_without_delete"})
#: Record keys shown per rule as examples.
EXAMPLES_PER_RULE = 5
_STANDARDIZE_SOURCE = re.compile(r"^/standardize/(?P<department>[^/]+)/(?P<table>[^/]+)$")

State = Literal["accepted", "quarantined", "deleted"]


@dataclass(frozen=True, order=True)
class LogPosition:
    """Where an event sits in the log; the greater position is the later event about a record."""

    timestamp_ms: int
    rank: int  # 0 quarantine, 1 canonical: at the same millisecond the canonical event wins
    topic: str
    partition: int
    offset: int


@dataclass(frozen=True)
class CanonicalSeen:
    """A canonical event, as quality needs it. ``record_key`` is None for a tombstone."""

    department: str
    table: str
    entity: str
    record_key: str | None
    subject: str
    position: LogPosition
    event_id: str | None = None
    causation_id: str | None = None

    @property
    def deleted(self) -> bool:
        return self.record_key is None


@dataclass(frozen=True)
class QuarantineSeen:
    """A quarantine record with its event: enough to count it and to replay it."""

    department: str
    table: str
    record_key: str | None
    rule_id: str
    message_zh: str
    message_en: str
    column: str | None
    op: str | None
    original: Mapping[str, str | None] | None
    source_event_id: str | None
    position: LogPosition
    event: CloudEvent | None = None

    @property
    def event_id(self) -> str | None:
        return self.event.id if self.event else None


@dataclass(frozen=True)
class RuleQuality:
    rule_id: str
    records: int
    message_zh: str
    message_en: str
    examples: tuple[str, ...]

    def as_json(self) -> dict[str, Any]:
        return {"rule_id": self.rule_id, "records": self.records, "message_zh": self.message_zh,
                "message_en": self.message_en, "examples": list(self.examples)}


@dataclass(frozen=True)
class TableQuality:
    """One legacy table: distinct records by latest state, events as written, top reasons."""

    department: str
    table: str
    entity: str | None
    accepted: int
    quarantined: int
    deleted: int
    events: Mapping[str, int]
    rules: tuple[RuleQuality, ...]

    @property
    def accepted_ratio(self) -> float | None:
        """Accepted among the records that exist (accepted + quarantined); None when none do."""
        live = self.accepted + self.quarantined
        return round(self.accepted / live, 4) if live else None

    def as_json(self) -> dict[str, Any]:
        return {"department": self.department, "table": self.table, "entity": self.entity,
                "accepted": self.accepted, "quarantined": self.quarantined,
                "deleted": self.deleted, "accepted_ratio": self.accepted_ratio,
                "events": dict(self.events), "rules": [r.as_json() for r in self.rules]}


@dataclass(frozen=True)
class QualityReport:
    tables: tuple[TableQuality, ...]
    generated_at: datetime

    def totals(self) -> dict[str, Any]:
        accepted = sum(t.accepted for t in self.tables)
        quarantined = sum(t.quarantined for t in self.tables)
        live = accepted + quarantined
        return {"accepted": accepted, "quarantined": quarantined,
                "deleted": sum(t.deleted for t in self.tables),
                "accepted_ratio": round(accepted / live, 4) if live else None}

    def departments(self) -> list[dict[str, Any]]:
        names = sorted({t.department for t in self.tables})
        return [{"department": name, **QualityReport(
            tuple(t for t in self.tables if t.department == name), self.generated_at).totals()}
            for name in names]

    def as_json(self) -> dict[str, Any]:
        return {"generated_at": self.generated_at.isoformat(timespec="seconds"),
                "totals": self.totals(), "departments": self.departments(),
                "tables": [t.as_json() for t in self.tables]}


@dataclass
class _Record:
    state: State
    position: LogPosition
    subject: str | None = None
    rejection: QuarantineSeen | None = None


@dataclass
class _Table:
    entity: str | None = None
    counts: Counter[State] = field(default_factory=Counter)
    events: Counter[str] = field(default_factory=Counter)
    # rule id -> record key -> its latest quarantine record
    rules: dict[str, dict[str, QuarantineSeen]] = field(default_factory=dict)


class QualityAggregate:
    """Folds canonical and quarantine events into counts per department, table and rule.

    Feed it with :meth:`observe` in any interleaving of topics (each partition in its order);
    ask :meth:`report` at any time. ``track_causes`` keeps the causation id of every canonical
    event, which replay needs to recognise quarantine records it already published.
    """

    def __init__(self, *, track_causes: bool = False) -> None:
        self._tables: dict[tuple[str, str], _Table] = {}
        self._records: dict[tuple[str, str, str], _Record] = {}
        # (department, table, subject) -> record keys whose latest state published that subject
        self._subjects: dict[tuple[str, str, str], set[str]] = {}
        self._track_causes = track_causes
        self.causes: set[str] = set()

    def expect(self, department: str, table: str, entity: str | None = None) -> None:
        """Make a table appear in reports (with zeros) before any of its events arrive."""
        table_state = self._table(department, table)
        table_state.entity = table_state.entity or entity

    def observe(self, seen: CanonicalSeen | QuarantineSeen) -> None:
        if isinstance(seen, CanonicalSeen):
            self._observe_canonical(seen)
        else:
            self._observe_quarantine(seen)

    def _table(self, department: str, table: str) -> _Table:
        state = self._tables.get((department, table))
        if state is None:
            state = self._tables[(department, table)] = _Table()
        return state

    def _observe_canonical(self, seen: CanonicalSeen) -> None:
        table = self._table(seen.department, seen.table)
        table.entity = table.entity or seen.entity
        if self._track_causes and seen.causation_id:
            self.causes.add(seen.causation_id)
        if seen.record_key is None:
            table.events["tombstones"] += 1
            for key in list(self._subjects.get((seen.department, seen.table, seen.subject), ())):
                self._move(seen.department, seen.table, key, "deleted", seen.position)
            return
        table.events["canonical"] += 1
        key = seen.record_key or f"@{seen.subject}"
        self._move(seen.department, seen.table, key, "accepted", seen.position, subject=seen.subject)

    def _observe_quarantine(self, seen: QuarantineSeen) -> None:
        table = self._table(seen.department, seen.table)
        if seen.rule_id in NOT_A_ROW_RULES:
            table.events["not_a_row"] += 1
            return
        table.events["quarantined"] += 1
        p = seen.position
        key = seen.record_key or f"@{p.topic}/{p.partition}/{p.offset}"
        self._move(seen.department, seen.table, key, "quarantined", p, rejection=seen)

    def _move(self, department: str, table: str, key: str, state: State, position: LogPosition,
              *, subject: str | None = None, rejection: QuarantineSeen | None = None) -> None:
        """Set the record's state unless it already knows a later event."""
        record = self._records.get((department, table, key))
        if record is not None and record.position >= position:
            return
        counts = self._table(department, table)
        if record is not None:
            self._leave(department, table, key, record, counts)
        record = _Record(state, position, subject, rejection)
        self._records[(department, table, key)] = record
        counts.counts[state] += 1
        if subject is not None:
            self._subjects.setdefault((department, table, subject), set()).add(key)
        if rejection is not None:
            counts.rules.setdefault(rejection.rule_id, {})[key] = rejection

    def _leave(self, department: str, table: str, key: str, record: _Record, counts: _Table) -> None:
        counts.counts[record.state] -= 1
        if record.subject is not None:
            keys = self._subjects.get((department, table, record.subject), set())
            keys.discard(key)
            if not keys:
                self._subjects.pop((department, table, record.subject), None)
        if record.rejection is not None:
            members = counts.rules.get(record.rejection.rule_id, {})
            members.pop(key, None)
            if not members:
                counts.rules.pop(record.rejection.rule_id, None)

    def report(self, department: str | None = None, table: str | None = None) -> QualityReport:
        """Figures of every table, or of those matching ``department`` and ``table``."""
        tables = []
        for (dept, name), state in sorted(self._tables.items()):
            if (department is None or dept == department) and (table is None or name == table):
                tables.append(TableQuality(
                    dept, name, state.entity, state.counts["accepted"], state.counts["quarantined"],
                    state.counts["deleted"],
                    {kind: state.events[kind] for kind in
                     ("canonical", "tombstones", "quarantined", "not_a_row")},
                    tuple(_rule_quality(rule, members) for rule, members in sorted(
                        state.rules.items(), key=lambda item: (-len(item[1]), item[0])))))
        return QualityReport(tuple(tables), datetime.now(UTC))

    def departments(self) -> set[str]:
        return {department for department, _ in self._tables}

    def pending(self, department: str, table: str) -> list[QuarantineSeen]:
        """Quarantine records that are still the latest state of their record, oldest first."""
        state = self._tables.get((department, table))
        if state is None:
            return []
        pending = [seen for members in state.rules.values() for seen in members.values()]
        return sorted(pending, key=lambda seen: seen.position)


def _rule_quality(rule_id: str, members: Mapping[str, QuarantineSeen]) -> RuleQuality:
    messages = Counter((seen.message_zh, seen.message_en) for seen in members.values())
    (message_zh, message_en), _ = min(messages.items(), key=lambda item: (-item[1], item[0]))
    examples = tuple(sorted(key for key in members if not key.startswith("@"))[:EXAMPLES_PER_RULE])
    return RuleQuality(rule_id, len(members), message_zh, message_en, examples)


# --- from Kafka records ---------------------------------------------------------------------

def is_quality_topic(topic: str) -> bool:
    return topic.startswith(("std.", "quarantine."))


def _position(record: ConsumerRecord[Any, Any], rank: int) -> LogPosition:
    return LogPosition(int(record.timestamp), rank, record.topic, record.partition, record.offset)


def canonical_seen(record: ConsumerRecord[Any, Any], value: Mapping[str, Any] | None
                   ) -> CanonicalSeen | None:
    """A ``std.<entity>`` record (``value`` decoded, None for a tombstone) or None when it was
    not written by the standardize stage."""
    entity = record.topic.removeprefix("std.")
    subject = header_value(record.headers, "ce_subject") or (record.key or b"").hex()
    causation = header_value(record.headers, "causationid")
    event_id = header_value(record.headers, "ce_id")
    if value is not None:
        source = value.get("source") or {}
        if not source.get("department") or not source.get("table"):
            return None
        return CanonicalSeen(str(source["department"]), str(source["table"]), entity,
                             str(source.get("record_key") or ""), subject,
                             _position(record, 1), event_id, causation)
    match = _STANDARDIZE_SOURCE.match(header_value(record.headers, "ce_source") or "")
    if match is None:
        return None
    return CanonicalSeen(match["department"], match["table"], entity, None, subject,
                         _position(record, 1), event_id, causation)


def quarantine_seen(record: ConsumerRecord[Any, Any], value: Mapping[str, Any]) -> QuarantineSeen:
    """A ``quarantine.<dept>.<table>`` record with its decoded value."""
    try:
        event: CloudEvent | None = CloudEvent.from_headers(record.headers)
    except InvalidEnvelope:
        event = None
    original = value.get("original")
    return QuarantineSeen(
        str(value["department"]), str(value["table"]), value.get("record_key"),
        str(value["rule_id"]), str(value["message_zh"]), str(value["message_en"]),
        value.get("field"), value.get("op"), None if original is None else dict(original),
        value.get("source_event_id"), _position(record, 0), event)


class LogReader:
    """Reads ``std.*`` and ``quarantine.*`` (read_committed, from the beginning) into an aggregate.

    ``topics`` limits it to those topics; otherwise :meth:`assign` picks up every quality topic
    the cluster has, and may be called again to add new ones without losing positions.
    """

    def __init__(self, consumer: AIOKafkaConsumer, serde: AvroSerde, aggregate: QualityAggregate,
                 topics: Sequence[str] | None = None) -> None:
        self.consumer = consumer
        self.serde = serde
        self.aggregate = aggregate
        self.topics = topics
        self.undecodable = 0

    async def assign(self) -> list[TopicPartition]:
        # consumer.topics() fetches every topic's metadata but keeps only the names; the
        # consumer's own metadata knows no partitions of topics it never tracked.
        cluster = await self.consumer._client.fetch_all_metadata()
        names = sorted(t for t in cluster.topics() if (t in self.topics if self.topics is not None
                                                      else is_quality_topic(t)))
        tps = [TopicPartition(t, p) for t in names
               for p in sorted(cluster.partitions_for_topic(t) or ())]
        current = self.consumer.assignment()
        if set(tps) != set(current):
            positions = {tp: await self.consumer.position(tp) for tp in current}
            self.consumer.assign(tps)
            for tp in tps:
                if tp in positions:
                    self.consumer.seek(tp, positions[tp])
                else:
                    await self.consumer.seek_to_beginning(tp)
        return tps

    async def poll(self, timeout_ms: int = 500) -> int:
        """Fold one fetch into the aggregate; the number of records read."""
        batches = await self.consumer.getmany(timeout_ms=timeout_ms, max_records=2000)
        count = 0
        for records in batches.values():
            for record in records:
                count += 1
                seen = await self._seen(record)
                if seen is not None:
                    self.aggregate.observe(seen)
        return count

    async def _seen(self, record: ConsumerRecord[Any, Any]) -> CanonicalSeen | QuarantineSeen | None:
        value = None
        if record.value is not None:
            try:
                value = await self.serde.decode(record.value)
            except RegistryError as exc:
                if exc.status >= 500:
                    raise  # the registry is in trouble, not the record
                self.undecodable += 1
                return None
            except (ValueError, KeyError, EOFError, TypeError):
                self.undecodable += 1  # not Avro of the registry: nobody's figures
                return None
        if record.topic.startswith("std."):
            return canonical_seen(record, value)
        if value is None:
            return None
        return quarantine_seen(record, value)

    async def read_to_end(self) -> None:
        """Assign and read until every partition reaches the end it had when this started."""
        tps = await self.assign()
        if not tps:
            return
        end = await self.consumer.end_offsets(tps)
        while not await self.caught_up(end):
            await self.poll()

    async def caught_up(self, end: Mapping[TopicPartition, int]) -> bool:
        for tp, offset in end.items():
            if await self.consumer.position(tp) < offset:
                return False
        return True


def quality_consumer(bootstrap: str) -> AIOKafkaConsumer:
    """A group-less consumer that sees committed transactions only."""
    return AIOKafkaConsumer(bootstrap_servers=bootstrap, isolation_level="read_committed",
                            enable_auto_commit=False, auto_offset_reset="earliest",
                            metadata_max_age_ms=10_000)


async def read_quality(bootstrap: str, serde: AvroSerde, aggregate: QualityAggregate,
                       topics: Sequence[str] | None = None) -> QualityAggregate:
    """``aggregate`` fed with everything committed so far on the quality topics."""
    consumer = quality_consumer(bootstrap)
    try:
        await consumer.start()
        await LogReader(consumer, serde, aggregate, topics).read_to_end()
    finally:
        await consumer.stop()
    return aggregate


# --- rendering ------------------------------------------------------------------------------

def _percent(ratio: float | None) -> str:
    return "—" if ratio is None else f"{ratio * 100:.1f}%"


def render_html(report: QualityReport, title: str = "Rongtong data quality 数据质量报告") -> str:
    """A self-contained HTML page of ``report``: a summary per table, then its top reasons."""
    e = html.escape
    rows = []
    for t in report.tables:
        rows.append(f"<tr><td>{e(t.department)}</td><td>{e(t.table)}</td><td>{e(t.entity or '')}</td>"
                    f"<td class=n>{t.accepted}</td><td class=n>{t.quarantined}</td>"
                    f"<td class=n>{t.deleted}</td><td class=n>{_percent(t.accepted_ratio)}</td></tr>")
    reasons = []
    for t in report.tables:
        for r in t.rules:
            reasons.append(f"<tr><td>{e(t.department)}.{e(t.table)}</td><td><code>{e(r.rule_id)}</code>"
                           f"</td><td class=n>{r.records}</td><td>{e(r.message_zh)}<br>"
                           f"<small>{e(r.message_en)}</small></td><td>{e(', '.join(r.examples))}</td></tr>")
    totals = report.totals()
    return "\n".join([
        "<!doctype html>", '<html lang="zh-CN"><head><meta charset="utf-8">',
        f"<title>{e(title)}</title>",
        "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;margin-bottom:2em}"
        "td,th{border:1px solid #ccc;padding:4px 8px;text-align:left}td.n{text-align:right}"
        "th{background:#f4f4f4}</style></head><body>",
        f"<h1>{e(title)}</h1>",
        f"<p>Generated {e(report.generated_at.isoformat(timespec='seconds'))}: "
        f"{totals['accepted']} accepted, {totals['quarantined']} quarantined, "
        f"{totals['deleted']} deleted records ({_percent(totals['accepted_ratio'])} accepted). "
        "Each legacy record counts once, in its latest state.</p>",
        "<h2>Tables 各表</h2><table><tr><th>department</th><th>table</th><th>entity</th>"
        "<th>accepted</th><th>quarantined</th><th>deleted</th><th>accepted %</th></tr>",
        *rows, "</table>",
        "<h2>Top reasons 主要原因</h2><table><tr><th>table</th><th>rule</th><th>records</th>"
        "<th>message</th><th>example record keys</th></tr>",
        *reasons, "</table></body></html>", ""])
