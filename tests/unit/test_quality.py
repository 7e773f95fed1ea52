"""The quality aggregate: distinct legacy records in their latest state, per table and rule."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer
from aiokafka import ConsumerRecord

from bus.access.audit import MemoryAuditLog
from bus.envelope import CloudEvent
from bus.governance.quality import (
    CanonicalSeen,
    LogPosition,
    QualityAggregate,
    QuarantineSeen,
    canonical_seen,
    quarantine_seen,
    render_html,
)
from bus.problem import PROBLEM_CONTENT_TYPE
from bus.settings import load_settings
from bus.web.app import create_web_app
from tests.access import add_client, headers

_offsets: Iterator[int] = itertools.count()


def at(ms: int, topic: str = "std.person", rank: int = 1) -> LogPosition:
    return LogPosition(ms, rank, topic, 0, next(_offsets))


def accepted(key: str, ms: int, subject: str | None = None, *, table: str = "hj_ryxx",
             causation: str | None = None) -> CanonicalSeen:
    return CanonicalSeen("gongan", table, "person", key, subject or f"person/{key}", at(ms),
                         causation_id=causation)


def deleted(subject: str, ms: int, table: str = "hj_ryxx") -> CanonicalSeen:
    return CanonicalSeen("gongan", table, "person", None, subject, at(ms))


def rejected(key: str | None, ms: int, rule: str = "id.checksum", *, table: str = "hj_ryxx",
             message: tuple[str, str] = ("校验码错误", "wrong check character")) -> QuarantineSeen:
    return QuarantineSeen("gongan", table, key, rule, message[0], message[1], "SFZH", "c",
                          {"RYBH": key}, "raw-1", at(ms, f"quarantine.gongan.{table}", 0))


def fold(*events: CanonicalSeen | QuarantineSeen) -> QualityAggregate:
    aggregate = QualityAggregate()
    for event in events:
        aggregate.observe(event)
    return aggregate


def counts(aggregate: QualityAggregate, table: str = "hj_ryxx") -> tuple[int, int, int]:
    [t] = aggregate.report("gongan", table).tables
    return t.accepted, t.quarantined, t.deleted


def test_each_record_counts_once_in_its_latest_state() -> None:
    aggregate = fold(accepted("R1", 1), accepted("R1", 2), accepted("R2", 3), rejected("R3", 4))
    assert counts(aggregate) == (2, 1, 0)
    [table] = aggregate.report().tables
    assert table.events == {"canonical": 3, "tombstones": 0, "quarantined": 1, "not_a_row": 0}
    assert table.accepted_ratio == round(2 / 3, 4)


def test_a_row_quarantined_then_fixed_counts_as_accepted_and_leaves_its_rule() -> None:
    aggregate = fold(rejected("R1", 1), rejected("R2", 2), accepted("R1", 5))
    assert counts(aggregate) == (1, 1, 0)
    [rule] = aggregate.report().tables[0].rules
    assert (rule.rule_id, rule.records, rule.examples) == ("id.checksum", 1, ("R2",))


def test_the_later_event_wins_whatever_order_the_topics_are_read_in() -> None:
    events = [rejected("R1", 1), accepted("R1", 5), rejected("R2", 7), accepted("R2", 3)]
    for order in itertools.permutations(events):
        assert counts(fold(*order)) == (1, 1, 0)


def test_at_the_same_millisecond_the_canonical_event_wins() -> None:
    assert counts(fold(accepted("R1", 5), rejected("R1", 5))) == (1, 0, 0)
    assert counts(fold(rejected("R1", 5), accepted("R1", 5))) == (1, 0, 0)


def test_a_tombstone_makes_its_record_deleted_not_accepted() -> None:
    aggregate = fold(accepted("R1", 1, "person/A"), accepted("R2", 2, "person/B"),
                     deleted("person/A", 3))
    assert counts(aggregate) == (1, 0, 1)
    assert aggregate.report().tables[0].events["tombstones"] == 1
    # the row comes back: accepted again
    aggregate.observe(accepted("R1", 4, "person/A"))
    assert counts(aggregate) == (2, 0, 0)


def test_a_tombstone_of_another_table_or_an_older_one_deletes_nothing() -> None:
    aggregate = fold(accepted("R1", 5, "person/A"), deleted("person/A", 6, table="other"))
    assert counts(aggregate) == (1, 0, 0)
    aggregate = fold(accepted("R1", 5, "person/A"), accepted("R1", 8, "person/C"),
                     deleted("person/A", 7))
    assert counts(aggregate) == (1, 0, 0)


def test_rows_without_a_key_count_each_and_raw_tombstones_not_at_all() -> None:
    aggregate = fold(rejected(None, 1, "event.undecodable"), rejected(None, 2, "event.undecodable"),
                     rejected(None, 3, "event.tombstone_without_delete"))
    assert counts(aggregate) == (0, 2, 0)
    [table] = aggregate.report().tables
    assert table.events["not_a_row"] == 1
    assert [(r.rule_id, r.records, r.examples) for r in table.rules] == [
        ("event.undecodable", 2, ())]


def test_top_reasons_are_ordered_by_records_with_the_commonest_message_and_examples() -> None:
    aggregate = fold(*(rejected(f"R{i}", i) for i in range(7)),
                     rejected("S1", 10, "sex.unknown_code", message=("性别代码未知", "unknown sex code")),
                     rejected("R6", 11, message=("other", "other")))
    rules = aggregate.report().tables[0].rules
    assert [(r.rule_id, r.records) for r in rules] == [("id.checksum", 7), ("sex.unknown_code", 1)]
    assert (rules[0].message_zh, rules[0].message_en) == ("校验码错误", "wrong check character")
    assert rules[0].examples == ("R0", "R1", "R2", "R3", "R4")
    assert rules[1].as_json() == {"rule_id": "sex.unknown_code", "records": 1,
                                  "message_zh": "性别代码未知", "message_en": "unknown sex code",
                                  "examples": ["S1"]}


def test_reports_filter_by_department_and_table_and_sum_up() -> None:
    aggregate = fold(accepted("R1", 1), rejected("X1", 2, table="other"), accepted("X2", 3, table="other"))
    aggregate.expect("rsj", "ac01", "social_insurance")
    assert [t.table for t in aggregate.report("gongan").tables] == ["hj_ryxx", "other"]
    assert [t.table for t in aggregate.report(table="other").tables] == ["other"]
    assert aggregate.report("rsj").tables[0].accepted_ratio is None
    body = aggregate.report().as_json()
    assert body["totals"] == {"accepted": 2, "quarantined": 1, "deleted": 0,
                              "accepted_ratio": round(2 / 3, 4)}
    assert body["departments"] == [
        {"department": "gongan", "accepted": 2, "quarantined": 1, "deleted": 0,
         "accepted_ratio": round(2 / 3, 4)},
        {"department": "rsj", "accepted": 0, "quarantined": 0, "deleted": 0, "accepted_ratio": None}]
    assert aggregate.departments() == {"gongan", "rsj"}


def test_pending_lists_the_records_still_quarantined_oldest_first() -> None:
    aggregate = fold(rejected("R2", 2), rejected("R1", 1), rejected("R3", 3), accepted("R3", 4))
    assert [seen.record_key for seen in aggregate.pending("gongan", "hj_ryxx")] == ["R1", "R2"]
    assert aggregate.pending("gongan", "nope") == []


def test_causes_are_tracked_only_when_asked() -> None:
    assert fold(accepted("R1", 1, causation="q-1")).causes == set()
    tracking = QualityAggregate(track_causes=True)
    tracking.observe(accepted("R1", 1, causation="q-1"))
    assert tracking.causes == {"q-1"}


# --- from Kafka records -------------------------------------------------------------------

def record(topic: str, value: bytes | None, headers: list[tuple[str, bytes]], *,
           offset: int = 7, timestamp: int = 1_700_000_000_000) -> ConsumerRecord[Any, Any]:
    return ConsumerRecord(topic, 0, offset, timestamp, 0, b"key", value, None, 3,
                          len(value or b""), headers)


def test_canonical_records_are_read_from_their_source_and_headers() -> None:
    event = CloudEvent("rongtong.std.person.upserted", "/standardize/gongan/hj_ryxx",
                       subject="person/330106199003071236", causationid="raw-1")
    seen = canonical_seen(record("std.person", b"x", event.to_headers()),
                          {"source": {"department": "gongan", "table": "hj_ryxx", "record_key": "R1"}})
    assert seen is not None
    assert (seen.department, seen.table, seen.entity, seen.record_key, seen.subject) == (
        "gongan", "hj_ryxx", "person", "R1", "person/330106199003071236")
    assert seen.position == LogPosition(1_700_000_000_000, 1, "std.person", 0, 7)
    assert (seen.event_id, seen.causation_id) == (event.id, "raw-1")
    tombstone = canonical_seen(record("std.person", None, event.to_headers()), None)
    assert tombstone is not None and tombstone.deleted and tombstone.table == "hj_ryxx"
    foreign = CloudEvent("x", "/someone/else").to_headers()
    assert canonical_seen(record("std.person", None, foreign), None) is None


def test_quarantine_records_keep_the_row_and_their_event() -> None:
    event = CloudEvent("rongtong.quarantine.record.rejected", "/standardize/gongan/hj_ryxx")
    value = {"rule_id": "id.checksum", "field": "SFZH", "message_zh": "错", "message_en": "wrong",
             "department": "gongan", "table": "hj_ryxx", "record_key": "R1", "op": "u",
             "original": {"RYBH": "R1", "SFZH": "1"}, "source_event_id": "raw-9"}
    seen = quarantine_seen(record("quarantine.gongan.hj_ryxx", b"x", event.to_headers()), value)
    assert (seen.rule_id, seen.column, seen.op, seen.original, seen.source_event_id) == (
        "id.checksum", "SFZH", "u", {"RYBH": "R1", "SFZH": "1"}, "raw-9")
    assert seen.event_id == event.id and seen.position.rank == 0
    without_headers = quarantine_seen(record("quarantine.gongan.hj_ryxx", b"x", []), value)
    assert without_headers.event is None and without_headers.event_id is None


def test_the_html_report_escapes_what_it_quotes() -> None:
    aggregate = fold(accepted("R1", 1), rejected("<R2>", 2, message=("<b>坏</b>", "bad & worse")))
    page = render_html(aggregate.report())
    assert page.startswith("<!doctype html>")
    assert "&lt;b&gt;坏&lt;/b&gt;" in page and "bad &amp; worse" in page and "&lt;R2&gt;" in page
    assert "<b>坏</b>" not in page
    assert "50.0%" in page


# --- the endpoint without Kafka -------------------------------------------------------------

@pytest.fixture
async def client_without_kafka(tmp_path: Path) -> Any:
    settings = load_settings(state_dir=tmp_path, kafka_bootstrap="127.0.0.1:1",
                             registry_url="http://127.0.0.1:1")
    app = create_web_app(settings, audit=MemoryAuditLog())
    async with TestClient(TestServer(app), headers=headers(add_client(settings.state_dir))) as client:
        yield client


async def test_quality_answers_503_with_retry_after_while_kafka_is_down(
        client_without_kafka: TestClient[Any, Any]) -> None:
    response = await client_without_kafka.get("/v1/quality")
    assert response.status == 503
    assert response.content_type == PROBLEM_CONTENT_TYPE
    assert int(response.headers["Retry-After"]) >= 1
    body = await response.json()
    assert body["type"] == "/problems/quality-unavailable"


async def test_quality_refuses_malformed_filters(client_without_kafka: TestClient[Any, Any]) -> None:
    for params in ({"department": "Gong An"}, {"table": "x;drop"}):
        response = await client_without_kafka.get("/v1/quality", params=params)
        assert response.status == 400 and response.content_type == PROBLEM_CONTENT_TYPE
        assert (await response.json())["parameter"] == next(iter(params))


async def test_quality_answers_from_the_aggregate_once_caught_up(
        client_without_kafka: TestClient[Any, Any]) -> None:
    from bus.web.quality import FEED

    feed = client_without_kafka.app[FEED]
    for _ in range(100):  # the feed's first attempt fails; its retry is a second away
        if feed.error:
            break
        await asyncio.sleep(0.05)
    feed.aggregate.observe(accepted("R1", 1))
    feed.aggregate.observe(rejected("R2", 2))
    feed.ready = True
    response = await client_without_kafka.get("/v1/quality", params={"department": "gongan",
                                                                     "table": "hj_ryxx"})
    assert response.status == 200
    [table] = (await response.json())["tables"]
    assert (table["accepted"], table["quarantined"], table["entity"]) == (1, 1, "person")
    assert table["rules"][0]["examples"] == ["R2"]
    authorization = client_without_kafka.session.headers["Authorization"]
    async with aiohttp.ClientSession() as plain, plain.get(  # no X-Purpose
            client_without_kafka.make_url("/v1/quality"), params={"department": "gongan"},
            headers={"Authorization": authorization}) as without_purpose:
        [table] = (await without_purpose.json())["tables"]
    assert table["quarantined"] == 1 and table["rules"][0]["examples"] == [], \
        "legacy record keys (possibly identity numbers) only with a granted purpose"
    missing = await client_without_kafka.get("/v1/quality", params={"department": "nowhere"})
    assert missing.status == 404 and missing.content_type == PROBLEM_CONTENT_TYPE
