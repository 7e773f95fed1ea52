"""One function per engine: configuration entry → capture source."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from adapters.capture.config import ConfigError
from adapters.capture.source import CaptureSource, TableSpec
from adapters.capture.sql_source import SqlTableSource


def _required(connection: Mapping[str, Any], name: str, engine: str) -> Any:
    if name not in connection:
        raise ConfigError(f"{engine} source needs connection.{name}")
    return connection[name]


def sqlite_source(connection: Mapping[str, Any], spec: TableSpec, state_dir: Path) -> CaptureSource:
    from adapters.capture.engines.sqlite import SqliteDialect

    dialect = SqliteDialect(Path(str(_required(connection, "path", "sqlite"))).resolve())
    return SqlTableSource(dialect, spec, state_dir=state_dir)


def postgres_source(connection: Mapping[str, Any], spec: TableSpec, state_dir: Path) -> CaptureSource:
    from adapters.capture.engines.postgres import PostgresDialect, PostgresLogSource

    dsn = str(_required(connection, "dsn", "postgres"))
    if spec.strategy == "log":
        return PostgresLogSource(dsn, spec)
    schema = str(connection.get("schema", spec.options.get("schema", "public")))
    return SqlTableSource(PostgresDialect(dsn, schema=schema), spec, state_dir=state_dir)


def mariadb_source(connection: Mapping[str, Any], spec: TableSpec, state_dir: Path) -> CaptureSource:
    from adapters.capture.engines.mariadb import MariaDbBinlogSource, MariaDbDialect, MariaDbSettings

    settings = MariaDbSettings(
        host=str(connection.get("host", "127.0.0.1")), port=int(connection.get("port", 3306)),
        user=str(_required(connection, "user", "mariadb")),
        password=str(connection.get("password", "")),
        database=str(_required(connection, "database", "mariadb")),
    )
    if spec.strategy == "log":
        return MariaDbBinlogSource(spec, settings)
    return SqlTableSource(MariaDbDialect(settings), spec, state_dir=state_dir)


def file_source(connection: Mapping[str, Any], spec: TableSpec, state_dir: Path) -> CaptureSource:
    from adapters.capture.engines.files import FileDropSource

    # Connection settings (e.g. the drop directory) apply to every table of the department;
    # a table's own options win. ``full`` extracts are what the diff strategy means for files.
    options = {"state_dir": str(state_dir / "capture" / "files" / spec.owner),
               **({"mode": "full"} if spec.strategy == "diff" else {}),
               **connection, **spec.options}
    return FileDropSource(replace(spec, options=options))
