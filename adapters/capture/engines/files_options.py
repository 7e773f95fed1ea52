"""The options of a file-drop table (``TableSpec.options``), parsed and checked.

Every error is a :class:`SourceMisconfigured` naming the option to change, e.g.
``options.fields[2].width``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from adapters.capture.source import SourceMisconfigured, TableSpec

Format = Literal["csv", "fixed_width"]
Mode = Literal["append", "full"]
Reader = Literal["process", "thread"]
ENCODINGS = ("gbk", "gb18030", "utf-8", "auto")
#: Suffixes of files still being written (renamed when complete) and of completion markers.
PARTIAL_SUFFIXES = (".tmp", ".part")
MARKER_SUFFIXES = (".done", ".ok")
_ALIASES = {"utf8": "utf-8", "utf_8": "utf-8", "fixed-width": "fixed_width", "fixed": "fixed_width"}


@dataclass(frozen=True)
class FixedField:
    """One fixed-width field: ``width`` bytes from byte offset ``start`` (0-based)."""

    name: str
    start: int
    width: int

    @property
    def end(self) -> int:
        return self.start + self.width


@dataclass(frozen=True)
class FileDropOptions:
    directory: Path
    pattern: str
    format: Format
    encoding: str
    mode: Mode
    delimiter: str = ","
    header: bool = True
    columns: tuple[str, ...] = ()
    fields: tuple[FixedField, ...] = ()
    record_length: int | None = None
    require_marker: bool = False
    settle_seconds: float = 2.0
    state_dir: Path | None = None
    archive_directory: Path | None = None
    remember_files: int = 2000
    #: Where files are read, parsed and compared: a child process, or a worker thread
    #: (files_reader.py).
    reader: Reader = "process"

    @property
    def configured_columns(self) -> tuple[str, ...]:
        """Columns known from the configuration alone (empty when a CSV header names them)."""
        if self.format == "fixed_width":
            return tuple(f.name for f in self.fields)
        return () if self.header else self.columns

    @property
    def line_length(self) -> int:
        """Bytes of a fixed-width record (without the line end)."""
        if self.record_length is not None:
            return self.record_length
        return max((f.end for f in self.fields), default=0)


def parse_options(spec: TableSpec) -> FileDropOptions:
    """The file-drop options of ``spec``; raises SourceMisconfigured naming a bad option."""
    raw = spec.options
    fmt = _choice(raw, "format", ("csv", "fixed_width"), "csv")
    mode = _choice(raw, "mode", ("append", "full"), "append")
    encoding = _choice(raw, "encoding", ENCODINGS, "gbk")
    options = FileDropOptions(
        directory=Path(_text(raw, "directory")),
        pattern=_text(raw, "pattern", "*"),
        format=fmt,  # type: ignore[arg-type]
        encoding=encoding,
        mode=mode,  # type: ignore[arg-type]
        delimiter=_delimiter(raw),
        header=_flag(raw, "header", True),
        columns=_names(raw.get("columns", ()), "columns"),
        fields=_fields(raw.get("fields", ())),
        record_length=_optional_int(raw, "record_length"),
        require_marker=_flag(raw, "require_marker", False),
        settle_seconds=_number(raw, "settle_seconds", 2.0),
        state_dir=_optional_path(raw, "state_dir"),
        archive_directory=_optional_path(raw, "archive_directory"),
        remember_files=int(_number(raw, "remember_files", 2000)),
        reader=_choice(raw, "reader", ("process", "thread"), "process"),  # type: ignore[arg-type]
    )
    _check_consistency(options, spec)
    return options


def _check_consistency(options: FileDropOptions, spec: TableSpec) -> None:
    if options.format == "csv" and not options.header and not options.columns:
        raise SourceMisconfigured("options.columns is required for CSV files with header: false")
    if options.format == "fixed_width" and not options.fields:
        raise SourceMisconfigured("options.fields is required for fixed_width files")
    if options.mode == "full" and options.state_dir is None:
        raise SourceMisconfigured("options.state_dir is required for mode: full")
    if options.mode == "full" and not spec.key_columns:
        raise SourceMisconfigured("key_columns are required for mode: full")
    known = options.configured_columns
    missing = [k for k in spec.key_columns if known and k not in known]
    if missing:
        raise SourceMisconfigured(f"key_columns {missing} are not among the configured columns {known}")


def _text(raw: Mapping[str, Any], name: str, default: str | None = None) -> str:
    value = raw.get(name, default)
    if not isinstance(value, str) or not value:
        raise SourceMisconfigured(f"options.{name} must be a non-empty string, got {value!r}")
    return value


def _choice(raw: Mapping[str, Any], name: str, allowed: Sequence[str], default: str) -> str:
    value = str(raw.get(name, default)).lower()
    value = _ALIASES.get(value, value)
    if value not in allowed:
        raise SourceMisconfigured(f"options.{name} must be one of {list(allowed)}, got {value!r}")
    return value


def _delimiter(raw: Mapping[str, Any]) -> str:
    value = raw.get("delimiter", ",")
    value = "\t" if value in ("\\t", "tab") else value
    if not isinstance(value, str) or len(value) != 1:
        raise SourceMisconfigured(f"options.delimiter must be one character, got {value!r}")
    return value


def _flag(raw: Mapping[str, Any], name: str, default: bool) -> bool:
    value = raw.get(name, default)
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "yes", "1", "false", "no", "0"):
        return value.lower() in ("true", "yes", "1")
    raise SourceMisconfigured(f"options.{name} must be true or false, got {value!r}")


def _number(raw: Mapping[str, Any], name: str, default: float) -> float:
    value = raw.get(name, default)
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise SourceMisconfigured(f"options.{name} must be a number, got {value!r}") from None
    if number < 0:
        raise SourceMisconfigured(f"options.{name} must not be negative, got {value!r}")
    return number


def _optional_int(raw: Mapping[str, Any], name: str) -> int | None:
    return None if raw.get(name) is None else int(_number(raw, name, 0))


def _optional_path(raw: Mapping[str, Any], name: str) -> Path | None:
    return None if raw.get(name) in (None, "") else Path(_text(raw, name))


def _names(value: Any, option: str) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [v.strip() for v in value.split(",")]
    if not isinstance(value, Sequence) or not all(isinstance(v, str) and v for v in value):
        raise SourceMisconfigured(f"options.{option} must be a list of column names, got {value!r}")
    return tuple(value)


def _fields(value: Any) -> tuple[FixedField, ...]:
    if not isinstance(value, Sequence) or isinstance(value, str):
        raise SourceMisconfigured(f"options.fields must be a list of {{name, start, width}}, got {value!r}")
    return tuple(_field(item, i) for i, item in enumerate(value))


def _field(item: Any, index: int) -> FixedField:
    where = f"options.fields[{index}]"
    if not isinstance(item, Mapping):
        raise SourceMisconfigured(f"{where} must be a mapping {{name, start, width}}, got {item!r}")
    try:
        field = FixedField(str(item["name"]), int(item["start"]), int(item["width"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise SourceMisconfigured(f"{where} needs name, start and width ({exc})") from None
    if field.start < 0 or field.width <= 0:
        raise SourceMisconfigured(f"{where}.start must be >= 0 and width > 0, got {item!r}")
    return field
