"""Decoding PostgreSQL's ``pgoutput`` logical replication messages (protocol version 1).

Pure functions over bytes, no I/O: the replication stream hands each message's payload to
:func:`parse_message`. Message layouts follow the PostgreSQL manual, "Logical Replication
Message Formats". Column values arrive as PostgreSQL's text output, as bytes in the
connection's client encoding; turning them into envelope text is the caller's business.
"""

from __future__ import annotations

import functools
import struct
from dataclasses import dataclass

from bus.speedups import speedups

#: Microseconds between the Unix epoch and PostgreSQL's epoch (2000-01-01 UTC).
_PG_EPOCH_US = 946_684_800_000_000

#: A column value in a tuple: bytes of its text form, None for SQL NULL, or UNCHANGED for a
#: TOASTed value the update did not touch (PostgreSQL does not send it again).
UNCHANGED = object()
#: The type OID of ``bytea``, whose text form is hex to decode.
BYTEA_OID = 17
Value = bytes | None | object


@dataclass(frozen=True)
class Column:
    name: str
    type_oid: int
    is_key: bool


@dataclass(frozen=True)
class Relation:
    oid: int
    namespace: str
    name: str
    replica_identity: str
    columns: tuple[Column, ...]

    @functools.cached_property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    @functools.cached_property
    def has_bytea(self) -> bool:
        return any(c.type_oid == BYTEA_OID for c in self.columns)


@dataclass(frozen=True)
class Begin:
    final_lsn: int
    commit_ts_ms: int
    xid: int


@dataclass(frozen=True)
class Commit:
    commit_lsn: int
    end_lsn: int
    commit_ts_ms: int


@dataclass(frozen=True)
class RowChange:
    """An Insert ('I'), Update ('U') or Delete ('D') of one row of ``relation_oid``.

    ``old`` is the old key ('K') or the whole old row ('O', REPLICA IDENTITY FULL) when
    PostgreSQL sent one; ``new`` is absent for deletes.
    """

    kind: str
    relation_oid: int
    old: tuple[Value, ...] | None
    old_kind: str | None
    new: tuple[Value, ...] | None


@dataclass(frozen=True)
class Truncate:
    relation_oids: tuple[int, ...]


@dataclass(frozen=True)
class Ignored:
    """A message the capture does not need (Origin, Type, logical Message)."""

    tag: str


Message = Relation | Begin | Commit | RowChange | Truncate | Ignored


def lsn_text(lsn: int) -> str:
    """An LSN the way PostgreSQL prints it: ``16/B374D848``."""
    return f"{lsn >> 32:X}/{lsn & 0xFFFFFFFF:X}"


def parse_lsn(text: str) -> int:
    high, _, low = text.partition("/")
    return (int(high, 16) << 32) + int(low, 16)


def pg_time_ms(microseconds_since_2000: int) -> int:
    return (microseconds_since_2000 + _PG_EPOCH_US) // 1000


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.at = 0

    def take(self, fmt: str) -> int:
        (value,) = struct.unpack_from(fmt, self.data, self.at)
        self.at += struct.calcsize(fmt)
        return int(value)

    def byte(self) -> str:
        value = chr(self.data[self.at])
        self.at += 1
        return value

    def string(self) -> str:
        end = self.data.index(b"\0", self.at)
        value = self.data[self.at:end].decode("utf-8", errors="replace")
        self.at = end + 1
        return value

    def raw(self, length: int) -> bytes:
        value = self.data[self.at:self.at + length]
        self.at += length
        return value

    def tuple_data(self) -> tuple[Value, ...]:
        accelerated = speedups()
        if accelerated is not None:  # the same values, from one C call (bus/_speedups.c)
            values_read: tuple[Value, ...]
            values_read, self.at = accelerated.pgoutput_tuple(self.data, self.at, UNCHANGED)
            return values_read
        values: list[Value] = []
        for _ in range(self.take("!h")):
            kind = self.byte()
            if kind == "n":
                values.append(None)
            elif kind == "u":
                values.append(UNCHANGED)
            elif kind in ("t", "b"):
                values.append(self.raw(self.take("!i")))
            else:
                raise ValueError(f"unknown pgoutput tuple value kind {kind!r}")
        return tuple(values)


def _relation(r: _Reader) -> Relation:
    oid = r.take("!I")
    namespace, name = r.string(), r.string()
    identity = r.byte()
    columns = []
    for _ in range(r.take("!h")):
        flags = r.take("!b")
        column_name = r.string()
        type_oid = r.take("!I")
        r.take("!i")  # type modifier
        columns.append(Column(column_name, type_oid, bool(flags & 1)))
    return Relation(oid, namespace or "pg_catalog", name, identity, tuple(columns))


def _update(r: _Reader) -> RowChange:
    oid = r.take("!I")
    marker = r.byte()
    old: tuple[Value, ...] | None = None
    old_kind: str | None = None
    if marker in ("K", "O"):
        old_kind, old = marker, r.tuple_data()
        marker = r.byte()
    if marker != "N":
        raise ValueError(f"pgoutput Update without new tuple (marker {marker!r})")
    return RowChange("U", oid, old, old_kind, r.tuple_data())


def _delete(r: _Reader) -> RowChange:
    oid = r.take("!I")
    marker = r.byte()
    return RowChange("D", oid, r.tuple_data(), marker, None)


def _insert(r: _Reader) -> RowChange:
    oid = r.take("!I")
    if r.byte() != "N":
        raise ValueError("pgoutput Insert without new tuple")
    return RowChange("I", oid, None, None, r.tuple_data())


def _truncate(r: _Reader) -> Truncate:
    count = r.take("!i")
    r.take("!b")  # options: CASCADE / RESTART IDENTITY
    return Truncate(tuple(r.take("!I") for _ in range(count)))


def parse_message(payload: bytes) -> Message:
    """One pgoutput message."""
    r = _Reader(payload)
    tag = r.byte()
    if tag == "B":
        final_lsn, ts, xid = r.take("!Q"), r.take("!q"), r.take("!I")
        return Begin(final_lsn, pg_time_ms(ts), xid)
    if tag == "C":
        r.take("!b")  # flags, unused
        commit_lsn, end_lsn, ts = r.take("!Q"), r.take("!Q"), r.take("!q")
        return Commit(commit_lsn, end_lsn, pg_time_ms(ts))
    if tag == "R":
        return _relation(r)
    if tag == "I":
        return _insert(r)
    if tag == "U":
        return _update(r)
    if tag == "D":
        return _delete(r)
    if tag == "T":
        return _truncate(r)
    return Ignored(tag)
