"""Canonical events for the projection benchmarks: a deterministic mix over the ``std.*`` topics.

What the standardize stage would publish for a city whose departments all feed the bus: persons
registered by Public Security (some re-registered at a new address), HRSS insurance records
of those persons with their employers, Civil Affairs marriages and assistance payments, Health
birth certificates, Market Regulation enterprises led by registered persons, Tax registrations
of those enterprises (one in twenty under another name, a conflict for ``enterprise_profile``),
and a share of updates of each. Events are drawn one at a time from the mix, so the topics'
Kafka timestamps interleave as they would live; references (spouses, parents, employers, legal
representatives) point at subjects drawn before.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from bus.standards.credit_code import compute_credit_check_char
from bus.standards.idcard import compute_check_char

__all__ = ["ENTITY", "KEY_FIELD", "MIX", "CanonicalEvent", "generate"]

#: Entity (Avro schema name) and key field of each canonical topic.
ENTITY = {"std.person": "person", "std.social_insurance": "social_insurance",
          "std.marriage": "marriage", "std.social_assistance": "social_assistance",
          "std.birth_certificate": "birth_certificate", "std.enterprise": "enterprise",
          "std.tax_registration": "tax_registration"}
KEY_FIELD = {"std.person": "identity_number", "std.social_insurance": "insurance_number",
             "std.marriage": "registration_number", "std.social_assistance": "assistance_number",
             "std.birth_certificate": "certificate_number", "std.enterprise": "credit_code",
             "std.tax_registration": "taxpayer_id"}

#: Share of each kind of event (sums to 1): (topic, is an update of an earlier record).
MIX: tuple[tuple[str, bool, float], ...] = (
    ("std.person", False, 0.42), ("std.person", True, 0.04),
    ("std.social_insurance", False, 0.24), ("std.social_insurance", True, 0.03),
    ("std.marriage", False, 0.07),
    ("std.social_assistance", False, 0.04),
    ("std.birth_certificate", False, 0.04),
    ("std.enterprise", False, 0.05), ("std.enterprise", True, 0.01),
    ("std.tax_registration", False, 0.05), ("std.tax_registration", True, 0.01),
)

_SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程"
_GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红建文辉力成婷雪琳晨宇浩然欣怡子涵"
_STREETS = ("文三路", "天目山路", "教工路", "学院路", "莫干山路", "延安路", "凤起路", "解放路")
_DIVISIONS = ("330102", "330105", "330106", "330108", "330109", "330110")


@dataclass(frozen=True)
class CanonicalEvent:
    topic: str
    key: dict[str, Any]
    value: dict[str, Any]


@dataclass
class _Person:
    number: str
    name: str
    sex: str
    birth: date


class _City:
    """The subjects drawn so far, and how to draw more."""

    def __init__(self, rng: random.Random, start: datetime) -> None:
        self.rng = rng
        self.clock = start
        self.persons: list[_Person] = []
        self.insurance: list[tuple[str, _Person, str | None]] = []  # (number, insured, employer)
        self.enterprises: list[tuple[str, str, _Person]] = []  # (credit code, name, legal rep)
        self.taxed: list[str] = []  # credit codes with a tax registration
        self.serial = 0

    def _next(self) -> int:
        self.serial += 1
        return self.serial

    def source(self, department: str, table: str, record_key: str, op: str) -> dict[str, Any]:
        self.clock += timedelta(milliseconds=self.rng.randint(1, 2_000))
        return {"department": department, "table": table, "record_key": record_key,
                "event_id": f"{department}.{table}:{record_key}:{self._next()}", "op": op,
                "updated_at": self.clock}

    def name(self) -> str:
        given = "".join(self.rng.choice(_GIVEN) for _ in range(self.rng.choice((1, 2, 2))))
        return self.rng.choice(_SURNAMES) + given

    def new_person(self) -> _Person:
        k = len(self.persons)
        birth = date(1940, 1, 1) + timedelta(days=k % 24_000)
        sequence = 100 + (k // 24_000) % 900
        body = f"{_DIVISIONS[k % len(_DIVISIONS)][:4]}{(k // 24_000) // 900 % 100:02d}" \
               f"{birth:%Y%m%d}{sequence:03d}"
        person = _Person(body + compute_check_char(body), self.name(), "1" if sequence % 2 else "2",
                         birth)
        self.persons.append(person)
        return person

    def someone(self) -> _Person:
        return self.rng.choice(self.persons) if self.persons else self.new_person()

    def credit_code(self) -> str:
        body = f"91330106{len(self.enterprises):09d}"
        return body + compute_credit_check_char(body)


def _person(city: _City, update: bool) -> dict[str, Any]:
    update = update and bool(city.persons)
    person = city.rng.choice(city.persons) if update else city.new_person()
    division = person.number[:6]
    return {"identity_number": person.number, "name": person.name, "sex_code": person.sex,
            "birth_date": person.birth, "division_code": division,
            "household_address": f"浙江省杭州市{city.rng.choice(_STREETS)}{city.rng.randint(1, 999)}号",
            "source": city.source("gongan", "hj_ryxx", f"R{person.number[-10:]}", "u" if update else "c")}


def _insurance(city: _City, update: bool) -> dict[str, Any]:
    # An update changes the insurance status, not the employer: an enterprise whose register
    # has not arrived yet, losing its only employee, would be deleted and then fail on its next
    # employee (the bug reported with the benchmark in docs/benchmarks.md, "Projections").
    update = update and bool(city.insurance)
    if update:
        number, person, employer = city.rng.choice(city.insurance)
    else:
        person = city.someone()
        number = f"S{len(city.insurance):010d}"
        employer = city.rng.choice(city.enterprises)[0] if city.enterprises and city.rng.random() < 0.9 \
            else None
        city.insurance.append((number, person, employer))
    # One in fifty HRSS records spells the name differently: a conflict for citizen_profile.
    name = person.name if city.rng.random() < 0.98 else city.name()
    return {"insurance_number": number, "identity_number": person.number, "name": name,
            "sex_code": person.sex, "birth_date": person.birth, "employer_credit_code": employer,
            "status_code": city.rng.choice(("1", "1", "1", "2", "3")),
            "source": city.source("rsj", "ac01", number, "u" if update else "c")}


def _marriage(city: _City, _update: bool) -> dict[str, Any]:
    husband, wife = city.someone(), city.someone()
    number = f"J330106-{city._next():09d}"
    return {"registration_number": number, "husband_identity_number": husband.number,
            "husband_name": husband.name, "wife_identity_number": wife.number, "wife_name": wife.name,
            "registration_type": city.rng.choice(("marriage", "marriage", "marriage", "divorce")),
            "registration_date": date(2000, 1, 1) + timedelta(days=city.rng.randint(0, 9000)),
            "source": city.source("mz", "hydj", number, "c")}


def _assistance(city: _City, _update: bool) -> dict[str, Any]:
    person = city.someone()
    number = f"DB{city._next():010d}"
    return {"assistance_number": number, "identity_number": person.number, "name": person.name,
            "assistance_type": city.rng.choice(("dibao", "tekun", "linshi")),
            "amount": Decimal(city.rng.randint(30_000, 150_000)) / 100,
            "payment_date": date(2024, 1, 1) + timedelta(days=city.rng.randint(0, 600)),
            "source": city.source("mz", "dbjz", number, "c")}


def _birth(city: _City, _update: bool) -> dict[str, Any]:
    mother = city.someone()
    father = city.someone() if city.rng.random() < 0.9 else None
    number = f"O330{city._next():09d}"
    born = date(2023, 1, 1) + timedelta(days=city.rng.randint(0, 700))
    return {"certificate_number": number, "mother_identity_number": mother.number,
            "father_identity_number": father.number if father else None,
            "newborn_sex_code": city.rng.choice(("1", "2")), "birth_date": born,
            "newborn_name": mother.name[0] + city.name()[1:], "birth_time": None,
            "mother_name": mother.name, "father_name": father.name if father else None,
            "birth_place": "浙江省杭州市妇产科医院", "issue_date": born + timedelta(days=3),
            "source": city.source("wjw", "csyxzm", number, "c")}


def _enterprise(city: _City, update: bool) -> dict[str, Any]:
    # An update changes the register's status or capital, never the legal representative: a
    # representative left without any record would lose his profile, and one coming back then
    # hits the bug reported with the benchmark (docs/benchmarks.md, "Projections").
    update = update and bool(city.enterprises)
    if update:
        code, name, rep = city.rng.choice(city.enterprises)
    else:
        code, rep = city.credit_code(), city.someone()
        name = f"杭州{city.name()}{city.rng.choice(('科技', '贸易', '餐饮', '建设'))}有限公司"
        city.enterprises.append((code, name, rep))
    return {"credit_code": code, "name": name, "legal_rep_identity_number": rep.number,
            "legal_rep_name": rep.name,
            "registered_capital": Decimal(city.rng.randint(10, 5_000) * 10_000),
            "founding_date": date(1995, 1, 1) + timedelta(days=city.rng.randint(0, 10_000)),
            "status_code": city.rng.choice(("1", "1", "1", "2")),
            "source": city.source("scjg", "qy_jbxx", code, "u" if update else "c")}


def _tax(city: _City, update: bool) -> dict[str, Any]:
    untaxed = len(city.taxed) < len(city.enterprises)
    update = (update or not untaxed) and bool(city.taxed)
    if update:
        code = city.rng.choice(city.taxed)
        name = _name_of(city, code)
    else:
        code, name, _rep = city.enterprises[len(city.taxed)]
        city.taxed.append(code)
    if city.rng.random() < 0.05:
        name = name.replace("有限公司", "有限责任公司")  # Tax spells the name another way
    return {"taxpayer_id": code, "taxpayer_name": name, "legal_rep_name": None,
            "status_code": city.rng.choice(("03", "03", "05")),
            "registration_date": date(1995, 1, 1) + timedelta(days=city.rng.randint(0, 10_000)),
            "source": city.source("sw", "swdj", code, "u" if update else "c")}


def _name_of(city: _City, code: str) -> str:
    index = int(code[8:17])  # credit codes are numbered in the order enterprises were drawn
    return city.enterprises[index][1]


_MAKERS = {"std.person": _person, "std.social_insurance": _insurance, "std.marriage": _marriage,
           "std.social_assistance": _assistance, "std.birth_certificate": _birth,
           "std.enterprise": _enterprise, "std.tax_registration": _tax}


def generate(events: int, seed: int = 20261127) -> Iterator[CanonicalEvent]:
    """``events`` canonical events drawn from :data:`MIX`, the same ones for the same seed."""
    rng = random.Random(seed)
    city = _City(rng, datetime(2025, 1, 1, tzinfo=UTC))
    kinds = [(topic, update) for topic, update, _share in MIX]
    weights = [share for _topic, _update, share in MIX]
    for _ in range(events):
        topic, update = rng.choices(kinds, weights)[0]
        if topic == "std.tax_registration" and not city.enterprises:
            topic, update = "std.enterprise", False  # nothing to register for tax yet
        value = _MAKERS[topic](city, update)
        yield CanonicalEvent(topic, {KEY_FIELD[topic]: value[KEY_FIELD[topic]]}, value)
