"""The newborn case store on PostgreSQL (the schema ``newborn_case`` of ``BUS_READ_STORE_URL``)
behaves as on SQLite: the same cases, versions, commands and checksum from the same events, the
input position in the transaction of the state (a redelivery changes nothing, a failing batch
leaves nothing), the outbox lease — against a real throw-away PostgreSQL server. Then
``bus projections run`` with ``BUS_READ_STORE_URL`` builds a case there."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterator
from pathlib import Path

import psycopg2
import pytest

from bus.settings import Settings
from projections.newborn_case.store import CaseStore, read_case
from projections.profiles.location import StoreLocation
from projections.profiles.pg import PostgresDatabase, PostgresSchema
from projections.profiles.store import InputPosition
from tests.conftest import bus_environment
from tests.e2e.harness import BusProcess, wait_for
from tests.integration.test_newborn_case import certificate as canonical_certificate
from tests.integration.test_newborn_case import publish
from tests.integration.test_newborn_case_rebuild import BORN, FATHER, MOTHER
from tests.servers.postgres import PostgresServer, postgres_server
from tests.unit.test_newborn_case_rebuild import CERTIFICATE_FIRST, IN_TIME_ORDER, LOG, apply
from tests.unit.test_newborn_case_store import CERTIFICATE_NO, certificate

pytestmark = pytest.mark.integration

_schemas = itertools.count()
RUN_NUMBER = "NBP0000001"  # a certificate of this test's own (the topics are the session's)


@pytest.fixture(scope="module")
def pg() -> Iterator[PostgresServer]:
    yield from postgres_server(dbname="readstore")


def url_of(pg: PostgresServer, database: str | None = None) -> str:
    return f"postgresql://{pg.user}@{pg.host}:{pg.port}/{database or pg.dbname}"


@pytest.fixture(params=["sqlite", "postgres"])
def location(request: pytest.FixtureRequest, tmp_path: Path) -> StoreLocation:
    """A fresh, empty case store on each engine (a new schema per test on the one server)."""
    if request.param == "sqlite":
        return tmp_path / "newborn_case.sqlite"
    server: PostgresServer = request.getfixturevalue("pg")
    return PostgresSchema(url_of(server), f"newborn_case_{next(_schemas)}")


@pytest.fixture
def store(location: StoreLocation) -> Iterator[CaseStore]:
    store = CaseStore(location)
    yield store
    store.close()


def test_the_whole_flow_completes_with_its_versions_commands_and_outbox(store: CaseStore) -> None:
    apply(store, IN_TIME_ORDER)

    case = store.case(CERTIFICATE_NO)
    assert case is not None and case.version == 4 and case.document["status"] == "completed"
    assert [v.document["status"] for v in store.versions(CERTIFICATE_NO)] == \
        ["born", "applied", "household_registered", "completed"]
    assert [(c.command_id, is_open) for c, is_open in store.commands(CERTIFICATE_NO)] == \
        [("ZW-1-CB1", False), ("ZW-1-HJ1", False)]
    assert [key for _id, key, _body in store.pending()] == [CERTIFICATE_NO] * 4
    assert [c.command_id for _id, c in store.pending_commands()] == ["ZW-1-CB1", "ZW-1-HJ1"]
    first = store.case(CERTIFICATE_NO, as_of_ms=LOG["certificate"][2])
    assert first is not None and first.document["status"] == "born"
    assert store.positions() == {"std.birth_certificate:0": 1, "std.person:0": 3,
                                 "std.service_case:0": 1, "std.social_insurance:0": 1}


def test_the_same_events_give_the_same_checksum_on_both_engines(
        store: CaseStore, tmp_path: Path) -> None:
    apply(store, CERTIFICATE_FIRST)
    reference = CaseStore(tmp_path / "reference.sqlite")
    try:
        apply(reference, IN_TIME_ORDER)
        assert store.checksum() == reference.checksum()
        assert store.case_digests() == reference.case_digests()
    finally:
        reference.close()


def test_a_redelivery_changes_nothing_and_a_failing_batch_leaves_nothing(store: CaseStore) -> None:
    apply(store, ["certificate"])
    at = InputPosition("std.birth_certificate", 0, 0, 5_000)
    assert store.apply(at, {"certificate_number": CERTIFICATE_NO}, certificate(name="改名")) is None

    mother = LOG["mother"][3]
    good = (InputPosition("std.person", 0, 0, 6_000), {"identity_number": mother["identity_number"]},
            mother)
    bad = (InputPosition("std.unknown", 0, 0, 6_001), {"x": "y"}, {"x": "y"})
    with pytest.raises(ValueError):
        store.apply_batch([good, bad])
    assert store.next_offset("std.person", 0) == 0  # the whole batch rolled back
    case = store.case(CERTIFICATE_NO)
    assert case is not None and case.version == 1 and case.document["newborn_name"] == "王小宝"


def test_one_publisher_holds_the_outbox_lease_and_published_messages_leave(store: CaseStore) -> None:
    apply(store, IN_TIME_ORDER[:4])
    assert store.lease("a", 0, 100) and not store.lease("b", 50, 100) and store.lease("b", 101, 100)
    rows = store.pending()
    store.published(rows[-1][0])
    commands = store.pending_commands()
    store.commands_published(commands[-1][0])
    assert store.pending() == [] and store.pending_commands() == []


def test_bus_projections_run_keeps_the_cases_in_the_postgresql_read_store(
        stack: Settings, pg: PostgresServer, tmp_path: Path) -> None:
    database = f"cases_{next(_schemas)}"
    pg.execute(f"CREATE DATABASE {database}", dbname="postgres")
    env = bus_environment(stack, tmp_path / "state")
    env["BUS_READ_STORE_URL"] = url_of(pg, database)
    asyncio.run(publish(stack, [canonical_certificate(RUN_NUMBER, MOTHER, FATHER, "郑小月", BORN)]))
    worker = BusProcess("projections", ["projections", "run"], env, tmp_path / "logs").start()
    schema = PostgresSchema(url_of(pg, database), "newborn_case")

    def born() -> bool:
        try:
            db = PostgresDatabase(schema, readonly=True)
        except psycopg2.Error:
            return False
        try:
            case = read_case(db, RUN_NUMBER)
        except psycopg2.errors.UndefinedTable:
            return False
        finally:
            db.close()
        return case is not None and case.document["status"] == "born"

    try:
        wait_for(born, 90, "the case in the PostgreSQL read store")
    finally:
        worker.stop()
    assert not (tmp_path / "state" / "projections" / "newborn_case.sqlite").exists()
