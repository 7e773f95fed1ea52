"""Key-ordered paging over (possibly composite) keys, compared as text."""

from __future__ import annotations

from collections.abc import Sequence

from adapters.capture.sql import SqlDialect


def order_by(dialect: SqlDialect, columns: Sequence[str]) -> str:
    return ", ".join(dialect.as_text(dialect.quote(c)) for c in columns)


def after(dialect: SqlDialect, columns: Sequence[str], values: Sequence[str]) -> tuple[str, list[str]]:
    """SQL and parameters for "row key sorts after ``values``" (lexicographic on text)."""
    texts = [dialect.as_text(dialect.quote(c)) for c in columns]
    clauses: list[str] = []
    params: list[str] = []
    for i, text in enumerate(texts):
        equal = [f"{texts[j]} = {dialect.param}" for j in range(i)]
        clauses.append("(" + " AND ".join([*equal, f"{text} > {dialect.param}"]) + ")")
        params.extend([*values[:i], values[i]])
    return "(" + " OR ".join(clauses) + ")", params


def at_or_before(
    dialect: SqlDialect, columns: Sequence[str], values: Sequence[str]
) -> tuple[str, list[str]]:
    """SQL and parameters for "row key sorts at or before ``values``"."""
    clause, params = after(dialect, columns, values)
    return f"NOT {clause}", params


def next_chunk_sql(dialect: SqlDialect, table: str, columns: Sequence[str],
                   after_values: Sequence[str] | None, limit: int) -> tuple[str, list[str]]:
    """The next ``limit`` rows of ``table`` in key order after ``after_values`` (None: first)."""
    if after_values is None:
        where, params = "1 = 1", list[str]()
    else:
        where, params = after(dialect, columns, after_values)
    return (f"SELECT * FROM {dialect.quote(table)} WHERE {where} "
            f"ORDER BY {order_by(dialect, columns)} LIMIT {int(limit)}", params)
