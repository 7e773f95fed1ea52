"""Subscription bookkeeping: SSE frames, the resume cursor, duplicates, backoff, partial views."""

from __future__ import annotations

import json
import random

import pytest

from bus.client import NewbornCase, ServiceCase
from bus.client.client import _delivery
from bus.client.stream import Backoff, Resume, SseFrame, SseParser
from bus.client.views import parse_view


def frames(text: str) -> list[SseFrame]:
    parser = SseParser()
    return [f for f in (parser.feed(line) for line in text.split("\n")) if f is not None]


def test_an_event_is_dispatched_at_the_blank_line_with_its_id_type_and_data() -> None:
    found = frames(": subscribed std.person:0:5\n\nid: std.person:0:6\nevent: rongtong.std.person.upserted\n"
                   "data: {\"a\":\ndata: 1}\n\n: keep-alive\n\n")
    assert found[0].hello_cursor == "std.person:0:5"
    assert found[1] == SseFrame(id="std.person:0:6", event="rongtong.std.person.upserted", data='{"a":\n1}')
    assert found[2].comment == "keep-alive" and found[2].hello_cursor is None
    assert len(found) == 3


def test_a_half_received_event_is_forgotten_on_reset() -> None:
    parser = SseParser()
    parser.feed("id: std.person:0:9")
    parser.feed("data: {}")
    parser.reset()
    assert parser.feed("") is None


def test_the_cursor_moves_only_when_an_event_is_handed_out() -> None:
    resume = Resume(cursor="std.person:0:5")
    resume.started("std.person:0:5,std.person:1:0")
    assert resume.cursor == "std.person:0:5,std.person:1:0", "the connection's start, all partitions"
    resume.started(None)
    assert resume.cursor == "std.person:0:5,std.person:1:0"
    assert resume.is_new("e1")
    resume.delivered("e1", "std.person:0:6,std.person:1:0")
    assert resume.cursor == "std.person:0:6,std.person:1:0" and not resume.is_new("e1")


def test_an_event_the_log_holds_twice_is_handed_out_once_and_passed_over() -> None:
    resume = Resume()
    resume.delivered("e1", "t:0:1")
    assert not resume.is_new("e1")
    resume.skipped("t:0:2")
    assert resume.cursor == "t:0:2", "a reconnect resumes after the duplicate too"
    assert resume.duplicates == 1
    assert resume.is_new(None), "events without an id are never taken for duplicates"


def test_remembered_ids_are_bounded() -> None:
    resume = Resume(remember=3)
    for n in range(5):
        resume.delivered(f"e{n}", f"t:0:{n + 1}")
    assert [resume.is_new(f"e{n}") for n in range(5)] == [True, True, False, False, False]


def test_backoff_grows_exponentially_to_its_cap_with_full_jitter() -> None:
    backoff = Backoff(base=0.5, cap=4.0)
    assert [backoff.ceiling(n) for n in range(6)] == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    rng = random.Random(7)
    delays = [backoff.delay(3, rng) for _ in range(500)]
    assert all(0.0 <= d <= 4.0 for d in delays)
    assert min(delays) < 1.0 and max(delays) > 3.0, "spread over the whole window"
    assert backoff.ceiling(10_000) == 4.0


def test_backoff_waits_at_least_retry_after_and_gives_up_only_when_told() -> None:
    assert Backoff(base=0.1, cap=0.2).delay(0, random.Random(1), retry_after=2.0) == 2.0
    assert not Backoff().gives_up(10_000)
    assert Backoff(max_attempts=3).gives_up(3) and not Backoff(max_attempts=3).gives_up(2)


def envelope(event_type: str, data: object) -> SseFrame:
    body = {"type": event_type, "id": "ev-1", "subject": "service_case/ZW1",
            "time": "2026-11-27T08:00:00Z", "data": data}
    return SseFrame(id="std.service_case:0:4", event=event_type, data=json.dumps(body))


def test_a_delivery_carries_the_typed_model_and_the_cursor_after_it() -> None:
    data: dict[str, object] = {"case_id": "ZW1", "case_type": "newborn", "status_code": "completed",
            "applicant_identity_number": "330106********1236", "applicant_name": "王*",
            "subject_reference": None, "steps": [], "submitted_at": "2026-11-27T08:00:00+00:00",
            "updated_at": "2026-11-27T09:00:00+00:00",
            "source": {"department": "app", "table": "api", "record_key": "ZW1", "event_id": "ev-1",
                       "op": "u", "updated_at": None}}
    delivery = _delivery(envelope("rongtong.std.service_case.upserted", data))
    assert delivery is not None
    case = delivery.as_(ServiceCase)
    assert case.status_code == "completed" and case.updated_at.hour == 9 and case.source is not None
    assert delivery.cursor == "std.service_case:0:4" and delivery.event_id == "ev-1"
    assert delivery.time is not None and delivery.time.tzinfo is not None and delivery.hidden == ()
    with pytest.raises(TypeError):
        delivery.as_(NewbornCase)


def test_a_deletion_carries_no_model_and_an_unknown_type_a_dict() -> None:
    deleted = _delivery(envelope("rongtong.std.service_case.deleted", None))
    assert deleted is not None and deleted.data is None
    other = _delivery(envelope("rongtong.std.future_thing.upserted", {"x": 1}))
    assert other is not None and other.data == {"x": 1}


def test_fields_left_out_for_this_client_are_unset_and_named() -> None:
    view = {"case_id": "ZW1", "case_type": "newborn", "status_code": "submitted",
            "submitted_at": "2026-11-27T08:00:00Z", "updated_at": "2026-11-27T08:00:00Z",
            "steps": [{"department": "gongan", "task": "household_registration"}]}
    case, hidden = parse_view(ServiceCase, view)
    assert hidden == ("applicant_identity_number", "steps[].status_code")
    assert case.steps[0].task == "household_registration" and case.submitted_at.year == 2026
    with pytest.raises(AttributeError):
        _ = case.applicant_identity_number
    with pytest.raises(ValueError):
        parse_view(ServiceCase, {**view, "submitted_at": "not a time"})
