"""The registry's state, compatibility levels and log records, without Kafka."""

from __future__ import annotations

import json
from collections.abc import Mapping

import pytest

from bus.registry.canonical import canonical_text, parse_avro
from bus.registry.compat import CompatibilityLevel, PastVersion, incompatibilities, parse_level
from bus.registry.errors import (
    IncompatibleSchema,
    InvalidCompatibilityLevel,
    InvalidSchema,
    InvalidVersion,
    SchemaNotFound,
    SubjectConfigNotFound,
    SubjectNotFound,
    SubjectNotSoftDeleted,
    SubjectSoftDeleted,
    VersionNotFound,
    VersionNotSoftDeleted,
    VersionSoftDeleted,
)
from bus.registry.records import (
    ConfigRecord,
    LogRecord,
    SchemaRecord,
    SchemaTombstone,
    SubjectDeleteRecord,
    decode_record,
    encode_record,
)
from bus.registry.service import LATEST, SchemaRegistry, parse_version
from bus.registry.state import RegistryState
from bus.registry.store import MemorySchemaStore


def record(*fields: Mapping[str, object], name: str = "Person") -> str:
    return json.dumps(
        {
            "type": "record",
            "name": name,
            "namespace": "gov.test",
            "fields": [dict(f) for f in fields],
        }
    )


NAME = {"name": "name", "type": "string"}
AGE = {"name": "age", "type": "int"}
AGE_DEFAULT = {"name": "age", "type": "int", "default": 0}
EMAIL_DEFAULT = {"name": "email", "type": ["null", "string"], "default": None}


async def started_registry(records: list[LogRecord] | None = None) -> SchemaRegistry:
    store = MemorySchemaStore(records)
    await store.start()
    return SchemaRegistry(store)


# -- canonical form --------------------------------------------------------------------


def test_canonical_text_ignores_whitespace_and_key_order() -> None:
    compact = '{"type":"record","name":"P","fields":[{"name":"a","type":"int"}]}'
    spaced = '{ "fields": [ {"type": "int", "name": "a"} ],\n  "name": "P", "type": "record" }'
    assert canonical_text(compact) == canonical_text(spaced)


def test_canonical_text_keeps_defaults_because_they_change_compatibility() -> None:
    assert canonical_text(record(NAME, AGE)) != canonical_text(record(NAME, AGE_DEFAULT))


def test_parse_avro_rejects_invalid_schemas_with_42201() -> None:
    with pytest.raises(InvalidSchema) as raised:
        parse_avro('{"type": "record", "name": "P", "fields": [{"name": "a", "type": "nope"}]}')
    assert raised.value.error_code == 42201
    with pytest.raises(InvalidSchema):
        parse_avro("not json")


# -- compatibility levels --------------------------------------------------------------


def check(new: str, *old: str, level: CompatibilityLevel) -> list[str]:
    history = [PastVersion(i + 1, parse_avro(s)) for i, s in enumerate(old)]
    return incompatibilities(parse_avro(new), history, level)


def test_backward_refuses_a_new_field_without_default() -> None:
    problems = check(record(NAME, AGE), record(NAME), level=CompatibilityLevel.BACKWARD)
    assert problems and "age" in " ".join(problems)


def test_backward_allows_a_new_field_with_default_and_removing_a_field() -> None:
    level = CompatibilityLevel.BACKWARD
    assert check(record(NAME, AGE_DEFAULT), record(NAME), level=level) == []
    assert check(record(NAME), record(NAME, AGE), level=level) == []


def test_forward_refuses_removing_a_field_the_old_reader_needs() -> None:
    level = CompatibilityLevel.FORWARD
    assert check(record(NAME), record(NAME, AGE), level=level) != []
    assert check(record(NAME, AGE), record(NAME), level=level) == []


def test_full_needs_both_directions() -> None:
    level = CompatibilityLevel.FULL
    assert check(record(NAME, AGE), record(NAME), level=level) != []
    assert check(record(NAME), record(NAME, AGE), level=level) != []
    assert check(record(NAME, EMAIL_DEFAULT), record(NAME), level=level) == []


def test_none_accepts_anything() -> None:
    assert check('"string"', record(NAME), level=CompatibilityLevel.NONE) == []


def test_transitive_levels_check_every_version_not_only_the_latest() -> None:
    # v1 has no age; v2 adds age with a default; v3 drops the default.
    # v3 reads v2 data (age present) but not v1 data (age missing, no default).
    v1, v2, v3 = record(NAME), record(NAME, AGE_DEFAULT), record(NAME, AGE)
    assert check(v3, v1, v2, level=CompatibilityLevel.BACKWARD) == []
    problems = check(v3, v1, v2, level=CompatibilityLevel.BACKWARD_TRANSITIVE)
    assert len(problems) == 1 and "version 1" in problems[0]


def test_forward_transitive_checks_every_version() -> None:
    # v1 needs age; v2 has age with a default (reads data without it); v3 drops age.
    v1, v2, v3 = record(NAME, AGE), record(NAME, AGE_DEFAULT), record(NAME)
    assert check(v3, v1, v2, level=CompatibilityLevel.FORWARD) == []
    assert check(v3, v1, v2, level=CompatibilityLevel.FORWARD_TRANSITIVE) != []
    assert check(v3, v1, v2, level=CompatibilityLevel.FULL) == []
    assert check(v3, v1, v2, level=CompatibilityLevel.FULL_TRANSITIVE) != []


def test_parse_level_is_case_insensitive_and_rejects_unknown_levels() -> None:
    assert parse_level("full_transitive") is CompatibilityLevel.FULL_TRANSITIVE
    with pytest.raises(InvalidCompatibilityLevel) as raised:
        parse_level("SIDEWAYS")
    assert raised.value.error_code == 42203
    with pytest.raises(InvalidCompatibilityLevel):
        parse_level(None)


# -- state -----------------------------------------------------------------------------


def test_state_applies_records_into_subjects_versions_and_ids() -> None:
    state = RegistryState()
    schema = canonical_text(record(NAME))
    state.apply(SchemaRecord("a-value", 1, 7, schema))
    assert state.subjects() == ["a-value"]
    assert [v.version for v in state.versions("a-value")] == [1]
    assert state.schema_of(7) == schema
    assert state.id_of(schema) == 7
    assert state.next_id() == 8


def test_state_soft_delete_and_tombstone_remove_versions_but_ids_stay_known() -> None:
    state = RegistryState()
    schema = canonical_text(record(NAME))
    state.apply(SchemaRecord("s", 1, 1, schema))
    state.apply(SchemaRecord("s", 1, 1, schema, deleted=True))
    assert state.subjects() == []
    assert state.schema_of(1) == schema
    state.apply(SchemaRecord("t", 1, 1, schema))
    state.apply(SchemaTombstone("t", 1))
    assert state.versions("t") == []
    assert state.next_id() == 2


def test_state_config_defaults_to_backward_and_subject_overrides_global() -> None:
    state = RegistryState()
    assert state.effective_level("s") is CompatibilityLevel.BACKWARD
    state.apply(ConfigRecord(None, CompatibilityLevel.FULL))
    state.apply(ConfigRecord("s", CompatibilityLevel.NONE))
    assert state.effective_level("s") is CompatibilityLevel.NONE
    assert state.effective_level("other") is CompatibilityLevel.FULL
    state.apply(ConfigRecord("s", None))
    assert state.subject_level("s") is None
    state.apply(ConfigRecord(None, None))
    assert state.global_level is CompatibilityLevel.BACKWARD


# -- records ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "rec",
    [
        SchemaRecord("s", 3, 9, '"string"'),
        SchemaRecord("s", 3, 9, '"string"', deleted=True),
        SchemaTombstone("s", 3),
        ConfigRecord(None, CompatibilityLevel.FULL),
        ConfigRecord("s", CompatibilityLevel.FORWARD_TRANSITIVE),
        ConfigRecord("s", None),
        SubjectDeleteRecord("s", 4),
    ],
)
def test_records_round_trip_through_the_kafka_encoding(rec: LogRecord) -> None:
    key, value = encode_record(rec)
    assert decode_record(key, value) == rec


def test_records_use_confluent_keys_and_values() -> None:
    key, value = encode_record(SchemaRecord("s", 1, 2, '"string"'))
    assert json.loads(key) == {"keytype": "SCHEMA", "subject": "s", "version": 1, "magic": 1}
    assert value is not None
    assert json.loads(value) == {
        "subject": "s",
        "version": 1,
        "id": 2,
        "schema": '"string"',
        "deleted": False,
    }
    key, value = encode_record(ConfigRecord(None, CompatibilityLevel.FULL))
    assert json.loads(key) == {"keytype": "CONFIG", "subject": None, "magic": 0}
    assert value is not None and json.loads(value) == {"compatibilityLevel": "FULL"}


def test_unknown_and_foreign_records_are_ignored() -> None:
    assert decode_record(b'{"keytype":"NOOP","magic":0}', b"{}") is None
    assert decode_record(None, b"{}") is None
    assert decode_record(b"garbage", b"{}") is None
    protobuf = b'{"subject":"s","version":1,"id":1,"schema":"x","schemaType":"PROTOBUF"}'
    assert (
        decode_record(b'{"keytype":"SCHEMA","subject":"s","version":1,"magic":1}', protobuf) is None
    )


# -- the registry service --------------------------------------------------------------


async def test_same_schema_twice_returns_same_id_and_no_new_version() -> None:
    registry = await started_registry()
    first = await registry.register("people-value", record(NAME))
    again = await registry.register("people-value", record(NAME).replace(",", ",  "))
    assert (again.schema_id, again.version) == (first.schema_id, first.version) == (1, 1)
    assert len(registry.versions("people-value")) == 1


async def test_same_schema_under_another_subject_reuses_the_id() -> None:
    registry = await started_registry()
    first = await registry.register("a-value", record(NAME))
    other = await registry.register("b-value", record(NAME))
    assert other.schema_id == first.schema_id
    assert other.version == 1


async def test_register_refuses_an_incompatible_schema_and_writes_nothing() -> None:
    store = MemorySchemaStore()
    await store.start()
    registry = SchemaRegistry(store)
    await registry.register("s", record(NAME))
    with pytest.raises(IncompatibleSchema) as raised:
        await registry.register("s", record(NAME, AGE))
    assert raised.value.error_code == 409
    assert "incompatible with an earlier schema" in raised.value.message
    assert len(store.records) == 1


async def test_compatible_evolution_adds_a_version_with_a_new_id() -> None:
    registry = await started_registry()
    await registry.register("s", record(NAME))
    v2 = await registry.register("s", record(NAME, AGE_DEFAULT))
    assert (v2.version, v2.schema_id) == (2, 2)
    assert registry.version("s", LATEST) == v2


async def test_subject_level_none_allows_any_change() -> None:
    registry = await started_registry()
    await registry.register("s", record(NAME))
    await registry.set_level("s", CompatibilityLevel.NONE)
    assert (await registry.register("s", record(NAME, AGE))).version == 2


async def test_ids_continue_after_the_log_is_replayed() -> None:
    store = MemorySchemaStore()
    await store.start()
    registry = SchemaRegistry(store)
    await registry.register("s", record(NAME))
    await registry.register("t", record(AGE, name="Other"))
    replayed = await started_registry(list(store.records))
    assert replayed.version("t", 1).schema_id == 2
    assert (await replayed.register("u", '"string"')).schema_id == 3


async def test_lookup_and_errors_name_the_missing_thing() -> None:
    registry = await started_registry()
    with pytest.raises(SubjectNotFound):
        registry.lookup("s", record(NAME))
    await registry.register("s", record(NAME))
    assert registry.lookup("s", record(NAME)).version == 1
    with pytest.raises(SchemaNotFound):
        registry.lookup("s", '"string"')
    with pytest.raises(VersionNotFound):
        registry.version("s", 5)
    with pytest.raises(SchemaNotFound):
        registry.schema_by_id(99)
    with pytest.raises(SubjectConfigNotFound):
        registry.level("s")
    assert registry.level("s", default_to_global=True) is CompatibilityLevel.BACKWARD


async def test_check_against_a_specific_version_ignores_transitivity() -> None:
    registry = await started_registry()
    await registry.set_level("s", CompatibilityLevel.BACKWARD_TRANSITIVE)
    await registry.register("s", record(NAME))
    await registry.register("s", record(NAME, AGE_DEFAULT))
    assert registry.check("s", 2, record(NAME, AGE)) == []
    assert registry.check("s", 1, record(NAME, AGE)) != []
    assert registry.check("s", LATEST, record(NAME, AGE)) != []
    assert registry.check("empty", LATEST, record(NAME)) == []


def test_parse_version_accepts_numbers_and_latest_only() -> None:
    assert parse_version("latest") == LATEST == parse_version("-1")
    assert parse_version("3") == 3
    for bad in ("0", "x", "-2", str(2**31)):
        with pytest.raises(InvalidVersion):
            parse_version(bad)


async def test_non_avro_schema_types_are_refused() -> None:
    registry = await started_registry()
    with pytest.raises(InvalidSchema):
        await registry.register("s", "syntax = 'proto3';", "PROTOBUF")


# -- deletes ---------------------------------------------------------------------------


def test_state_keeps_soft_deleted_versions_flagged_and_out_of_listings() -> None:
    state = RegistryState()
    schema = canonical_text(record(NAME))
    state.apply(SchemaRecord("s", 1, 1, schema))
    state.apply(SchemaRecord("s", 1, 1, schema, deleted=True))
    assert state.versions("s") == []
    assert [(v.version, v.deleted) for v in state.versions("s", include_deleted=True)] == [(1, True)]
    assert state.subjects(include_deleted=True) == ["s"] == state.subjects(deleted_only=True)
    assert [v.version for v in state.uses_of(1, include_deleted=True)] == [1]
    assert state.uses_of(1) == []


def test_delete_subject_record_soft_deletes_versions_up_to_its_watermark_only() -> None:
    state = RegistryState()
    for version in (1, 2, 3):
        state.apply(SchemaRecord("s", version, version, canonical_text(record(NAME, name=f"P{version}"))))
    state.apply(SubjectDeleteRecord("s", 2))
    assert [v.version for v in state.versions("s")] == [3]
    assert [v.version for v in state.versions("s", deleted_only=True)] == [1, 2]


def test_tombstone_of_the_last_version_using_an_id_forgets_the_id_but_not_the_counter() -> None:
    state = RegistryState()
    schema = canonical_text(record(NAME))
    state.apply(SchemaRecord("a", 1, 1, schema))
    state.apply(SchemaRecord("b", 1, 1, schema))
    state.apply(SchemaTombstone("a", 1))
    assert state.schema_of(1) == schema and state.id_of(schema) == 1
    state.apply(SchemaTombstone("b", 1))
    assert state.schema_of(1) is None and state.id_of(schema) is None
    assert state.next_id() == 2


async def test_soft_deleted_version_keeps_its_id_fetchable_and_its_number_unused() -> None:
    registry = await started_registry()
    v1 = await registry.register("s", record(NAME))
    await registry.register("s", record(NAME, EMAIL_DEFAULT))
    assert await registry.delete_version("s", 2) == 2
    assert [v.version for v in registry.versions("s")] == [1]
    again = await registry.register("s", record(NAME, EMAIL_DEFAULT))
    assert (again.version, again.schema_id) == (3, 2)
    assert registry.schema_by_id(2) == again.schema
    assert registry.version("s", 2, include_deleted=True).deleted
    with pytest.raises(VersionNotFound):
        registry.version("s", 2)
    assert registry.lookup("s", record(NAME)).version == v1.version


async def test_soft_deleted_versions_take_no_part_in_compatibility_checks() -> None:
    registry = await started_registry()
    await registry.register("s", record(NAME, AGE))
    await registry.register("s", record(NAME, AGE, EMAIL_DEFAULT))
    await registry.set_level("s", CompatibilityLevel.FORWARD_TRANSITIVE)
    with pytest.raises(IncompatibleSchema):
        await registry.register("s", record(NAME))
    await registry.delete_version("s", 1)
    await registry.delete_version("s", 2)
    assert (await registry.register("s", record(NAME))).version == 3


async def test_hard_delete_needs_a_soft_delete_first() -> None:
    registry = await started_registry()
    await registry.register("s", record(NAME))
    with pytest.raises(VersionNotSoftDeleted) as not_soft:
        await registry.delete_version("s", 1, permanent=True)
    assert (not_soft.value.error_code, not_soft.value.message) == (
        40407,
        "Subject 's' Version 1 was not deleted first before being permanently deleted",
    )
    await registry.delete_version("s", 1)
    with pytest.raises(VersionSoftDeleted) as soft:
        await registry.delete_version("s", 1)
    assert (soft.value.error_code, soft.value.message) == (
        40406,
        "Subject 's' Version 1 was soft deleted.Set permanent=true to delete permanently",
    )
    assert await registry.delete_version("s", 1, permanent=True) == 1
    with pytest.raises(SubjectNotFound):
        await registry.delete_version("s", 1, permanent=True)
    with pytest.raises(SchemaNotFound):
        registry.schema_by_id(1)


async def test_subject_deletes_follow_confluent_order_and_errors() -> None:
    store = MemorySchemaStore()
    await store.start()
    registry = SchemaRegistry(store)
    await registry.register("s", record(NAME))
    await registry.register("s", record(NAME, EMAIL_DEFAULT))
    await registry.set_level("s", CompatibilityLevel.FULL)
    with pytest.raises(SubjectNotSoftDeleted) as not_soft:
        await registry.delete_subject("s", permanent=True)
    assert not_soft.value.error_code == 40405
    assert await registry.delete_subject("s") == [1, 2]
    assert registry.state.subjects() == [] and registry.schema_by_id(1)
    with pytest.raises(SubjectSoftDeleted) as soft:
        await registry.delete_subject("s")
    assert soft.value.error_code == 40404
    assert await registry.delete_subject("s", permanent=True) == [1, 2]
    assert registry.state.subjects(include_deleted=True) == []
    assert registry.state.subject_level("s") is None
    with pytest.raises(SubjectNotFound):
        await registry.delete_subject("s")
    assert [type(r).__name__ for r in store.records[-4:]] == [
        "SubjectDeleteRecord", "SchemaTombstone", "SchemaTombstone", "ConfigRecord",
    ]
    assert store.records[-3:-1] == [SchemaTombstone("s", 2), SchemaTombstone("s", 1)]


async def test_deletes_survive_a_replay_of_the_log() -> None:
    store = MemorySchemaStore()
    await store.start()
    registry = SchemaRegistry(store)
    await registry.register("gone", record(NAME))
    await registry.register("soft", record(NAME, name="Soft"))
    await registry.register("half", record(NAME, name="Half"))
    await registry.register("half", record(NAME, EMAIL_DEFAULT, name="Half"))
    await registry.delete_subject("gone")
    await registry.delete_subject("gone", permanent=True)
    await registry.delete_subject("soft")
    await registry.delete_version("half", 1)
    replayed = await started_registry(list(store.records))
    assert replayed.state.subjects() == ["half"]
    assert replayed.state.subjects(include_deleted=True) == ["half", "soft"]
    assert [v.version for v in replayed.versions("half", include_deleted=True)] == [1, 2]
    assert [v.version for v in replayed.versions("half")] == [2]
    assert replayed.schema_by_id(2)
    with pytest.raises(SchemaNotFound):
        replayed.schema_by_id(1)
    assert (await replayed.register("new", '"string"')).schema_id == 5


async def test_global_and_subject_transitive_levels_check_every_live_version() -> None:
    registry = await started_registry()
    await registry.set_level(None, CompatibilityLevel.BACKWARD_TRANSITIVE)
    for subject in ("global", "own"):
        await registry.register(subject, record(NAME))
        await registry.register(subject, record(NAME, AGE_DEFAULT))
    await registry.set_level("own", CompatibilityLevel.BACKWARD)
    assert (await registry.register("own", record(NAME, AGE))).version == 3
    with pytest.raises(IncompatibleSchema) as raised:
        await registry.register("global", record(NAME, AGE))
    assert "version 1" in raised.value.message
