"""Load the Avro schemas of the data standard shipped in ``schemas/avro``."""

from __future__ import annotations

import json
from importlib.resources import files
from typing import Any


def load_avro_schema(name: str) -> dict[str, Any]:
    """The parsed JSON of ``schemas/avro/<name>.avsc``."""
    text = files("schemas").joinpath("avro", f"{name}.avsc").read_text(encoding="utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema
