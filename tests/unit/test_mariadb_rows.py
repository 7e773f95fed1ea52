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

from adapters.capture.engines.mariadb_rows import _IN_C
from adapters.capture.engines.mariadb_times import date_text, datetime_text
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


def _two(low: int, high: int) -> st.SearchStrategy[str]:
    return st.integers(low, high).map("{:02d}".format)


#: Dates and times around every edge of the canonical forms, and other forms.
DATES = st.dates().map(lambda d: d.isoformat()) | st.builds(
    "{}-{}-{}".format, st.integers(0, 9999).map("{:04d}".format), _two(0, 13), _two(0, 32))
DATETIMES = st.builds("{} {}:{}:{}{}".format, DATES, _two(0, 25), _two(0, 61), _two(0, 61),
                      st.sampled_from(["", "."]) | st.text("0123456789", max_size=7).map(
                          lambda f: "." + f))
OTHER_FORMS = st.sampled_from(["2024-01-01T00:00:01", "2024-W01-1", "20240101", "2024-1-01",
                               "２０２４-01-01", "2024-01-01 00:00:01.5Z", ""])
COLUMNS = st.sampled_from([
    ("utf8", None, st.text(max_size=300).map(str.encode)),
    (None, None, st.binary(max_size=20)),
    ("ascii", int, st.integers(-10 ** 12, 10 ** 12).map(lambda n: str(n).encode())),
    ("ascii", datetime_text, st.sampled_from([b"2024-01-01 00:00:01", b"0000-00-00 00:00:00",
                                              b"2024-02-29 10:00:00.000500"])),
    ("ascii", datetime_text, (DATETIMES | OTHER_FORMS).map(lambda t: t.encode("utf-8"))),
    ("ascii", date_text, (DATES | OTHER_FORMS).map(lambda t: t.encode("utf-8"))),
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
    try:
        expected: Any = pymysql.connections.MySQLResult._read_row_from_packet(
            SimpleNamespace(converters=converters), packet)
    except (UnicodeDecodeError, TypeError) as error:  # forms no server sends ("20240101",
        expected = type(error)                          # non-ASCII): both refuse them alike
    # The capture connection's form: the time decoders run in C for canonical values.
    in_c = [(encoding, (_IN_C[converter], converter) if converter in _IN_C else converter)
            for encoding, converter in converters]
    for form in (converters, in_c):
        try:
            read: Any = accelerated.mysql_text_row(payload, len(head), form)
        except (UnicodeDecodeError, TypeError) as error:
            read = type(error)
        assert read == expected


def test_a_truncated_value_is_refused_as_pymysql_refuses_it() -> None:
    assert accelerated is not None
    with pytest.raises(AssertionError):
        accelerated.mysql_text_row(b"\x05abc", 0, [("utf8", None)])


EDGES = ["2024-01-01 24:00:00.5", "2024-01-01 23:60:00.5", "2024-01-01 23:59:60.5",
         "2023-02-29 00:00:00.5", "2024-02-29 00:00:00.5", "0000-01-01 00:00:00.5",
         "2024-00-01 00:00:00.5", "2024-01-00 00:00:00.5", "2024-01-01 00:00:00.0000000",
         "2024-01-01 00:00:00.", "2024-01-01 00:00:00.000", "2024-01-01 00:00:00.000001",
         "9999-12-31 23:59:59.999999", "2024-01-01 00:00:00", "2024-01-01 00:00", "2024-13-01",
         "2024-02-30", "2024-01-01", "0000-00-00", "1900-02-29", "2000-02-29"]


@pytest.mark.parametrize("text", EDGES)
@pytest.mark.parametrize("converter", [datetime_text, date_text])
def test_time_edges_read_in_c_equal_the_python_decoders(text: str, converter: Any) -> None:
    assert accelerated is not None
    payload = length_coded(text.encode(), 1)
    expected = converter(text)
    assert accelerated.mysql_text_row(payload, 0, [("ascii", (_IN_C[converter], converter))]) \
        == (expected,)
