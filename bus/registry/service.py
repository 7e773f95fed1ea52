"""The registry's use cases over a schema store: register, look up, check, configure."""

from __future__ import annotations

import asyncio
from typing import Protocol

from bus.registry.canonical import canonical_text, parse_avro
from bus.registry.compat import CompatibilityLevel, PastVersion, incompatibilities
from bus.registry.errors import (
    IncompatibleSchema,
    InvalidSchema,
    InvalidVersion,
    SchemaNotFound,
    SubjectConfigNotFound,
    SubjectNotFound,
    VersionNotFound,
)
from bus.registry.records import ConfigRecord, LogRecord, SchemaRecord
from bus.registry.state import RegisteredVersion, RegistryState

__all__ = ["LATEST", "SchemaRegistry", "SchemaStore", "parse_version"]

LATEST = -1
_MAX_VERSION = 2**31 - 1


class SchemaStore(Protocol):
    """Where the registry's records live. ``append`` returns once the record is durable and
    applied to ``state``."""

    @property
    def state(self) -> RegistryState: ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def append(self, record: LogRecord) -> None: ...


def parse_version(text: str) -> int:
    """A version number from a URL segment; ``latest`` and ``-1`` give LATEST."""
    if text == "latest":
        return LATEST
    try:
        version = int(text)
    except ValueError:
        raise InvalidVersion(text) from None
    if version == LATEST or 1 <= version <= _MAX_VERSION:
        return version
    raise InvalidVersion(text)


def _require_avro(schema_type: str | None) -> None:
    if schema_type not in (None, "AVRO"):
        raise InvalidSchema(f"Unsupported schema type {schema_type!r}: this registry serves AVRO")


class SchemaRegistry:
    """Registry operations; writes are serialized so each decision sees the latest state."""

    def __init__(self, store: SchemaStore) -> None:
        self._store = store
        self._write_lock = asyncio.Lock()

    @property
    def state(self) -> RegistryState:
        return self._store.state

    async def register(
        self, subject: str, schema_text: str, schema_type: str | None = None
    ) -> RegisteredVersion:
        """Register a schema under ``subject``; an already registered schema keeps its id and
        version. Raises InvalidSchema (42201) or IncompatibleSchema (409)."""
        _require_avro(schema_type)
        parsed = parse_avro(schema_text)
        canonical = canonical_text(parsed)
        async with self._write_lock:
            state = self.state
            existing = state.find(subject, canonical)
            if existing is not None:
                return existing
            history = state.versions(subject)
            problems = incompatibilities(
                parsed, self._past(history), state.effective_level(subject)
            )
            if problems:
                raise IncompatibleSchema(
                    "Schema being registered is incompatible with an earlier schema for subject"
                    f" '{subject}', details: {problems}"
                )
            schema_id = state.id_of(canonical) or state.next_id()
            version = history[-1].version + 1 if history else 1
            await self._store.append(SchemaRecord(subject, version, schema_id, canonical))
            return RegisteredVersion(subject, version, schema_id, canonical)

    def lookup(
        self, subject: str, schema_text: str, schema_type: str | None = None
    ) -> RegisteredVersion:
        """The version of ``subject`` that holds this schema (40401 / 40403 if none)."""
        _require_avro(schema_type)
        canonical = canonical_text(schema_text)
        if not self.state.versions(subject):
            raise SubjectNotFound(subject)
        found = self.state.find(subject, canonical)
        if found is None:
            raise SchemaNotFound("Schema not found")
        return found

    def versions(self, subject: str) -> list[RegisteredVersion]:
        versions = self.state.versions(subject)
        if not versions:
            raise SubjectNotFound(subject)
        return versions

    def version(self, subject: str, version: int) -> RegisteredVersion:
        versions = self.versions(subject)
        if version == LATEST:
            return versions[-1]
        for registered in versions:
            if registered.version == version:
                return registered
        raise VersionNotFound(subject, version)

    def schema_by_id(self, schema_id: int) -> str:
        schema = self.state.schema_of(schema_id)
        if schema is None:
            raise SchemaNotFound("Schema not found")
        return schema

    def check(
        self, subject: str, version: int, schema_text: str, schema_type: str | None = None
    ) -> list[str]:
        """Why ``schema_text`` would break ``subject``'s level against ``version``; [] if it
        would not. ``latest`` on a subject without versions is compatible."""
        _require_avro(schema_type)
        parsed = parse_avro(schema_text)
        level = self.state.effective_level(subject)
        history = self.state.versions(subject)
        if version == LATEST:
            return incompatibilities(parsed, self._past(history), level)
        against = self.version(subject, version)
        one_level = CompatibilityLevel(level.value.removesuffix("_TRANSITIVE"))
        return incompatibilities(parsed, self._past([against]), one_level)

    def level(self, subject: str | None, default_to_global: bool = False) -> CompatibilityLevel:
        if subject is None:
            return self.state.global_level
        level = self.state.subject_level(subject)
        if level is not None:
            return level
        if default_to_global:
            return self.state.global_level
        raise SubjectConfigNotFound(subject)

    async def set_level(self, subject: str | None, level: CompatibilityLevel | None) -> None:
        """Set (or with None, reset) the global or a subject's compatibility level."""
        async with self._write_lock:
            await self._store.append(ConfigRecord(subject, level))

    @staticmethod
    def _past(versions: list[RegisteredVersion]) -> list[PastVersion]:
        return [PastVersion(v.version, parse_avro(v.schema)) for v in versions]
