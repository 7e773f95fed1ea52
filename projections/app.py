"""The faust app of ``bus projections run``: every projection's agents in one worker process.

More processes with the same app id split the input partitions between them (scale-out).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import faust

from projections.citizen_profile.extract import citizen_projection
from projections.enterprise_profile.extract import enterprise_projection
from projections.profiles.location import store_location
from projections.profiles.projection import ProfileProjection
from projections.profiles.worker import add_profile_projection
from projections.read_committed import ReadCommittedApp
from projections.resolution.worker import add_resolution

__all__ = ["APP_ID", "create_projections_app", "profile_projections"]

APP_ID = "rongtong-projections"


def profile_projections() -> list[ProfileProjection]:
    return [citizen_projection(), enterprise_projection()]


def create_projections_app(*, bootstrap: str, registry_url: str,
                           store_path: Callable[[str], Path], data_dir: Path,
                           app_id: str = APP_ID, read_store_url: str | None = None) -> faust.App:
    """The app with every profile projection; ``store_path(name)`` locates each SQLite read
    store, or with ``read_store_url`` each is a schema in that PostgreSQL database.

    Nothing connects until a faust worker starts it.
    """
    app = ReadCommittedApp(
        app_id,
        broker=f"kafka://{bootstrap}",
        datadir=str(data_dir),
        web_enabled=False,
        consumer_auto_offset_reset="earliest",
        broker_commit_every=200,
        broker_commit_interval=1.0,
        # A worker that dies hands its partitions to the others within seconds, not a minute.
        broker_session_timeout=10.0,
        broker_heartbeat_interval=2.0,
    )
    for projection in profile_projections():
        location = store_location(projection.name, store_path(projection.name).resolve(),
                                  read_store_url)
        add_profile_projection(app, projection, store_path=location,
                               bootstrap=bootstrap, registry_url=registry_url)
    add_resolution(app, store_path=store_path("resolution").resolve(), bootstrap=bootstrap,
                   registry_url=registry_url)
    return app
