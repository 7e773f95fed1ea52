"""Synthetic enterprises of the reference government, with valid GB 32100 credit codes."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from bus.demo.departments.credit_code import (
    CREDIT_ALPHABET,
    compute_credit_check_char,
    compute_organization_check_char,
)
from bus.demo.draw import below, between, pick
from bus.demo.people import Person

__all__ = ["MARKET_STATUSES", "Enterprise", "make_company_name", "make_credit_code", "make_enterprises"]

#: 登记状态 of the market register: in existence, operating, licence revoked, deregistered.
MARKET_STATUSES = ("存续", "在业", "吊销", "注销")
_STATUS_WEIGHTS = (0.70, 0.85, 0.92)  # cumulative: 存续, 在业, 吊销, else 注销

_CITY = {"3301": "杭州", "3302": "宁波"}
_TRADE_NAME_CHARS = "华信达通创新博远恒泰盛鑫宏源嘉禾瑞丰安康汇智联众云天海明德正和美志诚"
_INDUSTRIES = (
    "科技", "网络科技", "信息技术", "电子商务", "贸易", "进出口", "建筑工程", "装饰工程",
    "餐饮管理", "文化传媒", "物业管理", "机械制造", "生物医药", "食品", "服饰", "物流",
    "教育科技", "新能源科技", "环保科技", "电子",
)
_SUFFIXES = ("有限公司",) * 8 + ("有限责任公司", "股份有限公司")
_CAPITALS = ("3", "10", "30", "50", "100", "200", "500", "1000", "2000", "5000", "10000")
_EARLIEST_FOUNDING = date(1993, 1, 1)


@dataclass(frozen=True, slots=True)
class Enterprise:
    """An enterprise as the truth has it: valid code, clean name, the true legal representative."""

    credit_code: str
    name: str
    legal_rep: Person
    capital_wan: Decimal  # registered capital in 万元 (10,000 CNY)
    founded: date
    status: str  # one of MARKET_STATUSES
    division: str


def make_credit_code(rng: random.Random, division: str, *, new_style: bool) -> str:
    """``91`` + division + organization code (``MA…`` for registrations since 2015) + check."""
    if new_style:
        body8 = "MA" + "".join(pick(rng, CREDIT_ALPHABET) for _ in range(6))
    else:
        body8 = f"{below(rng, 10**8):08d}"
    first17 = f"91{division}{body8}{compute_organization_check_char(body8)}"
    return first17 + compute_credit_check_char(first17)


def make_enterprises(
    rng: random.Random, legal_reps: Sequence[Person], count: int, today: date
) -> tuple[Enterprise, ...]:
    """``count`` enterprises with unique codes and names; representatives drawn from ``legal_reps``."""
    if not legal_reps:
        return ()
    enterprises: list[Enterprise] = []
    codes: set[str] = set()
    names: set[str] = set()
    span = (today - _EARLIEST_FOUNDING).days
    while len(enterprises) < count:
        rep = pick(rng, legal_reps)
        founded = _EARLIEST_FOUNDING + timedelta(days=below(rng, span))
        code = make_credit_code(rng, rep.county.code, new_style=founded.year >= 2015)
        name = make_company_name(rng, rep.county.code)
        if code in codes or name in names:
            continue
        codes.add(code)
        names.add(name)
        roll = rng.random()
        status = next((s for s, w in zip(MARKET_STATUSES, _STATUS_WEIGHTS, strict=False) if roll < w), "注销")
        capital = Decimal(pick(rng, _CAPITALS)) * between(rng, 1, 3)
        enterprises.append(Enterprise(code, name, rep, capital, founded, status, rep.county.code))
    return tuple(enterprises)


def make_company_name(rng: random.Random, division: str) -> str:
    """A realistic company name: city, two-character trade name, industry, legal form."""
    trade_name = pick(rng, _TRADE_NAME_CHARS) + pick(rng, _TRADE_NAME_CHARS)
    return f"{_CITY.get(division[:4], '浙江')}{trade_name}{pick(rng, _INDUSTRIES)}{pick(rng, _SUFFIXES)}"
