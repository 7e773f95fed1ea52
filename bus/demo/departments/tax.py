"""Seed Tax (税务): the tax registrations ``swdj`` in MariaDB, keyed by taxpayer id.

The taxpayer id is the enterprise's credit code as the tax clerk typed it. The mess: codes in
lower case or with spaces, a few with a wrong check character, about 3% of the market's
enterprises never registered, a few registrations of enterprises unknown to the market
register, status codes of its own (``01`` 正常, ``02`` 非正常, ``03`` 注销, ``05`` 停业),
homophone names of legal representatives, same-second and out-of-order update times.
"""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from bus.demo.departments.credit_code import CREDIT_ALPHABET, parse_credit_code
from bus.demo.departments.dbapi import Connection, in_transaction
from bus.demo.departments.enterprises import make_company_name, make_credit_code
from bus.demo.departments.ground_truth import DepartmentReport, RowTruth, judge, report_of, write_truth
from bus.demo.departments.mess import update_stamps
from bus.demo.departments.population import Population
from bus.demo.draw import below, pick
from bus.demo.noise import messy_name
from bus.demo.people import make_name, reference_counties
from bus.standards.dates import normalize_date

__all__ = ["TAX_STATUSES", "TAX_TABLE", "seed_tax"]

TAX_TABLE = "swdj"
#: DJZT 登记状态 of the tax register.
TAX_STATUSES = {"01": "正常", "02": "非正常", "03": "注销", "05": "停业"}
_START = datetime(2024, 5, 27, 8, 0, 0)

_DDL = f"""CREATE TABLE IF NOT EXISTS {TAX_TABLE} (
    NSRSBH VARCHAR(30) NOT NULL COMMENT '纳税人识别号 taxpayer id (= credit code)',
    NSRMC  VARCHAR(100) COMMENT '纳税人名称 taxpayer name',
    FDDBR  VARCHAR(40) COMMENT '法定代表人 legal representative',
    DJZT   CHAR(2) COMMENT '登记状态 01 正常 02 非正常 03 注销 05 停业',
    DJRQ   DATE COMMENT '登记日期 registration date',
    XGSJ   DATETIME NOT NULL COMMENT '修改时间 update time',
    PRIMARY KEY (NSRSBH),
    KEY idx_swdj_xgsj (XGSJ)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COMMENT='税务登记'"""
_INSERT = (
    f"INSERT IGNORE INTO {TAX_TABLE} (NSRSBH, NSRMC, FDDBR, DJZT, DJRQ, XGSJ) "
    "VALUES (%s, %s, %s, %s, %s, %s)"
)

Row = tuple[str, str, str, str, date, datetime]


def seed_tax(connection: Connection, population: Population, *, truth_dir: Path) -> DepartmentReport:
    """Create ``swdj`` if missing and insert (``INSERT IGNORE``: re-running adds nothing)."""
    rows, truths = _generate(random.Random(f"{population.seed}:tax"), population)

    def insert(cursor: Any) -> None:
        cursor.execute(_DDL)
        cursor.executemany(_INSERT, rows)

    in_transaction(connection, insert)
    path = write_truth(truth_dir / "tax" / f"{TAX_TABLE}.truth.jsonl", truths)
    return report_of("tax", "mariadb", (TAX_TABLE,), truths, (path,))


def _generate(rng: random.Random, population: Population) -> tuple[list[Row], list[RowTruth]]:
    today = population.today
    stamps = update_stamps(rng, _START)
    known = {enterprise.credit_code for enterprise in population.enterprises}
    rows: list[Row] = []
    truths: list[RowTruth] = []

    def add(code: str, name: str, rep_name: str, founded: date, status: str, noise: list[str]) -> None:
        nsrsbh, code_noise = _typed_code(rng, code)
        fddbr, name_noise = messy_name(rng, rep_name)
        registered = min(founded + timedelta(days=below(rng, 60)), today)
        stamp, stamp_noise = next(stamps)
        rows.append((nsrsbh, name, fddbr, status, registered, stamp))
        truths.append(judge(
            TAX_TABLE, nsrsbh, code,
            (lambda: parse_credit_code(nsrsbh), lambda: normalize_date(registered)),
            noise=(*noise, *code_noise, *name_noise, *stamp_noise),
        ))

    for enterprise in population.enterprises:
        if rng.random() < 0.03:
            continue  # never registered for tax
        add(enterprise.credit_code, enterprise.name, enterprise.legal_rep.name, enterprise.founded,
            _tax_status(rng, enterprise.status), [])
    for _ in range(max(1, len(population.enterprises) // 50)):
        division = pick(rng, reference_counties()).code
        code = make_credit_code(rng, division, new_style=True)
        if code in known:
            continue
        known.add(code)
        add(code, make_company_name(rng, division), make_name(rng), today - timedelta(days=below(rng, 3000)),
            "01", ["unknown_enterprise"])
    return rows, truths


def _typed_code(rng: random.Random, code: str) -> tuple[str, list[str]]:
    roll = rng.random()
    if roll < 0.01:
        return code[:17] + pick(rng, [c for c in CREDIT_ALPHABET if c != code[17]]), ["bad_credit_check_char"]
    if roll < 0.06:
        return code.lower(), ["lowercase"]
    if roll < 0.09:
        return f"{code[:8]} {code[8:]}" if rng.random() < 0.5 else f" {code} ", ["spaces"]
    return code, []


def _tax_status(rng: random.Random, market_status: str) -> str:
    if market_status == "注销":
        return "03"
    if market_status == "吊销":
        return "02" if rng.random() < 0.5 else "05"
    return "01" if rng.random() < 0.95 else "02"
