"""The declarative adapter configuration: which legacy tables to capture, and how.

See ``adapters/config/reference.yaml`` and ``docs/capture.md`` for the format.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from adapters.capture.source import TableSpec
from bus.settings import Settings

STRATEGIES = ("snapshot", "incremental", "diff", "log")
ENGINES = ("sqlite", "postgres", "mariadb", "files")
_VARIABLE = re.compile(r"\$\{([A-Z0-9_]+)(?::-([^}]*))?\}")


class ConfigError(ValueError):
    """An adapter configuration that cannot run; the message names the entry and the key."""


@dataclass(frozen=True)
class SourceConfig:
    department: str
    engine: str
    connection: Mapping[str, Any]
    tables: tuple[TableSpec, ...]


def expand(text: str, env: Mapping[str, str]) -> str:
    def value(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        if name in env:
            return env[name]
        if default is not None:
            return default
        raise ConfigError(f"environment variable {name} is not set and has no default")

    return _VARIABLE.sub(value, text)


def parse_config(document: Mapping[str, Any]) -> list[SourceConfig]:
    defaults = dict(document.get("defaults") or {})
    sources = []
    for i, entry in enumerate(document.get("sources") or []):
        where = f"sources[{i}]"
        try:
            department, engine = str(entry["department"]), str(entry["engine"])
        except (KeyError, TypeError) as exc:
            raise ConfigError(f"{where}: 'department' and 'engine' are required") from exc
        if engine not in ENGINES:
            raise ConfigError(f"{where}: engine {engine!r} is not one of {', '.join(ENGINES)}")
        tables = tuple(_table(department, {**defaults, **t}, f"{where}.tables[{j}]")
                       for j, t in enumerate(entry.get("tables") or []))
        if not tables:
            raise ConfigError(f"{where}: no tables to capture")
        sources.append(SourceConfig(department, engine, dict(entry.get("connection") or {}),
                                    tables))
    return sources


def _table(department: str, entry: Mapping[str, Any], where: str) -> TableSpec:
    try:
        table = str(entry["table"])
        key = entry["key"]
        strategy = str(entry.get("strategy", "incremental"))
    except KeyError as exc:
        raise ConfigError(f"{where}: {exc.args[0]!r} is required") from exc
    if strategy not in STRATEGIES:
        raise ConfigError(f"{where}: strategy {strategy!r} is not one of {', '.join(STRATEGIES)}")
    if strategy == "incremental" and not entry.get("updated_column"):
        raise ConfigError(f"{where}: strategy incremental needs 'updated_column'")
    limit = entry.get("max_rows_per_second")
    return TableSpec(
        department=department, table=table,
        key_columns=tuple(str(k) for k in (key if isinstance(key, list) else [key])),
        strategy=strategy,  # type: ignore[arg-type]
        updated_column=entry.get("updated_column"),
        batch_size=int(entry.get("batch_size", 500)),
        poll_interval=float(entry.get("poll_interval", 1.0)),
        max_rows_per_second=float(limit) if limit else None,
        classification=str(entry.get("classification", "sensitive_personal")),
        options=dict(entry.get("options") or {}),
    )


def load_document(path: Path, what: str, env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The YAML mapping in ``path``, its ``${NAME:-default}`` expanded from ``env`` (the process
    environment by default); ``what`` names the file in the error when it cannot be read."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read {what} {path}: {exc.strerror}") from exc
    document = yaml.safe_load(expand(text, os.environ if env is None else env))
    if not isinstance(document, dict):
        raise ConfigError(f"{path} is not a YAML mapping")
    return document


def settings_env(settings: Settings, **extra: str) -> dict[str, str]:
    """The process environment with what ``settings`` decide that configurations name: the
    state directory, the legacy servers' ports, and ``extra``."""
    return {**os.environ, "BUS_STATE_DIR": str(settings.state_dir.resolve()),
            "BUS_LEGACY_POSTGRES_PORT": str(settings.legacy_postgres_port),
            "BUS_LEGACY_MARIADB_PORT": str(settings.legacy_mariadb_port), **extra}


def load_config(path: Path, env: Mapping[str, str] | None = None) -> list[SourceConfig]:
    return parse_config(load_document(path, "adapter configuration", env))


def reference_config_path() -> Path:
    return Path(__file__).resolve().parent.parent / "config" / "reference.yaml"


def load_configured_sources(settings: Settings) -> list[SourceConfig]:
    """The configuration ``settings`` name (the reference government's by default), with the
    settings' state directory, batch size, poll interval and legacy ports filled in."""
    return load_config(settings.adapters_config or reference_config_path(),
                       settings_env(settings,
                                    BUS_CAPTURE_BATCH_SIZE=str(settings.capture_batch_size),
                                    BUS_CAPTURE_POLL_INTERVAL=str(settings.capture_poll_interval)))
