"""Errors the registry reports to its clients, with Confluent's HTTP status and error codes."""

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
    "SubjectNotFound",
    "UnsupportedMediaType",
    "VersionNotFound",
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

    def __init__(self, subject: str, version: int) -> None:
        super().__init__(f"Version {version} not found for subject '{subject}'.")


class SchemaNotFound(RegistryError):
    http_status, error_code = 404, 40403


class SubjectConfigNotFound(RegistryError):
    http_status, error_code = 404, 40408

    def __init__(self, subject: str) -> None:
        super().__init__(
            f"Subject '{subject}' does not have subject-level compatibility configured"
        )


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
