"""A MariaDB/MySQL table's key values typed like their columns, from the text we hold of them.

Checkpoints keep key values as text (:func:`adapters.capture.engines.mariadb_sql.text_of`).
Compared with a column as they are, strings meet numbers as floating point (wrong beyond
2**53, e.g. 18-digit identity numbers in a BIGINT) and bytes meet text in the connection's
collation; converted back to the column's type and collation, they compare exactly as the
column does, in the order its index has.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = ["ColumnType", "column_types", "reads_back", "typed"]

#: DATA_TYPE, CHARACTER_SET_NAME and COLLATION_NAME of a column (information_schema).
ColumnType = tuple[str, str | None, str | None]

_NUMERIC = {"tinyint", "smallint", "mediumint", "int", "integer", "bigint", "decimal", "numeric",
            "float", "double", "real", "year", "bit"}
_TEMPORAL = {"date": "DATE", "datetime": "DATETIME(6)", "timestamp": "DATETIME(6)", "time": "TIME(6)"}
_CHARACTER = {"char", "varchar", "tinytext", "text", "mediumtext", "longtext"}


#: Types whose text (as the capture writes it) reads back through :func:`typed` as the same
#: value, ordered as the column orders it; not floats (rounded text), bits, bytes (decoded
#: text) nor ENUM/SET (ordered by their index, not their text).
_READ_BACK = {"tinyint", "smallint", "mediumint", "int", "integer", "bigint", "decimal", "numeric",
              "year", *_TEMPORAL, *_CHARACTER}


def reads_back(column: ColumnType) -> bool:
    """Whether a key value's text, through :func:`typed`, is the column's value again."""
    data_type, charset, _collation = column
    return data_type in _READ_BACK and (data_type not in _CHARACTER or charset is not None)


def typed(column: ColumnType, placeholder: str) -> str:
    """SQL reading ``placeholder`` (a value's text) as a value of ``column``'s type."""
    data_type, charset, collation = column
    if data_type in _NUMERIC:
        return f"CAST({placeholder} AS DECIMAL(65,30))"
    if data_type in _TEMPORAL:
        return f"CAST({placeholder} AS {_TEMPORAL[data_type]})"
    if charset and collation:
        return f"CONVERT({placeholder} USING {charset}) COLLATE {collation}"
    return f"CAST({placeholder} AS BINARY)"


def column_types(cursor: Any, database: str, table: str, key: Sequence[str]) -> list[ColumnType]:
    """The :data:`ColumnType` of each key column of ``database.table`` (one query)."""
    cursor.execute(
        "SELECT COLUMN_NAME, DATA_TYPE, CHARACTER_SET_NAME, COLLATION_NAME "
        "FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s",
        (database, table))
    # MariaDB column names are case-insensitive, so may be the configured key's.
    found = {str(row[0]).lower(): (str(row[1]).lower(), row[2], row[3])
             for row in cursor.fetchall()}
    return [found[column.lower()] for column in key]
