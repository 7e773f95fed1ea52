"""``diff``: for tables with no change column at all, compare row hashes pass after pass.

Each pass reads the table in key order and compares every row's hash with the previous pass
(:class:`DiffState`): new keys are ``c`` (``r`` in the first pass), changed rows ``u``; keys
not seen in this pass are then published as deletes. The checkpoint carries the position in
the pass and the batch's sequence number, under which the state staged the batch's hashes
before it was published, so a crash resumes inside a pass without loss or repeat.

The scan pages in the key's :class:`KeyOrder`. A checkpoint taken in another order (text,
before keys were paged natively) marks a read set that is no prefix of this one, so its pass
scans again from the first key: the rows it had read match their hashes and publish nothing.
The deletes that end a pass page through the local state, in the order of its keys' text.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import AsyncGenerator, Awaitable, Callable
from typing import Any

from adapters.capture import keys
from adapters.capture.rows import row_digest
from adapters.capture.source import Batch, Change, Checkpoint, Op, Row, TableSpec
from adapters.capture.sql import DbApiConnection, KeyOrder, SqlDialect
from adapters.capture.strategies.chunks import Chunk, key_chunks, position_of
from adapters.capture.strategies.common import Throttle, images, now_ms
from adapters.capture.strategies.diff_state import DiffState, mark_of

log = logging.getLogger(__name__)


def _key_row(text: str, key_columns: tuple[str, ...]) -> Row:
    """The key columns back from :func:`key_text` (composite keys are joined with ``|``)."""
    parts = text.split("|") if len(key_columns) > 1 else [text]
    return dict(zip(key_columns, parts, strict=False))


async def diff_batches(
    dialect: SqlDialect, connection: DbApiConnection, spec: TableSpec, order: KeyOrder,
    checkpoint: Checkpoint | None, state: DiffState, throttle: Throttle,
    applied: Callable[[Checkpoint], Awaitable[None]] | None = None,
) -> AsyncGenerator[Batch, None]:
    """The batches of every pass after ``checkpoint``.

    A pass's scan batches may be read ahead of their acknowledgement: each looks up the
    hashes of its own keys, which no other batch of the pass touches. Its deletes, and the
    next pass, read what every batch before them left in ``state``, so they first wait
    (``applied``, returning once a checkpoint yielded here has been applied) until the
    last batch yielded is.
    """
    cp: dict[str, Any] = dict(checkpoint or {"phase": "diff", "pass": 1, "stage": "scan",
                                             "after": None, "seq": 0})
    cp.pop("batch", None)  # hashes an earlier version stored in the checkpoint: applied below
    if checkpoint is not None and state.applied_mark() != mark_of(checkpoint):
        state.apply(checkpoint)  # Kafka committed it; the local file missed it in a crash
    state.discard_after(int(cp["seq"]))  # staged by a read whose batches were never committed
    if cp["stage"] == "scan" and cp["after"] is not None and keys.order_of(cp) != order.name:
        log.info("diff of %s: pass %s scans again from the first key (its position is in %s "
                 "order)", spec.table, cp["pass"], keys.order_of(cp))
        cp["after"] = None
    interval = float(spec.options.get("diff_interval_seconds", spec.poll_interval))
    durable = functools.partial(asyncio.to_thread, state.sync)  # the staged hashes, on disk
    columns: tuple[str, ...] = ()
    yielded: Checkpoint | None = None
    scan: AsyncGenerator[Chunk, None] | None = None  # the pass's chunks, read ahead
    try:
        while True:
            pass_number = int(cp["pass"])
            if applied is not None and yielded is not None and (
                    cp["stage"] == "deletes" or cp["after"] is None):
                await applied(yielded)  # what the deletes or the next pass read is all in state
            if cp["stage"] == "scan":
                chunks = scan = scan or key_chunks(dialect, connection, spec, order, cp["after"])
                names, rows = await anext(chunks)
                columns = tuple(names)
                read = images(spec, names, rows)
                seq, read_ms, first_pass = cp["seq"] + 1, now_ms(), pass_number == 1
                digests = [row_digest(row) for row in read.rows]
                # On the loop: in a worker thread the row-by-row inserts hand the GIL back and
                # forth with the busy loop (4.5 ms a 500-row batch, against 1.3 ms here).
                known = state.stage(seq, pass_number,
                                    list(zip(read.key_texts, digests, strict=True)))
                changes: list[Change] = []
                for row, key, text, digest, bad in zip(read.rows, read.keys, read.key_texts, digests,
                                                       read.undecodable, strict=True):
                    if known.get(text) == digest:
                        continue
                    op: Op = "r" if first_pass else ("c" if text not in known else "u")
                    changes.append(Change(op, key, None, row, f"diff:{pass_number}:{text}", read_ms,
                                          first_pass, bad))
                done = len(rows) < spec.batch_size
                if done:
                    scan = None
                    await chunks.aclose()
                last = position_of(read.keys[-1], spec.key_columns) if rows else cp["after"]
                cp = {"phase": "diff", keys.ORDER_FIELD: order.name, "pass": pass_number,
                      "stage": "deletes" if done else "scan", "after": None if done else last,
                      "seq": seq}
                yielded = dict(cp)
                yield Batch(changes, yielded, columns,
                            state="snapshotting" if pass_number == 1 else "streaming",
                            durable=durable)
                await throttle.pace(len(rows))
            else:
                gone = state.unseen(pass_number, cp["after"] or "", spec.batch_size)
                deletes = [Change("d", _key_row(t, spec.key_columns), _key_row(t, spec.key_columns),
                                  None, f"diff:{pass_number}:{t}", now_ms()) for t in gone]
                seq = cp["seq"] + 1
                state.stage(seq, pass_number, [(t, None) for t in gone])
                if len(gone) < spec.batch_size:
                    cp = {"phase": "diff", keys.ORDER_FIELD: order.name, "pass": pass_number + 1,
                          "stage": "scan", "after": None, "seq": seq}
                    yielded = dict(cp)
                    yield Batch(deletes, yielded, columns, state="streaming", durable=durable)
                    await asyncio.sleep(interval)
                else:
                    cp = {"phase": "diff", keys.ORDER_FIELD: order.name, "pass": pass_number,
                          "stage": "deletes", "after": gone[-1], "seq": seq}
                    yielded = dict(cp)
                    yield Batch(deletes, yielded, columns, state="streaming", durable=durable)
    finally:
        if scan is not None:
            await scan.aclose()
