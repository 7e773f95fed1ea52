"""Load the Avro schemas of the data standard shipped in ``schemas/avro``.

Every canonical entity ``<name>`` has a value schema ``<name>.avsc`` (published on
``std.<name>``) and a key schema ``<name>_key.avsc``. Every field carries ``doc``,
``classification`` (public / internal / personal / sensitive_personal), ``owner`` and
``authoritative_source``; see docs/standards.md.
"""

from __future__ import annotations

import json
from importlib.resources import files
from typing import Any

__all__ = ["CLASSIFICATIONS", "avro_schema_names", "entity_names", "load_avro_schema"]

#: Classifications after the PIPL categories, least to most sensitive.
CLASSIFICATIONS = ("public", "internal", "personal", "sensitive_personal")
_KEY_SUFFIX = "_key"


def load_avro_schema(name: str) -> dict[str, Any]:
    """The parsed JSON of ``schemas/avro/<name>.avsc``."""
    text = files("schemas").joinpath("avro", f"{name}.avsc").read_text(encoding="utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


def avro_schema_names() -> list[str]:
    """Names of every shipped schema (``schemas/avro/*.avsc``, not the history), sorted."""
    folder = files("schemas").joinpath("avro")
    return sorted(entry.name.removesuffix(".avsc") for entry in folder.iterdir()
                  if entry.is_file() and entry.name.endswith(".avsc"))


def entity_names() -> list[str]:
    """Canonical entities: schemas that come with a ``<name>_key.avsc``."""
    names = set(avro_schema_names())
    return sorted(name for name in names if f"{name}{_KEY_SUFFIX}" in names)
