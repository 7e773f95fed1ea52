"""GB/T 2260 administrative division codes, from the packaged code table."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from types import MappingProxyType
from typing import Literal

from schemas import read_code_table

__all__ = [
    "Division",
    "all_divisions",
    "counties_under",
    "division",
    "division_name",
    "is_known_division",
    "is_known_province",
    "province_of",
]

Level = Literal["province", "prefecture", "county"]
_TABLE = "divisions"


@dataclass(frozen=True, slots=True)
class Division:
    """One row of the code table: six-digit ``code``, ``parent`` is '' for provinces."""

    code: str
    name: str
    level: Level
    parent: str


@lru_cache(maxsize=1)
def all_divisions() -> MappingProxyType[str, Division]:
    """Every division by six-digit code (loaded once, on first use)."""
    table: dict[str, Division] = {}
    for row in read_code_table(_TABLE):
        table[row["code"]] = Division(row["code"], row["name"], _level(row), row["parent"])
    return MappingProxyType(table)


_LEVELS: dict[str, Level] = {"province": "province", "prefecture": "prefecture", "county": "county"}


def _level(row: dict[str, str]) -> Level:
    try:
        return _LEVELS[row["level"]]
    except KeyError:
        raise ValueError(f"divisions.csv: unknown level {row['level']!r} for {row['code']}") from None


def division(code: str) -> Division | None:
    """The division with this six-digit code, if the table knows it."""
    return all_divisions().get(code)


def division_name(code: str) -> str | None:
    """The name of a six-digit division code, or None when unknown."""
    found = division(code)
    return found.name if found is not None else None


def is_known_division(code: str) -> bool:
    """Whether the six-digit code is in the current table."""
    return code in all_divisions()


def province_of(code: str) -> Division | None:
    """The province a code (2, 4 or 6 digits) belongs to, or None if its prefix is unknown."""
    if len(code) < 2 or not code[:2].isdigit():
        return None
    return division(f"{code[:2]}0000")


def is_known_province(code: str) -> bool:
    """Whether the first two digits name a province — the check for historical codes."""
    return code[:2] in _province_prefixes()


@lru_cache(maxsize=1)
def _province_prefixes() -> frozenset[str]:
    return frozenset(code[:2] for code, d in all_divisions().items() if d.level == "province")


def counties_under(prefix: str) -> tuple[Division, ...]:
    """Counties whose code starts with ``prefix`` (e.g. '33' or '3301'), in code order."""
    return tuple(
        d for code, d in sorted(all_divisions().items()) if d.level == "county" and code.startswith(prefix)
    )
