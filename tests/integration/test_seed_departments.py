"""HRSS and Tax seeded into a real MariaDB, Market into a real PostgreSQL, via seed_government."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from bus.demo.departments.government import SeedTargets, seed_government
from bus.demo.departments.ground_truth import DepartmentReport
from tests.servers.mariadb import MariaDbServer, running_mariadb
from tests.servers.postgres import PostgresServer, postgres_server

pytestmark = pytest.mark.integration

PERSONS = 10_000
SEED = 20261127


@pytest.fixture(scope="module")
def mariadb() -> Iterator[MariaDbServer]:
    with running_mariadb() as server:
        server.create_user("seeder", "seeder-pw", "ALL PRIVILEGES")
        yield server


@pytest.fixture(scope="module")
def postgres() -> Iterator[PostgresServer]:
    yield from postgres_server()


@pytest.fixture(scope="module")
def targets(
    mariadb: MariaDbServer, postgres: PostgresServer, tmp_path_factory: pytest.TempPathFactory
) -> SeedTargets:
    settings = {**mariadb.connection_settings(), "user": "seeder", "password": "seeder-pw"}
    return SeedTargets(
        truth_dir=tmp_path_factory.mktemp("truth"),
        hrss_mariadb=settings,
        tax_mariadb=settings,
        market_postgres_dsn=postgres.dsn,
    )


@pytest.fixture(scope="module")
def reports(targets: SeedTargets) -> dict[str, DepartmentReport]:
    started = time.perf_counter()
    seeded = seed_government(targets, persons=PERSONS, seed=SEED)
    assert time.perf_counter() - started < 30
    return {report.department: report for report in seeded}


def pg_rows(postgres: PostgresServer, sql: str) -> list[tuple[Any, ...]]:
    connection = postgres.connect()
    try:
        with connection.cursor() as cursor:
            cursor.execute(sql)
            return list(cursor.fetchall())
    finally:
        connection.close()


def truth_keys(report: DepartmentReport) -> list[str]:
    with report.truth_paths[0].open(encoding="utf-8") as lines:
        return [json.loads(line)["key"] for line in lines]


def test_every_truth_row_is_in_its_table(
    reports: dict[str, DepartmentReport],
    mariadb: MariaDbServer,
    postgres: PostgresServer,
) -> None:
    assert [(t, mariadb.query(f"SELECT COUNT(*) FROM {t}")[0][0]) for t in ("ac01", "swdj")] == [
        ("ac01", reports["hrss"].rows),
        ("swdj", reports["tax"].rows),
    ]
    assert pg_rows(postgres, "SELECT COUNT(*) FROM qy_jbxx")[0][0] == reports["market"].rows
    assert reports["market"].rows == PERSONS // 10
    assert sorted(row[0] for row in mariadb.query("SELECT AAC001 FROM ac01")) == sorted(
        truth_keys(reports["hrss"])
    )


def test_seeding_again_adds_and_changes_nothing(
    reports: dict[str, DepartmentReport],
    targets: SeedTargets,
    mariadb: MariaDbServer,
    postgres: PostgresServer,
) -> None:
    before = (
        mariadb.query("SELECT * FROM ac01 ORDER BY AAC001"),
        mariadb.query("SELECT * FROM swdj ORDER BY NSRSBH"),
        pg_rows(postgres, 'SELECT * FROM qy_jbxx ORDER BY "TYSHXYDM"'),
    )
    again = {report.department: report for report in seed_government(targets, persons=PERSONS, seed=SEED)}
    after = (
        mariadb.query("SELECT * FROM ac01 ORDER BY AAC001"),
        mariadb.query("SELECT * FROM swdj ORDER BY NSRSBH"),
        pg_rows(postgres, 'SELECT * FROM qy_jbxx ORDER BY "TYSHXYDM"'),
    )
    assert again == reports
    assert after == before


def test_hrss_holds_old_15_digit_numbers_and_same_second_updates(
    reports: dict[str, DepartmentReport],
    mariadb: MariaDbServer,
) -> None:
    assert mariadb.query("SELECT COUNT(*) FROM ac01 WHERE CHAR_LENGTH(AAC002) = 15")[0][0] > 0
    assert (
        mariadb.query(
            "SELECT COUNT(*) FROM (SELECT AAE036 FROM ac01 GROUP BY AAE036 HAVING COUNT(*) > 1) AS bursts"
        )[0][0]
        > 0
    )
    assert {row[0] for row in mariadb.query("SELECT DISTINCT AAC008 FROM ac01")} == {"1", "2", "3"}


def test_tax_and_market_updates_share_seconds_too(
    reports: dict[str, DepartmentReport],
    mariadb: MariaDbServer,
    postgres: PostgresServer,
) -> None:
    assert mariadb.query(
        "SELECT COUNT(*) FROM (SELECT XGSJ FROM swdj GROUP BY XGSJ HAVING COUNT(*) > 1) AS b"
    )[0][0]
    assert pg_rows(
        postgres, 'SELECT COUNT(*) FROM (SELECT "GXSJ" FROM qy_jbxx GROUP BY "GXSJ" HAVING COUNT(*) > 1) AS b'
    )[0][0]


def test_hrss_employers_and_tax_payers_are_market_enterprises(
    reports: dict[str, DepartmentReport],
    mariadb: MariaDbServer,
    postgres: PostgresServer,
) -> None:
    market = {row[0] for row in pg_rows(postgres, 'SELECT "TYSHXYDM" FROM qy_jbxx')}
    employers = {row[0] for row in mariadb.query("SELECT DISTINCT AAB001 FROM ac01 WHERE AAB001 IS NOT NULL")}
    assert len(employers - market) < len(employers) * 0.05  # only codes the market register mistyped
    taxpayers = {"".join(row[0].split()).upper() for row in mariadb.query("SELECT NSRSBH FROM swdj")}
    assert len(taxpayers & market) > 0.9 * len(market)
