"""Read-side queries of ``enterprise_profile``, used by the query API (any thread, read-only)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from projections.enterprise_profile.extract import REGISTER_FIELDS
from projections.profiles.location import StoreLocation, store_location
from projections.profiles.readers import Readers
from projections.profiles.store import StoredProfile, read_profile


def _iso(ms: int) -> str | None:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat() if ms else None


def _source(provenance: dict[str, Any]) -> dict[str, Any]:
    return {"department": provenance["department"], "table": provenance["table"],
            "record_key": provenance["record_key"], "event_id": provenance["event_id"],
            "op": provenance.get("op") or None, "updated_at": _iso(int(provenance["event_time_ms"])),
            "topic": provenance["topic"], "partition": provenance["partition"],
            "offset": provenance["offset"]}


def enterprise_json(stored: StoredProfile) -> dict[str, Any]:
    """The API shape: register fields, where each came from, tax registrations, employees."""
    fields: dict[str, Any] = stored.document["fields"]
    profile: dict[str, Any] = {"credit_code": stored.subject}
    profile.update({f: fields.get(f, {}).get("value") for f in REGISTER_FIELDS})
    profile["version"] = stored.version
    profile["projected_at"] = _iso(stored.believed_at_ms)
    profile["provenance"] = {name: {"rule": entry["rule"], **_source(entry["provenance"])}
                             for name, entry in fields.items()}
    for facet, items in stored.document["facets"].items():
        profile[facet] = [{**{k: v for k, v in item.items() if k != "provenance"},
                           "source": _source(item["provenance"])} for item in items]
    return profile


class EnterpriseProfileQueries:
    """Read-only access, safe from any thread; connections are reused (:class:`Readers`)."""

    def __init__(self, path: StoreLocation) -> None:
        self.path = path
        self.readers = Readers(path)

    @classmethod
    def at(cls, sqlite_path: Path, read_store_url: str | None) -> EnterpriseProfileQueries:
        """The queries of the store chosen by ``BUS_READ_STORE_URL`` (unset: ``sqlite_path``)."""
        return cls(store_location("enterprise_profile", sqlite_path, read_store_url))

    def get(self, credit_code: str, as_of: datetime | None = None) -> dict[str, Any] | None:
        with self.readers.connection() as db:  # the live store: a rebuild may have switched it
            if db is None:
                return None
            try:
                stored = read_profile(db, credit_code,
                                      None if as_of is None else int(as_of.timestamp() * 1000))
            except db.not_ready:
                return None  # the worker has not created its tables yet
        return enterprise_json(stored) if stored else None
