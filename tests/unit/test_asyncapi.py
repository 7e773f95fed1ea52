"""The AsyncAPI 3.0 document of every topic: complete, and valid against the published schema."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import fastavro
import jsonschema
import pytest

from adapters.capture.config import load_configured_sources
from bus.settings import load_settings
from bus.web.asyncapi import build_asyncapi
from tests.specs import asyncapi_json_schema


@pytest.fixture(scope="module")
def document(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    settings = load_settings(state_dir=Path(tmp_path_factory.mktemp("state")))
    return build_asyncapi(settings, load_configured_sources(settings))


def test_the_document_is_valid_asyncapi_3(document: dict[str, Any]) -> None:
    validator = jsonschema.Draft7Validator(asyncapi_json_schema("3.0.0"))
    errors = sorted(validator.iter_errors(document), key=lambda e: list(e.path))
    assert [f"{'/'.join(map(str, e.path))}: {e.message[:200]}" for e in errors] == []


def test_a_broken_document_is_refused(document: dict[str, Any]) -> None:
    """The validation can fail: a channel without its required shape is caught."""
    broken = {**document, "channels": {"x": {"address": 42}}}
    assert list(jsonschema.Draft7Validator(asyncapi_json_schema("3.0.0")).iter_errors(broken))


def test_every_reference_department_topic_is_a_channel(document: dict[str, Any]) -> None:
    addresses = {c["address"] for c in document["channels"].values()}
    for table in ("gongan.hj_ryxx", "rsj.ac01", "scjg.qy_jbxx", "sw.swdj", "wsjk.csyxzm",
                  "mz.hydj", "mz.dbjz"):
        assert {f"legacy.{table}", f"quarantine.{table}"} <= addresses
    assert {"std.person", "std.enterprise", "bus.positions", "_schemas",
            "projection.citizen_profile", "projection.enterprise_profile", "projection.newborn_case",
            "bus.data_conflicts", "std.link_decision"} <= addresses


def test_payloads_and_keys_are_the_avro_schemas_the_bus_registers(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    person = document["channels"]["std.person"]
    message = document["components"]["messages"][person["messages"]["event"]["$ref"].split("/")[-1]]
    payload = schemas[message["payload"]["$ref"].split("/")[-1]]
    assert payload["schemaFormat"].startswith("application/vnd.apache.avro")
    fastavro.parse_schema(payload["schema"])
    key = message["bindings"]["kafka"]["key"]
    assert [f["name"] for f in key["x-avro-schema"]["fields"]] == ["identity_number"]
    assert key["properties"] == {"identity_number": {"type": "string"}}
    assert message["bindings"]["kafka"]["schemaIdPayloadEncoding"] == "confluent"
    assert person["bindings"]["kafka"]["topicConfiguration"]["retention.ms"] == -1
    headers = schemas["CloudEventsHeaders"]["properties"]
    assert {"ce_specversion", "ce_id", "ce_source", "ce_type", "ce_time", "traceparent",
            "dataclassification"} <= set(headers)


def test_raw_topics_document_the_columns_the_standard_reads(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    change = schemas["legacy.gongan.hj_ryxx-value"]["schema"]
    after = next(f for f in change["fields"] if f["name"] == "before")["type"][1]
    assert {"RYBH", "SFZH", "XM", "XB", "CSRQ"} <= {f["name"] for f in after["fields"]}
