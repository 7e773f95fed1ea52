"""The canonical schemas of schemas/avro: parseable by both Avro libraries, every field labelled."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import avro.schema
import fastavro
import pytest
from avro.compatibility import ReaderWriterCompatibilityChecker, SchemaCompatibilityType

from adapters.standardize.entity import canonical_entity
from schemas import read_code_table
from schemas.avro_schemas import CLASSIFICATIONS, avro_schema_names, entity_names, load_avro_schema

ENTITIES = ("person", "household", "enterprise", "social_insurance", "marriage", "social_assistance",
            "birth_certificate", "tax_registration", "service_case")
DEPARTMENTS = {"gongan", "rsj", "scjg", "sw", "wsjk", "mz", "zwfw", "rongtong"}
SOURCE = re.compile(r"[a-z]+\.[a-z0-9_]+")

# std.person as the citizen projection first consumed it (before the metadata was completed).
PERSON_V1 = {
    "type": "record", "name": "Person", "namespace": "rongtong.std",
    "fields": [
        {"name": "identity_number", "type": "string"},
        {"name": "name", "type": "string"},
        {"name": "sex_code", "type": "string"},
        {"name": "birth_date", "type": {"type": "int", "logicalType": "date"}},
        {"name": "division_code", "type": ["null", "string"], "default": None},
        {"name": "household_address", "type": ["null", "string"], "default": None},
        {"name": "source", "type": {
            "type": "record", "name": "SourceRecord", "namespace": "rongtong.std",
            "fields": [
                {"name": "department", "type": "string"}, {"name": "table", "type": "string"},
                {"name": "record_key", "type": "string"}, {"name": "event_id", "type": "string"},
                {"name": "op", "type": "string"},
                {"name": "updated_at", "type": ["null", {"type": "long", "logicalType": "timestamp-millis"}],
                 "default": None},
            ]}},
    ],
}


def fields_of(schema: dict[str, Any], path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every field at every depth (records inside unions, arrays and maps too)."""
    for field in schema["fields"]:
        where = f"{path}{field['name']}"
        yield where, field
        for record in records_in(field["type"]):
            yield from fields_of(record, f"{where}.")


def records_in(avro_type: Any) -> Iterator[dict[str, Any]]:
    if isinstance(avro_type, list):
        for branch in avro_type:
            yield from records_in(branch)
    elif isinstance(avro_type, dict):
        kind = avro_type.get("type")
        if kind == "record":
            yield avro_type
        elif kind == "array":
            yield from records_in(avro_type["items"])
        elif kind == "map":
            yield from records_in(avro_type["values"])


def test_every_entity_of_the_issue_has_a_value_and_a_key_schema() -> None:
    assert set(ENTITIES) <= set(entity_names())


@pytest.mark.parametrize("name", avro_schema_names())
def test_every_schema_parses_with_fastavro_and_with_the_avro_package(name: str) -> None:
    schema = load_avro_schema(name)

    fastavro.parse_schema(schema)
    avro.schema.parse(json.dumps(schema))


@pytest.mark.parametrize("name", avro_schema_names())
def test_every_field_carries_doc_classification_owner_and_authoritative_source(name: str) -> None:
    for where, field in fields_of(load_avro_schema(name)):
        assert field.get("doc"), f"{name}: {where} has no doc"
        assert field.get("classification") in CLASSIFICATIONS, f"{name}: {where} classification"
        assert field.get("owner") in DEPARTMENTS, f"{name}: {where} owner {field.get('owner')!r}"
        assert SOURCE.fullmatch(field.get("authoritative_source", "")), f"{name}: {where} source"


@pytest.mark.parametrize("name", ENTITIES)
def test_code_table_attributes_name_a_shipped_table_or_a_national_standard(name: str) -> None:
    for where, field in fields_of(load_avro_schema(name)):
        table = field.get("code_table")
        if table is None or table.startswith("GB"):
            continue
        assert read_code_table(table), f"{name}: {where} names the empty code table {table}"


@pytest.mark.parametrize("name", ENTITIES)
def test_the_key_schema_has_one_field_the_value_schema_has_too(name: str) -> None:
    entity = canonical_entity(name)
    key_field = load_avro_schema(f"{name}_key")["fields"][0]
    value_field = entity.fields[entity.key_field]

    assert key_field["type"] == value_field["type"] == "string"
    assert key_field["classification"] == value_field["classification"]


@pytest.mark.parametrize("name", ENTITIES)
def test_every_entity_carries_the_same_source_record(name: str) -> None:
    person_source = canonical_entity("person").fields["source"]

    assert canonical_entity(name).fields["source"] == person_source


def test_the_entity_classification_is_its_most_sensitive_field() -> None:
    assert canonical_entity("person").classification == "sensitive_personal"
    assert canonical_entity("enterprise").classification == "sensitive_personal"  # the representative's id
    assert canonical_entity("service_case").classification == "sensitive_personal"


def test_std_person_stays_compatible_with_what_the_citizen_projection_first_read() -> None:
    checker = ReaderWriterCompatibilityChecker()
    current = avro.schema.parse(json.dumps(load_avro_schema("person")))
    first = avro.schema.parse(json.dumps(PERSON_V1))

    for reader, writer in ((current, first), (first, current)):
        result = checker.get_compatibility(reader, writer)
        assert result.compatibility is SchemaCompatibilityType.compatible


@pytest.mark.parametrize("name", [n for n in avro_schema_names() if not n.endswith("_key")])
def test_optional_fields_default_to_null_or_empty(name: str) -> None:
    for where, field in fields_of(load_avro_schema(name)):
        if isinstance(field["type"], list):
            assert field["type"][0] == "null" and field.get("default", ...) is None, where
