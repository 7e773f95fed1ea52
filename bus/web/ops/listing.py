"""Server-side filtering, sorting and paging of the dashboard's tables.

Query parameters: ``q`` (substring of the row's name, case-insensitive), ``kind``, ``sort``
(a column; ``-column`` sorts descending), ``page`` (from 1) and ``size`` (at most 200). A table
of 500 consumer groups leaves the server one page at a time.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["ListingError", "Query", "page_of"]

MAX_SIZE = 200


class ListingError(ValueError):
    """A query parameter the listing cannot use (the caller answers 400)."""

    def __init__(self, parameter: str, detail: str) -> None:
        super().__init__(detail)
        self.parameter = parameter


@dataclass(frozen=True)
class Query:
    text: str = ""
    kind: str = ""
    sort: str = ""
    descending: bool = False
    page: int = 1
    size: int = 50

    @classmethod
    def parse(cls, params: Mapping[str, str], *, default_sort: str = "",
              default_size: int = 50) -> Query:
        sort = params.get("sort", default_sort).strip()
        descending = sort.startswith("-")
        page = _positive(params, "page", 1)
        size = _positive(params, "size", default_size)
        if size > MAX_SIZE:
            raise ListingError("size", f"size is at most {MAX_SIZE}")
        return cls(params.get("q", "").strip().lower(), params.get("kind", "").strip(),
                   sort.lstrip("-"), descending, page, size)


def _positive(params: Mapping[str, str], name: str, default: int) -> int:
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    if not raw.isdigit() or int(raw) < 1:
        raise ListingError(name, f"{name} is a whole number from 1")
    return int(raw)


def _sort_key(column: str) -> Any:
    def key(row: Mapping[str, Any]) -> tuple[int, Any]:
        value = row.get(column)
        if value is None:
            return (1, 0)
        if isinstance(value, list | tuple):
            return (0, len(value))
        return (0, value)
    return key


def page_of(rows: Sequence[Mapping[str, Any]], query: Query, *, name: str,
            columns: Sequence[str]) -> dict[str, Any]:
    """The page ``query`` asks for: ``items``, ``total`` (after filtering), ``page``, ``size``."""
    if query.sort and query.sort not in columns:
        raise ListingError("sort", f"sort by one of: {', '.join(columns)}")
    chosen = [r for r in rows
              if (not query.text or query.text in str(r.get(name, "")).lower())
              and (not query.kind or r.get("kind") == query.kind)]
    chosen.sort(key=lambda r: str(r.get(name, "")))
    if query.sort:
        present = [r for r in chosen if r.get(query.sort) is not None]
        absent = [r for r in chosen if r.get(query.sort) is None]
        present.sort(key=_sort_key(query.sort), reverse=query.descending)
        chosen = present + absent
    start = (query.page - 1) * query.size
    return {"items": [dict(r) for r in chosen[start:start + query.size]], "total": len(chosen),
            "page": query.page, "size": query.size}
