"""pgoutput row messages read in C make the same changes as the Python reader."""

from __future__ import annotations

import struct
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.capture.engines.postgres_pgoutput import (
    UNCHANGED,
    Column,
    Relation,
    RowChange,
    parse_message,
)
from adapters.capture.engines.postgres_stream import TableDecoder
from bus.speedups import speedups

pytestmark = pytest.mark.skipif(speedups() is None, reason="speedups not built")

OID = 16_401
TEXT_OID, BYTEA_OID = 25, 17
VALUES = (st.none() | st.just(UNCHANGED) | st.text(max_size=20).map(str.encode)
          | st.sampled_from(["张三".encode("gbk"), b"\xff\xfe", b""]) | st.binary(max_size=8))


def tuple_data(values: list[Any], kind: str = "t") -> bytes:
    out = bytearray(struct.pack("!h", len(values)))
    for value in values:
        if value is None:
            out += b"n"
        elif value is UNCHANGED:
            out += b"u"
        else:
            out += kind.encode() + struct.pack("!i", len(value)) + value
    return bytes(out)


def row_message(kind: str, oid: int, old_kind: str | None, old: list[Any] | None,
                new: list[Any] | None, value_kind: str) -> bytes:
    out = bytearray(kind.encode() + struct.pack("!I", oid))
    if old is not None and old_kind is not None:
        out += old_kind.encode() + tuple_data(old, value_kind)
    if new is not None:
        out += b"N" + tuple_data(new, value_kind)
    return bytes(out)


def decoder_for(columns: list[Column]) -> TableDecoder:
    decoder = TableDecoder("public", "persons", [c.name for c in columns if c.is_key])
    decoder.relations[OID] = Relation(OID, "public", "persons", "d", tuple(columns))
    decoder.relations[OID + 1] = Relation(OID + 1, "public", "other", "d", tuple(columns))
    return decoder


@st.composite
def messages(draw: st.DrawFn) -> tuple[list[Column], bytes]:
    names = draw(st.lists(st.sampled_from(["id", "name", "名字", "note", "b"]), min_size=1,
                          max_size=5, unique=True))
    columns = [Column(name, draw(st.sampled_from([TEXT_OID, TEXT_OID, BYTEA_OID])),
                      i == 0 or draw(st.booleans())) for i, name in enumerate(names)]
    width = len(columns) + draw(st.sampled_from([0, 0, 0, -1, 1]))  # wrong counts now and then
    kind = draw(st.sampled_from("IUD"))
    old_kind = draw(st.sampled_from(["K", "O"])) if kind == "D" else (
        draw(st.sampled_from([None, "K", "O"])) if kind == "U" else None)
    old = draw(st.lists(VALUES, min_size=width, max_size=width)) if old_kind else None
    new = draw(st.lists(VALUES, min_size=width, max_size=width)) if kind != "D" else None
    oid = draw(st.sampled_from([OID, OID, OID + 1, 99]))
    return columns, row_message(kind, oid, old_kind, old, new, draw(st.sampled_from("tb")))


POSITION, COMMIT_MS = "0/16B3748", 1_700_000_000_000


def python_reading(decoder: TableDecoder, payload: bytes) -> Any:
    try:
        message = parse_message(payload)
        assert isinstance(message, RowChange)
        return decoder.changes(message, POSITION, COMMIT_MS)
    except (ValueError, struct.error) as error:
        return type(error)


@given(messages())
def test_row_messages_read_in_c_make_the_python_changes(case: tuple[list[Column], bytes]) -> None:
    columns, payload = case
    decoder = decoder_for(columns)
    native = decoder.native_changes(payload, POSITION, COMMIT_MS)
    if native is None:
        return  # the Python reader's message (other table, bytea, unchanged, wrong count)
    relation, changes = native
    assert relation is decoder.relations[OID]
    assert changes == python_reading(decoder, payload)


def test_the_c_reader_takes_the_common_rows() -> None:
    columns = [Column("id", TEXT_OID, True), Column("name", TEXT_OID, False)]
    decoder = decoder_for(columns)
    update = row_message("U", OID, "O", [b"1", "张三".encode("gbk")], [b"1", None], "t")
    native = decoder.native_changes(update, POSITION, COMMIT_MS)
    assert native is not None
    assert native[1] == python_reading(decoder, update)
    assert native[1][0].undecodable == ()  # GBK is decoded (GB18030), not flagged
    delete = row_message("D", OID, "K", [b"2", None], None, "t")
    assert decoder.native_changes(delete, POSITION, COMMIT_MS) is not None
    unchanged = row_message("U", OID, None, None, [b"1", UNCHANGED], "t")
    assert decoder.native_changes(unchanged, POSITION, COMMIT_MS) is None
