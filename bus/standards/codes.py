"""Canonical code tables (``schemas/codes/<name>.csv``) and the mapping of local codes onto them.

A canonical code table has the columns ``code,name_zh,name_en``. Departments keep codes of
their own (Tax writes ``01`` for 正常, Market writes ``存续``); a :class:`LocalCodes` maps those
onto one canonical table and refuses anything it does not know, with rule ids
``<rule>.missing`` and ``<rule>.unknown_code``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from types import MappingProxyType

from bus.standards.errors import StandardViolation
from bus.standards.text import normalize_whitespace, to_half_width
from schemas import read_code_table

__all__ = ["Code", "InvalidCode", "LocalCodes", "code_key", "code_table"]


@dataclass(frozen=True, slots=True)
class Code:
    """One entry of a canonical code table."""

    code: str
    name_zh: str
    name_en: str


class InvalidCode(StandardViolation):
    """A local code that maps onto no entry of the canonical code table."""


@lru_cache(maxsize=32)
def code_table(name: str) -> MappingProxyType[str, Code]:
    """The canonical code table ``schemas/codes/<name>.csv`` by code (read once, on first use)."""
    try:
        rows = read_code_table(name)
    except FileNotFoundError:
        raise KeyError(f"no code table named {name!r}") from None
    table: dict[str, Code] = {}
    for row in rows:
        try:
            table[row["code"]] = Code(row["code"], row["name_zh"], row["name_en"])
        except KeyError as exc:
            raise ValueError(f"code table {name}.csv lacks the column {exc}") from None
    return MappingProxyType(table)


def code_key(raw: str) -> str:
    """How a local code is compared: half-width, collapsed whitespace, case-folded."""
    return normalize_whitespace(to_half_width(raw)).casefold()


@dataclass(frozen=True)
class LocalCodes:
    """A department's codes for one canonical table; canonical codes themselves are accepted too."""

    table: str
    local: Mapping[str, str]
    rule: str
    label_zh: str
    label_en: str
    _lookup: dict[str, str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        canonical = code_table(self.table)
        unknown = sorted(set(self.local.values()) - set(canonical))
        if unknown:
            raise ValueError(f"local codes map onto codes not in {self.table}.csv: {unknown}")
        lookup = {code_key(code): code for code in canonical}
        lookup.update({code_key(local): code for local, code in self.local.items()})
        object.__setattr__(self, "_lookup", lookup)

    def normalize(self, raw: str | None) -> str:
        """The canonical code for a local one."""
        key = code_key(raw) if isinstance(raw, str) else "" if raw is None else code_key(str(raw))
        if not key:
            raise InvalidCode(f"{self.rule}.missing", f"{self.label_zh}缺失", f"{self.label_en} is missing",
                              raw)
        try:
            return self._lookup[key]
        except KeyError:
            raise InvalidCode(
                f"{self.rule}.unknown_code", f"无法识别的{self.label_zh}代码：{raw!r}",
                f"unrecognised {self.label_en} code: {raw!r}", raw,
            ) from None
