"""The declarative write-back configuration: which canonical topics go into which legacy tables.

See ``adapters/config/writeback.yaml`` and ``docs/writeback.md`` for the format. Environment
variables are expanded as in the capture configuration (``${NAME:-default}``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from adapters.capture.config import ConfigError, load_document, settings_env
from adapters.sinks.reverse import MappingError, ReverseMapping, load_reverse_mapping
from bus.settings import Settings

__all__ = ["ConfigError", "SinkConfig", "load_configured_sinks", "load_sink_config",
           "parse_sink_config", "reference_writeback_path"]

ENGINES = ("sqlite", "postgres", "mariadb", "files")
POLICIES = ("legacy_wins", "bus_wins")
Policy = Literal["legacy_wins", "bus_wins"]


@dataclass(frozen=True)
class SinkConfig:
    """One write-back sink: one input topic into one legacy table of one department."""

    department: str
    engine: str
    connection: Mapping[str, Any]
    topic: str
    table: str
    key_columns: tuple[str, ...]
    mapping: ReverseMapping
    conflict_policy: Policy = "legacy_wins"
    batch_size: int = 200
    options: Mapping[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        """``<department>.<table>``: the sink's name in the ledger, metrics and status."""
        return f"{self.department}.{self.table}"

    @property
    def conflict_topic(self) -> str:
        return f"writeback.conflicts.{self.department}.{self.table}"

    @property
    def quarantine_topic(self) -> str:
        return f"writeback.quarantine.{self.department}.{self.table}"


def parse_sink_config(document: Mapping[str, Any]) -> list[SinkConfig]:
    defaults = dict(document.get("defaults") or {})
    sinks = [_sink({**defaults, **entry}, f"sinks[{i}]")
             for i, entry in enumerate(document.get("sinks") or [])]
    names = [s.name for s in sinks]
    if len(set(names)) != len(names):
        raise ConfigError(f"two sinks write the same table: {sorted(n for n in names if names.count(n) > 1)}")
    return sinks


def _sink(entry: Mapping[str, Any], where: str) -> SinkConfig:
    try:
        department, engine = str(entry["department"]), str(entry["engine"])
        table, mapping_name = str(entry["table"]), str(entry["mapping"])
    except KeyError as exc:
        raise ConfigError(f"{where}: {exc.args[0]!r} is required") from None
    if engine not in ENGINES:
        raise ConfigError(f"{where}: engine {engine!r} is not one of {', '.join(ENGINES)}")
    policy = str(entry.get("conflict_policy", "legacy_wins"))
    if policy not in POLICIES:
        raise ConfigError(f"{where}: conflict_policy {policy!r} is not one of {', '.join(POLICIES)}")
    try:
        mapping = load_reverse_mapping(mapping_name)
    except MappingError as exc:
        raise ConfigError(f"{where}: {exc}") from None
    if (mapping.department, mapping.table) != (department, table):
        raise ConfigError(f"{where}: mapping {mapping_name} is for {mapping.department}."
                          f"{mapping.table}, not {department}.{table}")
    # Another topic carrying the entity's events (a staging or test topic) may be named.
    topic = str(entry.get("topic") or f"std.{mapping.entity}")
    key = entry.get("key", list(mapping.key_columns))
    key_columns = tuple(str(k) for k in (key if isinstance(key, list) else [key]))
    if key_columns != mapping.key_columns:
        raise ConfigError(f"{where}: key {list(key_columns)} differs from the mapping's "
                          f"{list(mapping.key_columns)}")
    connection = dict(entry.get("connection") or {})
    if engine in ("sqlite",) and "path" not in connection:
        raise ConfigError(f"{where}: a sqlite sink needs connection.path")
    if engine == "postgres" and "dsn" not in connection:
        raise ConfigError(f"{where}: a postgres sink needs connection.dsn")
    if engine == "mariadb" and not {"user", "database"} <= set(connection):
        raise ConfigError(f"{where}: a mariadb sink needs connection.user and connection.database")
    if engine == "files" and "directory" not in connection:
        raise ConfigError(f"{where}: a files sink needs connection.directory")
    return SinkConfig(department, engine, connection, topic, table, key_columns, mapping,
                      policy,  # type: ignore[arg-type]
                      int(entry.get("batch_size", 200)), dict(entry.get("options") or {}))


def load_sink_config(path: Path, env: Mapping[str, str] | None = None) -> list[SinkConfig]:
    return parse_sink_config(load_document(path, "write-back configuration", env))


def reference_writeback_path() -> Path:
    return Path(__file__).resolve().parent.parent / "config" / "writeback.yaml"


def load_configured_sinks(settings: Settings) -> list[SinkConfig]:
    """The write-back configuration ``settings`` name (the reference one by default)."""
    return load_sink_config(settings.writeback_config or reference_writeback_path(),
                            settings_env(settings,
                                         BUS_WRITEBACK_BATCH_SIZE=str(settings.writeback_batch_size)))
