"""A PostgreSQL table's key values typed like their columns, from the text we hold of them.

Checkpoints keep key values as PostgreSQL's text output; cast back to the column's type (and
collation), such a value compares exactly as the column does, in the order its index has.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from adapters.capture.engines.postgres_connect import catalog_rows

__all__ = ["key_casts"]

_KEY_TYPES_SQL = """
SELECT a.attname, format_type(a.atttypid, a.atttypmod), c.collname
FROM pg_attribute a LEFT JOIN pg_collation c ON c.oid = a.attcollation AND a.attcollation <> 0
WHERE a.attrelid = to_regclass(%s) AND a.attname = ANY(%s) AND a.attnum > 0 AND NOT a.attisdropped"""


def key_casts(cursor: Any, qualified_table: str, key: Sequence[str],
              values: Sequence[str]) -> list[str]:
    """``CAST(value AS <column type>) [COLLATE <column collation>]`` for each key column.

    ``values`` are SQL expressions (placeholders or column references), one per key column.
    """
    cursor.execute(_KEY_TYPES_SQL, (qualified_table, list(key)))
    found = {str(name): (str(type_), collation)
             for name, type_, collation in catalog_rows(cursor.fetchall())}
    casts = []
    for column, value in zip(key, values, strict=True):
        type_, collation = found[column]
        collate = "" if collation is None else ' COLLATE "' + str(collation).replace('"', '""') + '"'
        casts.append(f"CAST({value} AS {type_}){collate}")
    return casts
