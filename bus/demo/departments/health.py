"""Seed the Health Commission (卫健): birth certificates ``csyxzm`` in SQLite.

Newborns of 2024–2026, mostly to married couples of the population; a newborn has no identity
number yet (the newborn "one thing" flow gives it one). The mess: birth dates and times in
mixed formats (a few impossible or missing), sex sometimes as ``男``/``女`` and rarely invalid,
parents' identity numbers with full-width digits or a broken check character, unmarried
mothers without father fields, homophone names.
"""

from __future__ import annotations

import random
import sqlite3
from datetime import date, datetime, timedelta
from pathlib import Path

from bus.demo.departments.ground_truth import Check, DepartmentReport, RowTruth, judge, report_of, write_truth
from bus.demo.departments.mess import messy_id
from bus.demo.departments.population import Population, age_on
from bus.demo.draw import below, between, pick
from bus.demo.noise import messy_birth_date, messy_name
from bus.demo.people import Person, make_name
from bus.standards.dates import normalize_date
from bus.standards.idcard import parse_identity_number
from bus.standards.sex import normalize_sex

__all__ = ["HEALTH_TABLE", "HEALTH_TODAY", "seed_health"]

HEALTH_TABLE = "csyxzm"
#: The Health seed's clock: births run from 2024-01-01 up to this day.
HEALTH_TODAY = date(2026, 6, 30)
_FIRST_BIRTH = date(2024, 1, 1)
_HOSPITALS = (
    "浙江大学医学院附属妇产科医院",
    "杭州市妇产科医院",
    "浙江省人民医院",
    "杭州市第一人民医院",
    "杭州市余杭区妇幼保健院",
    "宁波市妇女儿童医院",
    "宁波大学附属第一医院",
    "宁波市鄞州区第二医院",
)

_DDL = f"""CREATE TABLE IF NOT EXISTS {HEALTH_TABLE} (  -- 出生医学证明 birth certificates
    CSZMBH  TEXT PRIMARY KEY,  -- 出生医学证明编号 certificate number
    XSEXM   TEXT,              -- 新生儿姓名 newborn name
    XSEXB   TEXT,              -- 新生儿性别 newborn sex (1/2)
    CSRQ    TEXT,              -- 出生日期 birth date (mixed formats)
    CSSJ    TEXT,              -- 出生时间 time of birth
    MQ_SFZH TEXT,              -- 母亲身份证号 mother identity number
    MQ_XM   TEXT,              -- 母亲姓名 mother name
    FQ_SFZH TEXT,              -- 父亲身份证号 father identity number
    FQ_XM   TEXT,              -- 父亲姓名 father name
    CSDD    TEXT,              -- 出生地点 place of birth (hospital)
    QFRQ    TEXT,              -- 签发日期 issue date
    GXSJ    TEXT NOT NULL      -- 更新时间 YYYY-MM-DD HH:MM:SS (local time)
)"""
_INSERT = f"INSERT OR IGNORE INTO {HEALTH_TABLE} VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"

Row = tuple[str, str, str, str | None, str, str, str, str | None, str | None, str, str, str]
Parents = tuple[Person, Person | None]


def seed_health(db_path: Path, population: Population, *, truth_dir: Path | None = None) -> DepartmentReport:
    """Create ``csyxzm`` if missing and insert (``INSERT OR IGNORE``: re-running adds nothing).

    The truth goes to ``<truth_dir>/health/csyxzm.truth.jsonl``, or beside the database.
    """
    rows, truths = _generate(random.Random(f"{population.seed}:health"), population)
    db_path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(db_path)
    try:
        with conn:
            conn.execute(_DDL)
            conn.executemany(_INSERT, rows)
    finally:
        conn.close()
    path = (truth_dir / "health" if truth_dir else db_path.parent) / f"{db_path.stem}.truth.jsonl"
    write_truth(path, truths)
    return report_of("health", "sqlite", (HEALTH_TABLE,), truths, (path,))


def _parents(population: Population) -> list[Parents]:
    """Married couples with the mother aged 20–45; unmarried mothers if there are none."""
    couples: list[Parents] = [
        (c.wife, c.husband) for c in population.couples
        if c.divorced is None and 20 <= age_on(c.wife, HEALTH_TODAY) <= 45
    ]
    if couples:
        return couples
    return [(p, None) for p in population.persons if not p.male and 18 <= age_on(p, HEALTH_TODAY) <= 45]


def _generate(rng: random.Random, population: Population) -> tuple[list[Row], list[RowTruth]]:
    parents = _parents(population)
    if not parents:
        return [], []
    rows: list[Row] = []
    truths: list[RowTruth] = []
    for index in range(1, max(5, len(population.persons) // 50) + 1):
        mother, father = pick(rng, parents)
        if father is not None and rng.random() < 0.05:
            father = None  # registered without the father
        row, truth = _row(rng, f"Q33{index:07d}", mother, father)
        rows.append(row)
        truths.append(truth)
    return rows, truths


def _row(rng: random.Random, number: str, mother: Person, father: Person | None) -> tuple[Row, RowTruth]:
    born = _FIRST_BIRTH + timedelta(days=below(rng, (HEALTH_TODAY - _FIRST_BIRTH).days + 1))
    male = rng.random() < 0.51
    surname_source = father or mother
    name = surname_source.name[0] + make_name(rng)[-between(rng, 1, 2):]
    sex, sex_noise = _sex(rng, male)
    csrq, date_noise = messy_birth_date(rng, born)
    mq_sfzh, mother_noise = messy_id(rng, mother, old=0.0, bad_check=0.01, full_width=0.02)
    mq_xm, mother_name_noise = messy_name(rng, mother.name)
    fq_sfzh: str | None = None
    fq_xm: str | None = None
    father_noise: list[str] = ["father_missing"]
    if father is not None:
        fq_sfzh, father_noise = messy_id(rng, father, old=0.0, bad_check=0.01, full_width=0.02)
        fq_xm = father.name
    issued = min(born + timedelta(days=between(rng, 1, 30)), HEALTH_TODAY)
    office_hours = timedelta(seconds=between(rng, 8 * 3600, 17 * 3600))
    updated = datetime.combine(issued, datetime.min.time()) + office_hours
    row: Row = (number, name, sex, csrq, _time_text(rng), mq_sfzh, mq_xm, fq_sfzh, fq_xm,
                pick(rng, _HOSPITALS), issued.isoformat(), f"{updated:%Y-%m-%d %H:%M:%S}")
    checks: list[Check] = [lambda: parse_identity_number(mq_sfzh, today=HEALTH_TODAY)]
    if fq_sfzh is not None:
        checks.append(lambda: parse_identity_number(fq_sfzh, today=HEALTH_TODAY))
    checks += [lambda: normalize_sex(sex), lambda: normalize_date(csrq)]
    truth = judge(
        HEALTH_TABLE, number, mother.id18, checks,
        noise=(*sex_noise, *date_noise, *mother_noise, *mother_name_noise, *father_noise),
        related={"father": father.id18 if father else None, "newborn_name": name, "born": born.isoformat()},
    )
    return row, truth


def _sex(rng: random.Random, male: bool) -> tuple[str, list[str]]:
    roll = rng.random()
    if roll < 0.005:
        return "3", ["sex_invalid"]
    if roll < 0.05:
        return ("男" if male else "女"), ["sex_local_zh"]
    return ("1" if male else "2"), []


def _time_text(rng: random.Random) -> str:
    hour, minute = below(rng, 24), below(rng, 60)
    return pick(rng, (f"{hour:02d}:{minute:02d}", f"{hour:02d}{minute:02d}", f"{hour}时{minute}分",
                      f"{hour:02d}:{minute:02d}:00"))
