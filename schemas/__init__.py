"""Shipped schemas and code tables: the bottom layer, importing nothing of the bus."""

from __future__ import annotations

import csv
import io
from importlib.resources import files
from importlib.resources.abc import Traversable

__all__ = ["code_table_path", "read_code_table"]


def code_table_path(name: str) -> Traversable:
    """Return the packaged code table ``schemas/codes/<name>.csv``."""
    return files(__name__) / "codes" / f"{name}.csv"


def read_code_table(name: str) -> list[dict[str, str]]:
    """Read a packaged code table as a list of rows keyed by column name."""
    text = code_table_path(name).read_text(encoding="utf-8")
    return list(csv.DictReader(io.StringIO(text)))
