"""The Confluent wire format and the Avro serde, against an in-memory registry."""

from __future__ import annotations

import io
import json
import struct
from datetime import UTC, date, datetime
from typing import Any

import fastavro
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bus.serde.avro import AvroSerde, subject_for
from bus.serde.encoder import compile_encoder
from bus.serde.registry_client import RegistryClient
from bus.serde.wire import MAGIC_BYTE, WireFormatError, frame, schema_id_of, unframe
from schemas.avro_schemas import load_avro_schema

POINT = {
    "type": "record", "name": "Point", "namespace": "test",
    "fields": [{"name": "x", "type": "int"}, {"name": "label", "type": "string"}],
}
POINT_V2 = {
    "type": "record", "name": "Point", "namespace": "test",
    "fields": [
        {"name": "x", "type": "int"}, {"name": "label", "type": "string"},
        {"name": "z", "type": ["null", "long"], "default": None},
    ],
}


class FakeRegistry:
    """The two methods of ``RegistryClient`` the serde uses, counting the calls that reach it."""

    def __init__(self) -> None:
        self.schemas: dict[int, str] = {}
        self.ids: dict[tuple[str, str], int] = {}
        self.register_calls: list[tuple[str, str]] = []
        self.fetch_calls: list[int] = []

    async def register(self, subject: str, schema: str) -> int:
        self.register_calls.append((subject, schema))
        key = (subject, schema)
        if key not in self.ids:
            self.ids[key] = 100 + len(self.schemas)
            self.schemas[self.ids[key]] = schema
        return self.ids[key]

    async def schema_by_id(self, schema_id: int) -> str:
        self.fetch_calls.append(schema_id)
        return self.schemas[schema_id]


def serde_with(registry: FakeRegistry) -> AvroSerde:
    return AvroSerde(registry)  # type: ignore[arg-type]


def test_the_fake_registry_offers_the_methods_of_the_real_client() -> None:
    for method in ("register", "schema_by_id"):
        assert callable(getattr(RegistryClient, method))
        assert callable(getattr(FakeRegistry, method))


# --- wire format -------------------------------------------------------------------------------

def test_frame_then_unframe_returns_the_record() -> None:
    parsed = fastavro.parse_schema(POINT)

    assert unframe(frame(7, parsed, {"x": -3, "label": "点"}), parsed) == {"x": -3, "label": "点"}


def test_a_frame_starts_with_magic_zero_then_the_schema_id_as_four_big_endian_bytes() -> None:
    parsed = fastavro.parse_schema(POINT)

    data = frame(0x01020304, parsed, {"x": 1, "label": ""})

    assert data[0] == MAGIC_BYTE == 0
    assert data[1:5] == b"\x01\x02\x03\x04"
    assert schema_id_of(data) == 0x01020304
    assert data[5:] == b"\x02\x00"  # zig-zag 1, then an empty string's length 0


def test_the_largest_unsigned_32_bit_schema_id_fits_the_header() -> None:
    parsed = fastavro.parse_schema(POINT)

    assert schema_id_of(frame(2**32 - 1, parsed, {"x": 0, "label": "a"})) == 2**32 - 1


@pytest.mark.parametrize("data", [b"", b"\x00", b"\x00\x00\x00\x01"])
def test_a_message_shorter_than_the_header_is_a_wire_format_error(data: bytes) -> None:
    with pytest.raises(WireFormatError, match="shorter"):
        schema_id_of(data)
    with pytest.raises(WireFormatError):
        unframe(data, fastavro.parse_schema(POINT))


@pytest.mark.parametrize("magic", [1, 0x7F, -1])
def test_a_message_with_another_magic_byte_is_a_wire_format_error(magic: int) -> None:
    data = struct.pack(">bI", magic, 1) + b"\x02\x00"

    with pytest.raises(WireFormatError, match="magic"):
        unframe(data, fastavro.parse_schema(POINT))


@pytest.mark.parametrize("body", [b"", b"\x02", b"\x02\x7f", b"\x02\x06\xff\xfe\xfd"])
def test_a_body_that_does_not_match_the_schema_is_a_wire_format_error(body: bytes) -> None:
    data = struct.pack(">bI", 0, 1) + body

    with pytest.raises(WireFormatError, match="does not match"):
        unframe(data, fastavro.parse_schema(POINT))


# --- Avro serde ------------------------------------------------------------------------------

def test_subjects_follow_the_topic_name_strategy() -> None:
    assert subject_for("std.person") == "std.person-value"
    assert subject_for("std.person", is_key=True) == "std.person-key"


async def test_encode_then_decode_returns_the_record() -> None:
    serde = serde_with(FakeRegistry())

    data = await serde.encode("points-value", POINT, {"x": 5, "label": "five"})

    assert await serde.decode(data) == {"x": 5, "label": "five"}


async def test_encode_frames_with_the_id_the_registry_assigned() -> None:
    registry = FakeRegistry()
    serde = serde_with(registry)

    data = await serde.encode("points-value", POINT, {"x": 5, "label": "five"})

    (subject, text), = registry.register_calls
    assert subject == "points-value"
    assert json.loads(text) == POINT
    assert schema_id_of(data) == registry.ids[(subject, text)]


async def test_encode_registers_each_subject_and_schema_once() -> None:
    registry = FakeRegistry()
    serde = serde_with(registry)

    for x in range(5):
        await serde.encode("points-value", POINT, {"x": x, "label": "p"})
    await serde.encode("other-value", POINT, {"x": 0, "label": "p"})
    await serde.encode("points-value", POINT_V2, {"x": 0, "label": "p", "z": 1})

    assert [subject for subject, _ in registry.register_calls] == [
        "points-value", "other-value", "points-value",
    ]


async def test_a_schema_dict_with_keys_in_another_order_is_the_same_registration() -> None:
    registry = FakeRegistry()
    serde = serde_with(registry)
    reordered = {key: POINT[key] for key in reversed(list(POINT))}

    first = await serde.encode("points-value", POINT, {"x": 1, "label": "a"})
    second = await serde.encode("points-value", reordered, {"x": 1, "label": "a"})

    assert len(registry.register_calls) == 1
    assert first == second


async def test_decode_fetches_each_schema_id_once() -> None:
    registry = FakeRegistry()
    producer, consumer = serde_with(registry), serde_with(registry)
    messages = [await producer.encode("points-value", POINT, {"x": x, "label": "p"}) for x in range(4)]

    decoded = [await consumer.decode(m) for m in messages]

    assert [r["x"] for r in decoded] == [0, 1, 2, 3]
    assert registry.fetch_calls == [schema_id_of(messages[0])]


async def test_decode_reads_each_message_with_the_writer_schema_its_id_names() -> None:
    registry = FakeRegistry()
    serde = serde_with(registry)
    old = await serde.encode("points-value", POINT, {"x": 1, "label": "old"})
    new = await serde.encode("points-value", POINT_V2, {"x": 2, "label": "new", "z": 9})

    assert schema_id_of(old) != schema_id_of(new)
    assert await serde.decode(old) == {"x": 1, "label": "old"}
    assert await serde.decode(new) == {"x": 2, "label": "new", "z": 9}
    assert sorted(registry.fetch_calls) == sorted({schema_id_of(old), schema_id_of(new)})


async def test_decode_of_a_message_with_a_bad_magic_byte_asks_no_registry() -> None:
    registry = FakeRegistry()

    with pytest.raises(WireFormatError):
        await serde_with(registry).decode(b"\x01\x00\x00\x00\x01\x00")
    assert registry.fetch_calls == []


async def test_encoding_a_record_that_does_not_fit_the_schema_raises() -> None:
    serde = serde_with(FakeRegistry())

    with pytest.raises((ValueError, TypeError)):
        await serde.encode("points-value", POINT, {"x": "not an int", "label": "p"})


# --- person records --------------------------------------------------------------------------

PERSON = load_avro_schema("person")
optional_text = st.none() | st.text(max_size=40)
timestamps = st.none() | st.datetimes(
    min_value=datetime(1970, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC),
).map(lambda moment: moment.replace(microsecond=moment.microsecond // 1000 * 1000))
persons = st.fixed_dictionaries({
    "identity_number": st.text(min_size=1, max_size=18),
    "name": st.text(max_size=30),
    "sex_code": st.sampled_from(["0", "1", "2", "9"]),
    "birth_date": st.dates(min_value=date(1900, 1, 1), max_value=date(2100, 12, 31)),
    "division_code": optional_text,
    "household_address": optional_text,
    "source": st.fixed_dictionaries({
        "department": st.text(max_size=10),
        "table": st.text(max_size=10),
        "record_key": st.text(max_size=10),
        "event_id": st.uuids().map(str),
        "op": st.sampled_from(["c", "u", "d", "r"]),
        "updated_at": timestamps,
    }),
})


def test_the_person_schema_is_a_valid_avro_record() -> None:
    parsed = fastavro.parse_schema(PERSON)

    assert isinstance(parsed, dict)
    assert parsed["name"] == "rongtong.std.Person"
    assert [f["name"] for f in PERSON["fields"]][:4] == [
        "identity_number", "name", "sex_code", "birth_date",
    ]


@settings(max_examples=60, deadline=None)
@given(person=persons)
async def test_any_person_record_encodes_and_decodes_to_itself(person: dict[str, Any]) -> None:
    serde = serde_with(FakeRegistry())

    data = await serde.encode("std.person-value", PERSON, person)

    assert await serde.decode(data) == person


# --- compiled encoders -----------------------------------------------------------------------

TREE = {  # a record that refers to itself, enums, fixed, arrays, maps, every primitive
    "type": "record", "name": "Node", "namespace": "test.tree",
    "fields": [
        {"name": "label", "type": "string"},
        {"name": "note", "type": ["null", "string"], "default": None},
        {"name": "tail_note", "type": ["string", "null"]},
        {"name": "count", "type": "int"},
        {"name": "total", "type": "long"},
        {"name": "ratio", "type": "float"},
        {"name": "exact", "type": "double"},
        {"name": "flag", "type": "boolean"},
        {"name": "blob", "type": "bytes"},
        {"name": "nothing", "type": "null"},
        {"name": "colour", "type": {"type": "enum", "name": "Colour", "symbols": ["RED", "GREEN"]}},
        {"name": "digest", "type": {"type": "fixed", "name": "Digest", "size": 4}},
        {"name": "tags", "type": {"type": "array", "items": "string"}},
        {"name": "scores", "type": {"type": "map", "values": ["null", "long"]}},
        {"name": "again", "type": ["null", "Colour"], "default": None},
        {"name": "children", "type": {"type": "array", "items": "test.tree.Node"}},
        {"name": "parent", "type": ["null", "Node"], "default": None},
    ],
}
LEAF = {"label": "叶", "tail_note": None, "count": -1, "total": 2**40, "ratio": 0.5,
        "exact": -1e300, "flag": False, "blob": b"", "nothing": None, "colour": "GREEN",
        "digest": b"\x00\x01\x02\x03", "tags": [], "scores": {}, "children": []}
longs = st.integers(min_value=-(2**63), max_value=2**63 - 1)
ints = st.integers(min_value=-(2**31), max_value=2**31 - 1)
nodes = st.fixed_dictionaries({
    "label": st.text(max_size=5000), "note": optional_text, "tail_note": optional_text,
    "count": ints, "total": longs,
    "ratio": st.floats(width=32, allow_nan=False), "exact": st.floats(allow_nan=False),
    "flag": st.booleans(), "blob": st.binary(max_size=50), "nothing": st.none(),
    "colour": st.sampled_from(["RED", "GREEN"]), "digest": st.binary(min_size=4, max_size=4),
    "tags": st.lists(st.text(max_size=5), max_size=3),
    "scores": st.dictionaries(st.text(max_size=5), st.none() | longs, max_size=3),
    "again": st.none() | st.sampled_from(["RED", "GREEN"]),
    "children": st.lists(st.just(LEAF), max_size=2),
    "parent": st.none() | st.just(LEAF),
})


def fastavro_bytes(schema: dict[str, Any], record: Any, prefix: bytes = b"") -> bytes:
    buffer = io.BytesIO(prefix)
    buffer.seek(len(prefix))
    fastavro.schemaless_writer(buffer, fastavro.parse_schema(schema), record)
    return buffer.getvalue()


@settings(max_examples=150, deadline=None)
@given(node=nodes)
def test_a_compiled_encoder_writes_the_bytes_fastavro_writes(node: dict[str, Any]) -> None:
    encode = compile_encoder(TREE, b"\x00\x00\x00\x00\x07")

    assert encode is not None
    assert encode(node) == fastavro_bytes(TREE, node, b"\x00\x00\x00\x00\x07")


def test_a_compiled_encoder_writes_defaults_for_missing_fields_as_fastavro_does() -> None:
    encode = compile_encoder(TREE)

    assert encode is not None
    assert encode(LEAF) == fastavro_bytes(TREE, LEAF)


@pytest.mark.parametrize("schema", [
    {"type": "long", "logicalType": "timestamp-millis"},
    ["null", "string", "long"],
    {"type": "record", "name": "R", "fields": [{"name": "at", "type": {
        "type": "int", "logicalType": "date"}}]},
    {"type": "record", "name": "R", "fields": [{"name": "x", "type": "Unknown"}]},
])
def test_schemas_with_logical_types_or_wide_unions_are_left_to_fastavro(schema: Any) -> None:
    assert compile_encoder(schema) is None


@pytest.mark.parametrize("record", [
    {**LEAF, "label": 7},
    {**LEAF, "count": 2**31},
    {**LEAF, "total": "1"},
    {**LEAF, "flag": 1},
    {**LEAF, "colour": "BLUE"},
    {**LEAF, "digest": b"\x00"},
    {**LEAF, "note": b"bytes"},
    {**LEAF, "tags": "not a list"},
    {**LEAF, "children": [{"label": "no other fields"}]},
    "not a record",
])
def test_a_compiled_encoder_refuses_a_record_that_does_not_fit(record: Any) -> None:
    encode = compile_encoder(TREE)

    assert encode is not None
    with pytest.raises(ValueError):
        encode(record)


async def test_the_serde_encoder_is_the_function_encode_applies() -> None:
    serde = serde_with(FakeRegistry())

    encode = await serde.encoder("points-value", POINT)

    assert encode({"x": 5, "label": "五"}) == await serde.encode("points-value", POINT,
                                                                {"x": 5, "label": "五"})
    assert await serde.decode(encode({"x": 5, "label": "五"})) == {"x": 5, "label": "五"}
