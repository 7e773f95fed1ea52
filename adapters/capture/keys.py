"""Keyset paging over (possibly composite) keys, in a :class:`KeyOrder`.

A position is the key of the last row read, as text; ``None`` stands before every key.
In the native order the comparison is the index's own (``WHERE key > last ORDER BY key``), so
each chunk is an index range; in the text order every key is cast, no index serves it and
each chunk sorts the rest of the table.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from adapters.capture.sql import KeyOrder, OrderName, SqlDialect

#: The checkpoint field naming the order its key position was taken in.
ORDER_FIELD = "key_order"


def text_order(dialect: SqlDialect, columns: Sequence[str]) -> KeyOrder:
    """Keys compared as text: valid for any column type, but no index serves it."""
    return KeyOrder("text", tuple(dialect.as_text(dialect.quote(c)) for c in columns),
                    (dialect.param,) * len(columns))


def order_of(checkpoint: Mapping[str, Any] | None) -> OrderName:
    """The order a stored checkpoint's position was taken in (``text`` before it was recorded)."""
    return "native" if (checkpoint or {}).get(ORDER_FIELD) == "native" else "text"


def order_by(order: KeyOrder) -> str:
    return ", ".join(order.terms)


def after(order: KeyOrder, values: Sequence[str] | None) -> tuple[str, list[str]]:
    """SQL and parameters for "row key sorts after ``values``" (every row when None)."""
    if values is None:
        return "1 = 1", []
    if order.row_values and len(order.terms) > 1:
        return (f"({', '.join(order.terms)}) > ({', '.join(order.params)})", list(values))
    # Expanded, so that engines without index-served row values still get index ranges.
    clauses: list[str] = []
    params: list[str] = []
    for i, term in enumerate(order.terms):
        equal = [f"{order.terms[j]} = {order.params[j]}" for j in range(i)]
        clauses.append("(" + " AND ".join([*equal, f"{term} > {order.params[i]}"]) + ")")
        params.extend([*values[:i], values[i]])
    return "(" + " OR ".join(clauses) + ")", params


def at_or_before(order: KeyOrder, values: Sequence[str] | None) -> tuple[str, list[str]]:
    """SQL and parameters for "row key sorts at or before ``values``" (no row when None)."""
    if values is None:
        return "1 = 0", []
    clause, params = after(order, values)
    return f"NOT {clause}", params


def next_chunk_sql(dialect: SqlDialect, table: str, order: KeyOrder,
                   after_values: Sequence[str] | None, limit: int) -> tuple[str, list[str]]:
    """The next ``limit`` rows of ``table`` in key order after ``after_values`` (None: first)."""
    where, params = after(order, after_values)
    return (f"SELECT * FROM {dialect.quote(table)} WHERE {where} "
            f"ORDER BY {order_by(order)} LIMIT {int(limit)}", params)
