"""The change-event envelope and the SQLite polling capture, with a fake producer and serde."""

from __future__ import annotations

import io
import json
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import fastavro
import pytest

from adapters.capture.change_event import (
    SourceInfo,
    avro_name,
    change_event_id,
    change_key_schema,
    change_record,
    change_value_schema,
)
from adapters.capture.sqlite_polling import (
    CHANGE_EVENT_TYPE,
    PolledTable,
    PollPosition,
    SqlitePollingCapture,
    row_digest,
)
from bus.envelope import CloudEvent
from bus.positions import POSITIONS_TOPIC

COLUMNS = ["RYBH", "SFZH", "XM", "XB", "CSRQ", "HJDZ", "XZQH", "GXSJ"]
SOURCE = SourceInfo(department="gongan", engine="sqlite", database="gongan.sqlite",
                    table="hj_ryxx", position="2024-03-07 08:30:15|R1", snapshot=False,
                    ts_ms=1_709_771_415_000)


# --- the change envelope ---------------------------------------------------------------------

def round_trip(schema: dict[str, Any], record: dict[str, Any]) -> Any:
    parsed = fastavro.parse_schema(schema)
    buffer = io.BytesIO()
    fastavro.schemaless_writer(buffer, parsed, record)
    buffer.seek(0)
    return fastavro.schemaless_reader(buffer, parsed, None)


def test_the_change_value_schema_parses_and_a_change_record_round_trips() -> None:
    schema = change_value_schema("gongan", "hj_ryxx", COLUMNS)
    before = {c: None for c in COLUMNS}
    after = {**before, "RYBH": "R1", "XM": "王小明", "GXSJ": "2024-03-07 08:30:15"}
    record = change_record("u", before, after, SOURCE, 1_709_771_416_000)

    assert round_trip(schema, record) == record
    assert schema["name"] == "HjRyxxChange"
    assert schema["namespace"] == "rongtong.legacy.gongan"


def test_a_change_without_before_or_after_image_round_trips_with_nulls() -> None:
    schema = change_value_schema("gongan", "hj_ryxx", COLUMNS)
    record = change_record("d", None, None, SOURCE, 0)

    assert round_trip(schema, record) == record


def test_the_key_schema_round_trips_the_key_columns() -> None:
    schema = change_key_schema("gongan", "hj_ryxx", ["RYBH"])

    assert round_trip(schema, {"RYBH": "R1"}) == {"RYBH": "R1"}


def test_columns_with_non_avro_names_are_sanitized_in_schema_and_record() -> None:
    columns = ["人员编号", "update-time", "9col"]
    schema = change_value_schema("公安", "hj ryxx", columns)
    record = change_record("c", None, {"人员编号": "R1", "update-time": "t", "9col": None}, SOURCE, 0)

    decoded = round_trip(schema, record)

    assert decoded["after"] == {"____": "R1", "update_time": "t", "_9col": None}


@pytest.mark.parametrize(
    ("text", "expected"),
    [("RYBH", "RYBH"), ("update-time", "update_time"), ("9col", "_9col"), ("户籍", "__"),
     ("_x", "_x"), ("a.b c", "a_b_c")],
)
def test_avro_name_keeps_letters_digits_and_underscores_and_never_starts_with_a_digit(
    text: str, expected: str,
) -> None:
    assert avro_name(text) == expected


def test_an_unknown_operation_is_refused() -> None:
    with pytest.raises(ValueError, match="x"):
        change_record("x", None, None, SOURCE, 0)


def test_the_change_event_id_is_deterministic_for_the_same_row_image() -> None:
    row = {"RYBH": "R1", "XM": "王小明"}

    assert change_event_id("gongan", "hj_ryxx", "R1", row) == change_event_id(
        "gongan", "hj_ryxx", "R1", dict(reversed(list(row.items()))))


@pytest.mark.parametrize(
    ("department", "table", "key", "row"),
    [
        ("gongan", "hj_ryxx", "R1", {"RYBH": "R1", "XM": "王小红"}),
        ("gongan", "hj_ryxx", "R1", {"RYBH": "R1", "XM": None}),
        ("gongan", "hj_ryxx", "R2", {"RYBH": "R1", "XM": "王小明"}),
        ("gongan", "other", "R1", {"RYBH": "R1", "XM": "王小明"}),
        ("minzheng", "hj_ryxx", "R1", {"RYBH": "R1", "XM": "王小明"}),
    ],
)
def test_the_change_event_id_changes_with_row_content_key_table_or_department(
    department: str, table: str, key: str, row: dict[str, str | None],
) -> None:
    original = change_event_id("gongan", "hj_ryxx", "R1", {"RYBH": "R1", "XM": "王小明"})

    assert change_event_id(department, table, key, row) != original


# --- poll positions --------------------------------------------------------------------------

def test_a_position_advances_to_the_last_row_and_keeps_a_hash_per_key_of_that_second() -> None:
    rows = [(3, "2024-01-01 00:00:01", "B", "h1"), (1, "2024-01-01 00:00:02", "C", "h2"),
            (2, "2024-01-01 00:00:02", "A", "h3")]

    position = PollPosition().advanced(rows, snapshot_done=False)

    assert position == PollPosition("2024-01-01 00:00:02", "C", 3, False, {"C": "h2", "A": "h3"})


def test_a_position_in_the_same_second_adds_to_its_boundary() -> None:
    start = PollPosition("t1", "A", 5, True, {"A": "h1"})

    position = start.advanced([(6, "t1", "B", "h2")], snapshot_done=True)

    assert position.boundary == {"A": "h1", "B": "h2"}
    assert (position.updated, position.key, position.max_rowid) == ("t1", "B", 6)
    assert start.boundary == {"A": "h1"}  # the old position is untouched


def test_advancing_over_no_rows_changes_only_the_snapshot_flag() -> None:
    start = PollPosition("t1", "A", 5, False, {"A": "h1"})

    assert start.advanced([], snapshot_done=True) == PollPosition("t1", "A", 5, True, {"A": "h1"})


def test_a_position_round_trips_through_a_json_dict() -> None:
    position = PollPosition("2024-01-01 00:00:02", "C", 3, True, {"C": "h2", "A": "h3"})

    stored = json.loads(json.dumps(position.as_dict()))

    assert PollPosition.from_dict(stored) == position


@pytest.mark.parametrize("stored", [None, {}])
def test_no_stored_position_means_start_from_the_beginning(stored: dict[str, Any] | None) -> None:
    assert PollPosition.from_dict(stored) == PollPosition()


# --- the capture, end to end against a SQLite file ---------------------------------------------

class Crash(Exception):
    """Raised inside a transaction to simulate the process dying before commit."""


@dataclass(frozen=True)
class Sent:
    topic: str
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes]]


class FakeProducer:
    """Transactional producer: sends become visible only when their transaction commits."""

    def __init__(self) -> None:
        self.committed: list[list[Sent]] = []
        self.aborted = 0
        self.crash_on_topic: str | None = None
        self._pending: list[Sent] | None = None

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[None]:
        assert self._pending is None, "transactions do not nest"
        self._pending = []
        try:
            yield
        except BaseException:
            self.aborted += 1
            raise
        else:
            self.committed.append(self._pending)
        finally:
            self._pending = None

    async def send(self, topic: str, key: bytes | None = None, value: bytes | None = None,
                   headers: list[tuple[str, bytes]] | None = None) -> None:
        assert self._pending is not None, "send outside a transaction"
        if topic == self.crash_on_topic:
            raise Crash(topic)
        self._pending.append(Sent(topic, key, value, list(headers or [])))

    def messages(self, topic: str) -> list[Sent]:
        return [m for batch in self.committed for m in batch if m.topic == topic]


class JsonSerde:
    """Checks each record against its Avro schema, then encodes it as JSON."""

    def __init__(self) -> None:
        self.subjects: set[str] = set()

    async def encode(self, subject: str, schema: dict[str, Any], record: Any) -> bytes:
        assert fastavro.validation.validate(record, fastavro.parse_schema(schema), raise_errors=True)
        self.subjects.add(subject)
        return json.dumps(record, ensure_ascii=False).encode("utf-8")


TABLE = PolledTable(department="gongan", table="hj_ryxx", key_column="RYBH", updated_column="GXSJ")


@dataclass(frozen=True)
class Change:
    op: str
    key: str
    after: dict[str, str | None]
    snapshot: bool
    event: CloudEvent


class LegacyDb:
    def __init__(self, path: Path) -> None:
        self.path = path
        with closing(self._connect()) as db:
            db.execute(
                "CREATE TABLE hj_ryxx (RYBH TEXT PRIMARY KEY, SFZH TEXT, XM TEXT, XB TEXT, "
                "CSRQ TEXT, HJDZ TEXT, XZQH TEXT, GXSJ TEXT)"
            )

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, isolation_level=None)

    def insert(self, key: str, updated: str | None, name: str = "张三") -> None:
        with closing(self._connect()) as db:
            db.execute(
                "INSERT INTO hj_ryxx VALUES (?, '330106199003071236', ?, '1', '19900307', "
                "'杭州', '330106', ?)", (key, name, updated),
            )

    def update(self, key: str, updated: str | None, name: str) -> None:
        with closing(self._connect()) as db:
            db.execute("UPDATE hj_ryxx SET XM = ?, GXSJ = ? WHERE RYBH = ?", (name, updated, key))


@pytest.fixture
def db(tmp_path: Path) -> LegacyDb:
    return LegacyDb(tmp_path / "gongan.sqlite")


@pytest.fixture
def producer() -> FakeProducer:
    return FakeProducer()


def capture_of(db: LegacyDb, producer: FakeProducer, batch_size: int = 500) -> SqlitePollingCapture:
    return SqlitePollingCapture(TABLE, db.path, producer, JsonSerde(),  # type: ignore[arg-type]
                                "127.0.0.1:1", batch_size=batch_size, poll_interval=0)


def changes(producer: FakeProducer) -> list[Change]:
    result = []
    for message in producer.messages(TABLE.topic):
        assert message.value is not None
        record = json.loads(message.value)
        assert message.key is not None
        assert json.loads(message.key) == {"RYBH": record["after"]["RYBH"]}
        result.append(Change(record["op"], record["after"]["RYBH"], record["after"],
                             record["source"]["snapshot"], CloudEvent.from_headers(message.headers)))
    return result


async def drain(capture: SqlitePollingCapture, limit: int = 50) -> list[int]:
    """Poll until a poll publishes nothing; the count published by each productive poll."""
    counts: list[int] = []
    for _ in range(limit):
        published = await capture.poll_once()
        if published == 0:
            return counts
        counts.append(published)
    raise AssertionError("the capture never ran dry")


async def test_the_snapshot_reads_every_row_as_r_in_update_time_then_key_order_across_batches(
    db: LegacyDb, producer: FakeProducer,
) -> None:
    for key, updated in [("R5", "2024-01-01 00:00:03"), ("R1", "2024-01-01 00:00:02"),
                         ("R4", "2024-01-01 00:00:01"), ("R2", "2024-01-01 00:00:02"),
                         ("R3", "2024-01-01 00:00:04"), ("R0", "2024-01-01 00:00:01"),
                         ("R6", "2024-01-01 00:00:05")]:
        db.insert(key, updated)
    capture = capture_of(db, producer, batch_size=3)

    assert await drain(capture) == [3, 3, 1]

    read = changes(producer)
    assert [c.key for c in read] == ["R0", "R4", "R1", "R2", "R5", "R3", "R6"]
    assert {c.op for c in read} == {"r"}
    assert all(c.snapshot for c in read)
    assert capture.position.snapshot_done
    assert capture.published == 7


async def test_every_event_carries_a_cloudevents_envelope_naming_the_row(
    db: LegacyDb, producer: FakeProducer,
) -> None:
    db.insert("R1", "2024-03-07 08:30:15", name="王小明")
    await capture_of(db, producer).poll_once()

    (change,) = changes(producer)
    assert change.event.type == CHANGE_EVENT_TYPE
    assert change.event.source == "/adapters/gongan/sqlite/hj_ryxx"
    assert change.event.subject == "hj_ryxx/R1"
    assert change.event.dataclassification == "sensitive_personal"
    assert change.event.id == change_event_id("gongan", "hj_ryxx", "R1", change.after)
    assert change.after["XM"] == "王小明"


async def test_the_source_block_carries_the_legacy_update_time_in_shanghai_time(
    db: LegacyDb, producer: FakeProducer,
) -> None:
    db.insert("R1", "2024-03-07 08:30:15")
    await capture_of(db, producer).poll_once()

    record = json.loads(producer.messages(TABLE.topic)[0].value or b"")
    assert record["source"]["ts_ms"] == 1_709_771_415_000  # 2024-03-07T00:30:15Z
    assert record["source"]["engine"] == "sqlite"
    assert record["source"]["database"] == "gongan.sqlite"
    assert record["before"] is None


async def test_after_the_snapshot_an_insert_is_c_and_an_update_is_u(
    db: LegacyDb, producer: FakeProducer,
) -> None:
    db.insert("R1", "2024-01-01 00:00:01")
    db.insert("R2", "2024-01-01 00:00:02")
    capture = capture_of(db, producer)
    await drain(capture)

    db.insert("R3", "2024-01-01 00:00:03")
    db.update("R1", "2024-01-01 00:00:04", name="李四")
    assert await drain(capture) == [2]

    later = changes(producer)[2:]
    assert [(c.op, c.key, c.snapshot) for c in later] == [("c", "R3", False), ("u", "R1", False)]
    assert later[1].after["XM"] == "李四"


async def test_rows_sharing_one_second_split_across_batches_are_each_read_once(
    db: LegacyDb, producer: FakeProducer,
) -> None:
    for key in ["R3", "R1", "R5", "R2", "R4"]:
        db.insert(key, "2024-01-01 00:00:01")
    db.insert("R0", "2024-01-01 00:00:02")
    capture = capture_of(db, producer, batch_size=2)

    assert await drain(capture) == [2, 2, 2]

    assert [c.key for c in changes(producer)] == ["R1", "R2", "R3", "R4", "R5", "R0"]


async def test_rows_sharing_one_second_are_read_once_when_more_arrive_in_that_second_later(
    db: LegacyDb, producer: FakeProducer,
) -> None:
    for key in ["R1", "R2", "R3"]:
        db.insert(key, "2024-01-01 00:00:01")
    capture = capture_of(db, producer, batch_size=2)
    await drain(capture)

    db.insert("R4", "2024-01-01 00:00:01")
    db.insert("R0", "2024-01-01 00:00:01")  # sorts before the last key read
    await drain(capture)

    after_snapshot = changes(producer)[3:]
    assert sorted((c.op, c.key) for c in after_snapshot) == [("c", "R0"), ("c", "R4")]


async def test_a_row_changed_again_within_the_last_read_second_is_captured_once_as_u(
    db: LegacyDb, producer: FakeProducer,
) -> None:
    db.insert("R1", "2024-01-01 00:00:01")
    db.insert("R2", "2024-01-01 00:00:01")
    capture = capture_of(db, producer)
    await drain(capture)

    db.update("R1", "2024-01-01 00:00:01", name="李四")
    assert await drain(capture) == [1]
    assert await capture.poll_once() == 0

    (change,) = changes(producer)[2:]
    assert (change.op, change.key, change.after["XM"]) == ("u", "R1", "李四")


async def test_an_unchanged_table_polled_again_publishes_and_commits_nothing(
    db: LegacyDb, producer: FakeProducer,
) -> None:
    db.insert("R1", "2024-01-01 00:00:01")
    capture = capture_of(db, producer)
    await drain(capture)
    transactions, position = len(producer.committed), capture.position

    for _ in range(3):
        assert await capture.poll_once() == 0

    assert len(producer.committed) == transactions
    assert capture.position == position


async def test_an_empty_table_completes_its_snapshot_without_events(
    db: LegacyDb, producer: FakeProducer,
) -> None:
    capture = capture_of(db, producer)

    assert await capture.poll_once() == 0

    assert capture.position.snapshot_done
    assert producer.messages(TABLE.topic) == []
    assert len(producer.messages(POSITIONS_TOPIC)) == 1


async def test_rows_without_an_update_time_are_captured_by_the_snapshot_first_by_key(
    db: LegacyDb, producer: FakeProducer,
) -> None:
    db.insert("R2", None)
    db.insert("R1", "2024-01-01 00:00:01")
    db.insert("R4", "")
    db.insert("R3", None)
    capture = capture_of(db, producer, batch_size=2)

    assert await drain(capture) == [2, 2]

    read = changes(producer)
    assert [c.key for c in read] == ["R2", "R3", "R4", "R1"]
    assert read[0].after["GXSJ"] is None
    assert read[2].after["GXSJ"] == ""
    record = json.loads(producer.messages(TABLE.topic)[0].value or b"")
    assert record["source"]["ts_ms"] == 0


async def test_each_batch_commits_its_position_to_bus_positions_in_the_same_transaction(
    db: LegacyDb, producer: FakeProducer,
) -> None:
    for i in range(5):
        db.insert(f"R{i}", f"2024-01-01 00:00:0{i}")
    capture = capture_of(db, producer, batch_size=2)

    for _ in range(3):
        await capture.poll_once()
        last = producer.committed[-1]
        assert [m.topic for m in last[:-1]] == [TABLE.topic] * (len(last) - 1)
        stored = last[-1]
        assert stored.topic == POSITIONS_TOPIC
        assert stored.key == b"capture.gongan.hj_ryxx"
        assert json.loads(stored.value or b"") == capture.position.as_dict()
    assert capture.position.updated == "2024-01-01 00:00:04"
    assert capture.position.key == "R4"


async def test_a_new_capture_resumed_from_the_stored_position_loses_and_repeats_nothing(
    db: LegacyDb, producer: FakeProducer,
) -> None:
    for key in ["R1", "R2", "R3", "R4", "R5"]:
        db.insert(key, "2024-01-01 00:00:01")
    first = capture_of(db, producer, batch_size=2)
    await first.poll_once()
    db.update("R1", "2024-01-01 00:00:01", name="改名")  # changed inside the boundary second
    db.insert("R6", "2024-01-01 00:00:02")

    resumed = capture_of(db, producer, batch_size=2)
    stored = producer.messages(POSITIONS_TOPIC)[-1].value or b""
    resumed.position = PollPosition.from_dict(json.loads(stored))
    await drain(resumed)

    read = changes(producer)
    assert [c.key for c in read] == ["R1", "R2", "R1", "R3", "R4", "R5", "R6"]
    assert read[2].after["XM"] == "改名"
    assert sum(c.key == "R6" for c in read) == 1


async def test_a_transaction_that_fails_keeps_the_position_and_a_retry_republishes_the_same_rows(
    db: LegacyDb, producer: FakeProducer,
) -> None:
    db.insert("R1", "2024-01-01 00:00:01")
    db.insert("R2", "2024-01-01 00:00:02")
    capture = capture_of(db, producer)
    await drain(capture)
    db.insert("R3", "2024-01-01 00:00:03")
    db.update("R1", "2024-01-01 00:00:04", name="李四")
    position = capture.position

    producer.crash_on_topic = POSITIONS_TOPIC
    with pytest.raises(Crash):
        await capture.poll_once()

    assert producer.aborted == 1
    assert capture.position == position
    assert len(changes(producer)) == 2

    producer.crash_on_topic = None
    assert await capture.poll_once() == 2
    retried = changes(producer)[2:]
    assert [(c.op, c.key) for c in retried] == [("c", "R3"), ("u", "R1")]
    assert retried[1].event.id == change_event_id("gongan", "hj_ryxx", "R1", retried[1].after)


async def test_a_column_added_to_the_legacy_table_appears_in_later_events(
    db: LegacyDb, producer: FakeProducer,
) -> None:
    db.insert("R1", "2024-01-01 00:00:01")
    capture = capture_of(db, producer)
    await drain(capture)

    with closing(sqlite3.connect(db.path, isolation_level=None)) as connection:
        connection.execute("ALTER TABLE hj_ryxx ADD COLUMN LXDH TEXT")
        connection.execute("UPDATE hj_ryxx SET LXDH = '13800000000', GXSJ = '2024-01-01 00:00:02'")
    await drain(capture)

    first, second = changes(producer)
    assert "LXDH" not in first.after
    assert (second.op, second.after["LXDH"]) == ("u", "13800000000")


def test_the_row_digest_is_independent_of_column_order_and_sensitive_to_values() -> None:
    row: dict[str, str | None] = {"RYBH": "R1", "XM": "张三"}

    assert row_digest(row) == row_digest({"XM": "张三", "RYBH": "R1"})
    assert row_digest(row) != row_digest({"RYBH": "R1", "XM": "李四"})
    assert row_digest(row) != row_digest({"RYBH": "R1", "XM": None})


async def test_an_integer_key_column_is_read_once_per_row_across_batches(
    tmp_path: Path, producer: FakeProducer,
) -> None:
    path = tmp_path / "numeric.sqlite"
    with closing(sqlite3.connect(path, isolation_level=None)) as db:
        db.execute("CREATE TABLE t (ID INTEGER PRIMARY KEY, V TEXT, GXSJ TEXT)")
        for key in (9, 10, 11):
            db.execute("INSERT INTO t VALUES (?, 'v', '2024-01-01 00:00:01')", (key,))
    capture = SqlitePollingCapture(
        PolledTable("d", "t", "ID", "GXSJ"), path,
        producer, JsonSerde(), "127.0.0.1:1", batch_size=2,  # type: ignore[arg-type]
    )

    await drain(capture, limit=10)

    read = [json.loads(m.value or b"")["after"]["ID"] for m in producer.messages("legacy.d.t")]
    # Keys are ordered as text (the position stores text), and each row is read exactly once.
    assert read == ["10", "11", "9"]
