"""The little of DB-API 2.0 the seeds use, so pymysql and psycopg2 connections both fit."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, TypeVar

__all__ = ["Connection", "in_transaction"]

T = TypeVar("T")


class Connection(Protocol):
    def cursor(self) -> Any: ...
    def commit(self) -> None: ...
    def rollback(self) -> None: ...


def in_transaction(connection: Connection, work: Callable[[Any], T]) -> T:
    """Run ``work(cursor)`` and commit; roll back and re-raise on any error."""
    try:
        cursor = connection.cursor()
        try:
            result = work(cursor)
        finally:
            cursor.close()
        connection.commit()
    except BaseException:
        connection.rollback()
        raise
    return result
