"""The sink runner with an in-memory target: reports before the commit, refused rows found."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime
from typing import Any

from aiokafka import ConsumerRecord

from adapters.sinks.config import parse_sink_config
from adapters.sinks.model import Applied, Prepared
from adapters.sinks.runner import SinkRunner

CONFIG = parse_sink_config({"sinks": [{
    "department": "gongan", "engine": "sqlite", "connection": {"path": "unused.sqlite"},
    "table": "hj_ryxx", "mapping": "writeback/gongan.hj_ryxx.yaml"}]})[0]


def value(number: int, **changes: Any) -> dict[str, Any]:
    return {"registration_id": f"R{number}", "case_id": None, "certificate_number": None,
            "name": "张三", "sex_code": "1", "birth_date": date(2026, 1, 2), "division_code": None,
            "household_address": None, "mother_identity_number": None,
            "father_identity_number": None, "requested_at": datetime(2026, 1, 2, tzinfo=UTC),
            "source": {"event_id": f"e{number}"}, **changes}


class FakeSerde:
    """Values travel as themselves; encoding records what was sent."""

    def __init__(self, values: Sequence[dict[str, Any]]) -> None:
        self.values = {f"v{i}".encode(): v for i, v in enumerate(values)}
        self.encoded: list[tuple[str, dict[str, Any]]] = []

    async def decode(self, data: bytes) -> Any:
        return self.values[data]

    async def encode(self, subject: str, _schema: Any, record: dict[str, Any]) -> bytes:
        self.encoded.append((subject, record))
        return b"encoded"


class FakeProducer:
    def __init__(self, log: list[str]) -> None:
        self.log = log

    async def send(self, topic: str, *_args: Any, **_kwargs: Any) -> asyncio.Future[None]:
        self.log.append(f"send {topic}")
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done


class FakeTarget:
    """Refuses any batch holding a row named ``refuse``, as a database refusing a value would."""

    def __init__(self, log: list[str]) -> None:
        self.log = log
        self.rows: dict[str, dict[str, Any]] = {}
        self.pending: dict[str, dict[str, Any]] = {}

    def apply(self, batch: Sequence[Prepared], topic: str, next_offsets: Mapping[int, int]
              ) -> Applied:
        if any(p.row is not None and p.row.values["XM"] == "refuse" for p in batch):
            raise ValueError("value too long for type character varying(40)")
        applied = Applied()
        for p in batch:
            applied.outcomes[p.event.event_id] = "written" if p.row else "quarantined"
            if p.row is not None:
                self.pending[p.row.key_text] = p.row.values
        self.log.append(f"apply {[p.event.offset for p in batch]}")
        return applied

    def commit(self) -> None:
        self.rows.update(self.pending)
        self.pending = {}
        self.log.append("commit")

    def rollback(self) -> None:
        self.pending = {}
        self.log.append("rollback")


def records(count: int) -> list[ConsumerRecord[bytes, bytes]]:
    return [ConsumerRecord("std.household_registration", 0, offset, 0, 0, None, f"v{offset}".encode(),
                           None, 0, 0, [("ce_id", f"id{offset}".encode())]) for offset in range(count)]


async def handle(values: Sequence[dict[str, Any]]) -> tuple[FakeTarget, FakeSerde, list[str]]:
    log: list[str] = []
    target, serde = FakeTarget(log), FakeSerde(values)
    runner = SinkRunner(CONFIG, target, bootstrap="unused:9092", serde=serde)  # type: ignore[arg-type]
    runner._executor = ThreadPoolExecutor(1)
    try:
        await runner._handle(FakeProducer(log), 0, records(len(values)))
    finally:
        runner._executor.shutdown()
    return target, serde, log


async def test_a_row_the_database_refuses_is_found_and_quarantined_and_the_rest_written() -> None:
    target, serde, log = await handle([value(0), value(1, name="refuse"), value(2)])

    assert set(target.rows) == {"WBR0", "WBR2"}
    [(subject, report)] = serde.encoded
    assert subject == "writeback.quarantine.gongan.hj_ryxx-value"
    assert report["rule_id"] == "writeback.refused"
    assert report["source_event_id"] == "id1" and report["source_offset"] == 1
    assert "character varying(40)" in report["message_en"]
    assert log[0] == "rollback"  # the whole batch first, then one event at a time


async def test_reports_reach_kafka_before_the_batch_commits() -> None:
    _target, _serde, log = await handle([value(0), value(1, name="")])

    assert log == ["apply [0, 1]", "send writeback.quarantine.gongan.hj_ryxx", "commit"]
