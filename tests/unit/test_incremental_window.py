"""The ``incremental`` look-back window: re-read rows whose fetched values are unchanged are
recognised without their text and hash, and every change within one update time is still
published (a SQLite file, the poller as the capture runs it)."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from adapters.capture.engines.sqlite import SqliteDialect
from adapters.capture.source import Checkpoint, TableSpec
from adapters.capture.strategies.incremental import IncrementalPoller

T1, T2 = "2026-11-28 10:00:00", "2026-11-28 10:00:01"


class Legacy:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.db = sqlite3.connect(path)
        self.db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v, upd TEXT NOT NULL)")

    def write(self, sql: str, *params: Any) -> None:
        self.db.execute(sql, params)
        self.db.commit()


def poller(legacy: Legacy, *, remember: bool) -> IncrementalPoller:
    dialect = SqliteDialect(legacy.path)
    connection = dialect.connect()
    spec = TableSpec("d", "t", ("id",), "incremental", updated_column="upd", batch_size=3)
    poll = IncrementalPoller(dialect, connection, spec,
                             dialect.key_order(connection, "t", spec.key_columns))
    if not remember:  # every re-read row compared by its hash, as after a restart
        poll._remember = lambda *args: None  # type: ignore[method-assign]
    return poll


def poll_all(poll: IncrementalPoller, cp: Checkpoint) -> tuple[list[tuple[str, str, Any]], Checkpoint]:
    """Every change until caught up, as (op, key, after) — and the checkpoint after them."""
    published = []
    while True:
        fetched = poll._fetch(cp)
        changes, cp_next, _ = poll.changes(cp, fetched)
        published += [(c.op, c.key["id"], c.after) for c in changes]
        cp = cp_next
        if len(fetched.rows) < poll.spec.batch_size:
            return published, cp


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
