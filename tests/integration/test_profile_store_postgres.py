"""The profile read store on PostgreSQL behaves as on SQLite: one transaction per event with its
input position, redelivery skipped, every version kept and readable as of its time, the same
checksum for the same events, writers taking turns, the outbox lease — against a real
throw-away PostgreSQL server. Then ``bus projections run`` with ``BUS_READ_STORE_URL`` on it,
read through the query API."""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bus.access.audit import MemoryAuditLog
from bus.settings import Settings, load_settings
from bus.web.app import create_web_app
from projections.app import profile_projections
from projections.citizen_profile.extract import authority, from_event
from projections.citizen_profile.queries import CitizenProfileQueries
from projections.enterprise_profile.queries import EnterpriseProfileQueries
from projections.profiles.location import StoreLocation, store_location
from projections.profiles.model import Contribution, Provenance
from projections.profiles.pg import PostgresSchema
from projections.profiles.rebuild import RebuildUnsupported, rebuild
from projections.profiles.store import InputPosition, ProfileStore
from tests.access import add_client, headers
from tests.conftest import bus_environment
from tests.e2e.harness import BusProcess
from tests.integration.test_citizen_profile import LI, WANG, publish
from tests.integration.test_citizen_profile import person as canonical_person
from tests.servers.postgres import PostgresServer, postgres_server
from tests.unit.test_profiles import T0, insured, marriage, person

pytestmark = pytest.mark.integration

ZHAO = "110101198801011232"
_schemas = itertools.count()


@pytest.fixture(scope="module")
def pg() -> Iterator[PostgresServer]:
    yield from postgres_server(dbname="readstore", settings={"max_connections": "100"})


def url_of(pg: PostgresServer) -> str:
    return f"postgresql://{pg.user}@{pg.host}:{pg.port}/{pg.dbname}"


@pytest.fixture(params=["sqlite", "postgres"])
def location(request: pytest.FixtureRequest, tmp_path: Path) -> StoreLocation:
    """A fresh, empty store on each engine (a new schema per test on the one server)."""
    if request.param == "sqlite":
        return tmp_path / "citizen_profile.sqlite"
    server: PostgresServer = request.getfixturevalue("pg")
    return PostgresSchema(url_of(server), f"citizen_profile_{next(_schemas)}")


@pytest.fixture
def store(location: StoreLocation) -> Iterator[ProfileStore]:
    store = ProfileStore(location, authority())
    yield store
    store.close()


class Feed:
    """Applies canonical events the way the worker does: one offset per topic, Kafka time."""

    def __init__(self, store: ProfileStore, partition: int = 0) -> None:
        self.store = store
        self.partition = partition
        self.offsets: dict[str, int] = {}

    def send(self, topic: str, key: dict[str, Any], event: dict[str, Any] | None,
             at_ms: int | None = None) -> list[str] | None:
        offset = self.offsets.get(topic, 0)
        self.offsets[topic] = offset + 1
        at = InputPosition(topic, self.partition, offset, at_ms if at_ms is not None else T0 + offset)
        return self.store.apply(at, *from_event(at, key, event))


SEQUENCE: list[tuple[str, dict[str, Any], dict[str, Any] | None]] = [
    ("std.person", {"identity_number": WANG}, person()),
    ("std.person", {"identity_number": LI}, person(LI, "李丽")),
    ("std.social_insurance", {"insurance_number": "S1"}, insured(name="王晓明")),
    ("std.marriage", {"registration_number": "M1"}, marriage(WANG, ZHAO)),
    ("std.marriage", {"registration_number": "M1"}, marriage(WANG, LI)),  # corrected wife
    ("std.person", {"identity_number": WANG}, person(name="王小名", minute=20)),
    ("std.social_insurance", {"insurance_number": "S1"}, None),
]


def test_a_failing_apply_rolls_back_rows_and_position_together(store: ProfileStore) -> None:
    provenance = Provenance(0, "std.person", 0, 0, "gongan", "hj_ryxx", "R1", "evt-1")
    good = Contribution(WANG, provenance, {"name": "王小明"})
    unstorable = Contribution(WANG, provenance, {}, "x", {"bad": object()})  # type: ignore[dict-item]

    with pytest.raises(TypeError):
        store.apply(InputPosition("std.person", 0, 0, T0), WANG, [good, unstorable])

    assert store.next_offset("std.person", 0) == 0
    assert store.profile(WANG) is None and store.pending() == []
    assert store.apply(InputPosition("std.person", 0, 0, T0), WANG, [good]) == [WANG]
    assert store.next_offset("std.person", 0) == 1


def test_a_redelivered_event_changes_nothing(store: ProfileStore) -> None:
    feed = Feed(store)
    feed.send("std.person", {"identity_number": WANG}, person())
    again = InputPosition("std.person", 0, 0, T0)

    assert store.apply(again, *from_event(again, {"identity_number": WANG},
                                          person(name="重放"))) is None

    stored = store.profile(WANG)
    assert stored is not None and stored.version == 1
    assert stored.document["fields"]["name"]["value"] == "王小明"
    assert store.position_map() == {("std.person", 0): 1}
    assert len(store.pending()) == 1


def test_every_version_is_kept_and_read_as_of_its_time(store: ProfileStore,
                                                       location: StoreLocation) -> None:
    feed = Feed(store)
    feed.send("std.person", {"identity_number": WANG}, person(), at_ms=T0 + 1000)
    feed.send("std.person", {"identity_number": WANG}, person(name="王晓明"), at_ms=T0 + 2000)
    feed.send("std.person", {"identity_number": WANG}, None, at_ms=T0 + 3000)
    queries = CitizenProfileQueries(location)

    def as_of(ms: int) -> dict[str, Any] | None:
        return queries.get(WANG, datetime.fromtimestamp(ms / 1000, UTC))

    assert as_of(T0) is None
    first, second = as_of(T0 + 1500), as_of(T0 + 2999)
    assert first is not None and (first["name"], first["version"]) == ("王小明", 1)
    assert second is not None and (second["name"], second["version"]) == ("王晓明", 2)
    assert as_of(T0 + 3000) is None and queries.get(WANG) is None
    assert [kind for _i, kind, _k, _b in store.pending()] == ["profile"] * 3


def test_queries_page_count_and_positions(store: ProfileStore, location: StoreLocation) -> None:
    feed = Feed(store)
    for topic, key, event in SEQUENCE:
        feed.send(topic, key, event)
    queries = CitizenProfileQueries(location)

    first = queries.page(1)
    rest = queries.page(5, first.next)
    assert [p["identity_number"] for p in first.items + rest.items] == sorted([WANG, LI])
    assert first.next == first.items[0]["identity_number"] and rest.next is None
    assert queries.count() == 2  # the wrongly named wife has no record left
    assert sorted((p["topic"], p["next_offset"]) for p in queries.positions()) == [
        ("std.marriage", 2), ("std.person", 3), ("std.social_insurance", 2)]


def test_the_outbox_lease_and_forgetting_what_another_store_published(store: ProfileStore) -> None:
    feed = Feed(store)
    for topic, key, event in SEQUENCE:
        feed.send(topic, key, event)

    assert store.lease("a", now_ms=1000, ttl_ms=500)
    assert not store.lease("b", now_ms=1200, ttl_ms=500)
    assert store.lease("a", now_ms=1400, ttl_ms=500)  # the holder renews
    assert store.lease("b", now_ms=2000, ttl_ms=500)  # after expiry another takes over
    causes = {(t, p): o + 1 for t, p, o in [("std.person", 0, 1), ("std.marriage", 0, 0)]}
    before = len(store.pending())
    dropped = store.forget_published_before(causes)
    assert dropped > 0 and len(store.pending()) == before - dropped
    ids = [i for i, _k, _key, _b in store.pending()]
    assert ids == sorted(ids)
    store.published(ids[1])
    assert [i for i, *_ in store.pending()] == ids[2:]


def test_sqlite_and_postgres_hold_the_same_profiles_for_the_same_events(
        pg: PostgresServer, tmp_path: Path) -> None:
    stores = [ProfileStore(tmp_path / "citizen_profile.sqlite", authority()),
              ProfileStore(PostgresSchema(url_of(pg), f"citizen_profile_{next(_schemas)}"),
                           authority())]
    try:
        for store in stores:
            feed = Feed(store)
            for topic, key, event in SEQUENCE:
                feed.send(topic, key, event)
        sqlite, postgres = stores
        assert sqlite.checksum() == postgres.checksum()
        for subject in (WANG, LI, ZHAO):
            assert sqlite.profile(subject) == postgres.profile(subject)
            assert sqlite.profile(subject, T0 + 3) == postgres.profile(subject, T0 + 3)
        assert [row[1:] for row in sqlite.pending()] == [row[1:] for row in postgres.pending()]
    finally:
        for store in stores:
            store.close()


def test_two_writers_applying_interleaved_events_end_consistent(location: StoreLocation) -> None:
    """Two store instances (two workers) on one store, each with its own partition, touching the
    same subjects at once: no lost update, versions without gaps, outbox in version order."""
    subjects = [f"3301061990030{i:04d}" for i in range(12)]
    errors: list[BaseException] = []
    ProfileStore(location, authority()).close()  # created before the race

    def work(partition: int) -> None:
        try:
            store = ProfileStore(location, authority())
            try:
                feed = Feed(store, partition)
                for round_ in range(3):
                    for number in subjects:
                        if partition == 0:
                            feed.send("std.person", {"identity_number": number},
                                      person(number, f"名{round_}"))
                        else:
                            feed.send("std.social_insurance", {"insurance_number": f"S{number}"},
                                      insured(number, f"保{round_}"))
            finally:
                store.close()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(p,)) for p in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not errors

    store = ProfileStore(location, authority())
    try:
        for number in subjects:
            stored = store.profile(number)
            assert stored is not None
            facets = stored.document["facets"]
            assert stored.document["fields"]["name"]["value"] == "名2"  # authoritative
            assert facets["social_insurance"][0]["provenance"]["event_id"] == f"evt-A{number[-4:]}"
            assert stored.version == 6  # 3 person + 3 insurance versions, none lost
        versions: dict[str, list[int]] = {}
        for _id, kind, key, body in store.pending(limit=10_000):
            if kind == "profile" and body is not None:
                versions.setdefault(key, []).append(json.loads(body)["version"])
        assert all(v == list(range(1, 7)) for v in versions.values()) and len(versions) == 12
        assert store.position_map() == {("std.person", 0): 36, ("std.social_insurance", 1): 36}
    finally:
        store.close()


def test_a_schema_of_another_layout_is_set_aside_and_started_anew(pg: PostgresServer) -> None:
    location = PostgresSchema(url_of(pg), f"citizen_profile_{next(_schemas)}")
    store = ProfileStore(location, {})
    store.apply(InputPosition("std.person", 0, 4), "k", [])
    store.close()
    pg.execute(f"UPDATE {location.schema}.store_format SET format = 1")

    store = ProfileStore(location, {})
    try:
        assert store.next_offset("std.person", 0) == 0  # rebuilt from the log, not trusted
    finally:
        store.close()
    connection = pg.connect()
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT next_offset FROM {location.schema}_format1.projection_position")
        assert cursor.fetchall() == [(5,)]
    connection.close()


def test_readers_of_a_schema_no_worker_created_yet_find_nothing(pg: PostgresServer) -> None:
    location = PostgresSchema(url_of(pg), f"citizen_profile_{next(_schemas)}")
    queries = CitizenProfileQueries(location)
    assert not location.exists()
    assert queries.get(WANG) is None and queries.count() == 0 and queries.positions() == []
    assert queries.page(10).items == []
    assert EnterpriseProfileQueries(location).get("91350100M000100Y43") is None


async def test_a_rebuild_on_postgres_is_refused_with_a_clear_message(pg: PostgresServer) -> None:
    projection = profile_projections()[0]
    with pytest.raises(RebuildUnsupported, match="SQLite read store only"):
        await rebuild(projection, default_path=PostgresSchema(url_of(pg), projection.name),
                      bootstrap="127.0.0.1:1", registry_url="http://127.0.0.1:1")


def test_the_store_location_follows_the_setting(tmp_path: Path) -> None:
    sqlite = tmp_path / "citizen_profile.sqlite"
    assert store_location("citizen_profile", sqlite, None) == sqlite
    assert store_location("citizen_profile", sqlite, "postgresql://u@h/db") == PostgresSchema(
        "postgresql://u@h/db", "citizen_profile")
    with pytest.raises(ValueError):
        store_location("citizen_profile", sqlite, "mysql://u@h/db")


# --- bus projections run on PostgreSQL, read through the query API ---------------------------

# Subjects of their own and no conflict, so that other tests on the shared stack's topics are
# not affected by these events (nor these assertions by theirs).
SUN, QIAN = "330106198512121233", "33010619871212122X"
RUN_EVENTS: list[tuple[str, str, dict[str, Any]]] = [
    ("std.person", "person", canonical_person(SUN, "孙伟")),
    ("std.person", "person", canonical_person(QIAN, "钱芳")),
    ("std.marriage", "marriage", {
        "registration_number": "M-PG-1", "husband_identity_number": SUN, "husband_name": "孙伟",
        "wife_identity_number": QIAN, "wife_name": "钱芳", "registration_type": "marriage",
        "registration_date": datetime(2015, 5, 20, tzinfo=UTC).date(),
        "source": {"department": "mz", "table": "hydj", "record_key": "M-PG-1",
                   "event_id": "evt-M-PG-1", "op": "c",
                   "updated_at": datetime(2024, 3, 7, 9, 0, tzinfo=UTC)}}),
]


async def test_projections_run_on_postgres_and_the_api_reads_it(
        stack: Settings, pg: PostgresServer, tmp_path: Path) -> None:
    database = f"bus_{next(_schemas)}"
    pg.execute(f"CREATE DATABASE {database}", dbname="postgres")
    url = f"postgresql://{pg.user}@{pg.host}:{pg.port}/{database}"
    env = bus_environment(stack, tmp_path / "state")
    env["BUS_READ_STORE_URL"] = url
    await publish(stack, RUN_EVENTS)
    worker = BusProcess("projections", ["projections", "run"], env, tmp_path / "logs").start()
    settings = load_settings(state_dir=tmp_path / "state", read_store_url=url)
    try:
        app = create_web_app(settings, audit=MemoryAuditLog())  # reads audited elsewhere
        key = add_client(settings.state_dir)
        async with TestClient(TestServer(app), headers=headers(key)) as client:
            sun = await _poll(client, f"/v1/citizens/{SUN}?explain=true", 120,
                              lambda body: bool(body.get("marriages")) and body.get(
                                  "provenance", {}).get("name", {}).get("department") == "gongan",
                              worker)  # the two topics are read concurrently: wait for both
            ready = await client.get("/readyz")
            assert ready.status == 200
            positions = (await ready.json())["positions"]
    finally:
        worker.stop()
    assert sun["name"] == "孙伟" and sun["version"] == 2  # person, marriage
    assert sun["provenance"]["name"]["department"] == "gongan"
    assert sun["marriages"][0]["spouse_identity_number"] == QIAN
    assert {p["topic"] for p in positions} >= {"std.person", "std.marriage"}
    assert not (tmp_path / "state" / "projections" / "citizen_profile.sqlite").exists()
    schemas = {row[0] for row in _rows(pg, database, "SELECT nspname FROM pg_namespace")}
    assert {"citizen_profile", "enterprise_profile"} <= schemas
    assert store_location("citizen_profile", Path("unused"), url) == PostgresSchema(
        url, "citizen_profile")


async def _poll(client: TestClient[Any, Any], path: str, timeout: float, done: Any,
                worker: BusProcess) -> dict[str, Any]:
    deadline = asyncio.get_running_loop().time() + timeout
    last = ""
    while asyncio.get_running_loop().time() < deadline:
        assert worker.alive(), worker.log_path.read_text(errors="replace")[-3000:]
        response = await client.get(path)
        last = f"{response.status} {await response.text()}"
        if response.status == 200:
            body: dict[str, Any] = await response.json()
            if done(body):
                return body
        await asyncio.sleep(0.5)
    raise AssertionError(f"timed out waiting for {path}; last answer {last[:500]}")


def _rows(pg: PostgresServer, database: str, sql: str) -> list[tuple[Any, ...]]:
    connection = pg.connect(dbname=database)
    try:
        with connection.cursor() as cursor:
            cursor.execute(sql)
            return list(cursor.fetchall())
    finally:
        connection.close()
