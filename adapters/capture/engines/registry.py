"""Builds a capture source from a configuration entry; engines load only when used."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from adapters.capture.config import SourceConfig
from adapters.capture.source import CaptureSource, TableSpec

Factory = Callable[[Mapping[str, Any], TableSpec, Path], CaptureSource]

#: engine → "module:function"; imported lazily so an unused engine's driver is never loaded.
FACTORIES: dict[str, str] = {
    "sqlite": "adapters.capture.engines.factories:sqlite_source",
    "postgres": "adapters.capture.engines.factories:postgres_source",
    "mariadb": "adapters.capture.engines.factories:mariadb_source",
    "files": "adapters.capture.engines.factories:file_source",
}


def factory_for(engine: str) -> Factory:
    module_name, _, function = FACTORIES[engine].partition(":")
    factory: Factory = getattr(importlib.import_module(module_name), function)
    return factory


#: Engines whose sources run in a child process unless told otherwise: where reading a row
#: costs the capture process more than moving it (docs/benchmarks.md). A MariaDB row is read
#: in C and its server competes for the same cores; file drops read in a child of their own.
SEPARATE_BY_DEFAULT = frozenset({"postgres", "sqlite"})


def build_sources(config: SourceConfig, state_dir: Path, *,
                  separate_processes: bool | None = None) -> list[CaptureSource]:
    """The sources of ``config``; with ``separate_processes`` (None: :data:`SEPARATE_BY_DEFAULT`)
    each runs in a child process of its own (:mod:`adapters.capture.source_process`)."""
    factory = factory_for(config.engine)
    sources = [factory(config.connection, spec, state_dir) for spec in config.tables]
    if separate_processes is None:
        separate_processes = config.engine in SEPARATE_BY_DEFAULT
    if not separate_processes:
        return sources
    from adapters.capture.source_process import ProcessSource

    return [ProcessSource(config.engine, config.connection, spec, state_dir, local)
            for spec, local in zip(config.tables, sources, strict=True)]
