"""Upcasters: events written with an old shape of a schema are read in the newest shape.

An event's schema changes either compatibly (the registry enforces it) or with an upcaster:
an explicit function from a record of version *n* to the record of version *n + 1*. The old
version's schema is kept in ``schemas/avro/history/<name>.v<n>.avsc``; upcasters are keyed by
the fingerprint of that writer schema (SHA-256 of its Parsing Canonical Form, so docs and
custom properties do not matter) and chain: v1 → v2 → v3. ``AvroSerde.decode`` applies them,
so every consumer of the bus sees the newest shape only.

The upcasters the bus ships are listed in ``default_upcasters``; ``docs/schema-governance.md``
describes how to add one.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.resources import files
from typing import Any

import fastavro.schema

from bus.serde.wire import WireFormatError
from schemas.avro_schemas import load_avro_schema

__all__ = [
    "Upcast",
    "UpcastError",
    "Upcaster",
    "Upcasters",
    "default_upcasters",
    "fingerprint",
    "history_schema",
    "quarantined_record_v1_to_v2",
]

Record = dict[str, Any]
Upcast = Callable[[Record], Record]


class UpcastError(WireFormatError):
    """A record of an old version that its upcaster cannot turn into the newest shape."""


def fingerprint(schema: Mapping[str, Any] | str) -> str:
    """SHA-256 of the schema's Parsing Canonical Form, hex (the same for any doc or property)."""
    parsed = json.loads(schema) if isinstance(schema, str) else dict(schema)
    canonical = fastavro.schema.to_parsing_canonical_form(parsed)
    return str(fastavro.schema.fingerprint(canonical, "SHA-256"))


def history_schema(name: str, version: int) -> dict[str, Any]:
    """The parsed JSON of ``schemas/avro/history/<name>.v<version>.avsc``."""
    path = files("schemas").joinpath("avro", "history", f"{name}.v{version}.avsc")
    schema: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return schema


@dataclass(frozen=True, slots=True)
class Upcaster:
    """One step: records written with ``source`` (a fingerprint) become records of ``target``.

    ``target_defaults`` fills fields of the target the step does not set, so a target schema
    that later gains fields with defaults needs no change to the step.
    """

    name: str
    source: str
    target: str
    upcast: Upcast
    target_defaults: Mapping[str, Any]

    def __call__(self, record: Record) -> Record:
        try:
            upcast = self.upcast(record)
        except (KeyError, TypeError, ValueError) as exc:
            raise UpcastError(f"{self.name}: cannot upcast {exc!r}") from exc
        return {**self.target_defaults, **upcast}


class Upcasters:
    """The upcasters known to a serde, by the fingerprint of the writer schema they read."""

    def __init__(self, upcasters: Iterable[Upcaster] = ()) -> None:
        self._by_source: dict[str, Upcaster] = {}
        for upcaster in upcasters:
            self._add(upcaster)

    def add(
        self, name: str, old: Mapping[str, Any], new: Mapping[str, Any], upcast: Upcast
    ) -> None:
        """Read records written with schema ``old`` as records of schema ``new`` via ``upcast``."""
        defaults = {f["name"]: f["default"] for f in new.get("fields", []) if "default" in f}
        self._add(Upcaster(name, fingerprint(old), fingerprint(new), upcast, defaults))

    def _add(self, upcaster: Upcaster) -> None:
        if upcaster.source == upcaster.target:
            raise ValueError(f"{upcaster.name}: old and new schema have the same shape")
        if upcaster.source in self._by_source:
            raise ValueError(f"{upcaster.name}: that writer schema already has an upcaster")
        self._by_source[upcaster.source] = upcaster

    def __len__(self) -> int:
        return len(self._by_source)

    def chain(self, writer_schema: Mapping[str, Any] | str) -> Upcast | None:
        """The composed upcast for records written with ``writer_schema``; None when they are
        already in the newest shape known."""
        steps: list[Upcaster] = []
        current = fingerprint(writer_schema)
        while (step := self._by_source.get(current)) is not None:
            if step in steps:
                raise ValueError(f"upcasters loop at {step.name}")
            steps.append(step)
            current = step.target
        if not steps:
            return None

        def upcast(record: Record) -> Record:
            for step in steps:
                record = step(record)
            return record

        return upcast


# -- the upcasters the bus ships ----------------------------------------------------------


def quarantined_record_v1_to_v2(old: Record) -> Record:
    """QuarantinedRecord v1 (first cut) → v2 (``schemas/avro/quarantined_record.avsc``).

    v1 kept the reason as a map by language, the raw position as one ``topic:partition:offset``
    string and the time as ISO-8601 text; v2 has a field for each and a timestamp.
    """
    messages: Mapping[str, str] = old["messages"]
    topic, partition, offset = str(old["source"]).rsplit(":", 2)
    at = datetime.fromisoformat(old["quarantined_at"])
    at = at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
    return {
        "rule_id": old["rule"],
        "field": old["column"],
        "message_zh": messages.get("zh") or messages.get("en", ""),
        "message_en": messages.get("en") or messages.get("zh", ""),
        "department": old["department"],
        "table": old["table"],
        "record_key": old["record_key"],
        "op": old["op"],
        "original": old["row"],
        "source_event_id": old["source_event_id"],
        "source_topic": topic,
        "source_partition": int(partition),
        "source_offset": int(offset),
        # timestamp-millis: what decoding a v2 record would give.
        "quarantined_at": at.replace(microsecond=at.microsecond // 1000 * 1000),
    }


@functools.cache
def default_upcasters() -> Upcasters:
    """Every upcaster of the bus's canonical events (read once per process)."""
    upcasters = Upcasters()
    upcasters.add(
        "QuarantinedRecord v1→v2",
        history_schema("quarantined_record", 1),
        load_avro_schema("quarantined_record"),
        quarantined_record_v1_to_v2,
    )
    return upcasters
