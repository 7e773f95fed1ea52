"""Named transforms a mapping file may use: each validates one legacy value against a standard.

A transform returns the canonical value or raises :class:`StandardViolation` with a rule id.
Plain transforms take no options (``transform: identity_number``); parameterized ones are
built from the options written beside them in the mapping file (``transform: code`` with
``code_table`` and ``local_codes``, ``transform: amount`` with ``scale`` and ``precision``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date, time
from decimal import Decimal
from typing import Any

from bus.standards.amounts import normalize_amount
from bus.standards.codes import LocalCodes
from bus.standards.credit_code import parse_credit_code
from bus.standards.dates import normalize_date, normalize_time
from bus.standards.divisions import is_known_division
from bus.standards.errors import StandardViolation
from bus.standards.idcard import parse_identity_number
from bus.standards.sex import normalize_sex
from bus.standards.text import normalize_name, normalize_whitespace, to_half_width

__all__ = ["FACTORIES", "TRANSFORMS", "Transform", "TransformFactory", "build_transform"]

Transform = Callable[[str], object]
TransformFactory = Callable[[Mapping[str, Any]], Transform]


def identity_number(raw: str) -> str:
    return parse_identity_number(raw).number


def credit_code(raw: str) -> str:
    return parse_credit_code(raw)


def sex_code(raw: str) -> str:
    return str(int(normalize_sex(raw)))


def birth_date(raw: str) -> date:
    return normalize_date(raw)


def time_of_day(raw: str) -> time:
    return normalize_time(raw)


def name(raw: str) -> str:
    value = normalize_name(raw)
    if not value:
        raise StandardViolation("name.missing", "姓名为空", "name is empty", raw)
    return value


def division_code(raw: str) -> str:
    code = normalize_whitespace(to_half_width(raw))
    if not is_known_division(code):
        raise StandardViolation(
            "division.unknown", f"行政区划代码 {code} 不在 GB/T 2260 代码表中",
            f"division code {code} is not in the GB/T 2260 code table", raw,
        )
    return code


def text(raw: str) -> str:
    return normalize_whitespace(to_half_width(raw))


TRANSFORMS: dict[str, Transform] = {
    "identity_number": identity_number,
    "credit_code": credit_code,
    "sex_code": sex_code,
    "date": birth_date,
    "time": time_of_day,
    "name": name,
    "division_code": division_code,
    "text": text,
}


def code(options: Mapping[str, Any]) -> Transform:
    """A department's codes mapped onto a canonical table of ``schemas/codes``.

    Options: ``code_table`` (required), ``local_codes`` (local → canonical; quote them, YAML
    reads ``01`` as a number), ``rule`` (rule-id prefix, default the table name), ``label_zh``,
    ``label_en`` (what the code is, for the messages).
    """
    table = _option(options, "code_table", str)
    local = options.get("local_codes") or {}
    if not isinstance(local, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in local.items()):
        raise ValueError("local_codes must map quoted local codes onto canonical codes")
    codes = LocalCodes(table, dict(local), str(options.get("rule", table)),
                       str(options.get("label_zh", table)), str(options.get("label_en", table)))
    return codes.normalize


def amount(options: Mapping[str, Any]) -> Transform:
    """An exact money amount; options ``scale`` and ``precision`` as in the Avro decimal."""
    scale, precision = _option(options, "scale", int), _option(options, "precision", int)
    if not 0 <= scale <= precision:
        raise ValueError(f"need 0 <= scale <= precision, got scale {scale}, precision {precision}")

    def transform(raw: str) -> Decimal:
        return normalize_amount(raw, scale=scale, precision=precision)

    return transform


FACTORIES: dict[str, TransformFactory] = {"code": code, "amount": amount}
_FACTORY_OPTIONS = {
    "code": {"code_table", "local_codes", "rule", "label_zh", "label_en"},
    "amount": {"scale", "precision"},
}


def build_transform(transform_name: str, options: Mapping[str, Any]) -> Transform:
    """The named transform; raises ``ValueError`` for an unknown name or unusable options."""
    if transform_name in TRANSFORMS:
        if options:
            raise ValueError(f"transform {transform_name!r} takes no options, got {sorted(options)}")
        return TRANSFORMS[transform_name]
    if transform_name in FACTORIES:
        unknown = set(options) - _FACTORY_OPTIONS[transform_name]
        if unknown:
            raise ValueError(f"transform {transform_name!r} has no options {sorted(unknown)}")
        return FACTORIES[transform_name](options)
    raise ValueError(f"unknown transform {transform_name!r}")


def _option(options: Mapping[str, Any], key: str, kind: type[Any]) -> Any:
    if key not in options:
        raise ValueError(f"option {key!r} is required")
    value = options[key]
    if not isinstance(value, kind) or isinstance(value, bool):
        raise ValueError(f"option {key!r} must be a {kind.__name__}, got {value!r}")
    return value
