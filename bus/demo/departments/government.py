"""Seed the five departments besides Public Security from one population (the composition root).

Connections are opened here, used for one department and closed; a target left ``None`` is
skipped. The Public Security register itself is ``bus.demo.seed.seed_gongan`` (same persons
for the same ``persons`` and ``seed``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bus.demo.departments.civil_affairs import seed_civil_affairs
from bus.demo.departments.ground_truth import DepartmentReport
from bus.demo.departments.health import seed_health
from bus.demo.departments.hrss import seed_hrss
from bus.demo.departments.market import seed_market
from bus.demo.departments.population import Population, build_population
from bus.demo.departments.tax import seed_tax

__all__ = ["SeedTargets", "seed_government"]

Progress = Callable[[str, DepartmentReport], None]


@dataclass(frozen=True, slots=True)
class SeedTargets:
    """Where each department's legacy data lives; ``None`` skips the department.

    The MariaDB dicts hold ``host``, ``port``, ``user``, ``password``, ``database``.
    """

    truth_dir: Path
    hrss_mariadb: dict[str, Any] | None = None
    tax_mariadb: dict[str, Any] | None = None
    market_postgres_dsn: str | None = None
    civil_affairs_dir: Path | None = None
    health_sqlite: Path | None = None


def seed_government(
    targets: SeedTargets, *, persons: int, seed: int, progress: Progress | None = None
) -> list[DepartmentReport]:
    """Build the population once and seed every configured department from it, in order.

    ``progress`` is called with the department name and its report after each department.
    """
    population = build_population(persons, seed)
    steps: list[tuple[str, Callable[[Population], DepartmentReport]]] = []
    truth = targets.truth_dir
    if (hrss := targets.hrss_mariadb) is not None:
        steps.append(("hrss", lambda p: _with_mariadb(hrss, lambda c: seed_hrss(c, p, truth_dir=truth))))
    if (tax := targets.tax_mariadb) is not None:
        steps.append(("tax", lambda p: _with_mariadb(tax, lambda c: seed_tax(c, p, truth_dir=truth))))
    if (dsn := targets.market_postgres_dsn) is not None:
        steps.append(("market", lambda p: _with_postgres(dsn, lambda c: seed_market(c, p, truth_dir=truth))))
    if (directory := targets.civil_affairs_dir) is not None:
        steps.append(("civil_affairs", lambda p: seed_civil_affairs(directory, p, truth_dir=truth)))
    if (sqlite_path := targets.health_sqlite) is not None:
        steps.append(("health", lambda p: seed_health(sqlite_path, p, truth_dir=truth)))
    reports = []
    for name, step in steps:
        report = step(population)
        reports.append(report)
        if progress is not None:
            progress(name, report)
    return reports


def _with_mariadb(settings: dict[str, Any], work: Callable[[Any], DepartmentReport]) -> DepartmentReport:
    import pymysql  # imported on use: seeding without MariaDB targets needs no driver

    connection = pymysql.connect(
        host=settings["host"], port=int(settings["port"]), user=settings["user"],
        password=settings["password"], database=settings["database"], charset="utf8mb4",
        autocommit=False,
    )
    try:
        return work(connection)
    finally:
        connection.close()


def _with_postgres(dsn: str, work: Callable[[Any], DepartmentReport]) -> DepartmentReport:
    import psycopg2

    connection = psycopg2.connect(dsn)
    try:
        return work(connection)
    finally:
        connection.close()
