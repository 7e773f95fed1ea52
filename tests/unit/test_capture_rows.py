"""Reading a fetched batch as text, key texts and update times: per batch, as per row."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

from adapters.capture.rows import text_row, text_rows
from adapters.capture.source import TableSpec, key_of, key_text
from adapters.capture.strategies.common import images
from adapters.capture.strategies.incremental import _commit_ms
from bus.standards.dates import normalize_datetime
from bus.standards.errors import StandardViolation

COLUMNS = ("RYBH", "XM", "NL", "SG", "CSRQ", "ZP")
ROWS: list[tuple[Any, ...]] = [
    (1, "R1", "王小明", 30, 1.0, dt.date(1990, 3, 7), b"\xff\xfe"),
    (2, "R2", None, None, 1.75, dt.datetime(1990, 3, 7, 8, 30), "王".encode("gbk")),
    (3, "R|3", "李四", 41, Decimal("1.50"), None, None),
    (4, "R4", "赵六", True, None, "19900307", b"plain"),
]


def test_a_batch_reads_as_each_of_its_rows_does_skipping_leading_values() -> None:
    rows, undecodable = text_rows(COLUMNS, ROWS, skip=1)

    assert list(zip(rows, undecodable, strict=True)) == [text_row(COLUMNS, r[1:]) for r in ROWS]
    assert undecodable[0] == ("ZP",) and undecodable[1] == ()
    assert rows[0]["NL"] == "30" and rows[3]["NL"] == "True" and rows[1]["ZP"] == "王"


def test_a_batch_of_text_only_is_taken_as_it_is_and_an_empty_batch_reads_as_nothing() -> None:
    rows = [("R1", "张三"), ("R2", None)]

    assert text_rows(("RYBH", "XM"), rows) == ([{"RYBH": "R1", "XM": "张三"},
                                               {"RYBH": "R2", "XM": None}], [(), ()])
    assert text_rows(("RYBH",), []) == ([], [])
    with pytest.raises(ValueError):
        text_rows(("RYBH",), rows)


@pytest.mark.parametrize("key_columns", [("RYBH",), ("RYBH", "XM"), ("XM", "RYBH", "XM")])
def test_keys_and_key_texts_of_a_batch_are_those_of_each_row(key_columns: tuple[str, ...]) -> None:
    spec = TableSpec("gongan", "hj_ryxx", key_columns, "snapshot")

    read = images(spec, COLUMNS, ROWS, skip=1)

    assert read.keys == [key_of(row, key_columns) for row in read.rows]
    assert read.key_texts == [key_text(key) for key in read.keys]
    assert read.undecodable == text_rows(COLUMNS, ROWS, skip=1)[1]


def _parsed_ms(updated: str) -> int:
    try:
        return int(normalize_datetime(updated).timestamp() * 1000)
    except StandardViolation:
        return 0


@pytest.mark.parametrize("updated", [
    "2024-03-07 08:30:15", "2024-03-07 08:30:15.5", "2024-03-07 08:30:15.000001",
    "2024-03-07 08:30:15.999999", "1970-01-01 08:00:00.001", "1969-12-31 23:59:59.9",
    "1988-04-10 02:30:00", "1988-09-11 01:30:00", "1941-03-16 00:59:59.75",  # summer time
    "2024-02-30 10:00:00", "2024-03-07 24:00:00", "2024-03-07 08:60:00", "2024-03-07 08:30:60",
    "0001-01-01 00:00:00", "9999-12-31 23:59:59.999999", "2024/03/07 08:30:15",
    "2024-03-07T08:30:15", "2024-03-07 08:30:15+00:00", "２０２４-03-07 08:30:15", "", "junk",
    "2024-03-07 08:30:1５", "2024-03-07 08:30:15.", "2024-03-07 08:30:15.1234567",
    "2024-03-07 08:30:15.12a", "2024-03-07 08:30:+5", "2024-03-07 08:30: 5", "2024-03-07 08:30:15 ",
    "2024-03-07 08:3０:15", "2024-03-07 08:30:15.１",
])
def test_update_times_read_to_the_milliseconds_the_date_standard_gives(updated: str) -> None:
    assert _commit_ms(updated) == (_parsed_ms(updated) if updated else 0)
