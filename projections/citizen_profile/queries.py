"""Read-side queries of ``citizen_profile``, used by the query API (any thread, read-only)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from projections.citizen_profile.extract import IDENTITY_FIELDS
from projections.profiles.location import StoreLocation, store_location
from projections.profiles.readers import Readers
from projections.profiles.store import StoredProfile, read_profile


@dataclass(frozen=True)
class Page:
    items: list[dict[str, Any]]
    next: str | None


def _iso(ms: int) -> str | None:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat() if ms else None


def _origin(provenance: Mapping[str, Any]) -> dict[str, Any]:
    return {"department": provenance["department"], "table": provenance["table"],
            "record_key": provenance["record_key"], "event_id": provenance["event_id"],
            "op": provenance.get("op") or None, "updated_at": _iso(int(provenance["event_time_ms"]))}


def _position(provenance: Mapping[str, Any]) -> dict[str, Any]:
    return {"topic": provenance["topic"], "partition": provenance["partition"],
            "offset": provenance["offset"]}


def profile_json(stored: StoredProfile) -> dict[str, Any]:
    """The API shape: identity fields, where they came from, and the departments' facets."""
    document = stored.document
    fields: dict[str, Any] = document["fields"]
    # The record the identity comes from: the one that gave the name (Public Security when
    # it knows the person), else any field's.
    lead = (fields.get("name") or next(iter(fields.values()), None) or {}).get("provenance")
    profile: dict[str, Any] = {"identity_number": stored.subject}
    profile.update({f: fields.get(f, {}).get("value") for f in IDENTITY_FIELDS})
    profile["version"] = stored.version
    profile["source"] = _origin(lead) if lead else None
    profile["position"] = _position(lead) if lead else None
    profile["projected_at"] = _iso(stored.believed_at_ms)
    profile["provenance"] = {
        name: {"rule": entry["rule"], **_origin(entry["provenance"]),
               **_position(entry["provenance"])}
        for name, entry in fields.items()}
    for facet, items in document["facets"].items():
        profile[facet] = [{**{k: v for k, v in item.items() if k != "provenance"},
                           "source": {**_origin(item["provenance"]), **_position(item["provenance"])}}
                          for item in items]
    return profile


class CitizenProfileQueries:
    """Read-only access, safe from any thread; connections are reused (:class:`Readers`).

    ``path`` is the SQLite file (a rebuild may point readers at another one) or the
    PostgreSQL schema of the store.
    """

    def __init__(self, path: StoreLocation) -> None:
        self.path = path
        self.readers = Readers(path)

    @classmethod
    def at(cls, sqlite_path: Path, read_store_url: str | None) -> CitizenProfileQueries:
        """The queries of the store chosen by ``BUS_READ_STORE_URL`` (unset: ``sqlite_path``)."""
        return cls(store_location("citizen_profile", sqlite_path, read_store_url))

    def page(self, limit: int, after: str | None = None) -> Page:
        with self.readers.connection() as db:
            if db is None:
                return Page([], None)
            try:
                rows = db.execute(
                    "SELECT subject FROM profile WHERE subject > ? ORDER BY subject LIMIT ?",
                    (after or "", limit + 1)).fetchall()
                found = [read_profile(db, str(r["subject"])) for r in rows[:limit]]
            except db.not_ready:
                return Page([], None)  # the worker has not created its tables yet
        items = [profile_json(p) for p in found if p is not None]
        return Page(items, items[-1]["identity_number"] if len(rows) > limit and items else None)

    def get(self, identity_number: str, as_of: datetime | None = None) -> dict[str, Any] | None:
        with self.readers.connection() as db:
            if db is None:
                return None
            try:
                stored = read_profile(db, identity_number,
                                      None if as_of is None else int(as_of.timestamp() * 1000))
            except db.not_ready:
                return None
        return profile_json(stored) if stored else None

    def count(self) -> int:
        with self.readers.connection() as db:
            if db is None:
                return 0
            try:
                return int(db.execute("SELECT COUNT(*) FROM profile").fetchone()[0])
            except db.not_ready:
                return 0

    def positions(self) -> list[dict[str, Any]]:
        with self.readers.connection() as db:
            if db is None:
                return []
            try:
                return [dict(r) for r in db.execute(
                    "SELECT topic, partition, next_offset FROM projection_position ORDER BY 1, 2")]
            except db.not_ready:
                return []
