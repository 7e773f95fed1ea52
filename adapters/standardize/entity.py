"""Canonical entities: the value and key schemas of ``std.<entity>`` and what follows from them."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from schemas.avro_schemas import CLASSIFICATIONS, load_avro_schema

__all__ = ["Entity", "canonical_entity"]

#: The sub-record every canonical value carries; the stage fills it, never a mapping.
SOURCE_FIELD = "source"


@dataclass(frozen=True)
class Entity:
    """A canonical entity: its value and key schemas and the field that keys it.

    ``classification`` is the most sensitive classification of any of its fields: it travels
    in the ``dataclassification`` header of every event of the entity.
    """

    name: str
    schema: dict[str, Any]
    key_schema: dict[str, Any]
    key_field: str
    classification: str

    @property
    def fields(self) -> dict[str, dict[str, Any]]:
        """Top-level fields of the value schema by name."""
        return {field["name"]: field for field in self.schema["fields"]}

    def complete(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """``values`` with every field the mapping leaves out set to its schema default."""
        record = dict(values)
        for name, field in self.fields.items():
            if name not in record and "default" in field:
                record[name] = field["default"]
        return record


def canonical_entity(name: str) -> Entity:
    """The entity ``name`` from ``schemas/avro/<name>.avsc`` and ``<name>_key.avsc``."""
    try:
        schema, key_schema = load_avro_schema(name), load_avro_schema(f"{name}_key")
    except FileNotFoundError:
        raise ValueError(f"no canonical schema for entity {name!r}") from None
    key_fields = [field["name"] for field in key_schema["fields"]]
    value_fields = {field["name"] for field in schema["fields"]}
    if len(key_fields) != 1 or key_fields[0] not in value_fields:
        raise ValueError(f"{name}_key.avsc must have exactly one field, a field of {name}.avsc: "
                         f"{key_fields}")
    rank = max(CLASSIFICATIONS.index(c) for c in _classifications(schema["fields"]))
    return Entity(name, schema, key_schema, key_fields[0], CLASSIFICATIONS[rank])


def _classifications(fields: list[dict[str, Any]]) -> Iterator[str]:
    for field in fields:
        yield field["classification"]
        for record in _records_in(field["type"]):
            yield from _classifications(record["fields"])


def _records_in(avro_type: Any) -> Iterator[dict[str, Any]]:
    if isinstance(avro_type, list):
        for branch in avro_type:
            yield from _records_in(branch)
    elif isinstance(avro_type, dict):
        if avro_type.get("type") == "record":
            yield avro_type
        elif avro_type.get("type") == "array":
            yield from _records_in(avro_type["items"])
        elif avro_type.get("type") == "map":
            yield from _records_in(avro_type["values"])
