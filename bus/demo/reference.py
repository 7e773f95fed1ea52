"""Seed the whole reference government: 公安 plus the five departments on their own engines."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from bus.demo.departments.government import SeedTargets, seed_government
from bus.demo.seed import DEFAULT_SEED, seed_gongan
from bus.settings import Settings
from bus.stack.local import LocalStack


@dataclass(frozen=True)
class SeededDepartment:
    department: str
    engine: str
    where: str
    rows: int
    expected_accepted: int
    expected_quarantined: int


def seed_reference(
    settings: Settings, *, persons: int, seed: int = DEFAULT_SEED,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[list[SeededDepartment], list[str]]:
    """Seed every department whose legacy system is reachable; also what was skipped and why."""
    legacy = settings.legacy_dir
    gongan = seed_gongan(settings.gongan_db_path, persons=persons, seed=seed, progress=progress)
    seeded = [SeededDepartment("gongan 公安", "sqlite", str(settings.gongan_db_path),
                               gongan.persons, gongan.expected_valid,
                               gongan.expected_quarantined)]
    stack = LocalStack(settings, legacy_databases=True)
    skipped: list[str] = []
    postgres_ok, mariadb_ok = stack.postgres.answers(), stack.mariadb.answers()
    if not postgres_ok:
        skipped.append(f"scjg 市场监管: PostgreSQL does not answer on port {stack.postgres.port} "
                       "(bus stack up --legacy-databases)")
    if not mariadb_ok:
        skipped.append(f"rsj 人社, sw 税务: MariaDB does not answer on port {stack.mariadb.port} "
                       "(bus stack up --legacy-databases)")
    targets = SeedTargets(
        truth_dir=legacy / "truth",
        hrss_mariadb=stack.mariadb.connection("rsj") if mariadb_ok else None,
        tax_mariadb=stack.mariadb.connection("sw") if mariadb_ok else None,
        market_postgres_dsn=stack.postgres.dsn("scjg") if postgres_ok else None,
        civil_affairs_dir=legacy / "mz",
        health_sqlite=legacy / "wsjk.sqlite",
    )
    for report in seed_government(targets, persons=persons, seed=seed):
        seeded.append(SeededDepartment(
            report.department, report.engine, ", ".join(report.tables), report.rows,
            report.expected_accepted, report.expected_quarantined))
    return seeded, skipped
