"""The client store: keys kept as digests, rotation with a grace period, revocation."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest

from bus.access.clients import ClientError, ClientStore
from bus.access.credentials import parse_api_key


@pytest.fixture
def store(tmp_path: Path) -> ClientStore:
    return ClientStore(tmp_path / "clients.sqlite")


def test_a_key_authenticates_its_client_and_only_its_digest_is_stored(store: ClientStore) -> None:
    issued = store.add("desk", "服务窗口", projections=["citizen_profile"],
                       classifications=["internal", "personal"], purposes=["service-desk"])
    client = store.authenticate(issued.text)
    assert client is not None and client.id == "desk" and client.name == "服务窗口"
    assert client.projections == {"citizen_profile"} and client.purposes == {"service-desk"}
    parsed = parse_api_key(issued.text)
    assert parsed is not None
    with sqlite3.connect(store.path) as db:
        dumped = "\n".join(db.iterdump())
    assert parsed[1] not in dumped, "the secret part of the key is never stored"


@pytest.mark.parametrize("text", ["", "rtk_", "rtk_000000000000_short", "Bearer x",
                                  "rtk_" + "0" * 12 + "_" + "A" * 43])
def test_malformed_or_unknown_keys_authenticate_nobody(store: ClientStore, text: str) -> None:
    store.add("desk", "desk")
    assert store.authenticate(text) is None


def test_a_key_with_a_changed_secret_is_refused(store: ClientStore) -> None:
    issued = store.add("desk", "desk")
    last = issued.text[-1]
    assert store.authenticate(issued.text[:-1] + ("A" if last != "A" else "B")) is None


def test_rotation_keeps_the_old_key_for_the_grace_period_only(store: ClientStore) -> None:
    first = store.add("desk", "desk")
    second = store.rotate("desk", grace_seconds=0.3)
    assert store.authenticate(first.text) is not None
    assert store.authenticate(second.text) is not None
    time.sleep(0.4)
    assert store.authenticate(first.text) is None
    assert store.authenticate(second.text) is not None
    third = store.rotate("desk")
    assert store.authenticate(second.text) is None and store.authenticate(third.text) is not None


def test_revoking_ends_every_key_and_rotation(store: ClientStore) -> None:
    issued = store.add("desk", "desk")
    store.revoke("desk")
    assert store.authenticate(issued.text) is None
    client = store.get("desk")
    assert client is not None and not client.active
    with pytest.raises(ClientError, match="revoked"):
        store.rotate("desk")
    [(listed, keys)] = store.clients()
    assert listed.id == "desk" and keys == 0


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"client_id": "Desk"}, "invalid client id"),
    ({"client_id": "d"}, "invalid client id"),
    ({"roles": ["admin"]}, "unknown role"),
    ({"classifications": ["secret"]}, "unknown classification"),
    ({"purposes": ["Marketing!"]}, "invalid purpose"),
    ({"projections": ["everything"]}, "unknown projection"),
])
def test_bad_grants_are_refused_with_a_reason(store: ClientStore, kwargs: dict[str, object],
                                              message: str) -> None:
    arguments: dict[str, object] = {"client_id": "desk", "name": "desk", **kwargs}
    with pytest.raises(ClientError, match=message):
        store.add(**arguments, known_projections=("citizen_profile",))  # type: ignore[arg-type]


def test_a_client_id_is_registered_once(store: ClientStore) -> None:
    store.add("desk", "desk")
    with pytest.raises(ClientError, match="exists"):
        store.add("desk", "again")


def test_a_store_written_before_publishing_existed_is_upgraded_in_place(tmp_path: Path) -> None:
    path = tmp_path / "clients.sqlite"
    with sqlite3.connect(path) as db:
        db.executescript("""
            CREATE TABLE client (id TEXT PRIMARY KEY, name TEXT NOT NULL, roles TEXT NOT NULL,
                projections TEXT NOT NULL, classifications TEXT NOT NULL, purposes TEXT NOT NULL,
                created_ms INTEGER NOT NULL, revoked_ms INTEGER);
            INSERT INTO client VALUES ('old', 'old', '["reader"]', '["citizen_profile"]',
                '["public"]', '[]', 1, NULL);
        """)
    store = ClientStore(path)
    old = store.get("old")
    assert old is not None and old.publishes == frozenset() and old.projections == {"citizen_profile"}
    issued = store.add("new-app", "new", publishes=["service_case"])
    assert store.authenticate(issued.text) == issued.client
    assert issued.client.publishes == {"service_case"}


def test_a_revocation_by_another_process_ends_a_remembered_key_at_once(tmp_path: Path) -> None:
    path = tmp_path / "clients.sqlite"
    service, cli = ClientStore(path), ClientStore(path)  # the API process, `bus clients revoke`
    issued = cli.add("desk", "desk")
    assert service.authenticate(issued.text) is not None
    assert service.authenticate(issued.text) is not None  # now remembered
    cli.revoke("desk")
    assert service.authenticate(issued.text) is None
    rotated = ClientStore(path).add("other", "other")
    assert service.authenticate(rotated.text) is not None
