"""Parsing Avro schema text and its canonical form, the identity of a registered schema.

The canonical form is avro's normalized JSON (``Schema.to_json``) printed compactly: it
ignores whitespace and key order but keeps what changes the meaning of data (defaults, docs,
aliases, logical types), so the same schema sent twice maps to the same id.
"""

from __future__ import annotations

import json

import avro.errors
import avro.schema

from bus.registry.errors import InvalidSchema

__all__ = ["canonical_text", "parse_avro"]


def parse_avro(text: str) -> avro.schema.Schema:
    """Parse Avro schema JSON text; raise InvalidSchema (42201) when it is not a valid schema."""
    try:
        return avro.schema.parse(text)
    except (avro.errors.AvroException, json.JSONDecodeError, TypeError, ValueError) as exc:
        raise InvalidSchema(f"Invalid schema: {exc}") from exc


def canonical_text(schema: avro.schema.Schema | str) -> str:
    """The compact normalized JSON of a schema (parsing it first when given text)."""
    parsed = parse_avro(schema) if isinstance(schema, str) else schema
    return json.dumps(parsed.to_json(), separators=(",", ":"), ensure_ascii=False)
