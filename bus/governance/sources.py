"""The data standard as governance reads it: canonical schemas and mapping files, as data.

Read from the ``schemas`` package (Avro schemas in ``schemas/avro``, mappings in
``schemas/mappings``). Nothing here runs a mapping; the standardize stage does that.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib.resources import files
from importlib.resources.abc import Traversable
from typing import Any

import yaml

__all__ = ["CanonicalEntity", "CanonicalField", "FieldMapping", "MappingDocument",
           "load_entities", "load_mappings", "load_schema", "type_name"]


@dataclass(frozen=True)
class CanonicalField:
    """A field of a canonical event with the metadata the data standard gives it."""

    name: str
    doc: str
    type: str
    required: bool
    classification: str | None
    owner: str | None
    authoritative_source: str | None
    code_table: str | None
    standard: str | None


@dataclass(frozen=True)
class CanonicalEntity:
    """A canonical event (``std.<entity>``): value and key schema, fields and their metadata."""

    entity: str
    full_name: str
    doc: str
    fields: tuple[CanonicalField, ...]
    key_fields: tuple[str, ...]
    value_schema: dict[str, Any]
    key_schema: dict[str, Any]

    @property
    def topic(self) -> str:
        return f"std.{self.entity}"


@dataclass(frozen=True)
class FieldMapping:
    """One canonical field filled from one legacy column through a transform."""

    field: str
    column: str
    transform: str
    required: bool
    code_table: str | None


@dataclass(frozen=True)
class MappingDocument:
    """A mapping file: legacy table → canonical entity."""

    department: str
    table: str
    entity: str
    key_column: str
    fields: tuple[FieldMapping, ...]

    @property
    def raw_topic(self) -> str:
        return f"legacy.{self.department}.{self.table}"

    @property
    def quarantine_topic(self) -> str:
        return f"quarantine.{self.department}.{self.table}"


def _avro_dir() -> Traversable:
    return files("schemas").joinpath("avro")


def load_schema(name: str) -> dict[str, Any]:
    """The parsed JSON of ``schemas/avro/<name>.avsc``."""
    schema: dict[str, Any] = json.loads(_avro_dir().joinpath(f"{name}.avsc").read_text("utf-8"))
    return schema


def type_name(avro_type: Any) -> str:
    """A short readable rendering of an Avro type: ``string``, ``date``, ``string?``, ``Source``."""
    if isinstance(avro_type, list):
        others = [t for t in avro_type if t != "null"]
        inner = type_name(others[0]) if len(others) == 1 else " | ".join(type_name(t) for t in others)
        return f"{inner}?" if "null" in avro_type else inner
    if isinstance(avro_type, dict):
        if "logicalType" in avro_type:
            return str(avro_type["logicalType"])
        if avro_type.get("type") in ("record", "enum", "fixed"):
            return str(avro_type["name"])
        if avro_type.get("type") == "array":
            return f"array<{type_name(avro_type['items'])}>"
        if avro_type.get("type") == "map":
            return f"map<{type_name(avro_type['values'])}>"
        return type_name(avro_type.get("type"))
    return str(avro_type)


def _field(spec: dict[str, Any]) -> CanonicalField:
    avro_type = spec["type"]
    nullable = isinstance(avro_type, list) and "null" in avro_type
    return CanonicalField(
        name=str(spec["name"]), doc=str(spec.get("doc", "")), type=type_name(avro_type),
        required=not nullable, classification=spec.get("classification"),
        owner=spec.get("owner"), authoritative_source=spec.get("authoritative_source"),
        code_table=spec.get("code_table"), standard=spec.get("standard"))


def load_entities() -> list[CanonicalEntity]:
    """Every canonical entity: a ``<entity>.avsc`` in namespace ``rongtong.std`` with its
    ``<entity>_key.avsc`` (projection and bus schemas live in other namespaces)."""
    names = sorted(p.name.removesuffix(".avsc") for p in _avro_dir().iterdir()
                   if p.name.endswith(".avsc"))
    entities = []
    for name in names:
        if name.endswith("_key") or f"{name}_key" not in names:
            continue
        value, key = load_schema(name), load_schema(f"{name}_key")
        namespace = value.get("namespace")
        if namespace != "rongtong.std":
            continue
        entities.append(CanonicalEntity(
            entity=name, full_name=f"{namespace}.{value['name']}" if namespace else value["name"],
            doc=str(value.get("doc", "")), fields=tuple(_field(f) for f in value["fields"]),
            key_fields=tuple(str(f["name"]) for f in key["fields"]), value_schema=value,
            key_schema=key))
    return entities


def load_mappings() -> list[MappingDocument]:
    """Every mapping file of ``schemas/mappings``, in name order."""
    directory = files("schemas").joinpath("mappings")
    documents = []
    for path in sorted((p for p in directory.iterdir() if p.name.endswith((".yaml", ".yml"))),
                       key=lambda p: p.name):
        raw = yaml.safe_load(path.read_text("utf-8"))
        fields = tuple(
            FieldMapping(str(name), str(spec["column"]), str(spec.get("transform", "text")),
                         bool(spec.get("required", True)), spec.get("code_table"))
            for name, spec in (raw.get("fields") or {}).items())
        documents.append(MappingDocument(str(raw["department"]), str(raw["table"]),
                                         str(raw["entity"]), str(raw["key_column"]), fields))
    return documents
