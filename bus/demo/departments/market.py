"""Seed Market Regulation (市场监管): the enterprise register ``qy_jbxx`` in PostgreSQL.

One row per enterprise of the population, keyed by its unified social credit code. The mess:
a few codes with a wrong check character (typed wrong at registration), legal
representatives' identity numbers in the old 15-digit form, full width or missing,
homophone names, same-second and out-of-order update times. Columns keep the legacy
upper-case pinyin abbreviations, so they are quoted identifiers in PostgreSQL.
"""

from __future__ import annotations

import random
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from psycopg2.extras import execute_values

from bus.demo.departments.credit_code import CREDIT_ALPHABET, parse_credit_code
from bus.demo.departments.dbapi import Connection, in_transaction
from bus.demo.departments.enterprises import Enterprise
from bus.demo.departments.ground_truth import DepartmentReport, RowTruth, judge, report_of, write_truth
from bus.demo.departments.mess import messy_id, update_stamps
from bus.demo.departments.population import Population
from bus.demo.draw import pick
from bus.demo.noise import messy_name
from bus.standards.dates import normalize_date
from bus.standards.idcard import parse_identity_number

__all__ = ["MARKET_TABLE", "seed_market"]

MARKET_TABLE = "qy_jbxx"
_START = datetime(2024, 5, 20, 9, 0, 0)

_DDL = (
    f"""CREATE TABLE IF NOT EXISTS {MARKET_TABLE} (
    "TYSHXYDM"   TEXT PRIMARY KEY,   -- 统一社会信用代码 unified social credit code
    "QYMC"       TEXT NOT NULL,      -- 企业名称 enterprise name
    "FDDBR_SFZH" TEXT,               -- 法定代表人身份证号 legal representative identity number
    "FDDBR_XM"   TEXT,               -- 法定代表人姓名 legal representative name
    "ZCZB"       NUMERIC(18, 4),     -- 注册资本(万元) registered capital, 10,000 CNY
    "CLRQ"       DATE,               -- 成立日期 founding date
    "DJZT"       TEXT NOT NULL,      -- 登记状态 存续/在业/吊销/注销
    "GXSJ"       TIMESTAMP NOT NULL  -- 更新时间 update time (local, no zone)
)""",
    f'CREATE INDEX IF NOT EXISTS idx_{MARKET_TABLE}_gxsj ON {MARKET_TABLE} ("GXSJ")',
    f"COMMENT ON TABLE {MARKET_TABLE} IS '企业基本信息 enterprise register'",
)
_INSERT = (
    f'INSERT INTO {MARKET_TABLE} ("TYSHXYDM", "QYMC", "FDDBR_SFZH", "FDDBR_XM", "ZCZB", "CLRQ", '
    '"DJZT", "GXSJ") VALUES %s ON CONFLICT ("TYSHXYDM") DO NOTHING'
)

Row = tuple[str, str, str | None, str, Decimal, date, str, datetime]


def seed_market(connection: Connection, population: Population, *, truth_dir: Path) -> DepartmentReport:
    """Create ``qy_jbxx`` if missing and insert (``ON CONFLICT DO NOTHING``: re-running adds nothing)."""
    rows, truths = _generate(random.Random(f"{population.seed}:market"), population)

    def insert(cursor: Any) -> None:
        for statement in _DDL:
            cursor.execute(statement)
        execute_values(cursor, _INSERT, rows, page_size=1000)

    in_transaction(connection, insert)
    path = write_truth(truth_dir / "market" / f"{MARKET_TABLE}.truth.jsonl", truths)
    return report_of("market", "postgresql", (MARKET_TABLE,), truths, (path,))


def _generate(rng: random.Random, population: Population) -> tuple[list[Row], list[RowTruth]]:
    stamps = update_stamps(rng, _START)
    taken = {enterprise.credit_code for enterprise in population.enterprises}
    rows: list[Row] = []
    truths: list[RowTruth] = []
    for enterprise in population.enterprises:
        code, code_noise = _registered_code(rng, enterprise.credit_code, taken)
        row, truth = _row(rng, code, enterprise, population.today, next(stamps), code_noise)
        rows.append(row)
        truths.append(truth)
    return rows, truths


def _registered_code(rng: random.Random, code: str, taken: set[str]) -> tuple[str, list[str]]:
    """The code as registered; about 2% with a wrong check character."""
    if rng.random() >= 0.02:
        return code, []
    wrong = code[:17] + pick(rng, [c for c in CREDIT_ALPHABET if c != code[17]])
    if wrong in taken:
        return code, []
    taken.add(wrong)
    return wrong, ["bad_credit_check_char"]


def _row(
    rng: random.Random,
    code: str,
    enterprise: Enterprise,
    today: date,
    stamp: tuple[datetime, list[str]],
    code_noise: list[str],
) -> tuple[Row, RowTruth]:
    rep = enterprise.legal_rep
    rep_id: str | None
    if rng.random() < 0.005:
        rep_id, id_noise = None, ["id_missing"]
    else:
        rep_id, id_noise = messy_id(rng, rep, old=0.03, bad_check=0.01, full_width=0.02)
    rep_name, name_noise = messy_name(rng, rep.name)
    row: Row = (code, enterprise.name, rep_id, rep_name, enterprise.capital_wan, enterprise.founded,
                enterprise.status, stamp[0])
    truth = judge(
        MARKET_TABLE,
        code,
        enterprise.credit_code,
        (lambda: parse_credit_code(code), lambda: parse_identity_number(rep_id, today=today),
         lambda: normalize_date(enterprise.founded)),
        noise=(*code_noise, *id_noise, *name_noise, *stamp[1]),
        related={"legal_rep": rep.id18},
    )
    return row, truth
