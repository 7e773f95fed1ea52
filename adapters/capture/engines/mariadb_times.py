"""DATE, DATETIME and TIMESTAMP values read as the text the capture makes of them, in one step.

PyMySQL turns each such value into a ``date`` or ``datetime`` (a regular expression and a
constructor per value) which the capture at once turns back into ISO text. The decoders here
give that text directly for the canonical forms the server sends and hand everything else —
zero dates, invalid days — to PyMySQL's own converters, so the text is always exactly what
``as_text`` / ``text_of`` make of PyMySQL's value.
"""

from __future__ import annotations

import datetime
import functools
import re
from collections.abc import Callable
from typing import Any

import pymysql.converters
from pymysql.constants import FIELD_TYPE

_DATETIME = re.compile(r"([0-9]{4}-[0-9]{2}-[0-9]{2}) ([0-9]{2}):([0-9]{2}):([0-9]{2})"
                       r"(?:\.([0-9]{1,6}))?")


@functools.lru_cache(maxsize=8192)
def _valid_date(text: str) -> bool:
    try:
        datetime.date.fromisoformat(text)
    except ValueError:
        return False
    return True


def _iso(value: object) -> Any:
    """What the capture's text conversion makes of a PyMySQL date or datetime value."""
    if isinstance(value, datetime.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, datetime.date):
        return value.isoformat()
    return value


def datetime_text(raw: str) -> Any:
    """A DATETIME or TIMESTAMP value as ``datetime.isoformat(sep=" ")`` would write it."""
    match = _DATETIME.fullmatch(raw)
    if (match is not None and _valid_date(match[1]) and match[2] < "24" and match[3] < "60"
            and match[4] < "60"):
        fraction = match[5]
        if fraction and fraction.strip("0"):  # isoformat writes microseconds unless zero
            return f"{raw[:19]}.{fraction.ljust(6, '0')}"
        return raw[:19]
    return _iso(pymysql.converters.convert_datetime(raw))


def date_text(raw: str) -> Any:
    """A DATE value as ``date.isoformat()`` would write it."""
    if len(raw) == 10 and _valid_date(raw):
        return raw
    return _iso(pymysql.converters.convert_date(raw))


def text_time_conversions() -> dict[Any, Callable[..., Any]]:
    """PyMySQL's conversions with DATE, DATETIME and TIMESTAMP decoded to text."""
    conversions: dict[Any, Callable[..., Any]] = dict(pymysql.converters.conversions)
    conversions.update({FIELD_TYPE.DATETIME: datetime_text, FIELD_TYPE.TIMESTAMP: datetime_text,
                        FIELD_TYPE.DATE: date_text, FIELD_TYPE.NEWDATE: date_text})
    return conversions
