"""The write-back's topics as the AsyncAPI document shows them: inputs, conflicts, quarantine."""

from __future__ import annotations

from collections.abc import Sequence

from adapters.sinks.config import SinkConfig
from adapters.sinks.runner import CONFLICT_EVENT_TYPE, QUARANTINE_EVENT_TYPE
from bus.governance.asyncapi import TopicDocument
from bus.kafka import TopicSpec
from schemas.avro_schemas import load_avro_schema

__all__ = ["writeback_topic_documents"]

_HISTORY = TopicSpec.history("_").config
_TEXT_KEY = {"type": "string", "description": "The record's key as UTF-8 text."}


def _conflicts(sink: SinkConfig) -> TopicDocument:
    return TopicDocument(
        sink.conflict_topic, f"Write-back conflicts of {sink.name}",
        f"The legacy row changed since the bus wrote it (or was never the bus's) where an event "
        f"wanted to write; policy {sink.conflict_policy}. Both images, the reason and the input "
        "event; keyed by the legacy key as text.", CONFLICT_EVENT_TYPE,
        load_avro_schema("writeback_conflict"), key_json_schema=_TEXT_KEY,
        classification="sensitive_personal", config=_HISTORY,
        producers=(f"bus sinks run ({sink.name})",), consumers=("operators",),
        tags=("writeback", sink.department))


def writeback_topic_documents(sinks: Sequence[SinkConfig]) -> list[TopicDocument]:
    """The input topic of every sink (once), and each sink's conflict and quarantine topics."""
    docs: list[TopicDocument] = []
    inputs: dict[str, list[SinkConfig]] = {}
    for sink in sinks:
        inputs.setdefault(sink.topic, []).append(sink)
    for topic, readers in sorted(inputs.items()):
        entity = readers[0].mapping.entity
        value = load_avro_schema(entity)
        docs.append(TopicDocument(
            topic, f"Requests to write back: {entity.replace('_', ' ')}",
            f"{value['doc']} Events rongtong.std.{entity}.upserted, keyed by "
            f"{load_avro_schema(f'{entity}_key')['fields'][0]['name']}; written back into "
            f"{', '.join(s.name for s in readers)} (docs/writeback.md).",
            f"rongtong.std.{entity}", value, load_avro_schema(f"{entity}_key"),
            classification="sensitive_personal", config=_HISTORY,
            producers=("bus projections run (newborn_case)", "POST /v1/events"),
            consumers=tuple(f"bus sinks run ({s.name})" for s in readers), tags=("canonical",)))
    for sink in sinks:
        if sink.engine != "files":  # an export is never changed by its department
            docs.append(_conflicts(sink))
        docs.append(TopicDocument(
            sink.quarantine_topic, f"Events {sink.name} could not write",
            "Events that could not become a legacy row (a missing or too long value, a character "
            "the legacy encoding lacks, a code without a local code, a delete), with the rule id, "
            "reasons in Chinese and English and the event; keyed by the event id.",
            QUARANTINE_EVENT_TYPE, load_avro_schema("quarantined_record"),
            key_json_schema=_TEXT_KEY, classification="sensitive_personal", config=_HISTORY,
            producers=(f"bus sinks run ({sink.name})",), consumers=("operators",),
            tags=("writeback", "quarantine", sink.department)))
    return docs
