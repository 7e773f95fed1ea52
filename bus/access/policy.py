"""Default-deny field views: what of a profile a client sees, masked or left out.

A field is shown in full when the client was granted its classification and — for personal
and sensitive personal fields — the request declared a purpose the client was granted.
Otherwise the field is masked when it has a mask (identity number, name, phone) or left out;
its provenance goes with it. The classification of each field comes from the data catalog
(the canonical schemas' classification carried along the lineage), so a new field is
classified where it is defined, not here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from bus.access.clients import CLASSIFICATIONS, Client
from bus.access.masking import mask

__all__ = ["PERSONAL", "Access", "FieldPolicy", "View"]

PERSONAL = frozenset({"personal", "sensitive_personal"})
#: Origin blocks (``source``, ``position``, provenance entries) say which department and log
#: position a value came from; the legacy record key inside may itself be personal.
_ORIGIN = "internal"
_RECORD_KEY = "personal"


@dataclass(frozen=True)
class Access:
    """A client and the purpose its request declared (``X-Purpose``)."""

    client: Client
    purpose: str | None = None

    @property
    def purpose_granted(self) -> bool:
        return self.purpose is not None and self.purpose in self.client.purposes

    def sees(self, classification: str) -> bool:
        if classification not in self.client.classifications:
            return False
        return classification not in PERSONAL or self.purpose_granted

    def may_read(self, projection: str) -> bool:
        return self.client.active and projection in self.client.projections


@dataclass
class View:
    """A profile as one client may see it, and what it revealed (for the audit)."""

    body: dict[str, Any]
    revealed: list[str] = field(default_factory=list)
    masked: list[str] = field(default_factory=list)

    @property
    def personal(self) -> bool:
        return bool(self.revealed or self.masked)


@dataclass(frozen=True)
class FieldPolicy:
    """The classification (and mask) of each field a projection's API answers.

    ``classes`` maps API field paths (``name``, ``births[].newborn_name``) to a classification;
    a field missing from it counts as sensitive personal (default-deny), except the plain
    bookkeeping fields in ``internal``.
    """

    projection: str
    key_field: str
    classes: Mapping[str, str]
    masks: Mapping[str, str] = field(default_factory=dict)
    internal: frozenset[str] = frozenset({"version", "projected_at", "source", "position"})

    @classmethod
    def from_catalog(cls, projection: str, key_field: str, fields: Iterable[tuple[str, str | None]],
                     *, masks: Mapping[str, str], overrides: Mapping[str, str] | None = None
                     ) -> FieldPolicy:
        classes = {path: classification or "sensitive_personal" for path, classification in fields}
        classes.update(overrides or {})
        unknown = sorted(set(classes.values()) - set(CLASSIFICATIONS))
        if unknown:
            raise ValueError(f"unknown classification(s) {unknown} in {projection}'s fields")
        return cls(projection, key_field, classes, dict(masks))

    def classification(self, path: str) -> str:
        if path in self.classes:
            return self.classes[path]
        return _ORIGIN if path in self.internal else "sensitive_personal"

    def view(self, profile: Mapping[str, Any], access: Access) -> View:
        view = View({})
        for name, value in profile.items():
            if name == "provenance":
                if access.sees(self.classification("provenance")):
                    view.body[name] = {field_name: _origin(entry, access)
                                       for field_name, entry in value.items()
                                       if access.sees(self.classification(field_name))}
            elif name in ("source", "position"):
                if access.sees(_ORIGIN):
                    view.body[name] = _origin(value, access)
            elif isinstance(value, list) and any(p.startswith(f"{name}[].") for p in self.classes):
                items = [self._item(name, item, access, view) for item in value]
                if any(items):
                    view.body[name] = [item for item in items if item]
            else:
                self._field(name, name, value, view.body, access, view)
        return view

    def _item(self, facet: str, item: Mapping[str, Any], access: Access, view: View
              ) -> dict[str, Any]:
        shown: dict[str, Any] = {}
        for name, value in item.items():
            if name == "source":
                continue
            self._field(f"{facet}[].{name}", name, value, shown, access, view)
        if shown and access.sees(_ORIGIN) and "source" in item:
            shown["source"] = _origin(item["source"], access)
        return shown

    def _field(self, path: str, name: str, value: Any, into: dict[str, Any], access: Access,
               view: View) -> None:
        classification = self.classification(path)
        if access.sees(classification):
            into[name] = value
            if classification in PERSONAL and value not in (None, "", []):
                view.revealed.append(path)
            return
        masked = mask(self.masks.get(path), value)
        if masked is not None and access.sees("internal"):
            into[name] = masked
            view.masked.append(path)


def _origin(block: Any, access: Access) -> Any:
    if not isinstance(block, Mapping):
        return block
    if access.sees(_RECORD_KEY):
        return dict(block)
    return {k: v for k, v in block.items() if k != "record_key"}
