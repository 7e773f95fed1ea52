"""``bus projections rebuild newborn_case``: a new case store beside the live one, from the start
of the log (the steps: :mod:`projections.rebuilding`).

The records of the four input topics are applied in Kafka time order. At the live store's
positions the rebuild must hold the same cases — by :meth:`CaseStore.checksum`, which covers
what does not depend on the order the topics were read in (each case's state and the ids of the
commands it issued, and the facts held), not the number of versions. Before readers switch, the
new store takes over from the live one (:meth:`CaseStore.take_over_from`): neither the case
versions nor the commands to the departments the live store published are sent again.
"""

from __future__ import annotations

from pathlib import Path

from projections.newborn_case.store import INPUT_TOPICS, CaseStore
from projections.newborn_case.worker import project_messages
from projections.rebuilding import Progress, RebuildReport, rebuild_beside

__all__ = ["NAME", "rebuild"]

NAME = "newborn_case"


def _hand_over(live: CaseStore, rebuilt: CaseStore) -> None:
    rebuilt.take_over_from(live)


async def rebuild(*, default_path: Path, bootstrap: str, registry_url: str,
                  progress: Progress | None = None, switch: bool = True) -> RebuildReport:
    return await rebuild_beside(NAME, INPUT_TOPICS, default_path=default_path, open_store=CaseStore,
                                apply=project_messages, hand_over=_hand_over, bootstrap=bootstrap,
                                registry_url=registry_url, progress=progress, switch=switch)
