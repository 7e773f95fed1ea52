"""Generate ``bus/client/models.py``: one pydantic model per record of the shipped Avro schemas.

Run ``python -m bus.client.codegen`` after a schema change (``--check`` exits 1 when the
committed file differs; a unit test does the same). The canonical events (namespace
``rongtong.std``: value and key) and the projection documents (``rongtong.projection``) become
models; nested records become models of their own, defined once by their full Avro name.

Type mapping: ``string`` → ``str``, ``int``/``long`` → ``int``, ``float``/``double`` →
``float``, ``boolean`` → ``bool``, ``bytes`` → ``bytes``, ``["null", T]`` → ``T | None``
(default ``None``), ``array`` → ``list``, ``map`` → ``dict[str, …]``, ``enum`` → ``Literal``,
logical ``date`` → ``datetime.date``, ``timestamp-millis``/``-micros`` → ``datetime.datetime``,
``time-millis`` → ``datetime.time``, ``decimal`` → ``decimal.Decimal``. A field's ``doc`` is its
description; ``classification``, ``owner``, ``authoritative_source``, ``standard``,
``code_table`` and ``unit`` go into ``json_schema_extra``. The canonical events' ``source`` is
filled by the bus, so it is optional in the models (an application leaves it out).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from schemas.avro_schemas import avro_schema_names, load_avro_schema

__all__ = ["GeneratedModels", "generate", "main"]

#: Namespaces whose schemas become models (canonical events, projection documents).
NAMESPACES = ("rongtong.std", "rongtong.projection")
#: Projection documents: which projections publish each schema (``projection.<name>``).
PROJECTIONS = {"newborn_case": ("newborn_case",),
               "projection_profile": ("citizen_profile", "enterprise_profile")}
#: Filled by the bus on every canonical event; an application never sends it.
SERVER_FIELDS = frozenset({"source"})
METADATA = ("classification", "owner", "authoritative_source", "standard", "code_table", "unit")
_PRIMITIVES = {"string": "str", "int": "int", "long": "int", "float": "float", "double": "float",
               "boolean": "bool", "bytes": "bytes", "null": "None"}
_LOGICAL = {"date": "dt.date", "timestamp-millis": "dt.datetime", "timestamp-micros": "dt.datetime",
            "time-millis": "dt.time", "time-micros": "dt.time", "decimal": "Decimal", "uuid": "str"}
OUTPUT = Path(__file__).with_name("models.py")

_HEADER = '''\
# ruff: noqa: E501
"""Typed models of the bus's events, GENERATED from ``schemas/avro/*.avsc`` — do not edit.

Regenerate with ``python -m bus.client.codegen`` (a unit test fails when this file and the
schemas disagree). One model per record; field descriptions are the schemas' docs and each
field's classification is in its JSON schema (``json_schema_extra``).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import ClassVar{literal}

from pydantic import BaseModel, ConfigDict, Field

'''


class CodegenError(ValueError):
    """A schema the generator cannot map (two different records of one name, an odd type)."""


@dataclass
class GeneratedModels:
    """The generated module's text and what it defines."""

    text: str
    classes: list[str] = field(default_factory=list)
    event_types: dict[str, str] = field(default_factory=dict)


@dataclass
class _Writer:
    blocks: list[str] = field(default_factory=list)
    defined: dict[str, tuple[str, str]] = field(default_factory=dict)  # full name → (class, json)
    classes: list[str] = field(default_factory=list)

    def record(self, schema: dict[str, Any], namespace: str, *, top: str | None = None,
               class_vars: Iterable[str] = ()) -> str:
        """The class name of record ``schema``, emitting it (and its nested records) once."""
        space = schema.get("namespace", namespace)
        full = f"{space}.{schema['name']}"
        shape = json.dumps(schema, sort_keys=True, ensure_ascii=False)
        if full in self.defined:
            name, seen = self.defined[full]
            if seen != shape:
                raise CodegenError(f"two different records are named {full}")
            return name
        name = str(schema["name"])
        if name in {n for n, _ in self.defined.values()}:
            raise CodegenError(f"two records share the class name {name} ({full})")
        self.defined[full] = (name, shape)
        lines = [f"class {name}(BaseModel):"]
        lines.append(f"    {_docstring(schema.get('doc') or f'Avro record {full}.', 4)}")
        lines.append("")
        lines.append('    model_config = ConfigDict(extra="allow")')
        lines.append(f"    avro_name: ClassVar[str] = {full!r}")
        lines.extend(f"    {line}" for line in class_vars)
        for declared in schema["fields"]:
            server = top == "rongtong.std" and declared["name"] in SERVER_FIELDS
            lines.append(self._field(declared, space, server))
        self.blocks.append("\n".join(lines))
        self.classes.append(name)
        return name

    def _field(self, declared: dict[str, Any], namespace: str, server: bool) -> str:
        annotation, nullable = self.annotation(declared["type"], namespace)
        arguments: list[str] = []
        if "default" in declared:
            default = declared["default"]
            if isinstance(default, list | dict):
                if default:
                    raise CodegenError(f"field {declared['name']}: only empty collection defaults")
                arguments.append(f"default_factory={type(default).__name__}")
            elif default is None:
                arguments.append("default=None")
            elif isinstance(default, str | int | float | bool):
                arguments.append(f"default={default!r}")
        elif server and not nullable:
            annotation, nullable = f"{annotation} | None", True
            arguments.append("default=None")
        doc = str(declared.get("doc", ""))
        if server:
            doc = f"{doc} Filled by the bus; leave it out when publishing.".strip()
        if doc:
            arguments.append(f"description={doc!r}")
        extra = {key: declared[key] for key in METADATA if key in declared}
        if extra:
            arguments.append(f"json_schema_extra={extra!r}")
        return f"    {declared['name']}: {annotation} = Field({', '.join(arguments)})"

    def annotation(self, schema: Any, namespace: str) -> tuple[str, bool]:
        """The Python type of an Avro type, and whether it admits None."""
        if isinstance(schema, list):
            branches = [s for s in schema if s != "null"]
            if not branches:
                return "None", True
            types = [self.annotation(s, namespace)[0] for s in branches]
            nullable = len(branches) < len(schema)
            return " | ".join(types + (["None"] if nullable else [])), nullable
        if isinstance(schema, str):
            if schema in _PRIMITIVES:
                return _PRIMITIVES[schema], schema == "null"
            full = schema if "." in schema else f"{namespace}.{schema}"
            if full not in self.defined:
                raise CodegenError(f"record {schema} is used before it is defined")
            return self.defined[full][0], False
        logical = schema.get("logicalType")
        if logical in _LOGICAL:
            return _LOGICAL[logical], False
        kind = schema["type"]
        if kind == "record":
            return self.record(schema, namespace), False
        if kind == "array":
            return f"list[{self.annotation(schema['items'], namespace)[0]}]", False
        if kind == "map":
            return f"dict[str, {self.annotation(schema['values'], namespace)[0]}]", False
        if kind == "enum":
            return "Literal[" + ", ".join(repr(s) for s in schema["symbols"]) + "]", False
        if kind in _PRIMITIVES:
            return _PRIMITIVES[kind], kind == "null"
        raise CodegenError(f"Avro type {kind!r} has no mapping")


def _docstring(text: str, indent: int) -> str:
    text = " ".join(text.split()).replace("\\", "\\\\").replace('"""', '\\"\\"\\"')
    return f'"""{text}"""'


def _event_types(stem: str, namespace: str) -> tuple[str, ...]:
    if namespace == "rongtong.std":
        return (f"rongtong.std.{stem}.upserted", f"rongtong.std.{stem}.deleted")
    return tuple(f"rongtong.projection.{name}.changed" for name in PROJECTIONS.get(stem, ()))


def generate(names: Iterable[str] | None = None) -> GeneratedModels:
    """The text of ``models.py`` for the shipped schemas (or those named)."""
    stems = sorted(avro_schema_names() if names is None else names)
    writer = _Writer()
    event_types: dict[str, str] = {}
    entities: dict[str, str] = {}
    keys: dict[str, str] = {}
    for stem in (s for s in stems if not s.endswith("_key")):
        schema = load_avro_schema(stem)
        namespace = schema.get("namespace", "")
        if namespace not in NAMESPACES:
            continue
        types = _event_types(stem, namespace)
        class_vars = [f"event_types: ClassVar[tuple[str, ...]] = {types!r}"]
        if namespace == "rongtong.std":
            class_vars.append(f"entity: ClassVar[str] = {stem!r}")
        name = writer.record(schema, namespace, top=namespace, class_vars=class_vars)
        event_types.update(dict.fromkeys(types, name))
        if namespace == "rongtong.std":
            entities[stem] = name
        if f"{stem}_key" in stems:
            key_schema = load_avro_schema(f"{stem}_key")
            keys[stem] = writer.record(key_schema, key_schema.get("namespace", namespace))
    body = "\n\n\n".join(writer.blocks)
    tables = [
        "#: The model of each event type's data (``Delivery.data``).",
        "EVENT_MODELS: dict[str, type[BaseModel]] = {",
        *(f"    {t!r}: {c}," for t, c in sorted(event_types.items())),
        "}",
        "#: The value model of each canonical entity (``std.<entity>``).",
        "ENTITY_MODELS: dict[str, type[BaseModel]] = {",
        *(f"    {e!r}: {c}," for e, c in sorted(entities.items())),
        "}",
        "#: The key model of each entity or projection.",
        "KEY_MODELS: dict[str, type[BaseModel]] = {",
        *(f"    {e!r}: {c}," for e, c in sorted(keys.items())),
        "}",
    ]
    exported = ["ENTITY_MODELS", "EVENT_MODELS", "KEY_MODELS", *sorted(writer.classes)]
    all_lines = ["__all__ = ["] + [f'    "{n}",' for n in exported] + ["]"]
    header = _HEADER.format(literal=", Literal" if "Literal[" in body else "")
    text = header + "\n".join(all_lines) + "\n\n\n" + body + "\n\n\n" + "\n".join(tables) + "\n"
    return GeneratedModels(text=text, classes=writer.classes, event_types=event_types)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bus.client.codegen", description=__doc__.split("\n")[0])
    parser.add_argument("--output", type=Path, default=OUTPUT, help="where to write (default: %(default)s)")
    parser.add_argument("--check", action="store_true",
                        help="write nothing; exit 1 when the file differs from the schemas")
    options = parser.parse_args(argv)
    try:
        generated = generate()
    except CodegenError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    current = options.output.read_text(encoding="utf-8") if options.output.exists() else ""
    if options.check:
        if current != generated.text:
            print(f"{options.output} is out of date: run python -m bus.client.codegen", file=sys.stderr)
            return 1
        print(f"{options.output} is up to date ({len(generated.classes)} models)")
        return 0
    options.output.write_text(generated.text, encoding="utf-8")
    print(f"wrote {options.output}: {len(generated.classes)} models, "
          f"{len(generated.event_types)} event types")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
