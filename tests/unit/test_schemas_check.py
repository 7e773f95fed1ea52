"""``bus schemas check`` logic: repository schemas against registered subjects, without a registry."""

from __future__ import annotations

import json
from typing import Any

from bus.registry.check import (
    CheckStatus,
    RegisteredSubject,
    RepositorySchema,
    check_schemas,
    describe_changes,
    render_report,
    repository_schemas,
    subject_pattern,
)
from bus.registry.compat import CompatibilityLevel

BACKWARD = CompatibilityLevel.BACKWARD


def person(*fields: dict[str, Any]) -> dict[str, Any]:
    base: list[dict[str, Any]] = [
        {"name": "identity_number", "type": "string"},
        {"name": "name", "type": "string"},
    ]
    return {"type": "record", "name": "Person", "namespace": "rongtong.std", "fields": base + list(fields)}


SEX = {"name": "sex_code", "type": "string"}
EMAIL = {"name": "email", "type": ["null", "string"], "default": None}


def registered(
    subject: str, *schemas: dict[str, Any], level: CompatibilityLevel = BACKWARD
) -> dict[str, RegisteredSubject]:
    versions = tuple((i + 1, json.dumps(s)) for i, s in enumerate(schemas))
    return {subject: RegisteredSubject(subject, level, versions)}


def repo(schema: dict[str, Any], name: str = "person") -> list[RepositorySchema]:
    return [RepositorySchema(name, subject_pattern(name, schema), schema)]


def test_subjects_follow_the_topic_name_strategy_the_bus_registers_with() -> None:
    assert subject_pattern("person", person()) == "std.person-value"
    assert subject_pattern("person_key", {"type": "record", "name": "K", "fields": []}) == "std.person-key"
    quarantine = {"type": "record", "name": "Q", "namespace": "rongtong.quarantine", "fields": []}
    assert subject_pattern("quarantined_record", quarantine) == "quarantine.*-value"
    assert subject_pattern("x", {"type": "record", "name": "X", "topic": "app.cases", "fields": []}) == (
        "app.cases-value"
    )


def test_shipped_schemas_are_found_and_history_is_left_out() -> None:
    names = {r.name: r.subject for r in repository_schemas()}
    assert names["person"] == "std.person-value"
    assert names["person_key"] == "std.person-key"
    assert names["quarantined_record"] == "quarantine.*-value"
    assert not any(".v" in name for name in names)


def test_unregistered_subjects_are_new_and_pass() -> None:
    [result] = check_schemas(repo(person()), {})
    assert (result.subject, result.status, result.failed) == ("std.person-value", CheckStatus.NEW, False)


def test_same_schema_is_unchanged_and_a_compatible_change_is_compatible() -> None:
    [same] = check_schemas(repo(person(SEX)), registered("std.person-value", person(SEX)))
    assert same.status is CheckStatus.UNCHANGED and same.latest_version == 1
    [added] = check_schemas(repo(person(SEX, EMAIL)), registered("std.person-value", person(SEX)))
    assert added.status is CheckStatus.COMPATIBLE and not added.failed
    assert added.changes == ("+ field email: null|string, default null",)


def test_a_new_required_field_breaks_backward_and_says_which_and_why() -> None:
    [result] = check_schemas(repo(person(SEX)), registered("std.person-value", person()))
    assert result.status is CheckStatus.INCOMPATIBLE and result.failed
    assert result.changes == (
        "+ field sex_code: string, no default\n"
        "    breaks BACKWARD: data written without sex_code cannot be read; give it a default",
    )
    assert result.reasons and "version 1" in result.reasons[0]


def test_transitive_levels_fail_on_an_older_version_the_latest_would_pass() -> None:
    age = {"name": "age", "type": "int"}
    age_default = {"name": "age", "type": "int", "default": 0}
    history = (person(), person(age_default))
    [plain] = check_schemas(repo(person(age)), registered("std.person-value", *history))
    assert plain.status is CheckStatus.COMPATIBLE
    [transitive] = check_schemas(
        repo(person(age)),
        registered("std.person-value", *history, level=CompatibilityLevel.BACKWARD_TRANSITIVE),
    )
    assert transitive.status is CheckStatus.INCOMPATIBLE
    assert transitive.changes == (
        "~ field age: default 0 removed\n    breaks BACKWARD_TRANSITIVE if older data lacks age",
    )
    assert "version 1" in transitive.reasons[0]


def test_forward_level_flags_a_removed_field_the_old_readers_need() -> None:
    [result] = check_schemas(
        repo(person()), registered("std.person-value", person(SEX), level=CompatibilityLevel.FORWARD)
    )
    assert result.status is CheckStatus.INCOMPATIBLE
    assert result.changes[0].startswith("- field sex_code: string, no default\n    breaks FORWARD")


def test_none_level_accepts_anything() -> None:
    other = {"type": "record", "name": "Person", "namespace": "rongtong.std", "fields": [SEX]}
    [result] = check_schemas(
        repo(other), registered("std.person-value", person(), level=CompatibilityLevel.NONE)
    )
    assert result.status is CheckStatus.COMPATIBLE


def test_a_pattern_checks_every_matching_subject() -> None:
    quarantine = {"type": "record", "name": "Q", "namespace": "rongtong.quarantine", "fields": [SEX]}
    subjects = {
        **registered("quarantine.a.t-value", quarantine),
        **registered("quarantine.b.t-value", {**quarantine, "fields": []}),
        **registered("std.person-value", person()),
    }
    results = check_schemas(repo(quarantine, "quarantined_record"), subjects)
    assert [(r.subject, r.status) for r in results] == [
        ("quarantine.a.t-value", CheckStatus.UNCHANGED),
        ("quarantine.b.t-value", CheckStatus.INCOMPATIBLE),
    ]


def test_describe_changes_walks_nested_records_types_and_defaults() -> None:
    source_v1 = {"type": "record", "name": "Src", "fields": [{"name": "op", "type": "string"}]}
    source_v2 = {"type": "record", "name": "Src", "fields": [{"name": "op", "type": "int"}]}
    old = person({"name": "source", "type": source_v1}, {"name": "n", "type": "int", "default": 1})
    new = person({"name": "source", "type": source_v2}, {"name": "n", "type": "long", "default": 1})
    assert describe_changes(old, new) == [
        "~ field source.op: type string → int",
        "~ field n: type int → long",
    ]
    date = {"name": "birth", "type": {"type": "int", "logicalType": "date"}}
    assert describe_changes(person(date), person({**date, "type": "string"})) == [
        "~ field birth: type int(date) → string"
    ]


def test_invalid_repository_schema_fails() -> None:
    broken = {"type": "record", "name": "Person", "fields": [{"name": "a", "type": "nope"}]}
    [result] = check_schemas(repo(broken), {})
    assert result.status is CheckStatus.INVALID and result.failed


def test_report_explains_failures_then_tabulates_everything() -> None:
    results = check_schemas(
        repo(person(SEX)) + repo(person(), "person_key"),
        registered("std.person-value", person()),
    )
    report = render_report(results)
    assert report.startswith(
        "✗ std.person-value: schemas/avro/person.avsc is incompatible with registered version 1"
        " under BACKWARD\n  changes against version 1:\n    + field sex_code: string, no default\n"
    )
    assert "std.person-key    person_key.avsc  -         -           new" in report
    assert report.endswith("1 of 2 subjects would break; see above.")
    ok = render_report(check_schemas(repo(person()), {}))
    assert ok.endswith("all 1 subjects compatible (or new).") and "✗" not in ok
