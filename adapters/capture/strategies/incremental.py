"""``incremental``: poll by an update-time column (and key), with a look-back window.

Rows are read in ``(update time, key)`` order after the checkpoint, so rows sharing a
timestamp are neither skipped nor read twice across batches. The checkpoint also keeps a hash
of every row read within the look-back window behind the last update time (at least that last
second); each poll re-reads the window and publishes rows whose hash changed or that are new
there — a row updated again within the same second, or committed late with an older time.
The first pass over the table is the snapshot (op ``r``).

A window is settled once the table shows a row updated at least the look-back after the
window's last moment, asked before the reads that led to it: rows commit within the look-back
of their update time and writers' clocks move forward, so nothing can arrive in it any more
and it is not re-read. While a poller is behind (catching up a backlog, where a writer's one
statement gives hundreds of rows one time) one question for the table's newest update time
spares re-reading every batch's last time; once caught up the windows are re-read as before.
Rows read at a time already settled then need no hash either (:data:`SETTLED`): their time can
get no other image, so the window keeps only their keys, for a restart and a reorder.

Keys compare in the table's :class:`KeyOrder`, so ``(update time, key)`` is an index order when
the table has that index. A checkpoint taken in another order (text, before keys were paged
natively) holds a key that bounds no prefix of this order: its position moves back to the
first key of its update time, and rows of that time whose image the window already holds are
not published again (:meth:`IncrementalPoller.reorder`).
"""

from __future__ import annotations

import asyncio
import functools
import operator
import re
from collections.abc import AsyncGenerator, Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from adapters.capture import keys
from adapters.capture.rows import as_text, row_digest
from adapters.capture.source import Batch, Change, Checkpoint, Op, Row, State, TableSpec
from adapters.capture.sql import DbApiConnection, KeyOrder, SqlDialect
from adapters.capture.strategies.common import Fetched, Throttle, call, fetch, images
from bus.standards.dates import normalize_datetime
from bus.standards.errors import StandardViolation


def _moment(updated: str) -> datetime:
    """An update time's text as a time (``ValueError`` unless it reads as one)."""
    return datetime.fromisoformat(updated.replace("/", "-"))


def _window_start(updated: str, lookback_seconds: float) -> str:
    """The earliest update time still re-read; the same text when it cannot be parsed."""
    if not updated or lookback_seconds <= 0:
        return updated
    try:
        moment = _moment(updated)
    except ValueError:
        return updated
    return (moment - timedelta(seconds=lookback_seconds)).isoformat(sep=" ")


#: Date, then optionally hours, minutes, seconds and a fraction: what an update time's text
#: says down to its last digit.
_PRECISION = re.compile(r"[0-9]{4}[-/][0-9]{2}[-/][0-9]{2}(?:[ T][0-9]{2}(:[0-9]{2})?(:[0-9]{2})?"
                        r"(?:[.,]([0-9]+))?)?")


def _span(updated: str) -> timedelta | None:
    """How long the moment an update time's text names lasts (``10:00:00`` is the whole
    second, a date the whole day); None when the text is no time."""
    match = _PRECISION.match(updated)
    if match is None:
        return None
    if match.end() == 10:  # a date alone
        return timedelta(days=1)
    minutes, seconds, fraction = match.groups()
    if fraction:
        return timedelta(seconds=10 ** -len(fraction))
    return timedelta(seconds=1 if seconds else 60 if minutes else 3600)


def _settled_by(newest: str | None, updated: str, lookback_seconds: float) -> bool:
    """Whether a row updated at ``newest`` being visible means no row can still arrive in the
    window behind ``updated``: ``newest`` is at least the window's last moment (``updated``'s
    whole span) plus the look-back. Rows commit within the look-back of their update time
    and writers' clocks only move forward, so every row of the window has committed, and a
    row written again gets a later time."""
    if not newest or not updated:
        return False
    span = _span(updated)
    if span is None:
        return False
    try:
        return _moment(newest) >= _moment(updated) + span + timedelta(seconds=max(lookback_seconds, 0))
    except (ValueError, TypeError, OverflowError):  # no time, or one with a zone and one without
        return False


#: The hash the window keeps for a row read at a settled time (no digest is ever empty): any
#: image of the key at that time is the one published, since no other can be written there.
SETTLED = ""


#: ``YYYY-MM-DD HH:MM``, the minute of the form most legacy update times take (ASCII digits).
_PLAIN_MINUTE = re.compile(r"([0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}):([0-9]{2})")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def _commit_ms(updated: str | None) -> int:
    """Milliseconds of a legacy update time (local time when it has no zone); 0 if unknown.

    Exactly ``int(normalize_datetime(updated).timestamp() * 1000)``. A plain
    ``YYYY-MM-DD HH:MM:SS[.ffffff]`` adds its seconds and fraction to the microseconds of its
    minute, parsed once per minute (every row of a snapshot may have a time of its own, so
    a cache of whole times would miss); other forms go through the date standard.
    """
    if not updated:
        return 0
    if len(updated) >= 19 and updated[16] == ":":
        minute = _minute_microseconds(updated[:16])
        second, fraction = updated[17:19], updated[20:]
        if (minute is not None and second.isascii() and second.isdigit() and second < "60"
                and (len(updated) == 19 or (updated[19] == "." and 0 < len(fraction) <= 6
                                            and fraction.isascii() and fraction.isdigit()))):
            micros = minute + int(second) * 1_000_000 + (int(fraction.ljust(6, "0")) if fraction else 0)
            return int(micros / 1_000_000 * 1000)  # the float timestamp() gives, truncated alike
    return _parsed_ms(updated)


@functools.lru_cache(maxsize=4096)
def _parsed_ms(updated: str) -> int:
    try:
        return int(normalize_datetime(updated).timestamp() * 1000)
    except StandardViolation:
        return 0


@functools.lru_cache(maxsize=4096)
def _minute_microseconds(minute: str) -> int | None:
    """Microseconds since the epoch at ``minute`` (``YYYY-MM-DD HH:MM``), local time; None
    unless it is valid and its hour keeps one UTC offset throughout."""
    match = _PLAIN_MINUTE.fullmatch(minute)
    if match is None:
        return None
    hour, minutes = _hour_microseconds(match[1]), int(match[2])
    if hour is None or minutes >= 60:
        return None
    return hour + minutes * 60_000_000


@functools.lru_cache(maxsize=1024)
def _hour_microseconds(hour: str) -> int | None:
    """Microseconds since the epoch at ``hour``:00:00, local time; None unless the hour is
    valid and keeps one UTC offset throughout (no zone transition inside it)."""
    try:
        start = normalize_datetime(f"{hour}:00:00")
        end = normalize_datetime(f"{hour}:59:59.999999")
    except StandardViolation:
        return None
    if start.utcoffset() != end.utcoffset():
        return None
    return (start - _EPOCH) // _MICROSECOND


#: Values whose equality means equal text (1 == 1.0 == True, 0.0 == -0.0 and equal
#: datetimes in two zones are equal values of different text).
_EXACT_TYPES = frozenset({str, int, bytes, type(None)})


def _same_text(known: tuple[Any, ...], row: tuple[Any, ...]) -> bool:
    """Whether two fetched rows have the same text image (:func:`as_text` of each value)."""
    if known != row:
        return False
    kinds = tuple(map(type, row))
    if kinds != tuple(map(type, known)):
        return False
    if _EXACT_TYPES.issuperset(kinds):  # most rows: text, integers and NULLs
        return True
    return all(as_text(before) == as_text(now) for before, now, kind in zip(known, row, kinds, strict=True)
               if kind not in _EXACT_TYPES)


class IncrementalPoller:
    """Reads the next batch after a checkpoint; one instance per open connection."""

    def __init__(self, dialect: SqlDialect, connection: DbApiConnection, spec: TableSpec,
                 order: KeyOrder) -> None:
        if spec.updated_column is None:
            raise ValueError("the incremental strategy needs updated_column")
        self.dialect = dialect
        self.connection = connection
        self.spec = spec
        self.key_order = order
        self.updated_column: str = spec.updated_column
        self.lookback = float(spec.options.get("lookback_seconds", 0))
        d = dialect
        self.upd = d.quote(spec.updated_column)
        self.undated = f"({self.upd} IS NULL OR {d.as_text(self.upd)} = '')"
        rowid = getattr(dialect, "rowid", None)
        self.select = (f"SELECT {rowid} AS __rowid, * FROM {d.quote(spec.table)}" if rowid
                       else f"SELECT NULL AS __rowid, t.* FROM {d.quote(spec.table)} t")
        self.order = f"{self.upd}, {keys.order_by(order)}"
        #: Fetched values and key text of the window's images by fetched key values, valid
        #: for the checkpoint ``_seen_for`` (the one :meth:`changes` returned last).
        self._seen: dict[Any, tuple[tuple[Any, ...], str]] = {}
        self._seen_for: Checkpoint | None = None
        #: :meth:`_raw_key` per column set (the same for every poll of a table).
        self._raw_keys: dict[tuple[str, ...], Callable[[tuple[Any, ...]], Any] | None] = {}
        #: The newest update time the table showed before the reads behind the checkpoint
        #: :meth:`changes` returned last (its window is not re-read once this settles it,
        #: :func:`_settled_by`), and whether the last poll read a full batch: behind the
        #: table, as when catching up a backlog.
        self._newest: str | None = None
        self._behind = True

    def reorder(self, checkpoint: Checkpoint) -> Checkpoint:
        """``checkpoint`` for this key order: back to the first key of its update time.

        Every row read at that time is in the window (``boundary``: key text → update time
        and hash), so :meth:`changes` recognises those already published unchanged.
        """
        if keys.order_of(checkpoint) == self.key_order.name:
            return checkpoint
        return {**checkpoint, "key": None, keys.ORDER_FIELD: self.key_order.name}

    async def fetch(self, checkpoint: Checkpoint) -> Fetched:
        """The rows the next poll after ``checkpoint`` reads: the window's, then new ones."""
        return await call(self.dialect, self._fetch, checkpoint)

    def _fetch(self, checkpoint: Checkpoint) -> Fetched:  # in a worker thread
        updated: str = checkpoint.get("updated", "")
        key = self._key(checkpoint)
        boundary = checkpoint.get("boundary", {})
        settled = _settled_by(self._newest, updated, self.lookback)
        # Behind the table, ask for its newest update time before this poll's reads: it
        # settles the windows of the checkpoints they lead to.
        newest = self._ask_newest() if self._behind and updated and not settled else None
        columns, rechecked = self._recheck(updated, key, {} if settled else boundary)
        columns2, rows = self._next(updated, key)
        if newest is not None:
            self._newest = newest
        self._behind = len(rows) >= self.spec.batch_size
        return Fetched(tuple(columns or columns2), rechecked, rows)

    def _ask_newest(self) -> str | None:
        """The table's newest update time, as its rows' text."""
        d = self.dialect
        _names, [(newest,)] = fetch(d, self.connection,
                                    f"SELECT MAX({self.upd}) FROM {d.quote(self.spec.table)}", [],
                                    consistent=True)
        return as_text(newest)[0]

    def changes(self, checkpoint: Checkpoint,
                fetched_rows: Fetched) -> tuple[list[Change], Checkpoint, tuple[str, ...]]:
        """The changes of rows fetched after ``checkpoint``, and the checkpoint after them."""
        cp = dict(checkpoint)
        boundary: dict[str, list[str]] = cp.get("boundary", {})
        snapshot = not cp.get("snapshot_done", False)
        columns, rechecked, rows = fetched_rows
        # Re-checked rows fetched exactly as the window holds them need no text or hash.
        unchanged = self._unchanged(checkpoint, columns, rechecked, boundary)
        first_new = len(rechecked) - len(unchanged)
        fetched = [row for i, row in enumerate(rechecked) if i not in unchanged] + rows
        read = images(self.spec, columns, fetched, skip=1)
        # Re-checked rows count only if new in the window or changed since they were read; so
        # do rows at the checkpoint's update time, read again after a reorder.
        updated_column = self.updated_column
        updated: str = cp.get("updated", "")

        def published(i: int) -> bool:
            known = boundary.get(read.key_texts[i])
            return known is not None and known[1] in (SETTLED, row_digest(read.rows[i]))

        kept = [i for i in range(len(fetched))
                if not ((i < first_new or (read.rows[i].get(updated_column) or "") == updated)
                        and published(i))]
        # Inserts are rows past the highest rowid of the *previous* batches: a batch may hold
        # re-checked rows with higher rowids before later-read new rows with lower ones.
        seen_rowid = max_rowid = int(cp.get("max_rowid", 0))
        changes: list[Change] = []
        read_rows, read_keys, key_texts, undecodable = (
            read.rows, read.keys, read.key_texts, read.undecodable)
        last_upd, last_ms = None, 0  # rows written together share their update time
        for i in kept:
            rowid = fetched[i][0]
            if rowid is not None:
                rowid = int(rowid)
            op: Op = "r" if snapshot else (
                "c" if rowid is not None and rowid > seen_rowid else "u")
            row = read_rows[i]
            upd_text = row.get(updated_column) or ""
            if upd_text != last_upd:
                last_upd, last_ms = upd_text, _commit_ms(upd_text)
            changes.append(Change(op, read_keys[i], None, row, f"{upd_text}|{key_texts[i]}",
                                  last_ms, snapshot, undecodable[i]))
            if rowid is not None and rowid > max_rowid:
                max_rowid = rowid
        # New rows come in (update time, key) order after the checkpoint: the last is the
        # position, whether published or not.
        last = read.rows[-1] if rows else None
        new_cp = self._advance(cp, [(read.rows[i], read.key_texts[i]) for i in kept], max_rowid,
                               last, snapshot_done=not snapshot or len(rows) < self.spec.batch_size)
        self._remember(new_cp, columns, [(fetched[i], read.key_texts[i]) for i in kept])
        return changes, new_cp, columns

    def _unchanged(self, checkpoint: Checkpoint, columns: Sequence[str],
                   rechecked: Sequence[tuple[Any, ...]], boundary: dict[str, list[str]]) -> set[int]:
        """Indices of ``rechecked`` rows whose fetched values are those of the image the
        window holds for their key: the same values make the same text and hash, so they
        are published. Only for the checkpoint this poller made last, whose window images
        it read itself (after a restart every row is compared by its hash)."""
        if checkpoint is not self._seen_for or not self._seen or not rechecked:
            return set()
        key_of = self._raw_key(columns)
        if key_of is None:
            return set()
        seen, unchanged = self._seen, set()
        for i, row in enumerate(rechecked):
            try:
                known = seen.get(key_of(row))
            except TypeError:  # an unhashable driver value: compared by its hash instead
                return set()
            if known is not None and known[1] in boundary and _same_text(known[0], row):
                unchanged.add(i)
        return unchanged

    def _remember(self, checkpoint: Checkpoint, columns: Sequence[str],
                  read: Sequence[tuple[tuple[Any, ...], str]]) -> None:
        """Keep the fetched values of the window's images (``read``: values and key text of
        the rows :meth:`_advance` just hashed) for the next poll's :meth:`_unchanged`."""
        boundary = checkpoint.get("boundary", {})
        key_of = self._raw_key(columns)
        seen = self._seen  # empty while no checkpoint is remembered
        self._seen_for, self._seen = None, {}
        if key_of is None:
            return
        try:
            for row, text in read:
                if text in boundary:
                    seen[key_of(row)] = (row, text)
        except TypeError:
            return
        # What left the window is never re-read; a key's image is the last one hashed.
        self._seen = {key: known for key, known in seen.items()
                      if boundary.get(known[1]) is not None}
        self._seen_for = checkpoint

    def _raw_key(self, columns: Sequence[str]) -> Callable[[tuple[Any, ...]], Any] | None:
        """The fetched key values of a row (after the rowid), or None without key columns."""
        columns = tuple(columns)
        if columns not in self._raw_keys:
            try:
                at = [1 + columns.index(column) for column in dict.fromkeys(self.spec.key_columns)]
            except ValueError:
                at = []
            self._raw_keys[columns] = operator.itemgetter(*at) if at else None
        return self._raw_keys[columns]

    def _key(self, checkpoint: Checkpoint) -> list[str] | None:
        """The checkpoint's key as a list; None before the first key of its update time."""
        key = checkpoint.get("key")
        return None if key is None else [str(k) for k in key]

    def _advance(self, cp: dict[str, Any], read: Sequence[tuple[Row, str]], max_rowid: int,
                 last: Row | None, *, snapshot_done: bool) -> Checkpoint:
        """The checkpoint after the rows ``read`` (each with its key text), in reading order,
        the last new row being ``last``."""
        updated: str = cp.get("updated", "")
        key = self._key(cp)
        updated_column = self.updated_column
        upd_texts = [row.get(updated_column) or "" for row, _ in read]
        if last is not None:
            updated = last.get(updated_column) or ""
            key = [last.get(k) or "" for k in self.spec.key_columns]
        start = _window_start(updated, self.lookback)
        boundary = {k: v for k, v in cp.get("boundary", {}).items() if v[0] >= start}
        # Whether each time read is settled by the newest time, asked before these reads.
        settled: dict[str, bool] = {}
        for (row, text), row_updated in zip(read, upd_texts, strict=True):
            # Only rows inside the window are hashed: the others are not re-read.
            if row_updated >= start:
                done = settled.get(row_updated)
                if done is None:
                    done = settled[row_updated] = _settled_by(self._newest, row_updated,
                                                              self.lookback)
                boundary[text] = [row_updated, SETTLED if done else row_digest(row)]
            else:
                boundary.pop(text, None)
        return {"phase": "incremental", keys.ORDER_FIELD: self.key_order.name, "updated": updated,
                "key": key, "boundary": boundary, "max_rowid": max_rowid,
                "snapshot_done": snapshot_done}

    def _recheck(self, updated: str, key: list[str] | None,
                 boundary: dict[str, list[str]]) -> tuple[list[str], list[tuple[Any, ...]]]:
        if not boundary:
            return [], []
        d = self.dialect
        not_after, params = keys.at_or_before(self.key_order, key)
        if not updated:
            where, args = f"{self.undated} AND {not_after}", params
        else:
            p = d.param
            where = (f"NOT {self.undated} AND {self.upd} >= {p} AND "
                     f"({self.upd} < {p} OR ({self.upd} = {p} AND {not_after}))")
            args = [_window_start(updated, self.lookback), updated, updated, *params]
        names, rows = fetch(d, self.connection, f"{self.select} WHERE {where} ORDER BY {self.order}",
                            args, consistent=True)
        return names[1:], rows

    def _next(self, updated: str, key: list[str] | None) -> tuple[list[str], list[tuple[Any, ...]]]:
        d, limit = self.dialect, int(self.spec.batch_size)
        names: list[str] = []
        rows: list[tuple[Any, ...]] = []
        if not updated:
            after_key, params = keys.after(self.key_order, key)
            names, rows = fetch(
                d, self.connection,
                f"{self.select} WHERE {self.undated} AND {after_key} "
                f"ORDER BY {keys.order_by(self.key_order)} LIMIT {limit}",
                params, consistent=True)
            where, args = f"NOT {self.undated}", []
        else:
            after_key, params = keys.after(self.key_order, key)
            p = d.param
            where = f"{self.upd} >= {p} AND ({self.upd} > {p} OR ({self.upd} = {p} AND {after_key}))"
            args = [updated, updated, updated, *params]
        if len(rows) < limit:
            names, more = fetch(
                d, self.connection,
                f"{self.select} WHERE {where} ORDER BY {self.order} LIMIT {limit - len(rows)}",
                args, consistent=True)
            rows += more
        return names[1:], rows


async def incremental_batches(
    dialect: SqlDialect, connection: DbApiConnection, spec: TableSpec, order: KeyOrder,
    checkpoint: Checkpoint | None, throttle: Throttle,
) -> AsyncGenerator[Batch, None]:
    poller = IncrementalPoller(dialect, connection, spec, order)
    cp = poller.reorder(dict(checkpoint or {"phase": "incremental", keys.ORDER_FIELD: order.name}))
    while True:
        fetched = await poller.fetch(cp)
        changes, new_cp, columns = poller.changes(cp, fetched)
        if changes or new_cp != cp:
            state: State = "snapshotting" if not cp.get("snapshot_done") else "streaming"
            yield Batch(changes, new_cp, columns, state=state)
            cp = new_cp
        if len(fetched.rows) < spec.batch_size:  # caught up with the table
            yield Batch([], cp, columns, state="streaming")
            await asyncio.sleep(spec.poll_interval)
        await throttle.pace(len(changes))
