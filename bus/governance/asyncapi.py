"""The AsyncAPI 3.0 document of every topic of the bus, generated from the same sources as the
catalog: Avro schemas (canonical, quarantine, change events), mappings and the capture config.

Each topic is one channel with its Kafka binding (partitions, cleanup policy, retention), one
message with the Avro payload as a multi-format schema (Confluent wire format: magic byte and
schema id in the payload), the key schema, and the CloudEvents 1.0 binary-mode headers every
bus event carries.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["AVRO_FORMAT", "TopicDocument", "asyncapi_document", "avro_as_json_schema",
           "cloudevents_headers"]

AVRO_FORMAT = "application/vnd.apache.avro+json;version=1.9.0"
KAFKA_BINDING = "0.5.0"


@dataclass(frozen=True)
class TopicDocument:
    """One topic as the documentation shows it."""

    topic: str
    title: str
    description: str
    event_type: str
    value_schema: dict[str, Any] | None
    key_schema: dict[str, Any] | None = None
    #: JSON Schema of a key that is not Avro (e.g. UTF-8 text).
    key_json_schema: dict[str, Any] | None = None
    #: JSON Schema of a value that is not Avro (e.g. JSON positions).
    value_json_schema: dict[str, Any] | None = None
    content_type: str = "application/avro"
    classification: str | None = None
    partitions: int = 1
    config: dict[str, str] = field(default_factory=dict)
    #: Who writes it and who reads it (processes of the bus or applications).
    producers: tuple[str, ...] = ()
    consumers: tuple[str, ...] = ()
    cloudevents: bool = True
    tags: tuple[str, ...] = ()


def cloudevents_headers() -> dict[str, Any]:
    """JSON Schema of the Kafka headers of a bus event (CloudEvents 1.0 binary mode + tracing)."""
    def text(description: str, **extra: Any) -> dict[str, Any]:
        return {"type": "string", "description": description, **extra}

    return {
        "type": "object",
        "required": ["ce_specversion", "ce_id", "ce_source", "ce_type", "ce_time"],
        "properties": {
            "ce_specversion": text("CloudEvents version.", const="1.0"),
            "ce_id": text("Event id; the same change always has the same id."),
            "ce_source": text("URI-reference of the producer, e.g. /adapters/gongan/hj_ryxx."),
            "ce_type": text("Event type, e.g. rongtong.legacy.row.changed."),
            "ce_time": text("When the event was produced (RFC 3339).", format="date-time"),
            "ce_subject": text("The entity the event is about (its key)."),
            "content-type": text("Content type of the value.", const="application/avro"),
            "traceparent": text("W3C trace context of the work that produced the event."),
            "correlationid": text("Id shared by every event of one business flow."),
            "causationid": text("ce_id of the event that caused this one."),
            "dataclassification": text(
                "Most sensitive classification of the event's fields (PIPL categories).",
                enum=["public", "internal", "personal", "sensitive_personal"]),
        },
    }


_JSON_TYPES = {"string": "string", "int": "integer", "long": "integer", "float": "number",
               "double": "number", "boolean": "boolean", "null": "null", "bytes": "string"}


def avro_as_json_schema(avro: Any) -> dict[str, Any]:
    """The JSON shape of an Avro type's values (for tools that read JSON Schema only)."""
    if isinstance(avro, str):
        return {"type": _JSON_TYPES.get(avro, "object")}
    if isinstance(avro, list):
        return {"anyOf": [avro_as_json_schema(t) for t in avro]}
    kind = avro.get("type")
    if kind == "record":
        return {"type": "object",
                "properties": {f["name"]: avro_as_json_schema(f["type"]) for f in avro["fields"]},
                "required": [f["name"] for f in avro["fields"] if "default" not in f]}
    if kind == "array":
        return {"type": "array", "items": avro_as_json_schema(avro["items"])}
    if kind == "enum":
        return {"type": "string", "enum": list(avro["symbols"])}
    return avro_as_json_schema(kind)


def _component_id(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", text)


def _binding_config(config: dict[str, str]) -> dict[str, Any]:
    known: dict[str, Any] = {}
    if "cleanup.policy" in config:
        known["cleanup.policy"] = config["cleanup.policy"].split(",")
    for name in ("retention.ms", "retention.bytes", "max.message.bytes"):
        if name in config:
            known[name] = int(config[name])
    return known


def _message(doc: TopicDocument, schemas: dict[str, Any]) -> dict[str, Any]:
    message: dict[str, Any] = {
        "name": doc.event_type,
        "title": doc.title,
        "summary": doc.description.split(". ")[0].rstrip(".") + ".",
        "contentType": doc.content_type,
    }
    if doc.value_schema is not None:
        schema_id = _component_id(f"{doc.topic}-value")
        schemas[schema_id] = {"schemaFormat": AVRO_FORMAT, "schema": doc.value_schema}
        message["payload"] = {"$ref": f"#/components/schemas/{schema_id}"}
    elif doc.value_json_schema is not None:
        message["payload"] = doc.value_json_schema
    if doc.cloudevents:
        message["headers"] = {"$ref": "#/components/schemas/CloudEventsHeaders"}
    binding: dict[str, Any] = {"bindingVersion": KAFKA_BINDING}
    if doc.key_schema is not None:
        # Inline, not a $ref: the binding's ``key`` is "oneOf Reference, Schema" and a bare
        # $ref is both, which the published JSON schema rejects.
        binding["key"] = {**avro_as_json_schema(doc.key_schema),
                          "description": f"Avro record {doc.key_schema.get('name')} in the "
                                         f"Confluent wire format (registry subject {doc.topic}-key).",
                          "x-avro-schema": doc.key_schema}
    elif doc.key_json_schema is not None:
        binding["key"] = doc.key_json_schema
    if doc.value_schema is not None:
        binding.update(schemaIdLocation="payload", schemaIdPayloadEncoding="confluent",
                       schemaLookupStrategy="TopicNameStrategy")
    message["bindings"] = {"kafka": binding}
    if doc.classification:
        message["x-data-classification"] = doc.classification
    return message


def asyncapi_document(topics: Sequence[TopicDocument], *, version: str, kafka_bootstrap: str,
                      registry_url: str) -> dict[str, Any]:
    """The whole AsyncAPI 3.0 document for ``topics``."""
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    schemas: dict[str, Any] = {"CloudEventsHeaders": cloudevents_headers()}
    for doc in sorted(topics, key=lambda d: d.topic):
        channel_id = _component_id(doc.topic)
        message_id = _component_id(doc.event_type if doc.cloudevents else doc.topic)
        message_id = f"{channel_id}.{message_id}"
        messages[message_id] = _message(doc, schemas)
        channel: dict[str, Any] = {
            "address": doc.topic,
            "title": doc.title,
            "description": doc.description,
            "messages": {"event": {"$ref": f"#/components/messages/{message_id}"}},
            "bindings": {"kafka": {
                "topic": doc.topic, "partitions": doc.partitions, "replicas": 1,
                "topicConfiguration": _binding_config(doc.config),
                "bindingVersion": KAFKA_BINDING}},
        }
        if doc.tags:
            channel["tags"] = [{"name": t} for t in doc.tags]
        channels[channel_id] = channel
        for action, who in (("send", doc.producers), ("receive", doc.consumers)):
            if not who:
                continue
            operations[f"{action}.{channel_id}"] = {
                "action": action,
                "channel": {"$ref": f"#/channels/{channel_id}"},
                "summary": f"{'Written' if action == 'send' else 'Read'} by {', '.join(who)}.",
                "messages": [{"$ref": f"#/channels/{channel_id}/messages/event"}],
            }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Rongtong integration bus — topics",
            "version": version,
            "description": (
                "Every topic of the bus: raw change events of the legacy departments "
                "(legacy.<dept>.<table>), canonical events of the data standard (std.<entity>), "
                "rejected rows (quarantine.<dept>.<table>) and the bus's own topics. Values are "
                "Avro in the Confluent wire format (magic byte 0, 4-byte schema id, Avro body); "
                "headers follow CloudEvents 1.0 Kafka binary mode."),
        },
        "defaultContentType": "application/avro",
        "servers": {
            "local": {
                "host": kafka_bootstrap,
                "protocol": "kafka",
                "description": "The local single-node Kafka broker (KRaft).",
                "bindings": {"kafka": {"schemaRegistryUrl": registry_url,
                                       "schemaRegistryVendor": "confluent",
                                       "bindingVersion": KAFKA_BINDING}},
            },
        },
        "channels": channels,
        "operations": operations,
        "components": {"schemas": schemas, "messages": messages},
    }
