"""Reverse mappings: a canonical event → the legacy row a department's system expects.

A reverse mapping file (``schemas/mappings/writeback/<dept>.<table>.yaml``) names, for each
legacy column, where its value comes from — a canonical field through a reverse transform, a
constant, or the time of writing — and which columns key the legacy row. The transforms undo
the standardization of the forward mappings: GB/T 2261.1 sex codes back to the department's
local code, dates in the department's format, canonical codes to local codes. A value that
cannot be written (missing, too long, not encodable in the legacy encoding, a code with no
local equivalent) raises :class:`Unmappable` with a rule id; the sink quarantines the event.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from importlib.resources import files
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml

from adapters.capture.source import key_text

__all__ = ["ColumnRule", "LegacyRow", "ReverseMapping", "Unmappable", "load_reverse_mapping",
           "parse_reverse_mapping"]

TRANSFORMS = ("text", "date", "datetime", "now", "sex_code", "code", "constant")
_DATE_STYLES = {"iso": "{y:04d}-{m:02d}-{d:02d}", "compact": "{y:04d}{m:02d}{d:02d}",
                "chinese": "{y}年{m}月{d}日", "slashes": "{y:04d}/{m:02d}/{d:02d}"}
_SEX_CODES = ("0", "1", "2", "9")


class MappingError(ValueError):
    """A reverse mapping file that cannot work; the message names the file and the key."""


class Unmappable(Exception):
    """The event cannot become a legacy row; ``rule_id`` says why (``writeback.<rule>``)."""

    def __init__(self, rule_id: str, field: str | None, message_en: str, message_zh: str) -> None:
        super().__init__(message_en)
        self.rule_id = rule_id
        self.field = field
        self.message_en = message_en
        self.message_zh = message_zh


@dataclass(frozen=True)
class LegacyRow:
    """What the sink writes: every mapped column, and the key columns' values."""

    key: dict[str, str]
    values: dict[str, Any]

    @property
    def key_text(self) -> str:
        """The key as the capture writes it (:func:`adapters.capture.source.key_text`)."""
        return key_text(self.key)


@dataclass(frozen=True)
class ColumnRule:
    """One legacy column: where its value comes from and how it is written."""

    column: str
    transform: str
    field: str | None = None
    required: bool = True
    constant: Any = None
    style: str = "iso"
    template: str = "{value}"
    max_length: int | None = None
    local_codes: Mapping[str, str] | None = None
    #: An IANA zone, or ``local``: the clock of the machine the legacy database runs beside (what
    #: its own programs stamp, e.g. SQLite's ``'localtime'``) — an update-time column the capture
    #: polls must not run ahead of the department's own stamps.
    timezone: str = "local"

    def value(self, event: Mapping[str, Any], now: datetime, encoding: str | None) -> Any:
        if self.transform == "constant":
            return self.constant
        if self.transform == "now":
            return _moment(now, self.timezone, self.style)
        raw = event.get(self.field or "")
        if raw is None or raw == "":
            if self.required:
                raise Unmappable("writeback.missing", self.field,
                                 f"{self.field} is empty but {self.column} needs a value",
                                 f"字段 {self.field} 为空，{self.column} 必填")
            return None
        return _TRANSFORMS[self.transform](self, raw, encoding)


def _text(rule: ColumnRule, raw: Any, encoding: str | None) -> str:
    text = rule.template.format(value=str(raw).strip())
    if rule.max_length is not None and len(text) > rule.max_length:
        raise Unmappable("writeback.too_long", rule.field,
                         f"{rule.column} takes at most {rule.max_length} characters, "
                         f"{rule.field} has {len(text)}",
                         f"{rule.column} 最多 {rule.max_length} 个字符，{rule.field} 有 {len(text)} 个")
    if encoding is not None:
        try:
            text.encode(encoding)
        except UnicodeEncodeError as exc:
            bad = text[exc.start:exc.end]
            raise Unmappable("writeback.unencodable", rule.field,
                             f"{rule.field} holds {bad!r}, which {encoding.upper()} cannot encode",
                             f"{rule.field} 含 {encoding.upper()} 无法编码的字符 {bad!r}") from None
    return text


def _date(rule: ColumnRule, raw: Any, _encoding: str | None) -> str:
    if isinstance(raw, datetime):
        raw = raw.date()
    if not isinstance(raw, date):
        raise Unmappable("writeback.date", rule.field, f"{rule.field} is not a date: {raw!r}",
                         f"{rule.field} 不是日期：{raw!r}")
    return _format_date(raw, rule.style)


def _format_date(day: date, style: str) -> str:
    template = _DATE_STYLES.get(style)
    if template is not None:
        return template.format(y=day.year, m=day.month, d=day.day)
    return day.strftime(style)


def _datetime(rule: ColumnRule, raw: Any, _encoding: str | None) -> str:
    if not isinstance(raw, datetime):
        raise Unmappable("writeback.datetime", rule.field, f"{rule.field} is not a time: {raw!r}",
                         f"{rule.field} 不是时间：{raw!r}")
    return _moment(raw, rule.timezone, rule.style)


@functools.lru_cache(maxsize=64)  # "now" is the same for every row of a batch
def _moment(moment: datetime, timezone: str, style: str) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    local = moment.astimezone() if timezone == "local" else moment.astimezone(ZoneInfo(timezone))
    return local.strftime("%Y-%m-%d %H:%M:%S" if style == "iso" else style)


def _code(rule: ColumnRule, raw: Any, _encoding: str | None) -> str:
    code = str(raw)
    codes = rule.local_codes or {}
    if code not in codes:
        rule_id = "writeback.sex_code" if rule.transform == "sex_code" else "writeback.code"
        raise Unmappable(rule_id, rule.field,
                         f"{rule.field} {code!r} has no local code in {rule.column} "
                         f"(known: {', '.join(sorted(codes))})",
                         f"{rule.field} 的代码 {code!r} 在 {rule.column} 中没有对应的本地代码")
    return codes[code]


_TRANSFORMS: dict[str, Callable[[ColumnRule, Any, str | None], Any]] = {
    "text": _text, "date": _date, "datetime": _datetime, "sex_code": _code, "code": _code,
}


@dataclass(frozen=True)
class ReverseMapping:
    """A canonical entity → one legacy table of one department."""

    department: str
    table: str
    entity: str
    key_columns: tuple[str, ...]
    columns: tuple[ColumnRule, ...]
    #: Text values must be encodable in it (e.g. ``gbk`` for a GBK database or file).
    encoding: str | None = None
    source: str = ""

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(rule.column for rule in self.columns)

    def apply(self, event: Mapping[str, Any], now: datetime) -> LegacyRow:
        """The legacy row of ``event`` (a decoded canonical value); raises Unmappable."""
        values = {rule.column: rule.value(event, now, self.encoding) for rule in self.columns}
        key = {}
        for column in self.key_columns:
            if values[column] in (None, ""):
                raise Unmappable("writeback.key", column, f"the legacy key {column} is empty",
                                 f"旧系统主键 {column} 为空")
            key[column] = str(values[column])
        return LegacyRow(key, values)


def parse_reverse_mapping(document: Mapping[str, Any], source: str = "") -> ReverseMapping:
    where = source or "reverse mapping"
    try:
        department, table = str(document["department"]), str(document["table"])
        entity = str(document["entity"])
        key = document["key"]
        columns = document["columns"]
    except (KeyError, TypeError) as exc:
        raise MappingError(f"{where}: {exc} is required") from None
    key_columns = tuple(str(k) for k in (key if isinstance(key, list) else [key]))
    if not isinstance(columns, Mapping) or not columns:
        raise MappingError(f"{where}: 'columns' must map legacy columns to their rules")
    rules = tuple(_rule(str(column), spec, f"{where}: columns.{column}")
                  for column, spec in columns.items())
    missing = [k for k in key_columns if k not in {r.column for r in rules}]
    if missing:
        raise MappingError(f"{where}: key column(s) {missing} have no rule in 'columns'")
    encoding = document.get("encoding")
    if encoding is not None:
        try:
            "".encode(str(encoding))
        except LookupError:
            raise MappingError(f"{where}: unknown encoding {encoding!r}") from None
    return ReverseMapping(department, table, entity, key_columns, rules,
                          str(encoding) if encoding else None, source)


def _rule(column: str, spec: Any, where: str) -> ColumnRule:
    if not isinstance(spec, Mapping):
        raise MappingError(f"{where}: expected a mapping, e.g. {{field: name, transform: text}}")
    if "constant" in spec:
        value = spec["constant"]
        return ColumnRule(column, "constant", constant=None if value is None else str(value))
    transform = str(spec.get("transform", "text"))
    if transform not in TRANSFORMS:
        raise MappingError(f"{where}: transform {transform!r} is not one of {', '.join(TRANSFORMS)}")
    field = spec.get("field")
    if transform != "now" and not field:
        raise MappingError(f"{where}: 'field' names the canonical field to write")
    local_codes = spec.get("local_codes")
    if transform in ("sex_code", "code"):
        if not isinstance(local_codes, Mapping) or not local_codes:
            raise MappingError(f"{where}: transform {transform} needs 'local_codes' "
                               "(canonical code → local code)")
        local_codes = {str(k): str(v) for k, v in local_codes.items()}
        if transform == "sex_code" and (unknown := set(local_codes) - set(_SEX_CODES)):
            raise MappingError(f"{where}: {sorted(unknown)} are not GB/T 2261.1 codes")
    style = str(spec.get("format", "iso"))
    try:
        if spec.get("timezone", "local") != "local":
            ZoneInfo(str(spec["timezone"]))
    except (KeyError, ValueError):
        raise MappingError(f"{where}: unknown timezone {spec.get('timezone')!r}") from None
    template = str(spec.get("template", "{value}"))
    if "{value}" not in template:
        raise MappingError(f"{where}: template {template!r} must contain {{value}}")
    max_length = spec.get("max_length")
    return ColumnRule(column, transform, field=str(field) if field else None,
                      required=bool(spec.get("required", True)), style=style, template=template,
                      max_length=int(max_length) if max_length is not None else None,
                      local_codes=local_codes, timezone=str(spec.get("timezone", "local")))


def load_reverse_mapping(reference: str | Path) -> ReverseMapping:
    """A mapping by path, or by name under ``schemas/mappings`` (``writeback/gongan.hj_ryxx.yaml``)."""
    path = Path(reference)
    try:
        if path.is_absolute() or path.exists():
            text = path.read_text(encoding="utf-8")
        else:
            text = files("schemas").joinpath("mappings", *path.parts).read_text(encoding="utf-8")
    except (OSError, FileNotFoundError) as exc:
        raise MappingError(f"cannot read reverse mapping {reference}: {exc}") from None
    document = yaml.safe_load(text)
    if not isinstance(document, Mapping):
        raise MappingError(f"{reference} is not a YAML mapping")
    return parse_reverse_mapping(document, str(reference))
