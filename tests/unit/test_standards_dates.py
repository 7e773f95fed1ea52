"""Legacy dates and timestamps normalized to dates and Asia/Shanghai datetimes."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bus.standards.dates import (
    InvalidDate,
    local_timezone,
    normalize_date,
    normalize_datetime,
    normalize_time,
)
from bus.standards.errors import StandardViolation

MARCH_7 = date(1990, 3, 7)


@pytest.mark.parametrize(
    "raw",
    [
        "19900307",
        "1990-03-07",
        "1990-3-7",
        "1990/3/7",
        "1990/03/07",
        "1990.03.07",
        "1990年3月7日",
        "1990年03月07日",
        "1990年3月7",
        "１９９０年３月７日",
        "１９９００３０７",
        "  1990-03-07\u3000",
        "1990-03-07 00:00:00",
        "1990-03-07T00:00:00",
        MARCH_7,
        datetime(1990, 3, 7, 12, 0),
    ],
)
def test_legacy_date_formats_are_read(raw: str | date) -> None:
    assert normalize_date(raw) == MARCH_7


@pytest.mark.parametrize(
    ("raw", "rule"),
    [
        (None, "date.missing"),
        ("", "date.missing"),
        ("  ", "date.missing"),
        ("19900230", "date.invalid"),
        ("1990-13-07", "date.invalid"),
        ("1990年2月30日", "date.invalid"),
        ("0000-01-01", "date.invalid"),
        ("1990-03", "date.format"),
        ("1990-3/7", "date.format"),
        ("7/3/1990", "date.format"),
        ("yesterday", "date.format"),
        ("199003071", "date.format"),
    ],
)
def test_bad_dates_name_the_rule(raw: str | None, rule: str) -> None:
    with pytest.raises(InvalidDate) as caught:
        normalize_date(raw)
    assert caught.value.rule_id == rule


@pytest.mark.parametrize(
    "raw",
    [
        "2024-01-02 03:04:05",
        "2024/1/2 3:04:05",
        "20240102030405",
        "2024-01-02T03:04:05",
        "２０２４-０１-０２ ０３:０４:０５",
        "2024-01-01T19:04:05Z",
        "2024-01-02T03:04:05+08:00",
    ],
)
def test_timestamps_are_local_time_in_shanghai(raw: str) -> None:
    value = normalize_datetime(raw)
    assert value == datetime(2024, 1, 2, 3, 4, 5, tzinfo=local_timezone())
    assert value.utcoffset() == timedelta(hours=8)


def test_naive_and_aware_datetimes_are_made_local() -> None:
    naive = datetime(2024, 1, 2, 3, 4, 5)
    assert normalize_datetime(naive).tzinfo is local_timezone()
    aware = datetime(2024, 1, 1, 19, 4, 5, tzinfo=UTC)
    assert normalize_datetime(aware) == naive.replace(tzinfo=local_timezone())


def test_fractional_seconds_are_kept() -> None:
    assert normalize_datetime("2024-01-02 03:04:05.25").microsecond == 250000


@pytest.mark.parametrize(
    ("raw", "rule"),
    [
        (None, "datetime.missing"),
        ("2024-01-02 25:00:00", "datetime.invalid"),
        ("2024-02-30 00:00:00", "datetime.invalid"),
        ("2024-01-02 03", "datetime.format"),
    ],
)
def test_bad_timestamps_name_the_rule(raw: str | None, rule: str) -> None:
    with pytest.raises(InvalidDate) as caught:
        normalize_datetime(raw)
    assert caught.value.rule_id == rule


@given(st.dates())
def test_every_real_date_survives_the_usual_formats(value: date) -> None:
    for text in (
        f"{value.year:04d}{value.month:02d}{value.day:02d}",
        f"{value.year:04d}-{value.month}-{value.day}",
        f"{value.year:04d}年{value.month}月{value.day}日",
    ):
        assert normalize_date(text) == value


@given(st.one_of(st.none(), st.text(max_size=30)))
def test_arbitrary_text_is_a_date_or_a_violation(raw: str | None) -> None:
    try:
        normalize_date(raw)
    except StandardViolation as violation:
        assert violation.rule_id in {"date.missing", "date.format", "date.invalid"}


@given(st.one_of(st.none(), st.text(alphabet="0123456789-/:T .年月日Z+", max_size=30)))
def test_arbitrary_timestamps_are_read_or_a_violation(raw: str | None) -> None:
    try:
        value = normalize_datetime(raw)
    except StandardViolation as violation:
        assert violation.rule_id.startswith("datetime.")
    else:
        assert value.tzinfo is not None


@pytest.mark.parametrize("raw", ["0001-01-01T00:00:00+08:00", "9999-12-31T23:59:59Z"])
def test_timestamps_beyond_the_calendar_after_conversion_are_invalid(raw: str) -> None:
    with pytest.raises(InvalidDate) as caught:
        normalize_datetime(raw)
    assert caught.value.rule_id == "datetime.invalid"


# --- times of day and more date spellings -----------------------------------------------------


@pytest.mark.parametrize("raw", ["1990年3月7号", "1990年03月07号", "1990-3-7", "1990.3.7", "1990/03/07"])
def test_more_legacy_date_spellings_are_read(raw: str) -> None:
    assert normalize_date(raw) == date(1990, 3, 7)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("08:35", time(8, 35)), ("8:35", time(8, 35)), ("0835", time(8, 35)), ("8时35分", time(8, 35)),
        ("08:35:00", time(8, 35)), ("083520", time(8, 35, 20)), ("8点35分", time(8, 35)),
        ("23时5分9秒", time(23, 5, 9)), ("０８：３５", time(8, 35)), (" 8 时 35 分 ", time(8, 35)),
        (time(8, 35), time(8, 35)),
    ],
)
def test_legacy_times_of_day_are_read(raw: str | time, expected: time) -> None:
    assert normalize_time(raw) == expected


@pytest.mark.parametrize(
    ("raw", "rule"),
    [(None, "time.missing"), ("  ", "time.missing"), ("noon", "time.format"), ("835", "time.format"),
     ("24:00", "time.invalid"), ("08:60", "time.invalid"), ("25时", "time.invalid")],
)
def test_bad_times_name_the_rule(raw: str | None, rule: str) -> None:
    with pytest.raises(InvalidDate) as caught:
        normalize_time(raw)

    assert caught.value.rule_id == rule


@given(st.times())
def test_every_time_of_day_survives_the_usual_formats(value: time) -> None:
    expected = value.replace(microsecond=0)
    for text in (f"{value:%H:%M:%S}", f"{value:%H%M%S}", f"{value.hour}时{value.minute}分{value.second}秒"):
        assert normalize_time(text) == expected


@given(st.one_of(st.none(), st.text(alphabet="0123456789:时分秒点 ", max_size=12)))
def test_arbitrary_time_text_is_a_time_or_a_violation(raw: str | None) -> None:
    try:
        normalize_time(raw)
    except StandardViolation as violation:
        assert violation.rule_id.startswith("time.")
