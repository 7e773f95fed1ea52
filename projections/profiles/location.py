"""Which store is a projection's live read store.

On SQLite, ``<dir>/<name>.sqlite`` until a rebuild switches readers: then the pointer file
``<dir>/<name>.current`` names the live file. Writing the pointer is one atomic rename, so every
reader sees either the old store or the new one, never a mix; readers and workers resolve the
pointer whenever they open the store; a worker checks it before each batch through
:class:`LiveLocation`, which reads the file again only when a ``stat`` says it changed.

On PostgreSQL (``BUS_READ_STORE_URL``), a projection's store is the schema named after it in
that database (:class:`~projections.profiles.pg.PostgresSchema`); it is always the live one —
``bus projections rebuild`` is not available there.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import overload

from projections.profiles.pg import PostgresSchema

__all__ = ["LiveLocation", "StoreLocation", "live_store", "pointer_of", "store_location",
           "switch_to"]

#: Where a projection's read store lives: a SQLite file or a PostgreSQL schema.
StoreLocation = Path | PostgresSchema


def store_location(projection: str, sqlite_path: Path, url: str | None) -> StoreLocation:
    """The store of ``projection``: the schema named after it in the PostgreSQL database
    ``url`` (``postgresql://…``), else the SQLite file ``sqlite_path``."""
    if not url:
        return sqlite_path
    if not url.startswith(("postgresql://", "postgres://")):
        raise ValueError("BUS_READ_STORE_URL must be a postgresql:// URL (unset: SQLite files)")
    return PostgresSchema(url, projection)


def pointer_of(default: Path) -> Path:
    return default.with_suffix(".current")


@overload
def live_store(default: Path) -> Path: ...


@overload
def live_store(default: PostgresSchema) -> PostgresSchema: ...


@overload
def live_store(default: StoreLocation) -> StoreLocation: ...


def live_store(default: StoreLocation) -> StoreLocation:
    """The live store for the default location (``<dir>/<name>.sqlite`` or a schema)."""
    if isinstance(default, PostgresSchema):
        return default
    try:
        name = pointer_of(default).read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return default
    return default.with_name(name) if name else default


def switch_to(default: Path, store: Path) -> None:
    """Make ``store`` (a file beside ``default``) the live store, atomically."""
    if store.parent.resolve() != default.parent.resolve():
        raise ValueError(f"{store} must be in {default.parent}")
    pointer = pointer_of(default)
    temporary = pointer.with_suffix(".current.tmp")
    temporary.write_text(store.name + "\n", encoding="utf-8")
    with temporary.open("rb") as handle:
        os.fsync(handle.fileno())
    os.replace(temporary, pointer)


class LiveLocation:
    """:func:`live_store` of ``default`` for a caller asking often: the pointer file is read
    again only when its ``stat`` changes (:func:`switch_to` renames a new file over it, so its
    inode changes)."""

    def __init__(self, default: StoreLocation) -> None:
        self.default = default
        self._seen: tuple[int, int, int] | None = None
        self._live = live_store(default)

    def current(self) -> StoreLocation:
        if isinstance(self.default, PostgresSchema):
            return self.default
        try:
            stat = os.stat(pointer_of(self.default))
            seen: tuple[int, int, int] | None = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
        except FileNotFoundError:
            seen = None
        if seen != self._seen:  # read after the stat: a switch in between is seen next time
            self._seen = seen
            self._live = live_store(self.default)
        return self._live
