"""``bus projections rebuild <name>`` for a profile projection: a new store beside the live one,
from the start of the log (the steps: :mod:`projections.rebuilding`).

The profiles of the rebuild must equal the live store's at the live store's positions (their
``checksum``); before readers switch, the new outbox drops what the live store published
(``forget_published_before``). The live workers adopt the new store at their next event and
fill the moment between (:mod:`projections.live`).

Only the SQLite read store can be rebuilt this way; on PostgreSQL the rebuild is refused
(:class:`RebuildUnsupported`): drop the projection's schema and restart the workers instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bus.serde.avro import AvroSerde
from projections.profiles.location import StoreLocation
from projections.profiles.pg import PostgresSchema
from projections.profiles.projection import ProfileProjection
from projections.profiles.store import ProfileStore
from projections.profiles.worker import project_messages
from projections.rebuilding import Progress, RebuildReport, RebuildUnsupported, rebuild_beside

__all__ = ["RebuildReport", "RebuildUnsupported", "rebuild"]


async def rebuild(projection: ProfileProjection, *, default_path: StoreLocation, bootstrap: str,
                  registry_url: str, progress: Progress | None = None,
                  switch: bool = True) -> RebuildReport:
    if isinstance(default_path, PostgresSchema):
        raise RebuildUnsupported(
            f"{projection.name}: rebuild is implemented for the SQLite read store only; on "
            f"PostgreSQL drop schema {default_path.schema} and restart the workers to rebuild it "
            "from the log")
    authority = dict(projection.authority)

    def open_store(path: Path) -> ProfileStore:
        return ProfileStore(path, authority)

    async def apply(store: ProfileStore, serde: AvroSerde, records: Sequence[Any]) -> int:
        return await project_messages(projection, store, serde, records)

    def hand_over(live: ProfileStore, rebuilt: ProfileStore) -> None:
        rebuilt.forget_published_before(live.position_map())

    return await rebuild_beside(projection.name, tuple(projection.topics),
                                default_path=default_path, open_store=open_store, apply=apply,
                                hand_over=hand_over, bootstrap=bootstrap,
                                registry_url=registry_url, progress=progress, switch=switch)
