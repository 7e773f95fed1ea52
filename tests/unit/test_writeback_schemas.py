"""The canonical requests the sinks carry: keyed like every entity, the same source record."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.capture.config import load_configured_sources
from adapters.standardize.entity import canonical_entity
from bus.governance.sources import load_entities
from bus.settings import Settings
from bus.web.asyncapi import build_asyncapi
from schemas.avro_schemas import entity_names, load_avro_schema

REQUESTS = ("household_registration", "insurance_enrolment")


@pytest.mark.parametrize("name", REQUESTS)
def test_each_request_is_a_canonical_entity_keyed_by_its_request_id(name: str) -> None:
    entity = canonical_entity(name)

    assert name in entity_names()
    assert entity.key_field == {"household_registration": "registration_id",
                                "insurance_enrolment": "enrolment_id"}[name]
    assert entity.fields["source"] == canonical_entity("person").fields["source"]
    assert entity.classification == "sensitive_personal"


@pytest.mark.parametrize("name", REQUESTS)
def test_each_request_can_be_published_through_the_events_api(name: str) -> None:
    assert name in {e.entity for e in load_entities()}


def test_a_newborn_may_be_enrolled_before_it_has_an_identity_number() -> None:
    fields = {f["name"]: f for f in load_avro_schema("insurance_enrolment")["fields"]}

    assert fields["identity_number"]["type"] == ["null", "string"]
    assert fields["sex_code"]["code_table"] == "GB/T 2261.1"


def test_the_conflict_report_keeps_both_images_as_sensitive_data() -> None:
    fields = {f["name"]: f for f in load_avro_schema("writeback_conflict")["fields"]}

    assert fields["legacy_image"]["classification"] == "sensitive_personal"
    assert fields["bus_image"]["classification"] == "sensitive_personal"


def test_the_asyncapi_document_shows_the_requests_and_the_sinks_reports(tmp_path: Path) -> None:
    settings = Settings(state_dir=tmp_path)
    channels = build_asyncapi(settings, load_configured_sources(settings))["channels"]

    assert {"std.household_registration", "std.insurance_enrolment",
            "writeback.conflicts.gongan.hj_ryxx", "writeback.conflicts.rsj.ac01",
            "writeback.quarantine.mz.csdj"} <= set(channels)
    assert "writeback.conflicts.mz.csdj" not in channels  # an export has no conflicts
