"""The C speedups (bus/_speedups.c) give exactly the bytes and ids of the Python they replace."""

from __future__ import annotations

import hashlib
import io
import json
from datetime import UTC, datetime
from typing import Any

import fastavro
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.capture.change_event import change_key_schema, change_value_schema
from adapters.capture.record_workers import RecordPlan, _Builder, native_plan, outgoing_records
from adapters.capture.source import Change
from bus.envelope import CloudEvent, HeaderTemplate
from bus.serde.encoder import _Compiler
from bus.speedups import _configured, pure_python, speedups

accelerated = speedups()


def test_the_extension_is_built() -> None:
    assert accelerated is not None, (
        "bus/_speedups.c is not compiled: `pip install -e .` builds it (needs gcc and the "
        "Python headers); without it capture runs the slower pure-Python path")


def test_bus_speedups_0_turns_them_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BUS_SPEEDUPS", "0")
    _configured.cache_clear()
    try:
        assert speedups() is None
    finally:
        monkeypatch.undo()
        _configured.cache_clear()
    assert speedups() is accelerated


def test_pure_python_turns_them_off_for_a_block() -> None:
    with pure_python():
        assert speedups() is None
        with pure_python():
            assert speedups() is None
        assert speedups() is None
    assert speedups() is accelerated


pytestmark_needs_c = pytest.mark.skipif(accelerated is None, reason="speedups not built")


@pytestmark_needs_c
@given(st.binary(max_size=300), st.sampled_from(["sha1", "sha256"]), st.booleans())
def test_hashes_equal_hashlib(data: bytes, name: str, portable: bool) -> None:
    assert accelerated is not None
    assert accelerated.hex_digest(name, data, portable) == hashlib.new(name, data).hexdigest()


@pytestmark_needs_c
@pytest.mark.parametrize("portable", [True, False], ids=["portable", "openssl"])
def test_hashes_across_block_boundaries(portable: bool) -> None:
    assert accelerated is not None
    for size in range(0, 260):
        data = bytes(range(256))[:size % 256] * (1 + size // 256)
        for name in ("sha1", "sha256"):
            assert (accelerated.hex_digest(name, data, portable)
                    == hashlib.new(name, data).hexdigest())


# -- flat records -------------------------------------------------------------------------

FLAT_TYPES: dict[str, tuple[Any, st.SearchStrategy[Any]]] = {
    "string": ("string", st.text()),
    "null|string": (["null", "string"], st.none() | st.text()),
    "string|null": (["string", "null"], st.none() | st.text()),
    "boolean": ("boolean", st.booleans()),
    "long": ("long", st.integers(-(2 ** 63), 2 ** 63 - 1)),
    "int": ({"type": "int"}, st.integers(-(2 ** 31), 2 ** 31 - 1)),
}


@st.composite
def flat_records(draw: st.DrawFn) -> tuple[dict[str, Any], dict[str, Any]]:
    kinds = draw(st.lists(st.sampled_from(sorted(FLAT_TYPES)), min_size=1, max_size=12))
    fields, record = [], {}
    for i, kind in enumerate(kinds):
        avro_type, values = FLAT_TYPES[kind]
        field: dict[str, Any] = {"name": f"f{i}", "type": avro_type}
        if kind == "null|string":
            field["default"] = None
            if draw(st.booleans()):  # a missing optional field is written as its default
                fields.append(field)
                continue
        fields.append(field)
        record[f"f{i}"] = draw(values)
    return {"type": "record", "name": "Flat", "fields": fields}, record


@pytestmark_needs_c
@settings(max_examples=300)
@given(flat_records())
def test_flat_records_equal_the_python_writer_and_fastavro(
        case: tuple[dict[str, Any], dict[str, Any]]) -> None:
    schema, record = case
    c_out, py_out = bytearray(), bytearray()
    _Compiler(accelerated).writer(schema, "")(c_out, record)
    _Compiler(None).writer(schema, "")(py_out, record)
    reference = io.BytesIO()
    fastavro.schemaless_writer(reference, fastavro.parse_schema(schema), record)
    assert bytes(c_out) == bytes(py_out) == reference.getvalue()


@pytestmark_needs_c
@pytest.mark.parametrize("value", [1, b"bytes", 1.5])
def test_a_wrong_type_is_refused_by_both(value: object) -> None:
    schema = {"type": "record", "name": "R", "fields": [{"name": "a", "type": "string"}]}
    for compiler in (_Compiler(accelerated), _Compiler(None)):
        with pytest.raises((TypeError, AttributeError, ValueError)):
            compiler.writer(schema, "")(bytearray(), {"a": value})


@pytestmark_needs_c
def test_an_out_of_range_long_is_refused() -> None:
    schema = {"type": "record", "name": "R", "fields": [{"name": "a", "type": "int"}]}
    with pytest.raises(ValueError, match="int expected"):
        _Compiler(accelerated).writer(schema, "")(bytearray(), {"a": 2 ** 31})


# -- change records -----------------------------------------------------------------------

COLUMNS = ("id", "sub", "name", "地址", "note-x", "op")
VALUES = st.none() | st.text(max_size=40) | st.sampled_from(["", "中文'\"\\", "a%sb", "\x00\n"])


def plan_for(key_columns: tuple[str, ...]) -> RecordPlan:
    return RecordPlan("rsj", "ac01", "sqlite", "legacy.sqlite", COLUMNS, key_columns,
                      json.dumps(change_value_schema("rsj", "ac01", COLUMNS)), b"\x00\x00\x00\x00\x07",
                      json.dumps(change_key_schema("rsj", "ac01", key_columns)),
                      b"\x00\x00\x00\x00\x08")


@st.composite
def images(draw: st.DrawFn) -> dict[str, str | None]:
    row = {column: draw(VALUES) for column in COLUMNS}
    for column in draw(st.sets(st.sampled_from(COLUMNS), max_size=2)):
        del row[column]  # a column the image lacks: written as null, another event id form
    if draw(st.booleans()):
        row = dict(reversed(list(row.items())))
    return row


@st.composite
def changes(draw: st.DrawFn, key_columns: tuple[str, ...]) -> Change:
    op = draw(st.sampled_from("cudr"))
    key = {column: draw(st.none() | st.text(max_size=8)) for column in key_columns}
    after = None if op == "d" else draw(images() | st.just({}))
    before = draw(st.none() | images())
    return Change(op, key, before, after, draw(st.text(max_size=30)),
                  draw(st.integers(-(2 ** 63), 2 ** 63 - 1)), draw(st.booleans()))


@pytestmark_needs_c
@settings(max_examples=200)
@given(st.data(), st.sampled_from([("id",), ("id", "sub")]))
def test_change_records_equal_the_python_builder(data: st.DataObject,
                                                 key_columns: tuple[str, ...]) -> None:
    builder = _Builder(plan_for(key_columns))
    assert builder.native is not None
    batch = data.draw(st.lists(changes(key_columns), max_size=20))
    captured_ms = data.draw(st.integers(0, 2 ** 62))
    assert builder.build(batch, captured_ms) == builder._build(batch, captured_ms)


@pytestmark_needs_c
def test_wire_changes_build_as_named_tuples_do() -> None:
    builder = _Builder(plan_for(("id",)))
    change = Change("u", {"id": "7"}, None, {c: c.upper() for c in COLUMNS}, "p", 5, False)
    assert builder.build([tuple(change)[:7]], 1) == builder.build([change], 1)


@pytestmark_needs_c
def test_an_unknown_op_and_a_non_text_value_are_refused() -> None:
    builder = _Builder(plan_for(("id",)))
    with pytest.raises(ValueError, match="unknown change operation"):
        builder.build([Change("x", {"id": "1"}, None, {"id": "1"}, "p", 0)], 0)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="string expected"):
        builder.build([Change("c", {"id": "1"}, None, {"id": 1}, "p", 0)], 0)  # type: ignore[dict-item]


@pytestmark_needs_c
@settings(max_examples=200)
@given(st.data(), st.sampled_from([("id",), ("id", "sub")]),
       st.sampled_from([None, "sensitive_personal"]), st.text(max_size=6))
def test_outgoing_records_equal_the_python_loop(data: st.DataObject, key_columns: tuple[str, ...],
                                                classification: str | None, prefix: str) -> None:
    builder = _Builder(plan_for(key_columns))
    batch = data.draw(st.lists(changes(key_columns), max_size=20))
    built = builder.build(batch, 5)
    template = HeaderTemplate("rongtong.legacy.row.changed", "/adapters/户籍/sqlite/t",
                              datetime(2026, 11, 28, tzinfo=UTC),
                              dataclassification=classification)

    native = outgoing_records("topic.t", batch, built, template, prefix)
    with pure_python():
        python = outgoing_records("topic.t", batch, built, template, prefix)

    assert native == python
    assert len(python) == len(batch) + sum(1 for change in batch if change.op == "d")
    for topic, key, _, headers in python:
        event = CloudEvent.from_headers(headers)  # what a consumer reads back
        assert topic == "topic.t" and key is not None and event.id and event.subject is not None


def test_key_columns_that_are_not_avro_names_take_the_python_path() -> None:
    assert native_plan(plan_for(("id",))) is not None or accelerated is None
    assert native_plan(plan_for(("note-x",))) is None


# -- row images ---------------------------------------------------------------------------

LEGACY_VALUES = (st.none() | st.text(max_size=12) | st.integers(-10 ** 20, 10 ** 20) | st.booleans()
                 | st.floats(allow_nan=False) | st.decimals(allow_nan=False, allow_infinity=False)
                 | st.dates() | st.datetimes() | st.binary(max_size=8)
                 | st.sampled_from(["中文".encode("gbk"), "中文".encode(), b"\xff\xfe"]))


@pytestmark_needs_c
@settings(max_examples=300)
@given(st.data(), st.integers(0, 2), st.sampled_from([("id",), ("id", "b"), ("b", "zz")]))
def test_images_equal_the_python_conversion(data: st.DataObject, skip: int,
                                            key_columns: tuple[str, ...]) -> None:
    from adapters.capture.source import TableSpec
    from adapters.capture.strategies import common

    columns = ("id", "b", "c")[:data.draw(st.integers(0, 3))]
    rows = data.draw(st.lists(st.tuples(*[LEGACY_VALUES] * (skip + len(columns))), max_size=8))
    spec = TableSpec(department="d", table="t", key_columns=key_columns, strategy="snapshot")
    fast = common.images(spec, columns, rows, skip=skip)
    with pure_python():
        slow = common.images(spec, columns, rows, skip=skip)
    assert fast == slow


ROW_TEXT = st.text(max_size=12) | st.sampled_from(["'", '"', "\\", "it's", '\'"', "名\n字",
                                                  "\x7f", "\u2028", "é", "😀", "\ud800"])


@pytestmark_needs_c
@given(st.dictionaries(ROW_TEXT, st.none() | ROW_TEXT | st.integers(), max_size=12))
def test_row_digests_equal_the_python_digest(row: dict[str, Any]) -> None:
    from adapters.capture.rows import row_digest

    with pure_python():
        slow = row_digest(row)
    assert row_digest(row) == slow
    assert slow == hashlib.sha256(repr(sorted(row.items())).encode()).hexdigest()[:16]


JSON_TEXT = st.text(max_size=10) | st.sampled_from(["\"", "\\", "\n\r\t\b\f", "\x00\x1f\x7f",
                                                  "名字", "😀", "__line__", "id", "a\u2028b"])


@pytestmark_needs_c
@given(st.dictionaries(JSON_TEXT, st.none() | JSON_TEXT, max_size=10),
       st.lists(JSON_TEXT, min_size=1, max_size=3).map(tuple))
def test_extract_rows_equal_the_python_texts(row: dict[str, str | None],
                                             key_columns: tuple[str, ...]) -> None:
    from adapters.capture.engines.files_diff import _to_json, key_json, row_hash
    from adapters.capture.engines.files_records import LINE_COLUMN

    assert accelerated is not None
    kept = {c: v for c, v in row.items() if c != LINE_COLUMN}
    expected = (key_json(row, key_columns), row_hash(kept), _to_json(kept))
    assert accelerated.extract_row(row, key_columns, LINE_COLUMN) == expected


@pytestmark_needs_c
@pytest.mark.parametrize("row", [{"id": 1}, {"id": "1", "n": 2.5}, {"id": "\ud800"}])
def test_extract_rows_the_c_cannot_write_exactly_go_to_python(row: dict[str, Any]) -> None:
    assert accelerated is not None
    assert accelerated.extract_row(row, ("id",), "__line__") is None


# -- pgoutput tuples ----------------------------------------------------------------------

PG_VALUES = st.none() | st.just("unchanged") | st.binary(max_size=40)


def tuple_data(values: list[bytes | str | None], kinds: list[str]) -> bytes:
    out = bytearray(len(values).to_bytes(2, "big"))
    for value, kind in zip(values, kinds, strict=True):
        if value is None:
            out += b"n"
        elif value == "unchanged":
            out += b"u"
        else:
            assert isinstance(value, bytes)
            out += kind.encode() + len(value).to_bytes(4, "big") + value
    return bytes(out)


@pytestmark_needs_c
@given(st.data(), st.binary(max_size=5), st.binary(max_size=5))
def test_pgoutput_tuples_read_as_the_python_reader_does(data: st.DataObject, head: bytes,
                                                        tail: bytes) -> None:
    from adapters.capture.engines.postgres_pgoutput import _Reader

    values = data.draw(st.lists(PG_VALUES, max_size=12))
    kinds = data.draw(st.lists(st.sampled_from("tb"), min_size=len(values), max_size=len(values)))
    message = head + tuple_data(values, kinds) + tail

    def read() -> tuple[tuple[object, ...], int]:
        reader = _Reader(message)
        reader.at = len(head)
        return reader.tuple_data(), reader.at

    fast = read()
    with pure_python():
        slow = read()
    assert fast == slow
    assert fast[1] == len(message) - len(tail)


@pytestmark_needs_c
def test_an_unknown_pgoutput_value_kind_is_refused() -> None:
    assert accelerated is not None
    with pytest.raises(ValueError, match="unknown pgoutput tuple value kind"):
        accelerated.pgoutput_tuple(b"\x00\x01x", 0, object())
