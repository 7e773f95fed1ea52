"""The registry's in-memory state, derived only by applying ``_schemas`` log records in order."""

from __future__ import annotations

from dataclasses import dataclass

from bus.registry.canonical import canonical_text
from bus.registry.compat import CompatibilityLevel
from bus.registry.errors import InvalidSchema
from bus.registry.records import ConfigRecord, LogRecord, SchemaRecord, SchemaTombstone

__all__ = ["DEFAULT_LEVEL", "RegisteredVersion", "RegistryState"]

DEFAULT_LEVEL = CompatibilityLevel.BACKWARD


@dataclass(frozen=True, slots=True)
class RegisteredVersion:
    """One version of a subject: its number, the global schema id and the schema text."""

    subject: str
    version: int
    schema_id: int
    schema: str


class RegistryState:
    """Subjects → versions → schema ids; ids → schemas; compatibility configuration.

    Pure and deterministic: the same records applied in the same order give the same state.
    """

    def __init__(self) -> None:
        self._subjects: dict[str, dict[int, RegisteredVersion]] = {}
        self._schemas: dict[int, str] = {}
        self._ids: dict[str, int] = {}
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
            case ConfigRecord(None, level):
                self._global_level = level
            case ConfigRecord(str() as subject, None):
                self._subject_levels.pop(subject, None)
            case ConfigRecord(str() as subject, CompatibilityLevel() as level):
                self._subject_levels[subject] = level

    def _apply_schema(self, record: SchemaRecord) -> None:
        self._max_id = max(self._max_id, record.schema_id)
        self._schemas.setdefault(record.schema_id, record.schema)
        try:
            canonical = canonical_text(record.schema)
        except InvalidSchema:
            canonical = record.schema
        known = self._ids.get(canonical)
        if known is None or record.schema_id < known:
            self._ids[canonical] = record.schema_id
        if record.deleted:
            self._drop_version(record.subject, record.version)
            return
        self._subjects.setdefault(record.subject, {})[record.version] = RegisteredVersion(
            record.subject, record.version, record.schema_id, record.schema
        )

    def _drop_version(self, subject: str, version: int) -> None:
        versions = self._subjects.get(subject)
        if versions is None:
            return
        versions.pop(version, None)
        if not versions:
            del self._subjects[subject]

    # -- queries -----------------------------------------------------------------------

    def next_id(self) -> int:
        """The id a new schema gets: one more than the highest id ever seen."""
        return self._max_id + 1

    def id_of(self, canonical: str) -> int | None:
        """The id of a schema in canonical form, if registered under any subject."""
        return self._ids.get(canonical)

    def schema_of(self, schema_id: int) -> str | None:
        return self._schemas.get(schema_id)

    def subjects(self) -> list[str]:
        return sorted(self._subjects)

    def versions(self, subject: str) -> list[RegisteredVersion]:
        """Live versions of ``subject``, oldest first (empty if the subject is unknown)."""
        versions = self._subjects.get(subject, {})
        return [versions[v] for v in sorted(versions)]

    def find(self, subject: str, canonical: str) -> RegisteredVersion | None:
        """The version of ``subject`` holding the schema with this canonical form, if any."""
        schema_id = self._ids.get(canonical)
        if schema_id is None:
            return None
        for registered in self.versions(subject):
            if registered.schema_id == schema_id:
                return registered
        return None

    @property
    def global_level(self) -> CompatibilityLevel:
        return self._global_level or DEFAULT_LEVEL

    def subject_level(self, subject: str) -> CompatibilityLevel | None:
        return self._subject_levels.get(subject)

    def effective_level(self, subject: str) -> CompatibilityLevel:
        return self._subject_levels.get(subject, self.global_level)
