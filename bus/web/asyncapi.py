"""``/asyncapi.json``: the AsyncAPI 3.0 document of every topic, generated at start-up."""

from __future__ import annotations

import importlib.metadata
import json
from collections.abc import Sequence
from contextlib import suppress
from typing import Any

from aiohttp import web

from adapters.capture.change_event import change_key_schema, change_value_schema
from adapters.capture.config import SourceConfig, load_configured_sources
from adapters.capture.runner import CHANGE_EVENT_TYPE, QUARANTINE_EVENT_TYPE
from adapters.sinks.config import ConfigError as SinkConfigError
from adapters.sinks.config import load_configured_sinks
from adapters.sinks.topics import writeback_topic_documents
from bus.access.audit import AUDIT_EVENT_TYPE, AUDIT_TOPIC
from bus.governance.asyncapi import TopicDocument, asyncapi_document
from bus.governance.catalog import CLASSIFICATIONS
from bus.governance.declarations import ProjectionDeclaration
from bus.governance.sources import (
    CanonicalEntity,
    MappingDocument,
    load_entities,
    load_mappings,
    load_schema,
)
from bus.kafka import TopicSpec
from bus.positions import POSITIONS_TOPIC, POSITIONS_TOPIC_SPEC
from bus.settings import Settings
from bus.webhooks.dispatcher import DEAD_LETTER_TOPIC, DEAD_LETTER_TYPE
from projections.citizen_profile.declaration import DECLARATION as CITIZEN_PROFILE
from projections.enterprise_profile.declaration import DECLARATION as ENTERPRISE_PROFILE
from projections.newborn_case.declaration import DECLARATION as NEWBORN_CASE
from projections.profiles.publisher import CONFLICTS_TOPIC
from projections.resolution.live import DECISIONS_TOPIC

ASYNCAPI = web.AppKey("asyncapi", dict[str, Any])
_HISTORY = TopicSpec.history("_").config
_COMPACTED = TopicSpec.compacted("_").config
_TEXT_KEY = {"type": "string", "description": "The record's key as UTF-8 text."}


def _version() -> str:
    try:
        return importlib.metadata.version("rongtong")
    except importlib.metadata.PackageNotFoundError:
        return "0.0.0"


def _most_sensitive(entity: CanonicalEntity) -> str | None:
    known = [f.classification for f in entity.fields if f.classification in CLASSIFICATIONS]
    return max(known, key=CLASSIFICATIONS.index) if known else None


def topic_documents(configs: list[SourceConfig],
                    projections: Sequence[tuple[ProjectionDeclaration, str]] = ()
                    ) -> list[TopicDocument]:
    """``projections``: each projection's declaration and the Avro schema of its topic."""
    mappings = {(m.department, m.table): m for m in load_mappings()}
    entities = {e.entity: e for e in load_entities()}
    quarantine = load_schema("quarantined_record")
    docs: list[TopicDocument] = []
    for config in configs:
        for spec in config.tables:
            mapping = mappings.get((spec.department, spec.table))
            docs += _legacy(spec.department, spec.table, config.engine, tuple(spec.key_columns),
                            mapping, spec.classification, quarantine)
    used = {m.entity for m in mappings.values()}
    for name in sorted(used & set(entities)):
        entity = entities[name]
        sources = sorted(f"{m.department}.{m.table}" for m in mappings.values() if m.entity == name)
        docs.append(TopicDocument(
            entity.topic, f"Canonical {name.replace('_', ' ')} events",
            f"{entity.doc} Events rongtong.std.{name}.upserted and rongtong.std.{name}.deleted, "
            f"keyed by {', '.join(entity.key_fields)}; standardized from {', '.join(sources)}.",
            f"rongtong.std.{name}", entity.value_schema, entity.key_schema,
            classification=_most_sensitive(entity), config=_HISTORY,
            producers=("bus adapters run (standardize)",), consumers=("projections", "subscribers"),
            tags=("canonical",)))
    for projection, schema in projections:
        docs.append(TopicDocument(
            projection.topic, f"Versions of {projection.name}",
            f"{projection.doc} Every new version, compacted by key (the latest version per key "
            "stays); a tombstone when it is gone.",
            f"rongtong.projection.{projection.name}.changed", load_schema(schema),
            load_schema(f"{schema}_key"), classification="sensitive_personal", config=_COMPACTED,
            producers=(f"bus projections run ({projection.name})",),
            consumers=("subscribers", "new applications"), tags=("projection",)))
    docs.append(TopicDocument(
        DECISIONS_TOPIC, "Entity-resolution link decisions",
        "Every link decision between two person records: proposed (the review band), accepted, "
        "rejected, split — by the live resolver or a reviewer (POST /v1/resolution/…), with the "
        "score and per-field weights. An un-merge is just another decision; citizen_profile "
        "follows them.", "rongtong.resolution.link_decision", load_schema("link_decision"),
        load_schema("link_decision_key"), classification="sensitive_personal", config=_HISTORY,
        producers=("bus projections run (resolution)", "bus serve (review API)"),
        consumers=("bus projections run (resolution, citizen_profile)",), tags=("resolution",)))
    docs.append(TopicDocument(
        CONFLICTS_TOPIC, "Data conflicts",
        "DataConflictDetected: a department's value disagrees with the field's authoritative "
        "source; addressed to the authoritative department (field addressed_to), once per "
        "disagreement.", "rongtong.governance.data_conflict.detected",
        load_schema("data_conflict"), load_schema("data_conflict_key"),
        classification="sensitive_personal", config=_HISTORY,
        producers=("bus projections run",), consumers=("the authoritative departments",),
        tags=("governance",)))
    docs.append(TopicDocument(
        AUDIT_TOPIC, "Audit log of personal-data reads",
        "One record per read of personal data through the query API: client, purpose, subject, "
        "fields shown and masked, request id, result. Hash-chained per writer (seq, prev_hash, "
        "hash); one partition, kept forever; `bus audit verify` checks every link "
        "(docs/access.md). Keyed by the writer's chain id as UTF-8 text.",
        AUDIT_EVENT_TYPE, load_schema("audit_record"), None, key_json_schema=_TEXT_KEY,
        classification="sensitive_personal", config=_HISTORY,
        producers=("bus serve",), consumers=("bus serve (citizens' access logs)", "bus audit verify"),
        tags=("governance",)))
    docs.append(TopicDocument(
        DEAD_LETTER_TOPIC, "Webhook dead letters",
        "An event a webhook did not take after BUS_WEBHOOKS_MAX_ATTEMPTS attempts, as JSON: "
        "webhook, client, url, event_id, position, attempts, last_status, last_error and the "
        "event exactly as it was sent (masked for the webhook's client). Keyed by webhook id; "
        "ce_id is the event id (the webhook-id of the attempts).", DEAD_LETTER_TYPE, None,
        key_json_schema=_TEXT_KEY,
        value_json_schema={"type": "object", "description": "The dead letter, as JSON."},
        content_type="application/json", classification="personal", config=_HISTORY,
        producers=("bus webhooks run",), consumers=("operators",), tags=("webhooks",)))
    docs.append(TopicDocument(
        POSITIONS_TOPIC, "Capture positions",
        "Where each capture stands in its source (an opaque checkpoint), written in the same "
        "Kafka transaction as the events it covers. Keyed by capture owner; compacted.",
        "rongtong.position", None, key_json_schema=_TEXT_KEY,
        value_json_schema={"type": "object", "description": "The checkpoint, as JSON."},
        content_type="application/json", classification="internal",
        config=POSITIONS_TOPIC_SPEC.config,
        producers=("bus adapters run",), consumers=("bus adapters run",), cloudevents=False,
        tags=("internal",)))
    docs.append(TopicDocument(
        "_schemas", "Schema registry storage",
        "The registry's records in Confluent's format (schemas, config, deletes); compacted.",
        "rongtong.registry.record", None,
        key_json_schema={"type": "object", "description": "Confluent registry record key."},
        value_json_schema={"type": ["object", "null"], "description": "Confluent registry record."},
        content_type="application/json", classification="internal", config=_COMPACTED,
        producers=("schema registry",), consumers=("schema registry",), cloudevents=False,
        tags=("internal",)))
    return docs


def _legacy(department: str, table: str, engine: str, key: tuple[str, ...],
            mapping: MappingDocument | None, classification: str,
            quarantine: dict[str, Any]) -> list[TopicDocument]:
    columns = list(key)
    if mapping is not None:
        columns += [c for c in [mapping.key_column, *(f.column for f in mapping.fields)]
                    if c not in columns]
    topic, quarantine_topic = f"legacy.{department}.{table}", f"quarantine.{department}.{table}"
    target = f" Standardized into std.{mapping.entity}." if mapping else ""
    return [
        TopicDocument(
            topic, f"Changes of {department}.{table}",
            f"Change events (op c/u/d/r, before, after, source) of the legacy table {table} of "
            f"{department} ({engine}), every column as text, keyed by {', '.join(key) or 'its key'}; "
            f"a delete is followed by a tombstone. The columns shown are those the data standard "
            f"uses; the registry subject {topic}-value holds the exact current version.{target}",
            CHANGE_EVENT_TYPE, change_value_schema(department, table, columns),
            change_key_schema(department, table, key) if key else None,
            key_json_schema=None if key else _TEXT_KEY, classification=classification,
            config=_HISTORY, producers=(f"bus adapters run (capture {department}.{table})",),
            consumers=("bus adapters run (standardize)", "subscribers"), tags=("raw", department)),
        TopicDocument(
            quarantine_topic, f"Rejected rows of {department}.{table}",
            "Rows that could not be decoded or did not fit the data standard, with the rule id, "
            "reasons in Chinese and English and the original row; replayable after a fix.",
            QUARANTINE_EVENT_TYPE, quarantine, key_json_schema=_TEXT_KEY,
            classification="sensitive_personal", config=_HISTORY,
            producers=("bus adapters run",), consumers=("operators", "bus quarantine replay"),
            tags=("quarantine", department)),
    ]


def build_asyncapi(settings: Settings, configs: list[SourceConfig]) -> dict[str, Any]:
    topics = topic_documents(configs, [(CITIZEN_PROFILE, "projection_profile"),
                                       (ENTERPRISE_PROFILE, "projection_profile"),
                                       (NEWBORN_CASE, "newborn_case")])
    with suppress(SinkConfigError):  # a broken write-back configuration fails `bus sinks run`
        topics += writeback_topic_documents(load_configured_sinks(settings))
    return asyncapi_document(topics, version=_version(), kafka_bootstrap=settings.kafka_bootstrap,
                             registry_url=settings.registry_url)


async def get_asyncapi(request: web.Request) -> web.Response:
    return web.json_response(request.app[ASYNCAPI],
                             dumps=lambda v: json.dumps(v, ensure_ascii=False))


def add_routes(app: web.Application, settings: Settings) -> None:
    async def build(app: web.Application) -> None:
        app[ASYNCAPI] = build_asyncapi(settings, load_configured_sources(settings))

    app.on_startup.append(build)
    app.router.add_get("/asyncapi.json", get_asyncapi)
