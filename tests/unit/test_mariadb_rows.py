"""MySQL text-protocol rows read in C equal PyMySQL's own reading, value for value."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pymysql.connections
import pymysql.converters
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pymysql.protocol import MysqlPacket

from adapters.capture.engines.mariadb_times import datetime_text
from bus.speedups import speedups

accelerated = speedups()
pytestmark = pytest.mark.skipif(accelerated is None, reason="speedups not built")


def length_coded(value: bytes | None, width: int) -> bytes:
    if value is None:
        return b"\xfb"
    size = len(value)
    if width == 1 and size < 251:
        return bytes([size]) + value
    if width <= 2 and size < 2 ** 16:
        return b"\xfc" + size.to_bytes(2, "little") + value
    if width <= 3:
        return b"\xfd" + size.to_bytes(3, "little") + value
    return b"\xfe" + size.to_bytes(8, "little") + value


COLUMNS = st.sampled_from([
    ("utf8", None, st.text(max_size=300).map(str.encode)),
    (None, None, st.binary(max_size=20)),
    ("ascii", int, st.integers(-10 ** 12, 10 ** 12).map(lambda n: str(n).encode())),
    ("ascii", datetime_text, st.sampled_from([b"2024-01-01 00:00:01", b"0000-00-00 00:00:00",
                                              b"2024-02-29 10:00:00.000500"])),
    ("ascii", pymysql.converters.convert_date, st.sampled_from([b"2024-01-31", b"2023-02-29"])),
])


@given(st.data(), st.integers(0, 3))
def test_rows_read_in_c_equal_pymysqls(data: st.DataObject, missing: int) -> None:
    assert accelerated is not None
    columns = data.draw(st.lists(COLUMNS, max_size=10))
    converters: list[Any] = [(encoding, converter) for encoding, converter, _ in columns]
    values = [data.draw(st.none() | values) for _, _, values in columns]
    widths = data.draw(st.lists(st.integers(1, 4), min_size=len(values), max_size=len(values)))
    head = data.draw(st.binary(max_size=4))
    # A row may end early: PyMySQL then stops reading (its pull request 434).
    kept = max(0, len(values) - missing) if data.draw(st.booleans()) else len(values)
    payload = head + b"".join(length_coded(value, width)
                              for value, width in zip(values[:kept], widths, strict=False))
    packet = MysqlPacket(payload, "utf8")
    packet._position = len(head)
    expected = pymysql.connections.MySQLResult._read_row_from_packet(
        SimpleNamespace(converters=converters), packet)
    assert accelerated.mysql_text_row(payload, len(head), converters) == expected


def test_a_truncated_value_is_refused_as_pymysql_refuses_it() -> None:
    assert accelerated is not None
    with pytest.raises(AssertionError):
        accelerated.mysql_text_row(b"\x05abc", 0, [("utf8", None)])
