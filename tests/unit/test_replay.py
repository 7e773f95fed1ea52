"""Replay decisions: which quarantined rows are tried, what passes, what is published."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import Any

import pytest

from adapters.standardize.mapping import Mapping, load_mapping
from adapters.standardize.outcomes import OutcomeEncoder
from adapters.standardize.replay import (
    NotReplayable,
    Passed,
    StillFailing,
    candidates,
    cause_of,
    decide,
    replay_table,
)
from bus.envelope import CloudEvent, header_value
from bus.governance.quality import CanonicalSeen, LogPosition, QualityAggregate, QuarantineSeen
from bus.serde.avro import AvroSerde
from tests.unit.test_serde import FakeRegistry

GOOD_ID = "330106199003071236"
BAD_ID = GOOD_ID[:17] + "0"
_offsets = itertools.count()


@pytest.fixture(scope="module")
def mapping() -> Mapping:
    return load_mapping("gongan.hj_ryxx")


@pytest.fixture(scope="module")
def relaxed(mapping: Mapping) -> Mapping:
    """The same mapping with the identity number's checksum no longer checked (a 'fix')."""
    rules = tuple(replace(rule, transform=lambda raw: raw.strip())
                  if rule.field == "identity_number" else rule for rule in mapping.rules)
    return replace(mapping, rules=rules)


def row(key: str, **changes: str | None) -> dict[str, str | None]:
    values: dict[str, str | None] = {"RYBH": key, "SFZH": GOOD_ID, "XM": "王小明", "XB": "1",
                                     "CSRQ": "19900307", "XZQH": "330106", "HJDZ": None,
                                     "GXSJ": "2024-03-07 08:30:15"}
    values.update(changes)
    return values


def quarantined(key: str | None, ms: int, original: dict[str, str | None] | None, *,
                rule: str = "id.checksum", op: str = "c") -> QuarantineSeen:
    event = CloudEvent("rongtong.quarantine.record.rejected", "/standardize/gongan/hj_ryxx",
                       correlationid="corr-1")
    return QuarantineSeen("gongan", "hj_ryxx", key, rule, "校验码错误", "wrong check character",
                          "SFZH", op, original, f"raw-{key}",
                          LogPosition(ms, 0, "quarantine.gongan.hj_ryxx", 0, next(_offsets)), event)


def published(key: str, ms: int, causation: str | None = None) -> CanonicalSeen:
    return CanonicalSeen("gongan", "hj_ryxx", "person", key, f"person/{key}",
                         LogPosition(ms, 1, "std.person", 0, next(_offsets)), causation_id=causation)


def test_a_row_the_fixed_mapping_accepts_passes(relaxed: Mapping) -> None:
    decision = decide(relaxed, quarantined("R1", 1, row("R1", SFZH=BAD_ID)))
    assert isinstance(decision, Passed)
    assert decision.fields["identity_number"] == BAD_ID


def test_a_row_that_still_breaks_a_rule_is_reported_with_that_rule(relaxed: Mapping) -> None:
    decision = decide(relaxed, quarantined("R1", 1, row("R1", XB="3"), rule="sex.unknown_code"))
    assert isinstance(decision, StillFailing)
    assert decision.rejection.rule_id == "sex.unknown_code"


def test_events_without_a_row_and_capture_rejections_are_not_replayable(relaxed: Mapping) -> None:
    assert isinstance(decide(relaxed, quarantined(None, 1, None, rule="event.no_row_image")),
                      NotReplayable)
    assert isinstance(decide(relaxed, quarantined("R1", 1, row("R1"), rule="capture.undecodable")),
                      NotReplayable)
    assert isinstance(decide(relaxed, quarantined("R1", 1, None)), NotReplayable)


def test_candidates_skip_rows_superseded_or_already_replayed(mapping: Mapping) -> None:
    aggregate = QualityAggregate(track_causes=True)
    first, superseded, replayed = (quarantined(k, 1, row(k)) for k in ("R1", "R2", "R3"))
    for seen in (first, superseded, replayed):
        aggregate.observe(seen)
    aggregate.observe(published("R2", 5))  # the legacy row was fixed and captured again
    # a keyless row replayed before: its canonical event names the quarantine event as cause
    keyless = quarantined(None, 2, row(""))
    aggregate.observe(keyless)
    aggregate.observe(published("", 6, causation=cause_of(keyless).id))
    aggregate.observe(published("R3", 7, causation=cause_of(replayed).id))
    assert candidates(aggregate, mapping) == [first]


def test_the_cause_of_a_record_without_headers_is_stable() -> None:
    seen = replace(quarantined("R1", 1, row("R1")), event=None)
    assert cause_of(seen).id == cause_of(seen).id == f"quarantine.gongan.hj_ryxx/0/{seen.position.offset}"


class FakeProducer:
    def __init__(self) -> None:
        self.transactions: list[list[tuple[str, bytes | None, bytes | None, Any]]] = []

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[None]:
        self.transactions.append([])
        yield

    async def send(self, topic: str, *, key: bytes | None, value: bytes | None, headers: Any) -> None:
        self.transactions[-1].append((topic, key, value, headers))


async def test_replay_publishes_what_passes_as_the_stage_would_and_reports_the_rest(
        relaxed: Mapping) -> None:
    serde = AvroSerde(FakeRegistry())  # type: ignore[arg-type]
    aggregate = QualityAggregate(track_causes=True)
    fixable = quarantined("R1", 1, row("R1", SFZH=BAD_ID))
    deleted = quarantined("R4", 2, row("R4", SFZH=BAD_ID), op="d")
    for seen in (fixable, deleted, quarantined("R2", 3, row("R2", XB="3"), rule="sex.unknown_code"),
                 quarantined(None, 4, None, rule="event.undecodable")):
        aggregate.observe(seen)
    producer = FakeProducer()
    result = await replay_table(relaxed, aggregate, OutcomeEncoder(relaxed, serde), producer)  # type: ignore[arg-type]
    assert result.as_json() == {
        "department": "gongan", "table": "hj_ryxx", "entity": "person", "dry_run": False,
        "candidates": 4, "passed": 2, "published": 2, "still_failing": {"sex.unknown_code": 1},
        "not_replayable": 1}
    [sent] = producer.transactions
    [(topic, _, value, headers), (_, _, tombstone, delete_headers)] = sent
    assert topic == "std.person" and tombstone is None
    assert header_value(headers, "causationid") == fixable.event_id
    assert header_value(headers, "correlationid") == "corr-1"
    assert header_value(headers, "ce_type") == "rongtong.std.person.upserted"
    assert header_value(headers, "ce_source") == "/standardize/gongan/hj_ryxx"
    assert header_value(delete_headers, "ce_type") == "rongtong.std.person.deleted"
    assert value is not None
    person = await serde.decode(value)
    assert person["identity_number"] == BAD_ID
    assert person["source"]["record_key"] == "R1" and person["source"]["event_id"] == "raw-R1"
    assert person["source"]["updated_at"] is not None


async def test_a_dry_run_reports_and_publishes_nothing(relaxed: Mapping) -> None:
    serde = AvroSerde(FakeRegistry())  # type: ignore[arg-type]
    aggregate = QualityAggregate(track_causes=True)
    aggregate.observe(quarantined("R1", 1, row("R1", SFZH=BAD_ID)))
    result = await replay_table(relaxed, aggregate, OutcomeEncoder(relaxed, serde), None)
    assert (result.dry_run, result.passed, result.published) == (True, 1, 0)
