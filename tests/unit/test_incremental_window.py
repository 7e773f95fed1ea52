"""The ``incremental`` look-back window: re-read rows whose fetched values are unchanged are
recognised without their text and hash, every change within one update time is still
published, and a window the table has settled is not re-read (a SQLite file, the poller as
the capture runs it)."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from adapters.capture.engines.sqlite import SqliteDialect
from adapters.capture.source import Checkpoint, TableSpec
from adapters.capture.strategies.incremental import IncrementalPoller, _settled_by

T1, T2 = "2026-11-28 10:00:00", "2026-11-28 10:00:01"


class Legacy:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.db = sqlite3.connect(path)
        self.db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v, upd TEXT NOT NULL)")

    def write(self, sql: str, *params: Any) -> None:
        self.db.execute(sql, params)
        self.db.commit()


def poller(legacy: Legacy, *, remember: bool, lookback: float = 0) -> IncrementalPoller:
    dialect = SqliteDialect(legacy.path)
    connection = dialect.connect()
    spec = TableSpec("d", "t", ("id",), "incremental", updated_column="upd", batch_size=3,
                     options={"lookback_seconds": lookback})
    poll = IncrementalPoller(dialect, connection, spec,
                             dialect.key_order(connection, "t", spec.key_columns))
    if not remember:  # every re-read row compared by its hash, as after a restart
        poll._remember = lambda *args: None  # type: ignore[method-assign]
    return poll


def poll_all(poll: IncrementalPoller, cp: Checkpoint,
             rechecked: list[int] | None = None) -> tuple[list[tuple[str, str, Any]], Checkpoint]:
    """Every change until caught up, as (op, key, after) — and the checkpoint after them;
    ``rechecked`` gets how many rows each poll read again."""
    published = []
    while True:
        fetched = poll._fetch(cp)
        changes, cp_next, _ = poll.changes(cp, fetched)
        published += [(c.op, c.key["id"], c.after) for c in changes]
        if rechecked is not None:
            rechecked.append(len(fetched.rechecked))
        cp = cp_next
        if len(fetched.rows) < poll.spec.batch_size:
            return published, cp


def at(second: int) -> str:
    return f"2026-11-28 10:00:{second:02d}"


@pytest.mark.parametrize("later", [
    ("UPDATE t SET v = 'changed' WHERE id = 2", ()),  # a same-second update
    ("UPDATE t SET v = 1.0 WHERE id = 1", ()),  # 1 → 1.0: equal values, other text
    ("UPDATE t SET v = -0.0 WHERE id = 3", ()),  # 0.0 → -0.0
    ("INSERT INTO t VALUES (0, 'late', ?)", (T1,)),  # committed late at the last time
    ("UPDATE t SET v = v WHERE id = 2", ()),  # rewritten unchanged: nothing to publish
])
def test_the_window_publishes_what_hashing_every_row_publishes(
        tmp_path: Path, later: tuple[str, tuple[Any, ...]]) -> None:
    legacy = Legacy(tmp_path / "legacy.db")
    for key, value in [(1, 1), (2, "b"), (3, 0.0), (4, "d"), (5, "e")]:
        legacy.write("INSERT INTO t VALUES (?, ?, ?)", key, value, T1)
    remembering, hashing = poller(legacy, remember=True), poller(legacy, remember=False)
    first, cp = poll_all(remembering, {})
    first_hashed, cp_hashed = poll_all(hashing, {})
    assert first == first_hashed and len(first) == 5 and cp == cp_hashed

    legacy.write(*later[:1], *later[1])
    then, cp = poll_all(remembering, cp)
    then_hashed, cp_hashed = poll_all(hashing, cp_hashed)

    assert then == then_hashed
    assert cp == cp_hashed
    assert bool(then) == ("v = v" not in later[0])


def test_unchanged_rows_of_the_window_are_neither_converted_nor_hashed(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    legacy = Legacy(tmp_path / "legacy.db")
    for key in range(1, 7):
        legacy.write("INSERT INTO t VALUES (?, ?, ?)", key, f"v{key}", T1)
    poll = poller(legacy, remember=True)
    _, cp = poll_all(poll, {})
    legacy.write("INSERT INTO t VALUES (7, 'new', ?)", T2)

    import adapters.capture.strategies.incremental as incremental

    hashed: list[dict[str, Any]] = []
    real = incremental.row_digest
    monkeypatch.setattr(incremental, "row_digest", lambda row: hashed.append(row) or real(row))
    fetched = poll._fetch(cp)
    changes, _, _ = poll.changes(cp, fetched)

    assert len(fetched.rechecked) == 6  # the whole tie at T1 was read again
    assert [c.key["id"] for c in changes] == ["7"]
    assert [row["id"] for row in hashed] == ["7"]  # only the new row, for the next window


def test_catching_up_re_reads_only_the_windows_the_table_has_not_settled(tmp_path: Path) -> None:
    legacy = Legacy(tmp_path / "legacy.db")
    for key in range(12):  # a writer's statements: three rows a second, four seconds
        legacy.write("INSERT INTO t VALUES (?, ?, ?)", key, f"v{key}", at(key // 3))
    settling, re_reading = poller(legacy, remember=True), poller(legacy, remember=True)
    re_reading._ask_newest = lambda: None  # type: ignore[method-assign]
    _, cp = poll_all(settling, {})
    _, cp_re_read = poll_all(re_reading, {})
    assert cp == cp_re_read
    for key in range(12):  # the same backlog again, written while the capture was stopped
        legacy.write("UPDATE t SET v = ?, upd = ? WHERE id = ?", f"w{key}", at(10 + key // 3), key)

    rechecked: list[int] = []
    rechecked_all: list[int] = []
    then, cp = poll_all(settling, cp, rechecked)
    then_re_read, cp_re_read = poll_all(re_reading, cp_re_read, rechecked_all)

    assert then == then_re_read and len(then) == 12 and cp == cp_re_read
    # Caught up before, the first poll re-reads the stored window (:03, its rows gone);
    # behind after it, the second asks for the newest time (:13) before re-reading :10's
    # window, which settles :11's and :12's. Only :13's is read again at the end.
    assert rechecked == [0, 3, 0, 0, 3]
    assert rechecked_all == [0, 3, 3, 3, 3]


def test_a_row_committed_late_is_read_even_when_newer_rows_came_before_the_next_poll(
        tmp_path: Path) -> None:
    legacy = Legacy(tmp_path / "legacy.db")
    for key in (2, 3, 4, 5):
        legacy.write("INSERT INTO t VALUES (?, 'v', ?)", key, at(0))
    poll = poller(legacy, remember=True)
    fetched = poll._fetch({})
    _, cp, _ = poll.changes({}, fetched)  # 2, 3 and 4, behind the table
    legacy.write("INSERT INTO t VALUES (1, 'late', ?)", at(0))  # committed within its second
    legacy.write("INSERT INTO t VALUES (6, 'v', ?)", at(1))  # then a row of the next second

    published, _ = poll_all(poll, cp)

    # The newest time (:01) the next poll asks for settles the windows of the reads after
    # it, not the one read before it was written.
    assert sorted(key for _, key, _ in published) == ["1", "5", "6"]


def test_a_row_committed_late_within_the_lookback_is_read_while_catching_up(tmp_path: Path) -> None:
    legacy = Legacy(tmp_path / "legacy.db")
    for key in range(2, 11):
        legacy.write("INSERT INTO t VALUES (?, 'v', ?)", key, at(2 * (key // 3)))  # :00 … :06
    poll = poller(legacy, remember=True, lookback=5)
    cp: Checkpoint = {}
    for _ in range(2):  # :00 and :02, then the newest time (:06) is known
        fetched = poll._fetch(cp)
        _, cp, _ = poll.changes(cp, fetched)
    legacy.write("INSERT INTO t VALUES (1, 'late', ?)", at(1))  # 1 s late, within the 5 s

    published, _ = poll_all(poll, cp)

    assert [key for _, key, _ in published] == ["1", "8", "9", "10"]


@pytest.mark.parametrize(("newest", "updated", "lookback", "settled"), [
    (at(1), at(0), 0, True),
    (at(0) + ".999999", at(0), 0, False),  # a second-precision writer may still write :00
    (at(0) + ".000002", at(0) + ".000001", 0, True),
    (at(5), at(0), 5, False),
    (at(6), at(0), 5, True),
    ("2026-11-29", "2026-11-28", 0, True),
    ("2026-11-28 23:59:59", "2026-11-28", 0, False),  # the whole day may still come
    ("2026/11/28 10:01", "2026/11/28 10:00", 0, True),
    ("2026-11-28 10:00:59", "2026-11-28 10:00", 0, False),
    (at(1) + "+08:00", at(0), 0, False),  # one with a zone, one without: not comparable
    (at(1) + "+08:00", at(0) + "+08:00", 0, True),
    ("N/A", at(0), 0, False),
    (at(1), "17", 0, False),
    (None, at(0), 0, False),
])
def test_a_window_is_settled_by_a_time_past_its_last_moment_and_the_lookback(
        newest: str | None, updated: str, lookback: float, settled: bool) -> None:
    assert _settled_by(newest, updated, lookback) is settled


def test_rows_read_at_a_settled_time_are_kept_by_key_alone_and_never_published_again(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import adapters.capture.strategies.incremental as incremental

    legacy = Legacy(tmp_path / "legacy.db")
    for key in range(12):  # a writer's statements: three rows a second, four seconds
        legacy.write("INSERT INTO t VALUES (?, ?, ?)", key, f"v{key}", at(key // 3))
    hashed: list[str] = []
    real = incremental.row_digest
    monkeypatch.setattr(incremental, "row_digest",
                        lambda row: hashed.append(row["id"]) or real(row))
    poll = poller(legacy, remember=True)
    checkpoints: list[Checkpoint] = [{}]
    while True:
        fetched = poll._fetch(checkpoints[-1])
        checkpoints.append(poll.changes(checkpoints[-1], fetched)[1])
        if len(fetched.rows) < poll.spec.batch_size:
            break

    # The first poll read :00 before the newest time (:03) was asked: hashed. :01 and :02,
    # read after it, are settled by it; :03 is not.
    windows = [cp["boundary"] for cp in checkpoints[1:5]]
    assert [sorted({v[1] == incremental.SETTLED for v in w.values()}) for w in windows] == [
        [False], [True], [True], [False]]
    assert hashed == ["0", "1", "2", "9", "10", "11"]

    # A restart from a settled window re-reads it (the newest time is not known yet) and
    # publishes none of its rows again; nor does a restart in another key order, which
    # reads every row of that time again.
    legacy.write("UPDATE t SET v = 'changed', upd = ? WHERE id = 1", at(20))
    for stored in (checkpoints[3], {**checkpoints[3], "order": "text"}):
        restarted = poller(legacy, remember=False)
        cp = restarted.reorder(stored)
        assert cp["boundary"] == stored["boundary"]
        published, _ = poll_all(restarted, cp)
        assert [(op, key) for op, key, _ in published] == [  # still the snapshot pass: r
            ("r", "9"), ("r", "10"), ("r", "11"), ("r", "1")]
