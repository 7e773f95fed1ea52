"""Read-side queries of the ``citizen_profile`` store, used by the query API."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from projections.citizen_profile.store import connect


@dataclass(frozen=True)
class Page:
    items: list[dict[str, Any]]
    next: str | None


def _profile(row: sqlite3.Row) -> dict[str, Any]:
    return {
        "identity_number": row["identity_number"],
        "name": row["name"],
        "sex_code": row["sex_code"],
        "birth_date": row["birth_date"],
        "division_code": row["division_code"],
        "household_address": row["household_address"],
        "version": row["version"],
        "source": {
            "department": row["source_department"],
            "table": row["source_table"],
            "record_key": row["source_record_key"],
            "event_id": row["source_event_id"],
            "op": row["source_op"],
            "updated_at": row["source_updated_at"],
        },
        "position": {
            "topic": row["event_topic"], "partition": row["event_partition"],
            "offset": row["event_offset"],
        },
        "projected_at": row["projected_at"],
    }


class CitizenProfileQueries:
    """Read-only access; each call opens its own connection, so it is safe from any thread."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def _connect(self) -> sqlite3.Connection | None:
        if not self.path.exists():
            return None
        return connect(self.path, readonly=True)

    def page(self, limit: int, after: str | None = None) -> Page:
        db = self._connect()
        if db is None:
            return Page([], None)
        try:
            rows = db.execute(
                "SELECT * FROM citizen_profile WHERE identity_number > ? "
                "ORDER BY identity_number LIMIT ?", (after or "", limit + 1),
            ).fetchall()
        except sqlite3.OperationalError:
            return Page([], None)  # the worker has not created its tables yet
        finally:
            db.close()
        items = [_profile(r) for r in rows[:limit]]
        return Page(items, items[-1]["identity_number"] if len(rows) > limit else None)

    def get(self, identity_number: str) -> dict[str, Any] | None:
        db = self._connect()
        if db is None:
            return None
        try:
            row = db.execute("SELECT * FROM citizen_profile WHERE identity_number = ?",
                             (identity_number,)).fetchone()
        except sqlite3.OperationalError:
            return None
        finally:
            db.close()
        return _profile(row) if row else None

    def count(self) -> int:
        db = self._connect()
        if db is None:
            return 0
        try:
            return int(db.execute("SELECT COUNT(*) FROM citizen_profile").fetchone()[0])
        except sqlite3.OperationalError:
            return 0
        finally:
            db.close()

    def positions(self) -> list[dict[str, Any]]:
        db = self._connect()
        if db is None:
            return []
        try:
            return [dict(r) for r in db.execute(
                "SELECT topic, partition, next_offset, updated_at FROM projection_position")]
        except sqlite3.OperationalError:
            return []
        finally:
            db.close()
