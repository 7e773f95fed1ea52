"""Seed Human Resources & Social Security (人社): the insured-persons table ``ac01`` in MariaDB.

About 85% of residents aged 16 or more are insured (≈70% of all persons). The mess: ≈10% old
15-digit identity numbers, full-width digits, a few broken check characters, homophone names,
sex as ``M``/``F`` with some ``男``/``女`` and a few invalid codes, a few missing birthdays,
the same person insured twice under two numbers, same-second and out-of-order update times.
"""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import date, datetime
from pathlib import Path
from typing import Any

from bus.demo.departments.dbapi import Connection, in_transaction
from bus.demo.departments.ground_truth import DepartmentReport, RowTruth, judge, report_of, write_truth
from bus.demo.departments.mess import messy_id, update_stamps
from bus.demo.departments.population import Population, age_on
from bus.demo.draw import pick
from bus.demo.noise import messy_name
from bus.demo.people import Person
from bus.standards.dates import normalize_date
from bus.standards.idcard import parse_identity_number
from bus.standards.sex import normalize_sex

__all__ = ["HRSS_TABLE", "INSURANCE_STATUSES", "seed_hrss"]

HRSS_TABLE = "ac01"
#: AAC008 参保状态: paying contributions, suspended, terminated.
INSURANCE_STATUSES = {"1": "参保缴费", "2": "暂停缴费", "3": "终止参保"}
_START = datetime(2024, 5, 6, 8, 30, 0)

_DDL = f"""CREATE TABLE IF NOT EXISTS {HRSS_TABLE} (
    AAC001 VARCHAR(20) NOT NULL COMMENT '个人编号 person insurance number',
    AAC002 VARCHAR(40) COMMENT '公民身份号码 identity number',
    AAC003 VARCHAR(40) COMMENT '姓名 name',
    AAC004 VARCHAR(4) COMMENT '性别 sex (M/F)',
    AAC006 DATE COMMENT '出生日期 birthday',
    AAB001 VARCHAR(20) COMMENT '单位统一社会信用代码 employer credit code',
    AAC008 CHAR(1) COMMENT '参保状态 1 参保缴费 2 暂停 3 终止',
    AAE036 DATETIME NOT NULL COMMENT '经办时间 update time',
    PRIMARY KEY (AAC001),
    KEY idx_ac01_aae036 (AAE036)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COMMENT='参保人员'"""
_INSERT = (
    f"INSERT IGNORE INTO {HRSS_TABLE} (AAC001, AAC002, AAC003, AAC004, AAC006, AAB001, AAC008, AAE036) "
    "VALUES (%s, %s, %s, %s, %s, %s, %s, %s)"
)

Row = tuple[str, str, str, str, date | None, str | None, str, datetime]


def seed_hrss(connection: Connection, population: Population, *, truth_dir: Path) -> DepartmentReport:
    """Create ``ac01`` if missing and insert its rows (``INSERT IGNORE``: re-running adds nothing)."""
    rows, truths = _generate(random.Random(f"{population.seed}:hrss"), population)

    def insert(cursor: Any) -> None:
        cursor.execute(_DDL)
        cursor.executemany(_INSERT, rows)

    in_transaction(connection, insert)
    path = write_truth(truth_dir / "hrss" / f"{HRSS_TABLE}.truth.jsonl", truths)
    return report_of("hrss", "mariadb", (HRSS_TABLE,), truths, (path,))


def _generate(rng: random.Random, population: Population) -> tuple[list[Row], list[RowTruth]]:
    today = population.today
    employers = [e.credit_code for e in population.enterprises if e.status in ("存续", "在业")]
    stamps = update_stamps(rng, _START)
    rows: list[Row] = []
    truths: list[RowTruth] = []
    for person in population.persons:
        if age_on(person, today) < 16 or rng.random() >= 0.85:
            continue
        copies = 2 if rng.random() < 0.01 else 1
        for copy in range(copies):
            number = f"{person.county.code[:4]}{len(rows) + 1:08d}"
            row, truth = _row(rng, number, person, today, employers, next(stamps))
            if copy:
                truth = replace(truth, noise=(*truth.noise, "duplicate_person"))
            rows.append(row)
            truths.append(truth)
    return rows, truths


def _row(
    rng: random.Random,
    number: str,
    person: Person,
    today: date,
    employers: list[str],
    stamp: tuple[datetime, list[str]],
) -> tuple[Row, RowTruth]:
    aac002, id_noise = messy_id(rng, person, old=0.11, bad_check=0.015, full_width=0.03)
    aac003, name_noise = messy_name(rng, person.name)
    aac004, sex_noise = _messy_sex(rng, person.male)
    aac006, date_noise = _birthday(rng, person.birth_date)
    working = age_on(person, today) < (60 if person.male else 55)
    status = _status(rng, working)
    employer = pick(rng, employers) if employers and status != "3" and rng.random() < 0.85 else None
    row: Row = (number, aac002, aac003, aac004, aac006, employer, status, stamp[0])
    noise = (*id_noise, *name_noise, *sex_noise, *date_noise, *stamp[1])
    truth = judge(
        HRSS_TABLE,
        number,
        person.id18,
        (lambda: parse_identity_number(aac002, today=today), lambda: normalize_sex(aac004),
         lambda: normalize_date(aac006)),
        noise=noise,
        related={"employer": employer},
    )
    return row, truth


def _messy_sex(rng: random.Random, male: bool) -> tuple[str, list[str]]:
    roll = rng.random()
    if roll < 0.01:
        return pick(rng, ("X", "3", "")), ["sex_invalid"]
    if roll < 0.06:
        return ("男" if male else "女"), ["sex_local_zh"]
    return ("M" if male else "F"), []


def _birthday(rng: random.Random, born: date) -> tuple[date | None, list[str]]:
    roll = rng.random()
    if roll < 0.005:
        return None, ["date_missing"]
    if roll < 0.015:
        return date.fromordinal(born.toordinal() + 1), ["date_mismatch"]
    return born, []


def _status(rng: random.Random, working: bool) -> str:
    roll = rng.random()
    if working:
        return "1" if roll < 0.85 else "2" if roll < 0.95 else "3"
    return "3" if roll < 0.6 else "1"
