"""The registry's in-memory state, derived only by applying ``_schemas`` log records in order.

Deletes follow Confluent: a soft-deleted version stays in the state flagged ``deleted`` (its
id stays fetchable, its number is never reused, it no longer takes part in compatibility
checks or listings); a hard-deleted version (tombstone) is gone, and a schema id that no
version uses any more is gone with it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from bus.registry.canonical import canonical_text
from bus.registry.compat import CompatibilityLevel
from bus.registry.errors import InvalidSchema
from bus.registry.records import (
    ConfigRecord,
    LogRecord,
    SchemaRecord,
    SchemaTombstone,
    SubjectDeleteRecord,
)

__all__ = ["DEFAULT_LEVEL", "RegisteredVersion", "RegistryState"]

DEFAULT_LEVEL = CompatibilityLevel.BACKWARD


@dataclass(frozen=True, slots=True)
class RegisteredVersion:
    """One version of a subject: its number, the global schema id, the schema text, and
    whether it is soft-deleted."""

    subject: str
    version: int
    schema_id: int
    schema: str
    deleted: bool = False


class RegistryState:
    """Subjects → versions → schema ids; ids → schemas; compatibility configuration.

    Pure and deterministic: the same records applied in the same order give the same state.
    """

    def __init__(self) -> None:
        self._subjects: dict[str, dict[int, RegisteredVersion]] = {}
        self._schemas: dict[int, str] = {}
        self._ids: dict[str, int] = {}
        self._canonical_of: dict[int, str] = {}
        self._users: dict[int, set[tuple[str, int]]] = {}
        self._global_level: CompatibilityLevel | None = None
        self._subject_levels: dict[str, CompatibilityLevel] = {}
        self._max_id = 0

    # -- applying the log ----------------------------------------------------------------

    def apply(self, record: LogRecord) -> None:
        match record:
            case SchemaRecord():
                self._apply_schema(record)
            case SchemaTombstone(subject, version):
                self._drop_version(subject, version)
            case SubjectDeleteRecord(subject, up_to):
                self._soft_delete_subject(subject, up_to)
            case ConfigRecord(None, level):
                self._global_level = level
            case ConfigRecord(str() as subject, None):
                self._subject_levels.pop(subject, None)
            case ConfigRecord(str() as subject, CompatibilityLevel() as level):
                self._subject_levels[subject] = level

    def _apply_schema(self, record: SchemaRecord) -> None:
        self._max_id = max(self._max_id, record.schema_id)
        self._drop_version(record.subject, record.version)
        self._schemas.setdefault(record.schema_id, record.schema)
        if record.schema_id not in self._canonical_of:
            try:
                canonical = canonical_text(record.schema)
            except InvalidSchema:
                canonical = record.schema
            self._canonical_of[record.schema_id] = canonical
            known = self._ids.get(canonical)
            if known is None or record.schema_id < known:
                self._ids[canonical] = record.schema_id
        self._users.setdefault(record.schema_id, set()).add((record.subject, record.version))
        self._subjects.setdefault(record.subject, {})[record.version] = RegisteredVersion(
            record.subject, record.version, record.schema_id, record.schema, record.deleted
        )

    def _soft_delete_subject(self, subject: str, up_to: int) -> None:
        versions = self._subjects.get(subject, {})
        for number, registered in versions.items():
            if number <= up_to and not registered.deleted:
                versions[number] = replace(registered, deleted=True)

    def _drop_version(self, subject: str, version: int) -> None:
        versions = self._subjects.get(subject)
        if versions is None or version not in versions:
            return
        gone = versions.pop(version)
        if not versions:
            del self._subjects[subject]
        users = self._users.get(gone.schema_id, set())
        users.discard((subject, version))
        if not users:
            self._forget_id(gone.schema_id)

    def _forget_id(self, schema_id: int) -> None:
        self._users.pop(schema_id, None)
        self._schemas.pop(schema_id, None)
        canonical = self._canonical_of.pop(schema_id, None)
        if canonical is not None and self._ids.get(canonical) == schema_id:
            del self._ids[canonical]

    # -- queries -----------------------------------------------------------------------

    def next_id(self) -> int:
        """The id a new schema gets: one more than the highest id ever seen."""
        return self._max_id + 1

    def id_of(self, canonical: str) -> int | None:
        """The id of a schema in canonical form, if some version (live or soft-deleted) has it."""
        return self._ids.get(canonical)

    def schema_of(self, schema_id: int) -> str | None:
        """The schema with this id while any version, live or soft-deleted, uses it."""
        return self._schemas.get(schema_id)

    def subjects(self, *, include_deleted: bool = False, deleted_only: bool = False) -> list[str]:
        """Subjects with a live version; ``include_deleted`` adds the soft-deleted ones,
        ``deleted_only`` lists only subjects whose every version is soft-deleted."""
        def wanted(versions: dict[int, RegisteredVersion]) -> bool:
            live = any(not v.deleted for v in versions.values())
            if deleted_only:
                return not live
            return live or include_deleted

        return sorted(s for s, versions in self._subjects.items() if wanted(versions))

    def versions(
        self, subject: str, *, include_deleted: bool = False, deleted_only: bool = False
    ) -> list[RegisteredVersion]:
        """Versions of ``subject``, oldest first: live ones, or with ``include_deleted`` the
        soft-deleted ones too, or with ``deleted_only`` those alone (empty if unknown)."""
        versions = self._subjects.get(subject, {})
        return [
            versions[v]
            for v in sorted(versions)
            if (versions[v].deleted if deleted_only else include_deleted or not versions[v].deleted)
        ]

    def find(
        self, subject: str, canonical: str, *, include_deleted: bool = False
    ) -> RegisteredVersion | None:
        """The latest version of ``subject`` holding the schema with this canonical form."""
        schema_id = self._ids.get(canonical)
        if schema_id is None:
            return None
        for registered in reversed(self.versions(subject, include_deleted=include_deleted)):
            if registered.schema_id == schema_id:
                return registered
        return None

    def uses_of(self, schema_id: int, *, include_deleted: bool = False) -> list[RegisteredVersion]:
        """Every version (of any subject) registered with this schema id, by subject and version."""
        found = [
            self._subjects[subject][version]
            for subject, version in self._users.get(schema_id, set())
        ]
        return sorted(
            (v for v in found if include_deleted or not v.deleted),
            key=lambda v: (v.subject, v.version),
        )

    @property
    def global_level(self) -> CompatibilityLevel:
        return self._global_level or DEFAULT_LEVEL

    def subject_level(self, subject: str) -> CompatibilityLevel | None:
        return self._subject_levels.get(subject)

    def effective_level(self, subject: str) -> CompatibilityLevel:
        return self._subject_levels.get(subject, self.global_level)
