"""``bus quarantine replay``: quarantined rows through the current (fixed) mapping again.

Which rows are tried: for each selected table, the quarantine records that are still the
latest state of their legacy record (``QualityAggregate.pending``, read from the log) and that
no canonical event names as its cause. A row that passes is published to ``std.<entity>`` by
the stage's own encoder (``OutcomeEncoder``) with ``causationid`` = the quarantine event's
``ce_id``, in a Kafka transaction; that later canonical event makes the record accepted, so a
second replay finds nothing left to publish. A row that was changed again in the legacy system
after it was quarantined is skipped: its newer event already stands, and an old row must not
overwrite it. Rows that still fail are only reported — replay never writes to quarantine, so
nothing loops.

Replays share one transactional id, so two replays at once fence each other instead of
publishing a row twice.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaProducer

from adapters.standardize.mapping import Mapping, Rejection
from adapters.standardize.outcomes import QUARANTINE_EVENT_TYPE, Outcome, OutcomeEncoder
from bus.envelope import CloudEvent
from bus.governance.quality import QualityAggregate, QuarantineSeen, read_quality
from bus.kafka import TopicSpec, ensure_topics, transactional_producer
from bus.serde.avro import AvroSerde
from bus.serde.registry_client import RegistryClient
from bus.standards.dates import normalize_datetime
from bus.standards.errors import StandardViolation

__all__ = ["REPLAY_TRANSACTIONAL_ID", "NotReplayable", "Passed", "StillFailing", "TableReplay",
           "candidates", "cause_of", "decide", "replay", "replay_table"]

REPLAY_TRANSACTIONAL_ID = "bus.quarantine.replay"
#: Rows published per Kafka transaction.
TRANSACTION_SIZE = 500
#: Rules about an event or a capture, not about a row a mapping could now accept.
_NOT_ROW_RULES = ("event.", "capture.")


@dataclass(frozen=True)
class Passed:
    seen: QuarantineSeen
    fields: dict[str, Any]


@dataclass(frozen=True)
class StillFailing:
    seen: QuarantineSeen
    rejection: Rejection


@dataclass(frozen=True)
class NotReplayable:
    seen: QuarantineSeen
    reason: str


Decision = Passed | StillFailing | NotReplayable


def decide(mapping: Mapping, seen: QuarantineSeen) -> Decision:
    """What the current ``mapping`` makes of a quarantined row (no I/O)."""
    if seen.rule_id.startswith(_NOT_ROW_RULES):
        return NotReplayable(seen, f"{seen.rule_id} is about the event, not the row")
    if seen.original is None:
        return NotReplayable(seen, "the quarantine record carries no row")
    result = mapping.apply(seen.original)
    if isinstance(result, Rejection):
        return StillFailing(seen, result)
    return Passed(seen, result)


def cause_of(seen: QuarantineSeen) -> CloudEvent:
    """The quarantine event a replayed row follows; a stable id even without its headers."""
    if seen.event is not None:
        return seen.event
    p = seen.position
    return CloudEvent(QUARANTINE_EVENT_TYPE, f"/standardize/{seen.department}/{seen.table}",
                      id=f"{p.topic}/{p.partition}/{p.offset}")


def candidates(aggregate: QualityAggregate, mapping: Mapping) -> list[QuarantineSeen]:
    """The quarantine records of ``mapping``'s table a replay should try, oldest first.

    ``aggregate`` must track causes (``QualityAggregate(track_causes=True)``).
    """
    return [seen for seen in aggregate.pending(mapping.department, mapping.table)
            if cause_of(seen).id not in aggregate.causes]


def updated_ms_of(mapping: Mapping, row: Any) -> int:
    """The legacy row's update time (its ``updated_column``) in ms, 0 when it has none."""
    if mapping.updated_column is None or not row.get(mapping.updated_column):
        return 0
    try:
        return int(normalize_datetime(row[mapping.updated_column]).timestamp() * 1000)
    except StandardViolation:
        return 0


@dataclass
class TableReplay:
    """What a replay did for one table."""

    department: str
    table: str
    entity: str
    dry_run: bool
    candidates: int = 0
    passed: int = 0
    published: int = 0
    still_failing: Counter[str] = field(default_factory=Counter)
    not_replayable: int = 0

    def as_json(self) -> dict[str, Any]:
        return {"department": self.department, "table": self.table, "entity": self.entity,
                "dry_run": self.dry_run, "candidates": self.candidates, "passed": self.passed,
                "published": self.published, "still_failing": dict(sorted(self.still_failing.items())),
                "not_replayable": self.not_replayable}


async def replay_table(mapping: Mapping, aggregate: QualityAggregate, encoder: OutcomeEncoder,
                       producer: AIOKafkaProducer | None) -> TableReplay:
    """Try ``mapping`` on its pending quarantine records; publish those that pass unless
    ``producer`` is None (a dry run)."""
    result = TableReplay(mapping.department, mapping.table, mapping.entity, producer is None)
    outcomes: list[Outcome] = []
    for seen in candidates(aggregate, mapping):
        result.candidates += 1
        decision = decide(mapping, seen)
        if isinstance(decision, StillFailing):
            result.still_failing[decision.rejection.rule_id] += 1
        elif isinstance(decision, NotReplayable):
            result.not_replayable += 1
        else:
            result.passed += 1
            row = seen.original or {}
            cause = cause_of(seen)
            outcomes.append(await encoder.canonical(
                cause, seen.source_event_id or cause.id, seen.op or "u", row, decision.fields,
                updated_ms_of(mapping, row)))
    if producer is not None:
        for start in range(0, len(outcomes), TRANSACTION_SIZE):
            chunk = outcomes[start:start + TRANSACTION_SIZE]
            async with producer.transaction():
                for outcome in chunk:
                    await producer.send(outcome.topic, key=outcome.key, value=outcome.value,
                                        headers=outcome.headers)
            result.published += len(chunk)
    return result


async def replay(bootstrap: str, registry_url: str, mappings: Sequence[Mapping], *,
                 dry_run: bool = False) -> list[TableReplay]:
    """Replay the quarantine of every table of ``mappings`` through that mapping."""
    async with RegistryClient(registry_url) as registry:
        serde = AvroSerde(registry)
        aggregate = QualityAggregate(track_causes=True)
        topics = sorted({m.quarantine_topic for m in mappings} | {m.target_topic for m in mappings})
        await read_quality(bootstrap, serde, aggregate, topics)
        producer: AIOKafkaProducer | None = None
        if not dry_run:
            await ensure_topics(bootstrap, [TopicSpec.history(m.target_topic) for m in mappings])
            producer = transactional_producer(bootstrap, REPLAY_TRANSACTIONAL_ID)
            await producer.start()
        try:
            return [await replay_table(m, aggregate, OutcomeEncoder(m, serde), producer)
                    for m in mappings]
        finally:
            if producer is not None:
                await producer.stop()
