"""The SDK's models are generated from the Avro schemas and cannot drift from them."""

from __future__ import annotations

import ast
import datetime as dt
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from bus.client import codegen, models
from bus.client.codegen import CodegenError, _Writer, generate
from bus.client.reads import CitizenProfile, EnterpriseProfile
from bus.web import api_models
from schemas.avro_schemas import entity_names, load_avro_schema

CLIENT = Path(codegen.__file__).parent


def test_the_committed_models_are_what_the_schemas_generate() -> None:
    committed = (CLIENT / "models.py").read_text(encoding="utf-8")
    assert committed == generate().text, "schemas changed: run python -m bus.client.codegen"


def test_generating_twice_gives_the_same_text() -> None:
    assert generate().text == generate().text


def test_check_mode_fails_on_a_stale_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    stale = tmp_path / "models.py"
    stale.write_text("# old\n", encoding="utf-8")
    assert codegen.main(["--check", "--output", str(stale)]) == 1
    assert codegen.main(["--output", str(stale)]) == 0
    assert codegen.main(["--check", "--output", str(stale)]) == 0
    assert "up to date" in capsys.readouterr().out


def test_every_canonical_entity_and_projection_document_has_a_model() -> None:
    canonical = {n for n in entity_names() if load_avro_schema(n).get("namespace") == "rongtong.std"}
    assert set(models.ENTITY_MODELS) == canonical
    for name, model in models.ENTITY_MODELS.items():
        assert model.avro_name == "rongtong.std." + load_avro_schema(name)["name"]  # type: ignore[attr-defined]
        assert models.EVENT_MODELS[f"rongtong.std.{name}.upserted"] is model
        assert models.KEY_MODELS[name].model_fields.keys() == {
            f["name"] for f in load_avro_schema(f"{name}_key")["fields"]}
    assert models.EVENT_MODELS["rongtong.projection.newborn_case.changed"] is models.NewbornCase
    assert models.EVENT_MODELS["rongtong.projection.citizen_profile.changed"] is models.Profile


def _field(model: Any, name: str) -> Any:
    return model.model_fields[name]


def test_avro_types_map_to_python_types() -> None:
    case = models.NewbornCase.model_fields
    assert case["version"].annotation is int and case["version"].is_required()
    assert case["believed_at"].annotation is dt.datetime
    assert case["birth_date"].annotation == dt.date | None and case["birth_date"].default is None
    assert case["household"].annotation == models.NewbornHousehold | None, "a nested record"
    assert case["awaiting"].annotation == list[str] and case["awaiting"].default_factory is list
    assert case["anomalies"].annotation == list[models.CaseAnomaly]
    assert _field(models.Enterprise, "registered_capital").annotation == Decimal | None
    assert _field(models.Profile, "fields").annotation == dict[str, models.FieldValue]


def test_docs_and_classifications_come_with_each_field() -> None:
    number = _field(models.ServiceCase, "applicant_identity_number")
    assert number.description.startswith("Identity number of the applicant")
    assert number.json_schema_extra == {"classification": "sensitive_personal", "owner": "zwfw",
                                        "authoritative_source": "zwfw.service_case",
                                        "standard": "GB 11643-1999"}
    schema = models.ServiceCase.model_json_schema()
    assert schema["properties"]["case_type"]["code_table"] == "service_case_type"
    assert models.ServiceCase.__doc__ and "一件事一次办" in models.ServiceCase.__doc__


def test_the_bus_fills_source_so_an_application_may_leave_it_out() -> None:
    source = _field(models.Person, "source")
    assert not source.is_required() and "Filled by the bus" in source.description
    assert _field(models.NewbornCase, "cause").is_required(), "only canonical events' source"


def test_a_synthetic_schema_maps_enums_maps_and_unions() -> None:
    writer = _Writer()
    schema = {"type": "record", "name": "Sample", "namespace": "t", "doc": "A sample.", "fields": [
        {"name": "kind", "type": {"type": "enum", "name": "Kind", "symbols": ["a", "b"]}},
        {"name": "scores", "type": {"type": "map", "values": "double"}},
        {"name": "either", "type": ["null", "int", "string"], "default": None},
        {"name": "at", "type": {"type": "int", "logicalType": "time-millis"}},
        {"name": "flag", "type": "boolean", "default": True}]}
    writer.record(schema, "t")
    text = writer.blocks[0]
    assert "kind: Literal['a', 'b'] = Field()" in text
    assert "scores: dict[str, float] = Field()" in text
    assert "either: int | str | None = Field(default=None)" in text
    assert "at: dt.time = Field()" in text and "flag: bool = Field(default=True)" in text


def test_two_different_records_of_one_name_are_refused() -> None:
    writer = _Writer()
    writer.record({"type": "record", "name": "R", "fields": [{"name": "a", "type": "int"}]}, "t")
    with pytest.raises(CodegenError, match="two different records"):
        writer.record({"type": "record", "name": "R", "fields": [{"name": "b", "type": "int"}]}, "t")


def test_the_read_models_follow_the_query_api() -> None:
    assert CitizenProfile.model_fields.keys() == api_models.CitizenProfile.model_fields.keys()
    assert EnterpriseProfile.model_fields.keys() == api_models.EnterpriseProfile.model_fields.keys()


def test_the_sdk_imports_only_aiohttp_pydantic_the_schemas_and_itself() -> None:
    allowed = {"aiohttp", "pydantic", "schemas", "bus", "__future__"}
    for path in CLIENT.glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            for name in names:
                top = name.split(".")[0]
                if top == "bus":
                    assert name.startswith("bus.client"), f"{path.name} imports {name}"
                else:
                    assert top in allowed or top in sys.stdlib_module_names, f"{path.name} imports {name}"
