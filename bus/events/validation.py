"""A JSON body checked against a canonical event's Avro schema and the data standard.

Every field error is collected (not just the first): type, required, unknown field, code table,
identity number (GB 11643) and credit code (GB 32100) checks, each with the field's path. The
``source`` block is the bus's to fill — who published it, when — never the caller's.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from bus.governance.sources import CanonicalEntity
from bus.standards.codes import code_table
from bus.standards.credit_code import parse_credit_code
from bus.standards.divisions import is_known_division
from bus.standards.errors import StandardViolation
from bus.standards.idcard import parse_identity_number

__all__ = ["SERVER_FIELDS", "FieldError", "to_record"]

#: Filled by the bus, refused in a body.
SERVER_FIELDS = frozenset({"source"})
_SEX_CODES = frozenset({"0", "1", "2", "9"})


@dataclass(frozen=True)
class FieldError:
    field: str
    message: str

    def as_json(self) -> dict[str, str]:
        return {"field": self.field, "message": self.message}


class _Errors(list[FieldError]):
    def add(self, field: str, message: str) -> None:
        self.append(FieldError(field, message))


def to_record(entity: CanonicalEntity, body: Any) -> tuple[dict[str, Any], list[FieldError]]:
    """The Avro record of ``body`` (without ``source``) and every error found in it."""
    errors = _Errors()
    if not isinstance(body, Mapping):
        errors.add("", "the body must be a JSON object")
        return {}, errors
    for name in sorted(set(body) & SERVER_FIELDS):
        errors.add(name, "filled by the bus (who published, when); leave it out")
    fields = [f for f in entity.value_schema["fields"] if f["name"] not in SERVER_FIELDS]
    body = {k: v for k, v in body.items() if k not in SERVER_FIELDS}
    return _record("", fields, body, errors), errors


def _record(path: str, fields: list[dict[str, Any]], raw: Mapping[str, Any], errors: _Errors
            ) -> dict[str, Any]:
    known = {f["name"] for f in fields}
    for name in sorted(set(raw) - known):
        errors.add(f"{path}{name}", "not a field of this event")
    record: dict[str, Any] = {}
    for declared in fields:
        name = declared["name"]
        value = _value(f"{path}{name}", declared["type"], raw.get(name), name in raw, errors)
        if value is not None:
            value = _standard(f"{path}{name}", declared, value, errors)
        record[name] = value
    return record


def _value(path: str, schema: Any, raw: Any, present: bool, errors: _Errors) -> Any:
    if isinstance(schema, list):  # unions here are ["null", T]
        if raw is None:
            return None
        inner = next(s for s in schema if s != "null")
        return _value(path, inner, raw, present, errors)
    if raw is None:
        errors.add(path, "required" if not present else "must not be null")
        return None
    kind = schema.get("type") if isinstance(schema, dict) else schema
    logical = schema.get("logicalType") if isinstance(schema, dict) else None
    try:
        if logical == "date":
            return dt.date.fromisoformat(_text(raw))
        if logical == "timestamp-millis":
            moment = dt.datetime.fromisoformat(_text(raw).replace("Z", "+00:00"))
            return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
        if logical == "time-millis":
            return dt.time.fromisoformat(_text(raw))
        if logical == "decimal":
            return _decimal(raw, int(schema["precision"]), int(schema["scale"]))
    except (ValueError, InvalidOperation) as exc:
        errors.add(path, f"not a valid {logical}: {exc}")
        return None
    if kind == "string":
        if not isinstance(raw, str):
            errors.add(path, "must be a string")
            return None
        return raw
    if kind in ("int", "long"):
        if isinstance(raw, bool) or not isinstance(raw, int):
            errors.add(path, "must be an integer")
            return None
        return raw
    if kind == "array":
        if not isinstance(raw, list):
            errors.add(path, "must be an array")
            return None
        return [_value(f"{path}[{i}]", schema["items"], item, True, errors) for i, item in enumerate(raw)]
    if kind == "record":
        if not isinstance(raw, Mapping):
            errors.add(path, "must be an object")
            return None
        return _record(f"{path}.", schema["fields"], raw, errors)
    errors.add(path, f"type {kind} cannot be published through the API")
    return None


def _text(raw: Any) -> str:
    if not isinstance(raw, str):
        raise ValueError("must be a string")
    return raw


def _decimal(raw: Any, precision: int, scale: int) -> Decimal:
    if isinstance(raw, bool) or not isinstance(raw, str | int | float):
        raise ValueError("must be a number or a numeric string")
    value = Decimal(str(raw))
    quantized = value.quantize(Decimal(1).scaleb(-scale))
    if quantized != value:
        raise ValueError(f"more than {scale} decimal places")
    if len(quantized.as_tuple().digits) > precision:
        raise ValueError(f"more than {precision} digits")
    return quantized


def _standard(name: str, declared: Mapping[str, Any], value: Any, errors: _Errors) -> Any:
    standard, table = declared.get("standard"), declared.get("code_table")
    values = value if isinstance(value, list) else [value]
    checked = []
    for item in values:
        if not isinstance(item, str):
            checked.append(item)
            continue
        try:
            if standard == "GB 11643-1999":
                item = parse_identity_number(item).number
            elif standard == "GB 32100-2015":
                item = parse_credit_code(item)
        except StandardViolation as violation:
            errors.add(name, f"{violation.message_en} ({violation.rule_id})")
            checked.append(None)
            continue
        if table == "GB/T 2260" and not is_known_division(item):
            errors.add(name, f"{item!r} is not a GB/T 2260 division code")
        elif table == "GB/T 2261.1" and item not in _SEX_CODES:
            errors.add(name, f"{item!r} is not a GB/T 2261.1 sex code (0, 1, 2, 9)")
        elif table and table not in ("GB/T 2260", "GB/T 2261.1") and item not in code_table(table):
            errors.add(name, f"{item!r} is not in the code table {table} "
                             f"({', '.join(sorted(code_table(table)))})")
        checked.append(item)
    return checked if isinstance(value, list) else checked[0]
