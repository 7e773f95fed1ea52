"""Batches as bytes between processes: every change back as it was, in marshal or, for
values marshal does not write, in pickle."""

from __future__ import annotations

import datetime

from adapters.capture.batch_wire import batch_bytes, batch_of
from adapters.capture.source import Batch, Change


async def _durable() -> None:
    return None


def test_a_batch_crosses_with_every_change_as_it_was_and_without_its_durable() -> None:
    row = {"RYBH": "R1", "XM": "王小明", "CSRQ": None}
    changes = [
        Change("u", {"RYBH": "R1"}, {**row, "XM": "王晓明"}, row, "binlog.000001:4:0", 1_795_000_000_000),
        Change("r", {"RYBH": "R2"}, None, {"RYBH": "R2", "XM": ""}, "snapshot:R2", 1, True),
        Change("c", {"RYBH": "R?"}, None, {"RYBH": "R\\xff"}, "p", 1, False, ("RYBH",)),
        Change("d", {"RYBH": "R3"}, row, None, "p", 1),
    ]
    batch = Batch(changes, {"lsn": 42, "keys": ["a"]}, ("RYBH", "XM", "CSRQ"), "snapshotting",
                  durable=_durable)

    data = batch_bytes(batch, extra={"progress": 3})
    crossed, extra = batch_of(data)

    assert data[:1] == b"m"
    assert crossed == Batch(changes, batch.checkpoint, batch.columns, "snapshotting")
    assert all(type(change) is Change for change in crossed.changes)
    assert extra == {"progress": 3}


def test_values_marshal_does_not_write_cross_in_pickle() -> None:
    when = datetime.datetime(2024, 1, 2, 3, 4, 5)
    changes = [Change("c", {"K": "1"}, None, {"K": "1", "T": when}, "p", 1)]  # type: ignore[dict-item]
    data = batch_bytes(Batch(changes, {}, ("K", "T")))

    crossed, extra = batch_of(data)

    assert data[:1] == b"p"
    assert crossed.changes == changes and extra is None
