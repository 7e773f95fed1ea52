"""The registry's use cases over a schema store: register, look up, check, configure, delete."""

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
    SubjectNotSoftDeleted,
    SubjectSoftDeleted,
    VersionNotFound,
    VersionNotSoftDeleted,
    VersionSoftDeleted,
)
from bus.registry.records import (
    ConfigRecord,
    LogRecord,
    SchemaRecord,
    SchemaTombstone,
    SubjectDeleteRecord,
)
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

    # -- registering and reading -----------------------------------------------------------

    async def register(
        self, subject: str, schema_text: str, schema_type: str | None = None
    ) -> RegisteredVersion:
        """Register a schema under ``subject``; a schema already live there keeps its id and
        version. A new version gets the next number after every version ever used (soft-deleted
        ones included) and the id the same schema has anywhere else. Raises InvalidSchema
        (42201) or IncompatibleSchema (409)."""
        _require_avro(schema_type)
        parsed = parse_avro(schema_text)
        canonical = canonical_text(parsed)
        async with self._write_lock:
            state = self.state
            existing = state.find(subject, canonical)
            if existing is not None:
                return existing
            live = state.versions(subject)
            problems = incompatibilities(parsed, self._past(live), state.effective_level(subject))
            if problems:
                raise IncompatibleSchema(
                    "Schema being registered is incompatible with an earlier schema for subject"
                    f" '{subject}', details: {problems}"
                )
            schema_id = state.id_of(canonical) or state.next_id()
            every = state.versions(subject, include_deleted=True)
            version = every[-1].version + 1 if every else 1
            await self._store.append(SchemaRecord(subject, version, schema_id, canonical))
            return RegisteredVersion(subject, version, schema_id, canonical)

    def lookup(
        self,
        subject: str,
        schema_text: str,
        schema_type: str | None = None,
        *,
        include_deleted: bool = False,
    ) -> RegisteredVersion:
        """The version of ``subject`` that holds this schema (40401 / 40403 if none)."""
        _require_avro(schema_type)
        canonical = canonical_text(schema_text)
        if not self.state.versions(subject, include_deleted=include_deleted):
            raise SubjectNotFound(subject)
        found = self.state.find(subject, canonical, include_deleted=include_deleted)
        if found is None:
            raise SchemaNotFound()
        return found

    def versions(
        self, subject: str, *, include_deleted: bool = False, deleted_only: bool = False
    ) -> list[RegisteredVersion]:
        """The versions of ``subject``; 40401 when it has none (of the kind asked for)."""
        if not self.state.versions(subject, include_deleted=include_deleted or deleted_only):
            raise SubjectNotFound(subject)
        return self.state.versions(
            subject, include_deleted=include_deleted, deleted_only=deleted_only
        )

    def version(
        self, subject: str, version: int, *, include_deleted: bool = False
    ) -> RegisteredVersion:
        """One version; ``LATEST`` is the newest live one (40401 / 40402 if missing)."""
        versions = self.versions(subject, include_deleted=include_deleted)
        if version == LATEST:
            return versions[-1]
        for registered in versions:
            if registered.version == version:
                return registered
        raise VersionNotFound(version)

    def schema_by_id(self, schema_id: int) -> str:
        """The schema with this id; soft-deleted versions keep theirs fetchable (40403)."""
        schema = self.state.schema_of(schema_id)
        if schema is None:
            raise SchemaNotFound(schema_id)
        return schema

    def uses_of(self, schema_id: int, *, include_deleted: bool = False) -> list[RegisteredVersion]:
        """The subject-versions registered with this id (40403 when the id is unknown)."""
        if self.state.schema_of(schema_id) is None:
            raise SchemaNotFound()
        return self.state.uses_of(schema_id, include_deleted=include_deleted)

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

    # -- configuration ---------------------------------------------------------------------

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

    # -- deleting --------------------------------------------------------------------------

    async def delete_subject(self, subject: str, *, permanent: bool = False) -> list[int]:
        """Soft-delete every live version of ``subject`` (one DELETE_SUBJECT record), or with
        ``permanent`` hard-delete every soft-deleted one (a tombstone each, newest first, and
        the subject's config). Returns the version numbers deleted.

        Errors as Confluent: 40401 unknown subject, 40404 soft delete of a soft-deleted
        subject, 40405 hard delete of a subject with live versions."""
        async with self._write_lock:
            every = self.state.versions(subject, include_deleted=True)
            if not every:
                raise SubjectNotFound(subject)
            if not permanent:
                live = [v.version for v in every if not v.deleted]
                if not live:
                    raise SubjectSoftDeleted(subject)
                await self._store.append(SubjectDeleteRecord(subject, live[-1]))
                return live
            if any(not v.deleted for v in every):
                raise SubjectNotSoftDeleted(subject)
            for registered in reversed(every):
                await self._store.append(SchemaTombstone(subject, registered.version))
            if self.state.subject_level(subject) is not None:
                await self._store.append(ConfigRecord(subject, None))
            return [v.version for v in every]

    async def delete_version(self, subject: str, version: int, *, permanent: bool = False) -> int:
        """Soft-delete one version (its record again, flagged deleted), or with ``permanent``
        hard-delete a soft-deleted one (a tombstone). ``LATEST`` is the newest live version
        for a soft delete and the newest of all for a hard one.

        Errors as Confluent: 40401, 40402, 40406 soft delete of a soft-deleted version,
        40407 hard delete of a live version."""
        async with self._write_lock:
            every = self.state.versions(subject, include_deleted=True)
            if not every:
                raise SubjectNotFound(subject)
            target = self._find_for_delete(every, version, permanent)
            if not permanent:
                if target.deleted:
                    raise VersionSoftDeleted(subject, target.version)
                await self._store.append(
                    SchemaRecord(subject, target.version, target.schema_id, target.schema, True)
                )
                return target.version
            if not target.deleted:
                raise VersionNotSoftDeleted(subject, target.version)
            await self._store.append(SchemaTombstone(subject, target.version))
            if not self.state.versions(subject, include_deleted=True) and (
                self.state.subject_level(subject) is not None
            ):
                await self._store.append(ConfigRecord(subject, None))
            return target.version

    @staticmethod
    def _find_for_delete(
        every: list[RegisteredVersion], version: int, permanent: bool
    ) -> RegisteredVersion:
        if version == LATEST:
            candidates = every if permanent else [v for v in every if not v.deleted]
            if not candidates:
                raise VersionNotFound(version)
            return candidates[-1]
        for registered in every:
            if registered.version == version:
                return registered
        raise VersionNotFound(version)

    @staticmethod
    def _past(versions: list[RegisteredVersion]) -> list[PastVersion]:
        return [PastVersion(v.version, parse_avro(v.schema)) for v in versions]
