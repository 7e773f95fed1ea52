"""What the SDK hands back: a published event, a delivered event, a profile read.

The profile models follow the query API's answers (``/openapi.json``; a unit test keeps their
fields equal to the service's own models). Profiles are views: a field the client may not see
is left out, so every field is optional; masked values are still text.
"""

from __future__ import annotations

import builtins
import datetime as dt
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict

__all__ = ["CitizenProfile", "Delivery", "EnterpriseProfile", "Published", "Read"]

M = TypeVar("M", bound=BaseModel)
P = TypeVar("P", bound=BaseModel)
Item = dict[str, Any]


@dataclass(frozen=True)
class Published:
    """The bus has the event: its id, and the position a read's ``min_position`` takes."""

    event_id: str
    position: str
    type: str
    subject: str | None = None
    topic: str | None = None
    partition: int | None = None
    offset: int | None = None
    #: The same Idempotency-Key and body were published before; this is that answer.
    replayed: bool = False


@dataclass(frozen=True)
class Delivery:
    """One event of a subscription, as the client may see it.

    ``data`` is the event's model (``EVENT_MODELS[type]``; a plain dict for a type the SDK has
    no model of) or None for a deletion. Fields the client may not see are left out by the bus:
    they are unset on the model and named in ``hidden``. ``cursor`` resumes right after this
    event (``subscribe(cursor=…)``).
    """

    event_id: str | None
    type: str
    subject: str | None
    data: BaseModel | dict[str, Any] | None
    cursor: str
    time: dt.datetime | None = None
    hidden: tuple[str, ...] = ()

    def as_(self, model: builtins.type[M]) -> M:
        """``data`` as ``model`` (typed for the caller); TypeError when it is not one."""
        if not isinstance(self.data, model):
            raise TypeError(f"{self.type} carries {type(self.data).__name__}, not {model.__name__}")
        return self.data


@dataclass(frozen=True)
class Read(Generic[P]):
    """A profile read: the profile, the projection position it reflects at least
    (``X-Projection-Position``) and its ``ETag``."""

    profile: P
    position: str | None
    etag: str | None


class CitizenProfile(BaseModel):
    """One citizen (一人一档) as the client may see it."""

    model_config = ConfigDict(extra="allow")
    identity_number: str | None = None
    name: str | None = None
    sex_code: str | None = None
    birth_date: str | None = None
    division_code: str | None = None
    household_address: str | None = None
    version: int | None = None
    source: Item | None = None
    position: Item | None = None
    projected_at: str | None = None
    provenance: dict[str, Item] | None = None
    social_insurance: list[Item] | None = None
    marriages: list[Item] | None = None
    social_assistance: list[Item] | None = None
    births: list[Item] | None = None
    enterprises: list[Item] | None = None
    linked_records: list[Item] | None = None


class EnterpriseProfile(BaseModel):
    """One enterprise (一企一档) as the client may see it."""

    model_config = ConfigDict(extra="allow")
    credit_code: str | None = None
    name: str | None = None
    legal_rep_identity_number: str | None = None
    legal_rep_name: str | None = None
    registered_capital: str | None = None
    founding_date: str | None = None
    status_code: str | None = None
    version: int | None = None
    projected_at: str | None = None
    provenance: dict[str, Item] | None = None
    tax_registrations: list[Item] | None = None
    insured_employees: list[Item] | None = None
