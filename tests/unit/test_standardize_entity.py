"""Canonical entities as the standardize stage loads them from their schemas."""

from __future__ import annotations

import pytest

from adapters.standardize.entity import canonical_entity
from adapters.standardize.mapping import load_mapping, mapping_names
from adapters.standardize.stage import canonical_entity as stage_entity
from schemas.avro_schemas import entity_names


@pytest.mark.parametrize(("name", "key_field"), [
    ("person", "identity_number"), ("enterprise", "credit_code"), ("tax_registration", "taxpayer_id"),
    ("social_insurance", "insurance_number"), ("birth_certificate", "certificate_number"),
    ("marriage", "registration_number"), ("social_assistance", "assistance_number"),
    ("household", "household_id"), ("service_case", "case_id"),
])
def test_the_key_field_is_the_key_schema_s_only_field(name: str, key_field: str) -> None:
    assert canonical_entity(name).key_field == key_field


def test_the_stage_still_exports_canonical_entity() -> None:
    assert stage_entity is canonical_entity


def test_person_keeps_the_classification_the_citizen_projection_saw() -> None:
    person = canonical_entity("person")

    assert (person.key_field, person.classification) == ("identity_number", "sensitive_personal")


def test_an_entity_without_schemas_is_refused() -> None:
    with pytest.raises(ValueError, match="no canonical schema"):
        canonical_entity("unicorn")


def test_fields_the_mapping_leaves_out_take_their_schema_defaults() -> None:
    record = canonical_entity("person").complete({"identity_number": "x"})

    assert record["division_code"] is None and record["household_address"] is None
    assert "name" not in record  # no default: the mapping must provide it


@pytest.mark.parametrize("name", mapping_names())
def test_every_mapping_targets_an_entity_with_schemas(name: str) -> None:
    assert load_mapping(name).entity in entity_names()
