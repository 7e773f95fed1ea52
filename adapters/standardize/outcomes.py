"""What standardizing one legacy row yields, encoded: a canonical event or a quarantine record.

The stage and ``bus quarantine replay`` both build their messages here, so a row replayed
after a mapping fix is published exactly as the stage would have published it.
"""

from __future__ import annotations

from collections.abc import Mapping as MappingType
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from adapters.standardize.entity import Entity, canonical_entity
from adapters.standardize.mapping import Mapping, Rejection
from bus.envelope import CloudEvent
from bus.serde.avro import AvroSerde, subject_for
from schemas.avro_schemas import load_avro_schema

__all__ = ["QUARANTINE_EVENT_TYPE", "Outcome", "OutcomeEncoder", "RawOrigin"]

QUARANTINE_EVENT_TYPE = "rongtong.quarantine.record.rejected"


@dataclass(frozen=True)
class Outcome:
    """What the stage decided for one raw event: a topic and an encoded message."""

    topic: str
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes]]
    rule_id: str | None = None

    @property
    def kind(self) -> str:
        """``accepted``, ``deleted`` (a canonical tombstone) or ``quarantined``."""
        if self.rule_id is not None:
            return "quarantined"
        return "deleted" if self.value is None else "accepted"


@dataclass(frozen=True)
class RawOrigin:
    """Where the raw event of a quarantined row sits."""

    topic: str
    partition: int
    offset: int
    event_id: str | None


class OutcomeEncoder:
    """Encodes the canonical event or the quarantine record of one row of ``mapping``."""

    def __init__(self, mapping: Mapping, serde: AvroSerde) -> None:
        self.mapping = mapping
        self.entity: Entity = canonical_entity(mapping.entity)
        self.quarantine_schema = load_avro_schema("quarantined_record")
        self.serde = serde

    @property
    def event_source(self) -> str:
        return f"/standardize/{self.mapping.department}/{self.mapping.table}"

    async def canonical(self, cause: CloudEvent, raw_event_id: str, op: str,
                        row: MappingType[str, str | None], fields: dict[str, Any],
                        updated_ms: int) -> Outcome:
        """The upsert (or, for ``op`` d, the tombstone) of ``fields`` on ``std.<entity>``.

        ``cause`` is the event the new one follows (its ``causationid``); ``raw_event_id`` the
        ce_id of the legacy change the row came from.
        """
        entity, m = self.entity, self.mapping
        key_value = fields[entity.key_field]
        key = await self.serde.encode(subject_for(m.target_topic, is_key=True), entity.key_schema,
                                      {entity.key_field: key_value})
        event = cause.caused(
            f"rongtong.std.{entity.name}.{'deleted' if op == 'd' else 'upserted'}",
            self.event_source, subject=f"{entity.name}/{key_value}",
            dataclassification=entity.classification,
        )
        if op == "d":
            return Outcome(m.target_topic, key, None, event.to_headers())
        value = entity.complete(fields)
        value["source"] = {
            "department": m.department, "table": m.table,
            "record_key": row.get(m.key_column) or "", "event_id": raw_event_id, "op": op,
            "updated_at": datetime.fromtimestamp(updated_ms / 1000, UTC) if updated_ms else None,
        }
        encoded = await self.serde.encode(subject_for(m.target_topic), entity.schema, value)
        return Outcome(m.target_topic, key, encoded, event.to_headers())

    async def quarantine(self, origin: RawOrigin, cause: CloudEvent | None, rejection: Rejection,
                         op: str | None, row: MappingType[str, str | None] | None) -> Outcome:
        """The quarantine record of a refused row (or of an event that carries none)."""
        m = self.mapping
        record_key = (row or {}).get(m.key_column)
        value = {
            "rule_id": rejection.rule_id, "field": rejection.column,
            "message_zh": rejection.message_zh, "message_en": rejection.message_en,
            "department": m.department, "table": m.table, "record_key": record_key, "op": op,
            "original": None if row is None else dict(row),
            "source_event_id": cause.id if cause else origin.event_id,
            "source_topic": origin.topic, "source_partition": origin.partition,
            "source_offset": origin.offset, "quarantined_at": datetime.now(UTC),
        }
        encoded = await self.serde.encode(subject_for(m.quarantine_topic),
                                          self.quarantine_schema, value)
        event = (cause.caused(QUARANTINE_EVENT_TYPE, self.event_source,
                              dataclassification="sensitive_personal")
                 if cause else CloudEvent(QUARANTINE_EVENT_TYPE, self.event_source,
                                          dataclassification="sensitive_personal"))
        return Outcome(m.quarantine_topic, (record_key or "").encode("utf-8") or None, encoded,
                       event.to_headers(), rejection.rule_id)
