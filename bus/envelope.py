"""CloudEvents 1.0 in Kafka binary mode: event attributes travel as ``ce_*`` headers.

The Avro body carries the data; the headers carry what every consumer needs to route, trace
and audit an event without decoding it (DESIGN §4).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

SPEC_VERSION = "1.0"
AVRO_CONTENT_TYPE = "application/avro"

Headers = list[tuple[str, bytes]]


class InvalidEnvelope(ValueError):
    """Headers that are not a CloudEvents 1.0 binary-mode envelope."""


@dataclass(frozen=True)
class CloudEvent:
    """The attributes of one event; ``id`` is unique per ``source``."""

    type: str
    source: str
    id: str = field(default_factory=lambda: str(uuid.uuid4()))
    time: datetime = field(default_factory=lambda: datetime.now(UTC))
    subject: str | None = None
    dataclassification: str | None = None
    traceparent: str | None = None
    correlationid: str | None = None
    causationid: str | None = None

    def to_headers(self) -> Headers:
        headers: Headers = [
            ("ce_specversion", SPEC_VERSION.encode()),
            ("ce_id", self.id.encode()),
            ("ce_source", self.source.encode()),
            ("ce_type", self.type.encode()),
            ("ce_time", _format_time(self.time).encode()),
            ("content-type", AVRO_CONTENT_TYPE.encode()),
        ]
        optional = {
            "ce_subject": self.subject,
            "traceparent": self.traceparent,
            "correlationid": self.correlationid,
            "causationid": self.causationid,
            "dataclassification": self.dataclassification,
        }
        headers.extend((k, v.encode()) for k, v in optional.items() if v is not None)
        return headers

    @classmethod
    def from_headers(cls, headers: Iterable[tuple[str, bytes]] | None) -> CloudEvent:
        values = {k: v.decode("utf-8", errors="replace") for k, v in (headers or ())}
        if values.get("ce_specversion") != SPEC_VERSION:
            raise InvalidEnvelope(f"ce_specversion must be {SPEC_VERSION!r}")
        missing = [a for a in ("ce_id", "ce_source", "ce_type", "ce_time") if not values.get(a)]
        if missing:
            raise InvalidEnvelope(f"missing CloudEvents headers: {', '.join(missing)}")
        try:
            time = datetime.fromisoformat(values["ce_time"].replace("Z", "+00:00"))
        except ValueError as exc:
            raise InvalidEnvelope(f"ce_time is not RFC 3339: {values['ce_time']!r}") from exc
        return cls(
            type=values["ce_type"], source=values["ce_source"], id=values["ce_id"], time=time,
            subject=values.get("ce_subject"),
            dataclassification=values.get("dataclassification"),
            traceparent=values.get("traceparent"),
            correlationid=values.get("correlationid"),
            causationid=values.get("causationid"),
        )

    def caused(self, type: str, source: str, *, id: str | None = None,
               subject: str | None = None, dataclassification: str | None = None) -> CloudEvent:
        """A follow-up event: same trace and correlation, caused by this one."""
        return CloudEvent(
            type=type, source=source, id=id or str(uuid.uuid4()), subject=subject,
            dataclassification=dataclassification, traceparent=self.traceparent,
            correlationid=self.correlationid or self.id, causationid=self.id,
        )


class HeaderTemplate:
    """``CloudEvent.to_headers()`` for many events that differ only in ``id`` and ``subject``.

    A publisher of many events of one type and source (a capture batch) builds the constant
    headers once; ``headers(id, subject)`` then returns exactly what
    ``CloudEvent(type, source, id, time, subject, ...).to_headers()`` would.
    """

    def __init__(self, type: str, source: str, time: datetime, *,
                 dataclassification: str | None = None, traceparent: str | None = None,
                 correlationid: str | None = None, causationid: str | None = None) -> None:
        self._head: Headers = [
            ("ce_specversion", SPEC_VERSION.encode()),
            ("ce_source", source.encode()),
            ("ce_type", type.encode()),
            ("ce_time", _format_time(time).encode()),
            ("content-type", AVRO_CONTENT_TYPE.encode()),
        ]
        optional = {"traceparent": traceparent, "correlationid": correlationid,
                    "causationid": causationid, "dataclassification": dataclassification}
        self._tail: Headers = [(k, v.encode()) for k, v in optional.items() if v is not None]

    @property
    def parts(self) -> tuple[tuple[tuple[str, bytes], ...], tuple[tuple[str, bytes], ...],
                             tuple[tuple[str, bytes], ...]]:
        """The constant headers before ``ce_id``, between it and ``ce_subject``, and after."""
        return (self._head[0],), tuple(self._head[1:]), tuple(self._tail)

    def headers(self, id: str, subject: str | None = None) -> Headers:
        head = self._head
        headers = [head[0], ("ce_id", id.encode()), head[1], head[2], head[3], head[4]]
        if subject is not None:
            headers.append(("ce_subject", subject.encode()))
        headers.extend(self._tail)
        return headers


def header_value(headers: Sequence[tuple[str, bytes]] | None, name: str) -> str | None:
    for key, value in headers or ():
        if key == name:
            return value.decode("utf-8", errors="replace")
    return None


def _format_time(moment: datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
