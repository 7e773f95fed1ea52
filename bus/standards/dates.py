"""Dates and timestamps from legacy systems, normalized to ``date`` / aware ``datetime``."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta, timezone
from functools import lru_cache
from zoneinfo import ZoneInfo

from bus.standards.errors import StandardViolation
from bus.standards.text import normalize_whitespace, to_half_width

__all__ = [
    "LOCAL_TIMEZONE",
    "InvalidDate",
    "local_timezone",
    "normalize_date",
    "normalize_datetime",
    "normalize_time",
]

LOCAL_TIMEZONE = "Asia/Shanghai"

_TIME = r"(?:[ T]?(?P<H>[0-9]{1,2}):(?P<M>[0-9]{2})(?::(?P<S>[0-9]{2})(?:\.(?P<F>[0-9]{1,6}))?)?)"
_ZONE = r"(?P<Z>Z|[+-][0-9]{2}:?[0-9]{2})?"
_DATE_PATTERNS: tuple[re.Pattern[str], ...] = (
    # 19900307 / 20240102030405
    re.compile(
        r"(?P<y>[0-9]{4})(?P<m>[0-9]{2})(?P<d>[0-9]{2})"
        r"(?:(?P<H>[0-9]{2})(?P<M>[0-9]{2})(?P<S>[0-9]{2}))?"
    ),
    # 1990-03-07, 1990-3-7, 1990/3/7, 1990.03.07 (one separator throughout), optional time
    re.compile(
        r"(?P<y>[0-9]{4})(?P<sep>[-/.])(?P<m>[0-9]{1,2})(?P=sep)(?P<d>[0-9]{1,2})"
        rf"{_TIME}?{_ZONE}"
    ),
    # 1990年3月7日, 1990年03月07日 (日 or 号, optional), optional time
    re.compile(
        r"(?P<y>[0-9]{4}) ?年 ?(?P<m>[0-9]{1,2}) ?月 ?(?P<d>[0-9]{1,2}) ?[日号]?"
        rf"(?: ?{_TIME})?"
    ),
)


_TIME_PATTERNS: tuple[re.Pattern[str], ...] = (
    # 08:35, 8:35, 08:35:00, 08:35:00.5
    re.compile(r"(?P<H>[0-9]{1,2}):(?P<M>[0-9]{2})(?::(?P<S>[0-9]{2})(?:\.[0-9]{1,6})?)?"),
    # 0835, 083500
    re.compile(r"(?P<H>[0-9]{2})(?P<M>[0-9]{2})(?P<S>[0-9]{2})?"),
    # 8时35分, 8点35分, 8时35分20秒, 8时 (分 optional after the minutes)
    re.compile(r"(?P<H>[0-9]{1,2}) ?[时点] ?(?:(?P<M>[0-9]{1,2}) ?分?(?: ?(?P<S>[0-9]{1,2}) ?秒)?)?"),
)


class InvalidDate(StandardViolation):
    """A date or timestamp that cannot be read or does not exist."""


@lru_cache(maxsize=1)
def local_timezone() -> ZoneInfo:
    """The reference government's local time zone."""
    return ZoneInfo(LOCAL_TIMEZONE)


def normalize_date(raw: str | date | None) -> date:
    """Read a legacy date; a trailing time of day is ignored.

    Rule ids: ``date.missing``, ``date.format``, ``date.invalid``.
    """
    if isinstance(raw, datetime):
        return raw.date()
    if isinstance(raw, date):
        return raw
    match = _match(raw, "date")
    try:
        return date(int(match["y"]), int(match["m"]), int(match["d"]))
    except ValueError:
        raise _invalid("date", raw) from None


def normalize_datetime(raw: str | datetime | None) -> datetime:
    """Read a legacy timestamp as an aware datetime.

    Values without an offset are local time (Asia/Shanghai); values with an offset
    are converted to it. Rule ids: ``datetime.missing``, ``datetime.format``,
    ``datetime.invalid``.
    """
    tz = local_timezone()
    if isinstance(raw, datetime):
        return raw.replace(tzinfo=tz) if raw.tzinfo is None else raw.astimezone(tz)
    match = _match(raw, "datetime")
    groups = match.groupdict()
    fraction = (groups.get("F") or "").ljust(6, "0")
    try:
        value = datetime(
            int(match["y"]),
            int(match["m"]),
            int(match["d"]),
            int(groups.get("H") or 0),
            int(groups.get("M") or 0),
            int(groups.get("S") or 0),
            int(fraction),
        )
    except ValueError:
        raise _invalid("datetime", raw) from None
    zone = groups.get("Z")
    if not zone:
        return value.replace(tzinfo=tz)
    try:
        return _apply_offset(value, zone, raw).astimezone(tz)
    except OverflowError:  # e.g. 0001-01-01T00:00:00+08:00 has no UTC equivalent
        raise _invalid("datetime", raw) from None


def normalize_time(raw: str | time | None) -> time:
    """Read a legacy time of day: ``08:35``, ``0835``, ``8时35分``, ``08:35:00`` (seconds kept).

    Rule ids: ``time.missing``, ``time.format``, ``time.invalid`` (hour 24 or more, minute 60…).
    """
    if isinstance(raw, time):
        return raw
    match = _match(raw, "time", _TIME_PATTERNS)
    try:
        return time(int(match["H"]), int(match["M"] or 0), int(match["S"] or 0))
    except ValueError:
        raise _invalid("time", raw) from None


def _match(raw: str | None, kind: str,
           patterns: tuple[re.Pattern[str], ...] = _DATE_PATTERNS) -> re.Match[str]:
    if raw is None or not isinstance(raw, str):
        if raw is None:
            raise _missing(kind, raw)
        raise _format(kind, raw)
    text = normalize_whitespace(to_half_width(raw))
    if not text:
        raise _missing(kind, raw)
    for pattern in patterns:
        match = pattern.fullmatch(text)
        if match is not None:
            return match
    raise _format(kind, raw)


def _apply_offset(value: datetime, zone: str, raw: str | None) -> datetime:
    if zone == "Z":
        return value.replace(tzinfo=UTC)
    digits = zone[1:].replace(":", "")
    hours, minutes = int(digits[:2]), int(digits[2:])
    if hours > 23 or minutes > 59:
        raise _invalid("datetime", raw)
    offset = timedelta(hours=hours, minutes=minutes)
    return value.replace(tzinfo=timezone(offset if zone[0] == "+" else -offset))


_LABEL_ZH = {"date": "日期", "datetime": "时间", "time": "时刻"}


def _missing(kind: str, raw: object) -> InvalidDate:
    return InvalidDate(f"{kind}.missing", f"{_LABEL_ZH[kind]}缺失", f"{kind} is missing", raw)


def _format(kind: str, raw: object) -> InvalidDate:
    return InvalidDate(
        f"{kind}.format",
        f"无法识别的{_LABEL_ZH[kind]}格式：{raw!r}",
        f"unrecognised {kind} format: {raw!r}",
        raw,
    )


def _invalid(kind: str, raw: object) -> InvalidDate:
    return InvalidDate(
        f"{kind}.invalid",
        f"{_LABEL_ZH[kind]}不存在：{raw!r}",
        f"no such {kind}: {raw!r}",
        raw,
    )
