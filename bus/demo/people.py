"""Synthetic residents of the reference government: clean values, before any noise.

Everything is drawn from the ``random.Random`` passed in, so a seed fixes the output.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache

from bus.demo.draw import below, between, pick
from bus.standards.divisions import Division, all_divisions, counties_under
from bus.standards.idcard import compute_check_char

__all__ = [
    "REFERENCE_PREFECTURES",
    "Person",
    "make_person",
    "reference_counties",
]

# The reference government: Hangzhou and Ningbo (Zhejiang).
REFERENCE_PREFECTURES = ("3301", "3302")

# Weighted roughly like the national frequency of the most common surnames.
_SURNAMES = (
    "王王王王李李李李张张张张刘刘刘陈陈陈杨杨黄黄赵赵吴吴周周徐孙马朱胡郭何高林罗"
    "郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪"
)
_COMPOUND_SURNAMES = ("欧阳", "司马", "上官", "诸葛", "东方", "慕容")
_GIVEN = (
    "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超兰霞平刚桂英华玉萍红娥玲芬燕彬鹏辉建国"
    "志宏海波晓东文斌俊浩宇轩子涵欣怡梓萱雨佳一诺思源博文嘉怡睿晨浩然雅琪婷婷"
)
# Homophones clerks typed by mistake (same pinyin, different character).
HOMOPHONES: dict[str, str] = {
    "伟": "玮",
    "芳": "方",
    "静": "婧",
    "丽": "莉",
    "明": "铭",
    "华": "桦",
    "军": "君",
    "杰": "洁",
    "红": "宏",
    "玲": "灵",
    "涛": "滔",
    "婷": "亭",
    "宇": "雨",
    "晨": "辰",
    "浩": "皓",
    "文": "雯",
    "海": "还",
    "欣": "新",
}
# Abolished / renumbered county codes still printed on old identity cards.
_HISTORICAL_CODES = ("330103", "330104", "330121", "330123", "330203", "330204")
_STREETS = (
    "解放路",
    "延安路",
    "中山路",
    "人民路",
    "建设路",
    "文三路",
    "学院路",
    "环城北路",
    "凤起路",
    "庆春路",
    "天目山路",
    "江南大道",
    "钱江路",
    "百丈路",
    "和义路",
    "江东北路",
)
_COMMUNITIES = ("阳光花园", "翠苑", "金色家园", "和平里", "望江苑", "紫金港小区", "东方名苑")

_EARLIEST_BIRTH = date(1930, 1, 1)


@dataclass(frozen=True, slots=True)
class Person:
    """A resident as the truth has it: the clean values, no noise yet."""

    name: str
    male: bool
    birth_date: date
    county: Division
    id18: str

    @property
    def id15(self) -> str | None:
        """The old 15-digit form, for people born in the 1900s only."""
        if not self.id18.startswith("19", 6):
            return None
        return self.id18[:6] + self.id18[8:17]


@lru_cache(maxsize=1)
def reference_counties() -> tuple[Division, ...]:
    """County codes of the reference government (statistical development zones left out)."""
    counties = tuple(
        county
        for prefecture in REFERENCE_PREFECTURES
        for county in counties_under(prefecture)
        if int(county.code[4:]) < 70
    )
    if not counties:
        raise LookupError(f"no counties under {REFERENCE_PREFECTURES} in divisions.csv")
    return counties


@lru_cache(maxsize=1)
def _all_counties() -> tuple[Division, ...]:
    return tuple(d for d in all_divisions().values() if d.level == "county")


def make_person(rng: random.Random, *, latest_birth: date) -> Person:
    """Draw one resident of the reference government."""
    male = rng.random() < 0.5
    birth = _EARLIEST_BIRTH + timedelta(days=below(rng, (latest_birth - _EARLIEST_BIRTH).days + 1))
    county = pick(rng, reference_counties())
    sequence = 2 * below(rng, 500) + (1 if male else 0)
    body = f"{_id_division(rng, county)}{birth.year:04d}{birth.month:02d}{birth.day:02d}{sequence:03d}"
    return Person(
        name=make_name(rng),
        male=male,
        birth_date=birth,
        county=county,
        id18=body + compute_check_char(body),
    )


def make_name(rng: random.Random) -> str:
    """A common Chinese name: surname plus one or two given-name characters."""
    surname = pick(rng, _COMPOUND_SURNAMES) if rng.random() < 0.01 else pick(rng, _SURNAMES)
    given_length = 1 if rng.random() < 0.3 else 2
    return surname + "".join(pick(rng, _GIVEN) for _ in range(given_length))


def make_address(rng: random.Random, county: Division) -> str:
    """A household address: province, prefecture, county, street, number (maybe a flat)."""
    prefecture = all_divisions()[county.parent]
    province = all_divisions()[prefecture.parent]
    street = f"{pick(rng, _STREETS)}{between(rng, 1, 999)}号"
    if rng.random() < 0.6:
        street += (
            f"{pick(rng, _COMMUNITIES)}{between(rng, 1, 30)}幢"
            f"{between(rng, 1, 4)}单元{between(rng, 1, 28)}{between(rng, 1, 4):02d}室"
        )
    return f"{province.name}{prefecture.name}{county.name}{street}"


def _id_division(rng: random.Random, county: Division) -> str:
    """Where the identity number was issued: mostly the household county."""
    roll = rng.random()
    if roll < 0.85:
        return county.code
    if roll < 0.97:
        return pick(rng, _all_counties()).code  # moved here from elsewhere
    return pick(rng, _HISTORICAL_CODES)
