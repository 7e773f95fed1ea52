"""Seed the reference Public Security household register (公安户籍) as a legacy SQLite DB.

The table keeps the legacy pinyin-abbreviation columns and is as messy as the real
thing; the expected fate of every row is written beside it as ``<db stem>.truth.jsonl``.
"""

from __future__ import annotations

import random
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from itertools import islice
from pathlib import Path

from bus.demo.draw import between
from bus.demo.noise import messy_birth_date, messy_identity_number, messy_name, messy_sex
from bus.demo.people import make_address, make_person
from bus.demo.truth import TruthLine, judge_person_row, truth_writer

__all__ = ["BASE_TIME", "DEFAULT_SEED", "GONGAN_TABLE", "SeedReport", "seed_gongan"]

DEFAULT_SEED = 20261127
GONGAN_TABLE = "hj_ryxx"
# Fixed clock of the seeded world (local time, Asia/Shanghai): updates start here.
BASE_TIME = datetime(2024, 6, 3, 8, 30, 0)

_DDL = (
    f"""CREATE TABLE IF NOT EXISTS {GONGAN_TABLE} (  -- 户籍人员信息
    RYBH TEXT PRIMARY KEY,  -- 人员编号
    SFZH TEXT,              -- 公民身份号码
    XM   TEXT,              -- 姓名
    XB   TEXT,              -- 性别
    CSRQ TEXT,              -- 出生日期
    HJDZ TEXT,              -- 户籍地址
    XZQH TEXT,              -- 行政区划代码
    GXSJ TEXT NOT NULL      -- 更新时间 YYYY-MM-DD HH:MM:SS (local time)
)""",
    f"CREATE INDEX IF NOT EXISTS idx_{GONGAN_TABLE}_gxsj ON {GONGAN_TABLE} (GXSJ)",
)
_INSERT = (
    f"INSERT OR IGNORE INTO {GONGAN_TABLE} (RYBH, SFZH, XM, XB, CSRQ, HJDZ, XZQH, GXSJ) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)
_CHUNK = 10_000

Row = tuple[str, str, str, str, str | None, str, str, str]
Progress = Callable[[int, int], None]


@dataclass(frozen=True, slots=True)
class SeedReport:
    """What was seeded and what a correct standardizer must make of it."""

    db_path: Path
    persons: int
    expected_valid: int
    expected_quarantined: int
    ground_truth_path: Path


def seed_gongan(
    db_path: Path,
    *,
    persons: int = 200,
    seed: int = DEFAULT_SEED,
    progress: Progress | None = None,
) -> SeedReport:
    """Create (or top up) the household register with ``persons`` deterministic rows.

    Re-running with the same arguments changes nothing (``INSERT OR IGNORE`` by RYBH);
    the same seed with more persons keeps the first rows identical. ``progress`` is
    called with (rows done, rows total) after each chunk.
    """
    if persons < 0:
        raise ValueError(f"persons must be >= 0, not {persons}")
    db_path.parent.mkdir(parents=True, exist_ok=True)
    truth_path = db_path.with_name(f"{db_path.stem}.truth.jsonl")
    accepted = done = 0
    pairs = _generate(random.Random(seed), persons)
    conn = sqlite3.connect(db_path)
    try:
        with conn, truth_writer(truth_path) as write_truth:
            for statement in _DDL:
                conn.execute(statement)
            while chunk := list(islice(pairs, _CHUNK)):
                conn.executemany(_INSERT, [row for row, _ in chunk])
                write_truth(truth for _, truth in chunk)
                accepted += sum(truth.outcome == "accepted" for _, truth in chunk)
                done += len(chunk)
                if progress is not None:
                    progress(done, persons)
    finally:
        conn.close()
    return SeedReport(db_path, persons, accepted, persons - accepted, truth_path)


def _generate(rng: random.Random, persons: int) -> Iterator[tuple[Row, TruthLine]]:
    width = max(7, len(str(persons)))
    today = BASE_TIME.date()
    for index, updated in zip(range(1, persons + 1), _update_times(rng), strict=False):
        yield _person_row(rng, f"R{index:0{width}d}", updated, today)


def _person_row(rng: random.Random, rybh: str, updated: str, today: date) -> tuple[Row, TruthLine]:
    person = make_person(rng, latest_birth=today - timedelta(days=1))
    sfzh, id_noise = messy_identity_number(rng, person.id18, person.id15)
    xb, sex_noise = messy_sex(rng, person.male)
    csrq, date_noise = messy_birth_date(rng, person.birth_date)
    xm, name_noise = messy_name(rng, person.name)
    row: Row = (
        rybh,
        sfzh,
        xm,
        xb,
        csrq,
        make_address(rng, person.county),
        person.county.code,
        updated,
    )
    noise = (*id_noise, *sex_noise, *date_noise, *name_noise)
    return row, judge_person_row(rybh, sfzh, xb, csrq, today=today, noise=noise)


def _update_times(rng: random.Random) -> Iterator[str]:
    """Update stamps in bursts: clerks save several rows within the same second."""
    moment = BASE_TIME
    while True:
        burst = 1 if rng.random() < 0.6 else between(rng, 2, 8)
        stamp = f"{moment:%Y-%m-%d %H:%M:%S}"
        for _ in range(burst):
            yield stamp
        moment += timedelta(seconds=between(rng, 1, 90))
