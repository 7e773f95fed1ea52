"""What projections and APIs declare about their fields, so governance can trace them.

Projections and the query API own these declarations (next to their code); the catalog and the
AsyncAPI document are generated from them together with the schemas and the mappings, so no
catalog entry is ever maintained by hand.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ApiDeclaration", "ApiField", "ProjectionDeclaration", "ProjectionField"]


@dataclass(frozen=True)
class ProjectionField:
    """A field of a projection and the canonical fields (``std.<entity>.<field>``) it comes from,
    the one survivorship prefers (the authoritative source) first."""

    name: str
    doc: str
    sources: tuple[str, ...] = ()


@dataclass(frozen=True)
class ProjectionDeclaration:
    """A projection: its name, the topics it reads, its key and its fields."""

    name: str
    doc: str
    inputs: tuple[str, ...]
    key: str
    fields: tuple[ProjectionField, ...]

    @property
    def topic(self) -> str:
        """Its name in the catalog and in ``projection.<name>`` topics."""
        return f"projection.{self.name}"


@dataclass(frozen=True)
class ApiField:
    """A field of an API response (a JSON path such as ``source.department``) and its origin."""

    path: str
    projection_field: str


@dataclass(frozen=True)
class ApiDeclaration:
    """An endpoint of the query API and the projection fields its responses carry."""

    method: str
    path: str
    summary: str
    projection: str
    fields: tuple[ApiField, ...]

    @property
    def id(self) -> str:
        return f"api.{self.method.upper()} {self.path}"
