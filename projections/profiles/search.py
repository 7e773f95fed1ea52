"""Search over a profile store by the values of its current profiles.

The store's ``profile_search`` holds (field, value, subject) for the searchable fields
(``store.SEARCHABLE``) and is rewritten with each profile in the same transaction, so a search
never finds a profile the store does not hold. Values are the profiles' own standardized
values, compared exactly (without whitespace).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from projections.profiles.readers import Readers
from projections.profiles.store import searchable_text

__all__ = ["SearchPage", "search"]


@dataclass(frozen=True)
class SearchPage:
    subjects: list[str]
    more: bool


def search(readers: Readers, criteria: Mapping[str, str], *, after: str = "",
           limit: int = 50) -> SearchPage:
    """Subjects whose current profile has every (field, value) of ``criteria``, in order."""
    if not criteria:
        raise ValueError("search needs at least one field")
    pairs = [(field, searchable_text(value) or "") for field, value in sorted(criteria.items())]
    (first_field, first_value), rest = pairs[0], pairs[1:]
    sql = ["SELECT s.subject FROM profile_search s WHERE s.field = ? AND s.value = ? AND s.subject > ?"]
    params: list[Any] = [first_field, first_value, after]
    for field, value in rest:
        sql.append("AND EXISTS (SELECT 1 FROM profile_search o WHERE o.subject = s.subject "
                   "AND o.field = ? AND o.value = ?)")
        params += [field, value]
    sql.append("ORDER BY s.subject LIMIT ?")
    params.append(limit + 1)
    with readers.connection() as db:
        if db is None:
            return SearchPage([], False)
        try:
            rows = db.execute(" ".join(sql), params).fetchall()
        except db.not_ready:
            return SearchPage([], False)
    subjects = [str(r[0]) for r in rows]
    return SearchPage(subjects[:limit], len(subjects) > limit)
