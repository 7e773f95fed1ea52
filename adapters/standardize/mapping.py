"""Declarative mappings from a legacy table's columns onto a canonical entity.

A mapping file (``schemas/mappings/<dept>.<table>.yaml``) lists each canonical field with its
legacy column and transform; :meth:`Mapping.apply` turns one legacy row into canonical fields
or a :class:`Rejection` naming the first rule the row broke.
"""

from __future__ import annotations

from collections.abc import Mapping as MappingType
from dataclasses import dataclass
from importlib.resources import files
from typing import Any

import yaml

from adapters.standardize.transforms import TRANSFORMS, Transform
from bus.standards.errors import StandardViolation


class MappingError(ValueError):
    """A mapping file that cannot be used; raised at start-up, never per row."""


@dataclass(frozen=True)
class FieldRule:
    field: str
    column: str
    transform: Transform
    required: bool = True


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
    updated_column: str
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

    def apply(self, row: MappingType[str, str | None]) -> dict[str, Any] | Rejection:
        fields: dict[str, Any] = {}
        for rule in self.rules:
            raw = row.get(rule.column)
            empty = raw is None or not raw.strip()
            if empty and not rule.required:
                fields[rule.field] = None
                continue
            try:
                fields[rule.field] = rule.transform(raw or "")
            except StandardViolation as violation:
                return Rejection(
                    violation.rule_id, violation.message_zh, violation.message_en, rule.column
                )
            if empty:  # a transform that accepts "" must not turn a missing value into data
                return Rejection(
                    f"{rule.field}.missing", f"缺少必填字段 {rule.column}",
                    f"required column {rule.column} is empty", rule.column,
                )
        return fields


def parse_mapping(document: MappingType[str, Any]) -> Mapping:
    try:
        rules = []
        for field, spec in document["fields"].items():
            transform_name = spec["transform"]
            if transform_name not in TRANSFORMS:
                raise MappingError(f"unknown transform {transform_name!r} for field {field!r}")
            rules.append(FieldRule(field, spec["column"], TRANSFORMS[transform_name],
                                   bool(spec.get("required", True))))
        return Mapping(
            department=document["department"], table=document["table"],
            entity=document["entity"], key_column=document["key_column"],
            updated_column=document["updated_column"], rules=tuple(rules),
        )
    except (KeyError, TypeError, AttributeError) as exc:
        raise MappingError(f"mapping file is missing or misuses {exc}") from exc


def load_mapping(name: str) -> Mapping:
    """The mapping ``schemas/mappings/<name>.yaml``, e.g. ``gongan.hj_ryxx``."""
    path = files("schemas").joinpath("mappings", f"{name}.yaml")
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise MappingError(f"no mapping file named {name}.yaml") from exc
    return parse_mapping(document)


def find_mapping(department: str, table: str) -> Mapping | None:
    """The mapping of a legacy table, or None when the table has none yet."""
    name = f"{department}.{table}"
    if not files("schemas").joinpath("mappings", f"{name}.yaml").is_file():
        return None
    return load_mapping(name)
