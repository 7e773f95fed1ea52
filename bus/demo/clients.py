"""The demo's API clients: an analyst bound to a purpose, an operator, and the citizen app of the
newborn flow (publishes applications, follows its cases)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path

from bus.access.clients import ClientStore
from bus.settings import Settings

ANALYST_PURPOSE = "service-desk"
APP_ID = "citizen-app"
APP_PURPOSE = "newborn-service"


@dataclass(frozen=True)
class DemoClient:
    id: str
    key: str
    purpose: str


def demo_clients(settings: Settings) -> list[DemoClient]:
    """Register the demo's clients (or give them a fresh key: keys are shown only once)."""
    store = ClientStore(settings.clients_path)
    try:
        everything = ("public", "internal", "personal", "sensitive_personal")
        wanted: tuple[tuple[str, str, tuple[str, ...], tuple[str, ...], str, tuple[str, ...]], ...] = (
            ("analyst", "综合窗口分析员 service-desk analyst", ("reader",),
             ("public", "internal", "personal"), ANALYST_PURPOSE, ()),
            ("operator", "运维 bus operator", ("reader", "operator"), everything, "operations", ()),
            (APP_ID, "出生一件事 citizen app (newborn flow)", ("reader",), everything, APP_PURPOSE,
             ("service_case",)),
        )
        clients = []
        for client_id, name, roles, classifications, purpose, publishes in wanted:
            known = store.get(client_id)
            if known is not None and known.active:
                issued = store.rotate(client_id)
            else:
                issued = store.add(client_id, name, roles=roles,
                                   projections=("citizen_profile", "enterprise_profile"),
                                   classifications=classifications, purposes=(purpose,),
                                   publishes=publishes)
            clients.append(DemoClient(client_id, issued.text, purpose))
        return clients
    finally:
        store.close()


def demo_jwt_secret(settings: Settings) -> str:
    """BUS_JWT_SECRET when set, else one kept in the state directory (for citizens' tokens)."""
    if settings.jwt_secret:
        return settings.jwt_secret
    path: Path = settings.access_dir / "jwt.secret"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(32))
        path.chmod(0o600)
    return path.read_text().strip()


def citizen_app_key(settings: Settings) -> str:
    """A fresh key for the demo's citizen app (registered by ``demo_clients``), for
    ``bus demo newborn`` run beside a running demo."""
    store = ClientStore(settings.clients_path)
    try:
        known = store.get(APP_ID)
        if known is None or not known.active:
            raise LookupError(f"the demo's {APP_ID!r} client is not registered: start `bus demo run`")
        return store.rotate(APP_ID).text
    finally:
        store.close()
