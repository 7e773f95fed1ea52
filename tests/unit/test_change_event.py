"""The Debezium-like change envelope: schemas, records, names and deterministic event ids."""

from __future__ import annotations

import io
from typing import Any

import fastavro
import pytest

from adapters.capture.change_event import (
    ChangeEventIds,
    ChangeRecords,
    SourceInfo,
    avro_name,
    change_event_id,
    change_key_schema,
    change_record,
    change_value_schema,
)
from adapters.capture.rows import row_digest
from bus.serde.encoder import compile_encoder

COLUMNS = ["RYBH", "SFZH", "XM", "XB", "CSRQ", "HJDZ", "XZQH", "GXSJ"]
SOURCE = SourceInfo(department="gongan", engine="sqlite", database="gongan.sqlite",
                    table="hj_ryxx", position="2024-03-07 08:30:15|R1", snapshot=False,
                    ts_ms=1_709_771_415_000)


def round_trip(schema: dict[str, Any], record: dict[str, Any]) -> Any:
    parsed = fastavro.parse_schema(schema)
    buffer = io.BytesIO()
    fastavro.schemaless_writer(buffer, parsed, record)
    buffer.seek(0)
    return fastavro.schemaless_reader(buffer, parsed, None)


def test_the_change_value_schema_parses_and_a_change_record_round_trips() -> None:
    schema = change_value_schema("gongan", "hj_ryxx", COLUMNS)
    before = {c: None for c in COLUMNS}
    after = {**before, "RYBH": "R1", "XM": "王小明", "GXSJ": "2024-03-07 08:30:15"}
    record = change_record("u", before, after, SOURCE, 1_709_771_416_000)

    assert round_trip(schema, record) == record
    assert schema["name"] == "HjRyxxChange"
    assert schema["namespace"] == "rongtong.legacy.gongan"


def test_a_change_without_before_or_after_image_round_trips_with_nulls() -> None:
    schema = change_value_schema("gongan", "hj_ryxx", COLUMNS)
    record = change_record("d", None, None, SOURCE, 0)

    assert round_trip(schema, record) == record


def test_the_key_schema_round_trips_the_key_columns() -> None:
    schema = change_key_schema("gongan", "hj_ryxx", ["RYBH"])

    assert round_trip(schema, {"RYBH": "R1"}) == {"RYBH": "R1"}


def test_columns_with_non_avro_names_are_sanitized_in_schema_and_record() -> None:
    columns = ["人员编号", "update-time", "9col"]
    schema = change_value_schema("公安", "hj ryxx", columns)
    record = change_record("c", None, {"人员编号": "R1", "update-time": "t", "9col": None}, SOURCE, 0)

    decoded = round_trip(schema, record)

    assert decoded["after"] == {"____": "R1", "update_time": "t", "_9col": None}


@pytest.mark.parametrize(
    ("text", "expected"),
    [("RYBH", "RYBH"), ("update-time", "update_time"), ("9col", "_9col"), ("户籍", "__"),
     ("_x", "_x"), ("a.b c", "a_b_c")],
)
def test_avro_name_keeps_letters_digits_and_underscores_and_never_starts_with_a_digit(
    text: str, expected: str,
) -> None:
    assert avro_name(text) == expected


def test_an_unknown_operation_is_refused() -> None:
    with pytest.raises(ValueError, match="x"):
        change_record("x", None, None, SOURCE, 0)


def test_the_change_event_id_is_deterministic_for_the_same_row_image() -> None:
    row = {"RYBH": "R1", "XM": "王小明"}

    assert change_event_id("gongan", "hj_ryxx", "R1", row) == change_event_id(
        "gongan", "hj_ryxx", "R1", dict(reversed(list(row.items()))))


@pytest.mark.parametrize(
    ("department", "table", "key", "row"),
    [
        ("gongan", "hj_ryxx", "R1", {"RYBH": "R1", "XM": "王小红"}),
        ("gongan", "hj_ryxx", "R1", {"RYBH": "R1", "XM": None}),
        ("gongan", "hj_ryxx", "R2", {"RYBH": "R1", "XM": "王小明"}),
        ("gongan", "other", "R1", {"RYBH": "R1", "XM": "王小明"}),
        ("minzheng", "hj_ryxx", "R1", {"RYBH": "R1", "XM": "王小明"}),
    ],
)
def test_the_change_event_id_changes_with_row_content_key_table_or_department(
    department: str, table: str, key: str, row: dict[str, str | None],
) -> None:
    original = change_event_id("gongan", "hj_ryxx", "R1", {"RYBH": "R1", "XM": "王小明"})

    assert change_event_id(department, table, key, row) != original


def test_the_row_digest_is_independent_of_column_order_and_sensitive_to_values() -> None:
    row: dict[str, str | None] = {"RYBH": "R1", "XM": "张三"}

    assert row_digest(row) == row_digest({"XM": "张三", "RYBH": "R1"})
    assert row_digest(row) != row_digest({"RYBH": "R1", "XM": "李四"})
    assert row_digest(row) != row_digest({"RYBH": "R1", "XM": None})


# --- the per-table helpers the runner uses ---------------------------------------------------

@pytest.mark.parametrize("row", [
    {"op": "c", "RYBH": "R1", "XM": "王小明", "GXSJ": None},
    {"GXSJ": "2024-03-07 08:30:15", "op": "u", "XM": "'引号'\n\\", "RYBH": "R1"},
    {"op": "d", "RYBH": "R1"},
    {"op": "r"},
])
def test_change_event_ids_are_the_ids_change_event_id_gives(row: dict[str, str | None]) -> None:
    ids = ChangeEventIds("gongan", "hj_ryxx")

    assert ids("R1", row) == change_event_id("gongan", "hj_ryxx", "R1", row)
    assert ids("R1", dict(reversed(list(row.items())))) == ids("R1", row)
    assert ids("R2", row) == change_event_id("gongan", "hj_ryxx", "R2", row) != ids("R1", row)


@pytest.mark.parametrize("columns", [COLUMNS, ["人员编号", "update-time", "9col"]])
def test_change_records_complete_and_rename_images_as_change_record_does(columns: list[str]) -> None:
    records = ChangeRecords(columns, department="gongan", engine="sqlite",
                            database="gongan.sqlite", table="hj_ryxx")
    full = {c: f"v{i}" for i, c in enumerate(columns)}
    partial = {columns[0]: "R1"}
    complete = {c: partial.get(c) for c in columns}

    for op, before, after, expected_before in [("u", partial, full, complete), ("c", None, full, None),
                                               ("d", full, None, full)]:
        record = records.record(op, before, after, position=SOURCE.position, snapshot=False,
                                ts_ms=SOURCE.ts_ms, captured_ms=7)
        assert record == change_record(op, expected_before, after, SOURCE, 7)


def test_change_records_refuse_an_unknown_operation() -> None:
    records = ChangeRecords(COLUMNS, department="gongan", engine="sqlite", database="d",
                            table="hj_ryxx")

    with pytest.raises(ValueError, match="x"):
        records.record("x", None, None, position="", snapshot=False, ts_ms=0, captured_ms=0)


@pytest.mark.parametrize("columns", [("RYBH", "XM"), ("id", "名字", "1st col")])
def test_the_change_envelope_compiles_to_the_bytes_fastavro_writes(columns: tuple[str, ...]) -> None:
    schema = change_value_schema("gongan", "hj_ryxx", columns)
    row = {avro_name(c): f"值{i}" for i, c in enumerate(columns)}
    encode = compile_encoder(schema)

    assert encode is not None
    for record in (change_record("c", None, row, SOURCE, 1), change_record("u", row, row, SOURCE, 2),
                   change_record("d", row, None, SOURCE, -3)):
        buffer = io.BytesIO()
        fastavro.schemaless_writer(buffer, fastavro.parse_schema(schema), record)
        assert encode(record) == buffer.getvalue()


@pytest.mark.parametrize("op", ["c", "u", "d", "r"])
@pytest.mark.parametrize("image", [
    {"RYBH": "R1", "XM": "王小明", "GXSJ": None},
    {"GXSJ": "2024-03-07 08:30:15", "XM": "'引号'\n\\%s", "RYBH": "R1"},
    {"op": "a column named op", "RYBH": "R1"},
    {"100%": "%d", "a%s": None},
    {"RYBH": "R1"},
    {},
])
def test_the_id_of_a_change_is_the_id_of_its_image_with_its_op(op: str,
                                                               image: dict[str, str | None]) -> None:
    ids = ChangeEventIds("gongan", "hj_ryxx")
    expected = change_event_id("gongan", "hj_ryxx", "R1", {"op": op, **image})

    assert ids.of_change("R1", op, image) == expected
    assert ids.of_change("R1", op, dict(image)) == expected  # the second time from its column set
    assert ids.of_change("R1", op, dict(reversed(list(image.items())))) == expected
