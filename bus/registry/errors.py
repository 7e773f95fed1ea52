"""Errors the registry reports to its clients, with Confluent's HTTP status and error codes.

Codes and messages follow Confluent's ``io.confluent.kafka.schemaregistry.rest.exceptions.Errors``
word for word (including its missing space in "soft deleted.Set permanent=true"), because
clients match on them.
"""

from __future__ import annotations

__all__ = [
    "BadRequest",
    "IncompatibleSchema",
    "InvalidCompatibilityLevel",
    "InvalidSchema",
    "InvalidVersion",
    "RegistryError",
    "SchemaNotFound",
    "StoreError",
    "SubjectConfigNotFound",
    "SubjectModeNotFound",
    "SubjectNotFound",
    "SubjectNotSoftDeleted",
    "SubjectSoftDeleted",
    "UnsupportedMediaType",
    "VersionNotFound",
    "VersionNotSoftDeleted",
    "VersionSoftDeleted",
]


class RegistryError(Exception):
    """A failure with a Confluent error code; the web layer turns it into a JSON error body."""

    http_status: int = 500
    error_code: int = 50001

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class SubjectNotFound(RegistryError):
    http_status, error_code = 404, 40401

    def __init__(self, subject: str) -> None:
        super().__init__(f"Subject '{subject}' not found.")


class VersionNotFound(RegistryError):
    http_status, error_code = 404, 40402

    def __init__(self, version: int) -> None:
        super().__init__(f"Version {version} not found.")


class SchemaNotFound(RegistryError):
    """40403; "Schema <id> not found" when looked up by id, "Schema not found" otherwise."""

    http_status, error_code = 404, 40403

    def __init__(self, schema_id: int | None = None) -> None:
        super().__init__("Schema not found" if schema_id is None else f"Schema {schema_id} not found")


class SubjectSoftDeleted(RegistryError):
    """A soft delete of a subject that is already soft-deleted."""

    http_status, error_code = 404, 40404

    def __init__(self, subject: str) -> None:
        super().__init__(
            f"Subject '{subject}' was soft deleted.Set permanent=true to delete permanently"
        )


class SubjectNotSoftDeleted(RegistryError):
    """A permanent delete of a subject that still has live versions."""

    http_status, error_code = 404, 40405

    def __init__(self, subject: str) -> None:
        super().__init__(
            f"Subject '{subject}' was not deleted first before being permanently deleted"
        )


class VersionSoftDeleted(RegistryError):
    """A soft delete of a version that is already soft-deleted."""

    http_status, error_code = 404, 40406

    def __init__(self, subject: str, version: int) -> None:
        super().__init__(
            f"Subject '{subject}' Version {version} was soft deleted."
            "Set permanent=true to delete permanently"
        )


class VersionNotSoftDeleted(RegistryError):
    """A permanent delete of a version that is still live."""

    http_status, error_code = 404, 40407

    def __init__(self, subject: str, version: int) -> None:
        super().__init__(
            f"Subject '{subject}' Version {version} was not deleted first before being"
            " permanently deleted"
        )


class SubjectConfigNotFound(RegistryError):
    http_status, error_code = 404, 40408

    def __init__(self, subject: str) -> None:
        super().__init__(
            f"Subject '{subject}' does not have subject-level compatibility configured"
        )


class SubjectModeNotFound(RegistryError):
    http_status, error_code = 404, 40409

    def __init__(self, subject: str) -> None:
        super().__init__(f"Subject '{subject}' does not have subject-level mode configured")


class IncompatibleSchema(RegistryError):
    http_status, error_code = 409, 409


class InvalidSchema(RegistryError):
    http_status, error_code = 422, 42201


class InvalidVersion(RegistryError):
    http_status, error_code = 422, 42202

    def __init__(self, version: str) -> None:
        super().__init__(
            f"The specified version '{version}' is not a valid version id. Allowed values are"
            ' between [1, 2^31-1] and the string "latest"'
        )


class InvalidCompatibilityLevel(RegistryError):
    http_status, error_code = 422, 42203

    def __init__(self, level: object) -> None:
        super().__init__(f"Invalid compatibility level: {level!r}")


class BadRequest(RegistryError):
    http_status, error_code = 400, 400


class UnsupportedMediaType(RegistryError):
    http_status, error_code = 415, 415


class StoreError(RegistryError):
    http_status, error_code = 500, 50001
