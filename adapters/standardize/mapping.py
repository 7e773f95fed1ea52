"""Declarative mappings from a legacy table's columns onto a canonical entity.

A mapping file (``schemas/mappings/<dept>.<table>.yaml``) lists each canonical field with its
legacy column, its transform and the transform's options; :meth:`Mapping.apply` turns one
legacy row into canonical fields or a :class:`Rejection` naming the first rule the row broke.
:func:`load_mapping` also checks the mapping against the entity's Avro schema, so a mapping
that could produce an unpublishable record fails at start-up, never per row.
"""

from __future__ import annotations

from collections.abc import Mapping as MappingType
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import Any

import yaml

from adapters.standardize.entity import SOURCE_FIELD, Entity, canonical_entity
from adapters.standardize.transforms import Transform, build_transform
from bus.standards.errors import StandardViolation

__all__ = ["FieldRule", "Mapping", "MappingError", "Rejection", "check_mapping", "find_mapping",
           "load_mapping", "load_mapping_file", "mapping_names", "parse_mapping"]

_FIELD_KEYS = {"column", "transform", "required"}


class MappingError(ValueError):
    """A mapping file that cannot be used; raised at start-up, never per row."""


@dataclass(frozen=True)
class FieldRule:
    field: str
    column: str
    transform: Transform
    required: bool = True
    transform_name: str = ""
    options: tuple[tuple[str, Any], ...] = ()


@dataclass(frozen=True)
class Rejection:
    """Why a row was refused: a stable rule id, reasons in two languages, the column."""

    rule_id: str
    message_zh: str
    message_en: str
    column: str | None


@dataclass(frozen=True)
class Mapping:
    department: str
    table: str
    entity: str
    key_column: str
    updated_column: str | None
    rules: tuple[FieldRule, ...]

    @property
    def source_topic(self) -> str:
        return f"legacy.{self.department}.{self.table}"

    @property
    def target_topic(self) -> str:
        return f"std.{self.entity}"

    @property
    def quarantine_topic(self) -> str:
        return f"quarantine.{self.department}.{self.table}"

    def apply(self, row: MappingType[str, object]) -> dict[str, Any] | Rejection:
        """Canonical fields, or the first rule the row breaks (rules run in file order).

        A blank optional column becomes ``None``; a required one that is blank, or whose value
        normalizes to nothing, is refused with ``<field>.missing`` unless its transform names
        a more precise rule (``id.missing``, ``name.missing`` …).
        """
        fields: dict[str, Any] = {}
        for rule in self.rules:
            raw = _as_text(row.get(rule.column))
            blank = raw is None or not raw.strip()
            if blank and not rule.required:
                fields[rule.field] = None
                continue
            try:
                value = rule.transform(raw or "")
            except StandardViolation as violation:
                if not rule.required and violation.rule_id.endswith(".missing"):
                    fields[rule.field] = None  # only invisible characters: as good as blank
                    continue
                return Rejection(
                    violation.rule_id, violation.message_zh, violation.message_en, rule.column
                )
            if blank or value == "":  # a transform that accepts "" must not invent data
                if not rule.required:
                    fields[rule.field] = None
                    continue
                return Rejection(
                    f"{rule.field}.missing", f"缺少必填字段 {rule.column}",
                    f"required column {rule.column} is empty", rule.column,
                )
            fields[rule.field] = value
        return fields


def _as_text(raw: object) -> str | None:
    """Row values are text (the change envelope carries text); anything else is read as text."""
    return raw if raw is None or isinstance(raw, str) else str(raw)


def parse_mapping(document: MappingType[str, Any]) -> Mapping:
    try:
        rules = []
        for field, spec in document["fields"].items():
            transform_name = spec["transform"]
            options = {k: v for k, v in spec.items() if k not in _FIELD_KEYS}
            try:
                transform = build_transform(transform_name, options)
            except (ValueError, KeyError) as exc:
                raise MappingError(f"field {field!r}: {exc}") from exc
            rules.append(FieldRule(field, spec["column"], transform, bool(spec.get("required", True)),
                                   transform_name, tuple(sorted(options.items(), key=str))))
        updated = document.get("updated_column")
        return Mapping(
            department=document["department"], table=document["table"],
            entity=document["entity"], key_column=document["key_column"],
            updated_column=None if updated is None else str(updated), rules=tuple(rules),
        )
    except (KeyError, TypeError, AttributeError) as exc:
        raise MappingError(f"mapping file is missing or misuses {exc}") from exc


def check_mapping(mapping: Mapping, entity: Entity) -> None:
    """Raise ``MappingError`` unless every record ``mapping`` yields fits ``entity``'s schema."""
    schema_fields = entity.fields
    mapped = {rule.field: rule for rule in mapping.rules}
    problems = [f"{name} is not a field of {entity.name}.avsc" for name in mapped
                if name not in schema_fields or name == SOURCE_FIELD]
    for name, field in schema_fields.items():
        if name == SOURCE_FIELD:
            continue
        rule = mapped.get(name)
        nullable = isinstance(field["type"], list) and "null" in field["type"]
        if rule is None and "default" not in field:
            problems.append(f"{name} has no default and no column")
        elif rule is not None and not rule.required and not nullable:
            problems.append(f"{name} is not nullable, so its column must be required")
        elif rule is not None and rule.transform_name == "amount":
            decimal = _decimal_of(field["type"])
            options = dict(rule.options)
            if decimal is None or (decimal.get("scale", 0), decimal["precision"]) != (
                    options["scale"], options["precision"]):
                problems.append(f"{name}: amount scale/precision differ from the schema's decimal")
    key_rule = mapped.get(entity.key_field)
    if key_rule is None or not key_rule.required:
        problems.append(f"the key field {entity.key_field} must be mapped and required")
    if problems:
        raise MappingError(f"{mapping.department}.{mapping.table}: " + "; ".join(problems))


def _decimal_of(avro_type: Any) -> dict[str, Any] | None:
    for branch in avro_type if isinstance(avro_type, list) else [avro_type]:
        if isinstance(branch, dict) and branch.get("logicalType") == "decimal":
            return branch
    return None


def load_mapping(name: str) -> Mapping:
    """The mapping ``schemas/mappings/<name>.yaml``, e.g. ``gongan.hj_ryxx``, checked against
    its entity's schema."""
    path = files("schemas").joinpath("mappings", f"{name}.yaml")
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise MappingError(f"no mapping file named {name}.yaml") from exc
    mapping = _checked(document, f"{name}.yaml")
    if f"{mapping.department}.{mapping.table}" != name:
        raise MappingError(f"{name}.yaml describes {mapping.department}.{mapping.table}")
    return mapping


def load_mapping_file(path: Path) -> Mapping:
    """A mapping from a file outside the shipped ones (e.g. a fix to try with
    ``bus quarantine replay --mapping FILE``), checked like a shipped one."""
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise MappingError(f"cannot read mapping file {path}: {exc.strerror or exc}") from exc
    except yaml.YAMLError as exc:
        raise MappingError(f"{path} is not YAML: {exc}") from exc
    return _checked(document, str(path))


def _checked(document: Any, where: str) -> Mapping:
    if not isinstance(document, dict):
        raise MappingError(f"{where}: a mapping file is a YAML mapping")
    mapping = parse_mapping(document)
    try:
        entity = canonical_entity(mapping.entity)
    except ValueError as exc:
        raise MappingError(f"{where}: {exc}") from exc
    check_mapping(mapping, entity)
    return mapping


def mapping_names() -> list[str]:
    """Every shipped mapping (``schemas/mappings/*.yaml``), sorted."""
    folder = files("schemas").joinpath("mappings")
    return sorted(entry.name.removesuffix(".yaml") for entry in folder.iterdir()
                  if entry.is_file() and entry.name.endswith(".yaml"))


def find_mapping(department: str, table: str) -> Mapping | None:
    """The mapping of a legacy table, or None when the table has none yet."""
    name = f"{department}.{table}"
    if not files("schemas").joinpath("mappings", f"{name}.yaml").is_file():
        return None
    return load_mapping(name)
