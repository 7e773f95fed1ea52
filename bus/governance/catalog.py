"""The data catalog (数据资源目录) and field-level lineage, generated — never hand-maintained.

Built from the canonical schemas, the mapping files, and what projections and the query API
declare. Five kinds of dataset, one lineage chain::

    legacy column ──capture──► raw topic field ──mapping──► canonical field
        ──projection──► projection field ──API──► API response field

A field is named ``<dataset id>.<field>`` (``std.person.name``,
``legacy.gongan.hj_ryxx.after.XM``, ``GET /v1/citizens/{identity_number}.source.department``).
Fields upstream of a canonical field inherit its classification (the most sensitive one when
they feed several); fields downstream take the most sensitive of their sources.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from bus.governance.declarations import ApiDeclaration, ProjectionDeclaration
from bus.governance.sources import CanonicalEntity, MappingDocument

__all__ = ["CLASSIFICATIONS", "Catalog", "Dataset", "Edge", "FieldEntry", "UnknownField",
           "build_catalog"]

#: PIPL-based classification, least to most sensitive.
CLASSIFICATIONS = ("public", "internal", "personal", "sensitive_personal")
DatasetKind = Literal["legacy_table", "raw_topic", "canonical", "projection", "api"]


class UnknownField(KeyError):
    """A lineage question about a field the catalog does not have."""


@dataclass(frozen=True)
class FieldEntry:
    id: str
    dataset: str
    name: str
    doc: str = ""
    type: str | None = None
    classification: str | None = None
    owner: str | None = None
    authoritative_source: str | None = None
    code_table: str | None = None
    standard: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v not in (None, "")}


@dataclass(frozen=True)
class Dataset:
    id: str
    kind: DatasetKind
    name: str
    doc: str
    owner: str | None
    fields: tuple[FieldEntry, ...]
    topic: str | None = None

    def as_json(self, fields: Iterable[FieldEntry] | None = None) -> dict[str, Any]:
        shown = self.fields if fields is None else tuple(fields)
        data: dict[str, Any] = {"id": self.id, "kind": self.kind, "name": self.name,
                                "doc": self.doc, "owner": self.owner, "topic": self.topic,
                                "classification": _most_sensitive(f.classification for f in self.fields),
                                "fields": [f.as_json() for f in shown]}
        return {k: v for k, v in data.items() if v is not None}


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    via: str

    def as_json(self) -> dict[str, str]:
        return {"from": self.source, "to": self.target, "via": self.via}


def _most_sensitive(values: Iterable[str | None]) -> str | None:
    known = [v for v in values if v in CLASSIFICATIONS]
    return max(known, key=CLASSIFICATIONS.index) if known else None


@dataclass
class Catalog:
    datasets: list[Dataset]
    edges: list[Edge]
    _fields: dict[str, FieldEntry] = field(default_factory=dict)
    _out: dict[str, list[Edge]] = field(default_factory=lambda: defaultdict(list))
    _in: dict[str, list[Edge]] = field(default_factory=lambda: defaultdict(list))

    def __post_init__(self) -> None:
        for dataset in self.datasets:
            for entry in dataset.fields:
                self._fields[entry.id] = entry
        for edge in self.edges:
            self._out[edge.source].append(edge)
            self._in[edge.target].append(edge)

    # -- queries ----------------------------------------------------------------------------

    def as_json(self, search: str | None = None, kind: str | None = None) -> dict[str, Any]:
        """Datasets (optionally of one kind) with the fields matching ``search`` (all if None)."""
        items = []
        needle = (search or "").strip().casefold()
        for dataset in self.datasets:
            if kind and dataset.kind != kind:
                continue
            if not needle or _matches(needle, dataset.id, dataset.name, dataset.doc, dataset.owner):
                items.append(dataset.as_json())
                continue
            hits = [f for f in dataset.fields
                    if _matches(needle, f.id, f.name, f.doc, f.classification, f.owner,
                                f.authoritative_source, f.code_table, f.standard)]
            if hits:
                items.append(dataset.as_json(hits))
        return {"count": len(items), "fields": sum(len(d["fields"]) for d in items),
                "datasets": items}

    def resolve(self, name: str) -> FieldEntry:
        """A field by its id; ``#`` may separate dataset and field (``std.person#name``)."""
        entry = self._fields.get(name.replace("#", ".", 1) if "#" in name else name)
        if entry is None:
            raise UnknownField(name)
        return entry

    def lineage(self, name: str) -> dict[str, Any]:
        """Everything upstream and downstream of a field, with the edges and whole paths."""
        entry = self.resolve(name)
        up = self._walk(entry.id, self._in, lambda e: e.source)
        down = self._walk(entry.id, self._out, lambda e: e.target)
        nodes = {entry.id, *up, *down}
        edges = [e for e in self.edges if e.source in nodes and e.target in nodes]
        return {
            "field": entry.as_json(),
            "upstream": [self._fields[i].as_json() for i in up],
            "downstream": [self._fields[i].as_json() for i in down],
            "edges": [e.as_json() for e in edges],
            "paths": self._paths(entry.id),
        }

    def _walk(self, start: str, index: dict[str, list[Edge]], step: Any) -> list[str]:
        seen: list[str] = []
        frontier = [start]
        while frontier:
            current = frontier.pop(0)
            for edge in index.get(current, []):
                nxt = step(edge)
                if nxt not in seen and nxt != start:
                    seen.append(nxt)
                    frontier.append(nxt)
        return seen

    def _paths(self, through: str) -> list[list[str]]:
        """Every source-to-end path that passes through ``through``."""
        def back(node: str) -> list[list[str]]:
            incoming = self._in.get(node, [])
            return [[node]] if not incoming else [[*p, node] for e in incoming for p in back(e.source)]

        def forward(node: str) -> list[list[str]]:
            outgoing = self._out.get(node, [])
            return [[node]] if not outgoing else [[node, *p] for e in outgoing for p in forward(e.target)]

        return [head[:-1] + tail for head in back(through) for tail in forward(through)]


def _matches(needle: str, *values: str | None) -> bool:
    return any(v and needle in v.casefold() for v in values)


# -- building -------------------------------------------------------------------------------


def build_catalog(entities: Sequence[CanonicalEntity], mappings: Sequence[MappingDocument],
                  projections: Sequence[ProjectionDeclaration] = (),
                  apis: Sequence[ApiDeclaration] = ()) -> Catalog:
    datasets: list[Dataset] = []
    edges: list[Edge] = []
    by_entity = {e.entity: e for e in entities}
    canonical: dict[str, FieldEntry] = {}
    for entity in entities:
        fields = tuple(FieldEntry(
            id=f"{entity.topic}.{f.name}", dataset=entity.topic, name=f.name, doc=f.doc,
            type=f.type, classification=f.classification, owner=f.owner,
            authoritative_source=f.authoritative_source, code_table=f.code_table,
            standard=f.standard) for f in entity.fields)
        canonical.update((f.id, f) for f in fields)
        owners = sorted({f.owner for f in fields if f.owner})
        datasets.append(Dataset(entity.topic, "canonical", entity.full_name, entity.doc,
                                ", ".join(owners) or None, fields, entity.topic))
    for mapping in mappings:
        datasets += _legacy_datasets(mapping, by_entity.get(mapping.entity), canonical, edges)
    for projection in projections:
        datasets.append(_projection_dataset(projection, canonical, edges))
    projected = {f.id: f for d in datasets if d.kind == "projection" for f in d.fields}
    for api in apis:
        datasets.append(_api_dataset(api, projected, edges))
    return Catalog(datasets, edges)


def _legacy_datasets(mapping: MappingDocument, entity: CanonicalEntity | None,
                     canonical: dict[str, FieldEntry], edges: list[Edge]) -> list[Dataset]:
    table_id = f"{mapping.department}.{mapping.table}"
    feeds: dict[str, list[tuple[FieldEntry | None, str, str]]] = defaultdict(list)
    for rule in mapping.fields:
        target = canonical.get(f"std.{mapping.entity}.{rule.field}")
        feeds[rule.column].append((target, rule.transform, f"std.{mapping.entity}.{rule.field}"))
    columns = [mapping.key_column, *[c for c in feeds if c != mapping.key_column]]
    legacy_fields, raw_fields = [], []
    for column in columns:
        targets = feeds.get(column, [])
        classification = _most_sensitive(t.classification for t, _, _ in targets if t)
        fed = ", ".join(sorted({name for _t, _tr, name in targets}))
        legacy_fields.append(FieldEntry(
            f"{table_id}.{column}", table_id, column,
            f"Column {column} of the legacy table {table_id}" + (f"; feeds {fed}." if fed else "."),
            classification=classification, owner=mapping.department,
            authoritative_source=table_id))
        raw_id = f"{mapping.raw_topic}.after.{column}"
        raw_fields.append(FieldEntry(
            raw_id, mapping.raw_topic, f"after.{column}",
            f"{column} as captured, as text, in the change event's after (and before) image.",
            type="string?", classification=classification, owner=mapping.department,
            authoritative_source=table_id))
        edges.append(Edge(f"{table_id}.{column}", raw_id, f"capture ({mapping.department})"))
        for target, transform, name in targets:
            if target is not None:
                edges.append(Edge(raw_id, name, f"standardize: {transform}"))
    entity_doc = f" → std.{mapping.entity}" if entity else ""
    return [
        Dataset(table_id, "legacy_table", mapping.table,
                f"Legacy table {mapping.table} of department {mapping.department}"
                f" (the columns the data standard uses){entity_doc}.",
                mapping.department, tuple(legacy_fields)),
        Dataset(mapping.raw_topic, "raw_topic", mapping.raw_topic,
                f"Change events (c/u/d/r) of {table_id}, every column as text; rows that do not "
                f"fit the standard go to {mapping.quarantine_topic}.",
                mapping.department, tuple(raw_fields), mapping.raw_topic),
    ]


def _projection_dataset(projection: ProjectionDeclaration, canonical: dict[str, FieldEntry],
                        edges: list[Edge]) -> Dataset:
    fields = []
    for declared in projection.fields:
        sources = [canonical[s] for s in declared.sources if s in canonical]
        entry = FieldEntry(
            f"{projection.topic}.{declared.name}", projection.topic, declared.name, declared.doc,
            type=sources[0].type if len(sources) == 1 else None,
            classification=_most_sensitive(s.classification for s in sources),
            owner="rongtong",
            # A projection lists a field's sources with the one survivorship prefers first.
            authoritative_source=sources[0].authoritative_source if sources else None)
        fields.append(entry)
        edges.extend(Edge(s.id, entry.id, f"projection {projection.name}") for s in sources)
    return Dataset(projection.topic, "projection", projection.name, projection.doc, "rongtong",
                   tuple(fields))


def _api_dataset(api: ApiDeclaration, projected: dict[str, FieldEntry], edges: list[Edge]) -> Dataset:
    fields = []
    for declared in api.fields:
        source = projected.get(f"projection.{api.projection}.{declared.projection_field}")
        entry = FieldEntry(f"{api.method.upper()} {api.path}.{declared.path}",
                           f"{api.method.upper()} {api.path}", declared.path,
                           source.doc if source else "", type=source.type if source else None,
                           classification=source.classification if source else None,
                           owner="rongtong")
        if source is not None:
            entry = replace(entry, authoritative_source=source.authoritative_source)
            edges.append(Edge(source.id, entry.id, f"API {api.method.upper()} {api.path}"))
        fields.append(entry)
    return Dataset(f"{api.method.upper()} {api.path}", "api", api.path, api.summary, "rongtong",
                   tuple(fields))
