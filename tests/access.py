"""Clients for tests of the query API: registered in the state directory's client store."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from bus.access.clients import CLASSIFICATIONS, ClientStore

PURPOSE = "service-desk"
EVERY_PROJECTION = ("citizen_profile", "enterprise_profile", "newborn_case")


def add_client(state_dir: Path, client_id: str = "test-all", *,
               roles: Iterable[str] = ("reader", "operator"),
               projections: Iterable[str] = EVERY_PROJECTION,
               classifications: Iterable[str] = CLASSIFICATIONS,
               purposes: Iterable[str] = (PURPOSE,), publishes: Iterable[str] = ()) -> str:
    """Register a client (every read grant unless told otherwise); its API key."""
    store = ClientStore(state_dir / "access" / "clients.sqlite")
    try:
        return store.add(client_id, client_id, roles=roles, projections=projections,
                         classifications=classifications, purposes=purposes,
                         publishes=publishes).text
    finally:
        store.close()


def headers(key: str, purpose: str | None = PURPOSE) -> dict[str, str]:
    """The request headers of a client calling with ``key`` for ``purpose``."""
    sent = {"Authorization": f"Bearer {key}"}
    if purpose is not None:
        sent["X-Purpose"] = purpose
    return sent
