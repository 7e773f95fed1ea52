"""``bus projections rebuild newborn_case``: a new case store beside the live one, from the start
of the log (the steps: :mod:`projections.rebuilding`).

The records of the four input topics are applied in Kafka time order. At the live store's
positions the rebuild must hold the same cases — by :meth:`CaseStore.checksum`, which covers
what does not depend on the order the topics were read in (each case's state and the ids of the
commands it issued, and the facts held), not the number of versions. Before readers switch, the
new store takes over from the live one (:meth:`CaseStore.take_over_from`): neither the case
versions nor the commands to the departments the live store published are sent again.

On PostgreSQL (``BUS_READ_STORE_URL``) the rebuild is refused, as for the profiles.
"""

from __future__ import annotations

from projections.newborn_case.store import INPUT_TOPICS, CaseStore
from projections.newborn_case.worker import project_messages
from projections.profiles.location import StoreLocation
from projections.profiles.pg import PostgresSchema
from projections.rebuilding import Progress, RebuildReport, RebuildUnsupported, rebuild_beside

__all__ = ["NAME", "rebuild"]

NAME = "newborn_case"


def _hand_over(live: CaseStore, rebuilt: CaseStore) -> None:
    rebuilt.take_over_from(live)


async def rebuild(*, default_path: StoreLocation, bootstrap: str, registry_url: str,
                  progress: Progress | None = None, switch: bool = True) -> RebuildReport:
    if isinstance(default_path, PostgresSchema):
        raise RebuildUnsupported(
            f"{NAME}: rebuild is implemented for the SQLite read store only; on PostgreSQL stop "
            f"the workers, drop schema {default_path.schema} and start them again to rebuild it "
            "from the log")
    return await rebuild_beside(NAME, INPUT_TOPICS, default_path=default_path, open_store=CaseStore,
                                apply=project_messages, hand_over=_hand_over, bootstrap=bootstrap,
                                registry_url=registry_url, progress=progress, switch=switch)
