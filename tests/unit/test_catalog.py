"""The data catalog and field lineage, generated from the shipped schemas and mappings."""

from __future__ import annotations

import pytest

from bus.governance.catalog import CLASSIFICATIONS, UnknownField, build_catalog
from bus.governance.declarations import (
    ApiDeclaration,
    ApiField,
    ProjectionDeclaration,
    ProjectionField,
)
from bus.governance.sources import load_entities, load_mappings
from bus.web.catalog import current_catalog


def test_every_mapped_field_exists_in_its_canonical_schema() -> None:
    entities = {e.entity: {f.name for f in e.fields} for e in load_entities()}
    for mapping in load_mappings():
        assert mapping.entity in entities, f"{mapping.raw_topic}: no schema for {mapping.entity}"
        missing = [f.field for f in mapping.fields if f.field not in entities[mapping.entity]]
        assert missing == [], f"{mapping.raw_topic} maps fields std.{mapping.entity} lacks"


def test_lineage_runs_from_the_legacy_column_to_the_api_field() -> None:
    catalog = current_catalog()
    lineage = catalog.lineage("std.person.name")
    assert ["gongan.hj_ryxx.XM", "legacy.gongan.hj_ryxx.after.XM", "std.person.name",
            "projection.citizen_profile.name", "GET /v1/citizens/{identity_number}.name"] \
        in lineage["paths"]
    assert {"from": "legacy.gongan.hj_ryxx.after.XM", "to": "std.person.name",
            "via": "standardize: name"} in lineage["edges"]
    # Asked from either end, the same chain.
    api = catalog.lineage("GET /v1/citizens/{identity_number}.name")
    upstream = [f["id"] for f in api["upstream"]]
    assert {"gongan.hj_ryxx.XM", "rsj.ac01.AAC003"} <= set(upstream)  # several departments
    assert len(api["paths"]) == len({p[0] for p in api["paths"]}) >= 6
    column = catalog.lineage("gongan.hj_ryxx#XM")
    assert "GET /v1/citizens/{identity_number}.name" in [f["id"] for f in column["downstream"]]


def test_classification_flows_along_the_lineage() -> None:
    catalog = current_catalog()
    assert catalog.resolve("gongan.hj_ryxx.SFZH").classification == "sensitive_personal"
    assert catalog.resolve("legacy.gongan.hj_ryxx.after.SFZH").classification == "sensitive_personal"
    assert catalog.resolve(
        "GET /v1/citizens/{identity_number}.identity_number").classification == "sensitive_personal"
    assert catalog.resolve("projection.citizen_profile.name").authoritative_source == "gongan.hj_ryxx"


def test_every_canonical_field_carries_its_governance_metadata() -> None:
    catalog = current_catalog().as_json(kind="canonical")
    assert catalog["count"] == len(load_entities()) >= 9
    for dataset in catalog["datasets"]:
        for entry in dataset["fields"]:
            assert entry.get("classification") in CLASSIFICATIONS, entry["id"]
            assert entry.get("owner") and entry.get("authoritative_source"), entry["id"]


def test_search_finds_fields_by_name_doc_owner_or_code_table() -> None:
    catalog = current_catalog()
    found = catalog.as_json("credit code")
    ids = {f["id"] for d in found["datasets"] for f in d["fields"]}
    assert "std.enterprise.credit_code" in ids
    # A dataset that matches comes whole; otherwise only its matching fields.
    assert all("credit code" in (f.get("doc", "") + f["id"]).lower().replace("_", " ")
               for d in found["datasets"] if "credit code" not in d["doc"].lower()
               for f in d["fields"])
    assert catalog.as_json("GB/T 2260")["fields"] >= 1
    assert catalog.as_json("no such thing at all")["count"] == 0


def test_an_unknown_field_is_a_clear_error() -> None:
    with pytest.raises(UnknownField):
        current_catalog().lineage("std.person.shoe_size")


def test_a_projection_field_fed_by_two_departments_takes_the_most_sensitive_class() -> None:
    entities = load_entities()
    projection = ProjectionDeclaration(
        "demo", "A demo projection.", ("std.person", "std.enterprise"), "id",
        (ProjectionField("label", "Name or enterprise name.",
                         ("std.person.division_code", "std.person.identity_number")),))
    api = ApiDeclaration("GET", "/v1/demo", "Demo.", "demo", (ApiField("label", "label"),))
    catalog = build_catalog(entities, load_mappings(), [projection], [api])
    assert catalog.resolve("projection.demo.label").classification == "sensitive_personal"
    assert catalog.resolve("GET /v1/demo.label").classification == "sensitive_personal"
    assert len(catalog.lineage("GET /v1/demo.label")["paths"]) == 2
