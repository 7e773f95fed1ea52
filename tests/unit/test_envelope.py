"""CloudEvents 1.0 binary-mode envelopes carried as Kafka headers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from bus.envelope import AVRO_CONTENT_TYPE, CloudEvent, HeaderTemplate, InvalidEnvelope, header_value

MOMENT = datetime(2024, 3, 7, 8, 30, 15, 123000, tzinfo=UTC)


def full_event() -> CloudEvent:
    return CloudEvent(
        type="rongtong.legacy.row.changed",
        source="/adapters/gongan/sqlite/hj_ryxx",
        id="evt-1",
        time=MOMENT,
        subject="hj_ryxx/R0000001",
        dataclassification="sensitive_personal",
        traceparent="00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        correlationid="corr-9",
        causationid="cause-8",
    )


def required_headers() -> list[tuple[str, bytes]]:
    return [
        ("ce_specversion", b"1.0"),
        ("ce_id", b"evt-1"),
        ("ce_source", b"/src"),
        ("ce_type", b"t"),
        ("ce_time", b"2024-03-07T08:30:15.123Z"),
    ]


def test_an_event_with_every_attribute_survives_a_round_trip_through_headers() -> None:
    event = full_event()

    assert CloudEvent.from_headers(event.to_headers()) == event


def test_an_event_with_only_required_attributes_round_trips_with_optional_ones_none() -> None:
    event = CloudEvent(type="t", source="/s", id="i", time=MOMENT)

    decoded = CloudEvent.from_headers(event.to_headers())

    assert decoded == event
    assert decoded.subject is None
    assert decoded.correlationid is None


def test_headers_carry_specversion_content_type_and_only_the_optional_attributes_that_are_set() -> None:
    headers = CloudEvent(type="t", source="/s", id="i", time=MOMENT, subject="sub").to_headers()
    names = [name for name, _ in headers]

    assert header_value(headers, "ce_specversion") == "1.0"
    assert header_value(headers, "content-type") == AVRO_CONTENT_TYPE
    assert header_value(headers, "ce_subject") == "sub"
    assert "traceparent" not in names
    assert "causationid" not in names
    assert all(isinstance(value, bytes) for _, value in headers)


def test_non_ascii_attributes_are_utf8_encoded_and_decoded() -> None:
    event = CloudEvent(type="t", source="/s", id="i", time=MOMENT, subject="户籍/张三")

    assert (("ce_subject", "户籍/张三".encode()) in event.to_headers())
    assert CloudEvent.from_headers(event.to_headers()).subject == "户籍/张三"


@pytest.mark.parametrize("missing", ["ce_id", "ce_source", "ce_type", "ce_time"])
def test_a_missing_required_header_is_an_invalid_envelope_naming_it(missing: str) -> None:
    headers = [(k, v) for k, v in required_headers() if k != missing]

    with pytest.raises(InvalidEnvelope, match=missing):
        CloudEvent.from_headers(headers)


def test_an_empty_required_header_counts_as_missing() -> None:
    headers = [(k, b"" if k == "ce_id" else v) for k, v in required_headers()]

    with pytest.raises(InvalidEnvelope, match="ce_id"):
        CloudEvent.from_headers(headers)


@pytest.mark.parametrize("headers", [None, []])
def test_no_headers_at_all_is_an_invalid_envelope(headers: list[tuple[str, bytes]] | None) -> None:
    with pytest.raises(InvalidEnvelope, match="specversion"):
        CloudEvent.from_headers(headers)


@pytest.mark.parametrize("version", [b"0.3", b"1", b"2.0"])
def test_a_specversion_other_than_1_0_is_an_invalid_envelope(version: bytes) -> None:
    headers = [(k, version if k == "ce_specversion" else v) for k, v in required_headers()]

    with pytest.raises(InvalidEnvelope, match="specversion"):
        CloudEvent.from_headers(headers)


@pytest.mark.parametrize("bad_time", [b"yesterday", b"2024-13-01T00:00:00Z", b"07/03/2024"])
def test_a_ce_time_that_is_not_rfc3339_is_an_invalid_envelope(bad_time: bytes) -> None:
    headers = [(k, bad_time if k == "ce_time" else v) for k, v in required_headers()]

    with pytest.raises(InvalidEnvelope, match="ce_time"):
        CloudEvent.from_headers(headers)


def test_ce_time_ending_in_z_is_read_as_utc() -> None:
    event = CloudEvent.from_headers(required_headers())

    assert event.time == MOMENT
    assert event.time.utcoffset() == timedelta(0)


def test_times_are_rendered_in_utc_with_z_and_milliseconds() -> None:
    shanghai = timezone(timedelta(hours=8))
    event = CloudEvent(type="t", source="/s", time=datetime(2024, 3, 7, 16, 30, 15, 123456, tzinfo=shanghai))

    assert header_value(event.to_headers(), "ce_time") == "2024-03-07T08:30:15.123Z"


def test_a_naive_time_is_taken_as_utc() -> None:
    event = CloudEvent(type="t", source="/s", time=datetime(2024, 3, 7, 8, 30, 15))

    assert header_value(event.to_headers(), "ce_time") == "2024-03-07T08:30:15.000Z"


def test_a_default_event_gets_a_fresh_id_and_an_aware_current_time() -> None:
    before = datetime.now(UTC)
    first, second = CloudEvent(type="t", source="/s"), CloudEvent(type="t", source="/s")

    assert first.id != second.id
    assert first.time.tzinfo is not None
    assert before <= first.time <= datetime.now(UTC)


def test_a_caused_event_keeps_trace_and_correlation_and_names_its_cause() -> None:
    cause = full_event()

    follow_up = cause.caused("rongtong.std.person.standardized", "/adapters/standardize",
                             subject="person/1")

    assert follow_up.type == "rongtong.std.person.standardized"
    assert follow_up.source == "/adapters/standardize"
    assert follow_up.traceparent == cause.traceparent
    assert follow_up.correlationid == "corr-9"
    assert follow_up.causationid == "evt-1"
    assert follow_up.subject == "person/1"
    assert follow_up.id != cause.id


def test_the_first_event_of_a_chain_becomes_the_correlation_id_of_its_follow_ups() -> None:
    cause = CloudEvent(type="t", source="/s", id="root")

    follow_up = cause.caused("t2", "/s2", id="child")

    assert follow_up.id == "child"
    assert follow_up.correlationid == "root"
    assert follow_up.causationid == "root"


def test_header_value_returns_the_first_match_or_none() -> None:
    headers = [("a", b"1"), ("b", b"2"), ("a", b"3")]

    assert header_value(headers, "a") == "1"
    assert header_value(headers, "c") is None
    assert header_value(None, "a") is None


@pytest.mark.parametrize("optional", [
    {},
    {"dataclassification": "sensitive_personal"},
    {"dataclassification": "public", "traceparent": "00-1-2-01", "correlationid": "c",
     "causationid": "k"},
])
@pytest.mark.parametrize("subject", [None, "hj_ryxx/R1"])
def test_a_header_template_gives_the_headers_of_the_event_it_stands_for(
    optional: dict[str, str], subject: str | None,
) -> None:
    template = HeaderTemplate("t", "/s", MOMENT, **optional)

    headers = template.headers("evt-7", subject)

    assert headers == CloudEvent(type="t", source="/s", id="evt-7", time=MOMENT, subject=subject,
                                 **optional).to_headers()
    assert CloudEvent.from_headers(headers).id == "evt-7"


def test_each_templated_event_gets_its_own_id_and_subject() -> None:
    template = HeaderTemplate("t", "/s", MOMENT)

    first, second = template.headers("a", "x/1"), template.headers("b", "x/2")

    assert (header_value(first, "ce_id"), header_value(first, "ce_subject")) == ("a", "x/1")
    assert (header_value(second, "ce_id"), header_value(second, "ce_subject")) == ("b", "x/2")
