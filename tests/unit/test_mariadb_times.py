"""MariaDB dates and times decoded to text give exactly the text of PyMySQL's values."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pymysql.converters
from hypothesis import given
from hypothesis import strategies as st

from adapters.capture.engines.mariadb_sql import text_of
from adapters.capture.engines.mariadb_times import date_text, datetime_text, text_time_conversions
from adapters.capture.rows import as_text


def digits(count: int) -> st.SearchStrategy[str]:
    return st.text("0123456789", min_size=count, max_size=count)


datetimes = st.builds(
    lambda date, hour, minute, second, fraction: f"{date} {hour}:{minute}:{second}{fraction}",
    st.builds(lambda y, m, d: f"{y}-{m}-{d}", digits(4) | st.sampled_from(["0000", "2024", "1900"]),
              digits(2) | st.sampled_from(["01", "02", "12", "13", "00"]),
              digits(2) | st.sampled_from(["01", "28", "29", "30", "31", "00"])),
    digits(2) | st.sampled_from(["00", "23", "24"]), digits(2) | st.sampled_from(["59", "60"]),
    digits(2) | st.sampled_from(["59", "60"]),
    st.sampled_from(["", ".0", ".000000", ".5", ".000001", ".123456", ".100"])
    | st.builds(lambda f: f".{f}", st.text("0123456789", min_size=1, max_size=6)))

ODD = ["0000-00-00 00:00:00", "0000-00-00", "2024-02-30 10:00:00", "2024-02-29 10:00:00",
       "2023-02-29", "2024-13-01", "9999-12-31 23:59:59.999999", "2024-01-01T10:00:00",
       "2024-01-01 10:00", "", "garbage"]


def outcome(convert: Callable[[str], Any], raw: str) -> tuple[str, Any]:
    """What ``convert`` makes of ``raw`` as the capture's text, or the error it raises."""
    try:
        value = convert(raw)
    except Exception as error:  # PyMySQL's converters raise on some forms ("" among them)
        return "raises", type(error)
    assert as_text(value)[0] == text_of(value)[0]
    return "text", as_text(value)[0]


@given(datetimes | st.sampled_from(ODD) | st.text(max_size=30))
def test_datetime_text_equals_the_text_of_pymysqls_value(raw: str) -> None:
    assert outcome(datetime_text, raw) == outcome(pymysql.converters.convert_datetime, raw)


@given(st.builds(lambda text: text[:10], datetimes) | st.sampled_from(ODD) | st.text(max_size=12))
def test_date_text_equals_the_text_of_pymysqls_value(raw: str) -> None:
    assert outcome(date_text, raw) == outcome(pymysql.converters.convert_date, raw)


def test_other_conversions_are_pymysqls() -> None:
    conversions = text_time_conversions()
    for kind, converter in pymysql.converters.conversions.items():
        if conversions[kind] is not converter:
            assert conversions[kind] in (datetime_text, date_text)
