"""``BusClient``: publish typed events, subscribe to them over SSE, read profiles.

One ``aiohttp`` session per client, opened on first use and closed by ``close()`` (or
``async with``). Requests that are safe to repeat — reads, and publishes, which always carry an
``Idempotency-Key`` — are retried on 503/429/no connection, waiting the bus's ``Retry-After``
or an exponential backoff with full jitter. A subscription reconnects the same way, forever by
default, and resumes after the last event it handed out.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import logging
import random
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Iterable, Mapping
from types import TracebackType
from typing import Any, TypeVar
from urllib.parse import quote

import aiohttp
from pydantic import BaseModel, ValidationError

from bus.client.errors import (
    BusError,
    RateLimited,
    Unavailable,
    ValidationFailed,
    error_from,
)
from bus.client.models import EVENT_MODELS, KEY_MODELS
from bus.client.reads import CitizenProfile, Delivery, EnterpriseProfile, Published, Read
from bus.client.stream import Backoff, Resume, SseFrame, SseParser
from bus.client.views import parse_view

__all__ = ["BusClient", "Subscription"]

log = logging.getLogger(__name__)
P = TypeVar("P", bound=BaseModel)
EventType = str | type[BaseModel]
_RETRIED = (Unavailable, RateLimited, aiohttp.ClientConnectionError, aiohttp.ClientPayloadError,
            TimeoutError)


class BusClient:
    """A client of one bus: ``BusClient("http://127.0.0.1:8080", api_key="rtk_…")``.

    ``api_key`` (an ``rtk_…`` key) or ``token`` (a JWT) authenticates; ``purpose`` is sent as
    ``X-Purpose`` on every call unless a call names its own. ``retries`` bounds the retries of
    one request; ``backoff`` spaces them and a subscription's reconnects.
    """

    def __init__(self, base_url: str, api_key: str | None = None, *, token: str | None = None,
                 purpose: str | None = None, timeout: float = 30.0, retries: int = 4,
                 backoff: Backoff | None = None, session: aiohttp.ClientSession | None = None,
                 rng: random.Random | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self._credential = api_key or token
        self.purpose = purpose
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff or Backoff()
        self._session = session
        self._owns_session = session is None
        self._rng = rng or random.Random()

    async def __aenter__(self) -> BusClient:
        return self

    async def __aexit__(self, kind: type[BaseException] | None, error: BaseException | None,
                        trace: TracebackType | None) -> None:
        await self.close()

    async def close(self) -> None:
        if self._session is not None and self._owns_session:
            await self._session.close()
        self._session = None

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession()
            self._owns_session = True
        return self._session

    def headers(self, purpose: str | None = None) -> dict[str, str]:
        sent = {"Accept": "application/json, application/problem+json"}
        if self._credential:
            sent["Authorization"] = f"Bearer {self._credential}"
        if purpose or self.purpose:
            sent["X-Purpose"] = str(purpose or self.purpose)
        return sent

    # --- publish ---------------------------------------------------------------------------

    async def publish(self, event: EventType | BaseModel, data: BaseModel | Mapping[str, Any] | None = None,
                      *, idempotency_key: str | None = None, deleted: bool = False) -> Published:
        """Publish a canonical event; returns once Kafka has it.

        ``publish(ServiceCase(...))``, ``publish(ServiceCase, {...})`` or
        ``publish("rongtong.std.service_case.upserted", {...})``; a deletion is
        ``publish(ServiceCase, {"case_id": ...}, deleted=True)`` (only the key is sent). The
        body is checked against the model first (``ValidationFailed`` without a request), then
        by the bus against the schema and the data standard. Without ``idempotency_key`` a new
        one is made, so the SDK's own retries never publish twice.
        """
        event_type, body = _event_body(event, data, deleted)
        key = idempotency_key or f"sdk-{uuid.uuid4()}"
        headers = {**self.headers(), "Idempotency-Key": key}
        answer, response_headers = await self._request(
            "POST", f"/v1/events/{quote(event_type, safe='')}", headers=headers, json_body=body)
        return Published(event_id=str(answer["event_id"]), position=str(answer["position"]),
                         type=str(answer.get("type", event_type)), subject=answer.get("subject"),
                         topic=answer.get("topic"), partition=answer.get("partition"),
                         offset=answer.get("offset"),
                         replayed=response_headers.get("Idempotent-Replayed") == "true")

    # --- reads ------------------------------------------------------------------------------

    async def citizen(self, identity_number: str, *, purpose: str | None = None,
                      as_of: dt.datetime | str | None = None,
                      min_position: Published | str | None = None,
                      explain: bool = False) -> Read[CitizenProfile]:
        """One citizen's profile as this client may see it; with ``min_position`` (a
        :class:`Published` or its ``position``) it reflects that event (read-your-writes)."""
        return await self._profile(f"/v1/citizens/{quote(identity_number, safe='')}", CitizenProfile,
                                   purpose, as_of, min_position, explain)

    async def enterprise(self, credit_code: str, *, purpose: str | None = None,
                         as_of: dt.datetime | str | None = None,
                         min_position: Published | str | None = None,
                         explain: bool = False) -> Read[EnterpriseProfile]:
        """One enterprise's profile (GB 32100 credit code), like :meth:`citizen`."""
        return await self._profile(f"/v1/enterprises/{quote(credit_code, safe='')}", EnterpriseProfile,
                                   purpose, as_of, min_position, explain)

    async def _profile(self, path: str, model: type[P], purpose: str | None,
                       as_of: dt.datetime | str | None, min_position: Published | str | None,
                       explain: bool) -> Read[P]:
        params: dict[str, str] = {}
        if as_of is not None:
            params["as_of"] = as_of.isoformat() if isinstance(as_of, dt.datetime) else as_of
        if min_position is not None:
            params["min_position"] = (min_position.position if isinstance(min_position, Published)
                                      else min_position)
        if explain:
            params["explain"] = "true"
        body, headers = await self._request("GET", path, headers=self.headers(purpose), params=params)
        return Read(profile=model.model_validate(body), position=headers.get("X-Projection-Position"),
                    etag=headers.get("ETag"))

    async def _request(self, method: str, path: str, *, headers: Mapping[str, str],
                       params: Mapping[str, str] | None = None, json_body: Any = None
                       ) -> tuple[dict[str, Any], Mapping[str, str]]:
        """The JSON answer of a request that is safe to repeat, retried when worth it."""
        attempt = 0
        while True:
            try:
                return await self._once(method, path, headers, params, json_body)
            except _RETRIED as exc:
                if attempt >= self.retries:
                    if isinstance(exc, BusError):
                        raise
                    raise Unavailable(0, {"title": "No connection to the bus", "detail": str(exc)}) from exc
                retry_after = exc.retry_after if isinstance(exc, Unavailable | RateLimited) else None
                wait = self.backoff.delay(attempt, self._rng, retry_after)
                log.info("%s %s: %s; retrying in %.1f s", method, path, exc, wait)
                await asyncio.sleep(wait)
                attempt += 1

    async def _once(self, method: str, path: str, headers: Mapping[str, str],
                    params: Mapping[str, str] | None, json_body: Any
                    ) -> tuple[dict[str, Any], Mapping[str, str]]:
        timeout = aiohttp.ClientTimeout(total=self.timeout)
        async with self._http().request(method, self.base_url + path, headers=headers, params=params,
                                        json=json_body, timeout=timeout) as response:
            text = await response.text()
            try:
                body = json.loads(text) if text else None
            except ValueError:
                body = None
            if response.status >= 400:
                raise error_from(response.status, body, response.headers)
            if not isinstance(body, dict):
                raise BusError(response.status, {"title": "Not a JSON object", "detail": text[:200]})
            return body, response.headers

    # --- subscribe --------------------------------------------------------------------------

    def subscribe(self, types: EventType | Iterable[EventType], *, subject: str | None = None,
                  department: str | None = None, cursor: str | None = None,
                  from_beginning: bool = False, purpose: str | None = None,
                  read_timeout: float = 45.0) -> Subscription:
        """Events of ``types`` (event type names, or models: a canonical entity's model means
        its upserts and deletions) over Server-Sent Events, as typed :class:`Delivery` s.

        Starts after ``cursor`` (a ``Delivery.cursor``), else at the end of the log (new events
        only) or with ``from_beginning`` at its start. Reconnects on its own and resumes after
        the last event it handed out; an event is never handed out twice.
        """
        wanted = [types] if isinstance(types, str | type) else list(types)
        names: list[str] = []
        for kind in wanted:
            found = [kind] if isinstance(kind, str) else list(getattr(kind, "event_types", ()))
            if not found:
                raise TypeError(f"{kind!r} is not an event type or an event model")
            names += [n for n in found if n not in names]
        return Subscription(self, names, subject=subject, department=department, cursor=cursor,
                            from_beginning=from_beginning, purpose=purpose, read_timeout=read_timeout)


class Subscription:
    """An async iterator of :class:`Delivery`; ``cursor`` is where it would resume.

    Use ``async for delivery in subscription`` (or ``async with`` it to close the connection
    when leaving the block early).
    """

    def __init__(self, client: BusClient, types: list[str], *, subject: str | None,
                 department: str | None, cursor: str | None, from_beginning: bool,
                 purpose: str | None, read_timeout: float) -> None:
        self.client = client
        self.types = types
        self.subject = subject
        self.department = department
        self.from_beginning = from_beginning
        self.purpose = purpose
        self.read_timeout = read_timeout
        self.resume = Resume(cursor=cursor)
        #: Connections opened so far (1 + reconnects).
        self.connections = 0
        self._events: AsyncGenerator[Delivery, None] | None = None
        self._opened = False

    @property
    def cursor(self) -> str | None:
        return self.resume.cursor

    def __aiter__(self) -> AsyncIterator[Delivery]:
        if self._events is None:
            self._events = self._run()
        return self._events

    async def __aenter__(self) -> Subscription:
        return self

    async def __aexit__(self, kind: type[BaseException] | None, error: BaseException | None,
                        trace: TracebackType | None) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        events, self._events = self._events, None
        if events is not None:
            await events.aclose()

    def _params(self) -> dict[str, str]:
        params = {"types": ",".join(self.types)}
        if self.subject:
            params["subject"] = self.subject
        if self.department:
            params["department"] = self.department
        if self.from_beginning:
            params["from"] = "beginning"
        return params

    async def _run(self) -> AsyncGenerator[Delivery, None]:
        client = self.client
        attempt = 0
        while True:
            retry_after: float | None = None
            try:
                async with contextlib.aclosing(self._connection()) as deliveries:
                    async for delivery in deliveries:
                        yield delivery
                reason: object = "the bus ended the stream"
            except (Unavailable, RateLimited) as exc:
                retry_after, reason = exc.retry_after, exc
            except (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError, TimeoutError,
                    ConnectionError) as exc:
                reason = exc or type(exc).__name__
            if self._opened:  # it was connected: this drop starts the backoff over
                attempt, self._opened = 0, False
            if client.backoff.gives_up(attempt):
                raise Unavailable(0, {"title": "Subscription lost",
                                      "detail": f"gave up after {attempt} reconnects: {reason}"})
            wait = client.backoff.delay(attempt, client._rng, retry_after)
            log.info("subscription dropped (%s); reconnecting in %.1f s from %s", reason, wait,
                     self.resume.cursor)
            await asyncio.sleep(wait)
            attempt += 1

    async def _connection(self) -> AsyncGenerator[Delivery, None]:
        """The deliveries of one connection, until it ends or breaks."""
        client = self.client
        headers = {**client.headers(self.purpose), "Accept": "text/event-stream",
                   "Cache-Control": "no-cache"}
        if self.resume.cursor:
            headers["Last-Event-ID"] = self.resume.cursor
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=client.timeout,
                                        sock_read=self.read_timeout)
        self.connections += 1
        async with client._http().get(client.base_url + "/v1/subscribe", params=self._params(),
                                      headers=headers, timeout=timeout) as response:
            if response.status != 200:
                text = await response.text()
                try:
                    body = json.loads(text) if text else None
                except ValueError:
                    body = None
                raise error_from(response.status, body, response.headers)
            parser = SseParser()
            buffer = b""
            async for chunk in response.content.iter_any():
                buffer += chunk
                *lines, buffer = buffer.split(b"\n")
                for line in lines:
                    frame = parser.feed(line.decode("utf-8"))
                    if frame is None:
                        continue
                    if frame.comment is not None:
                        if frame.hello_cursor is not None:
                            self.resume.started(frame.hello_cursor)
                            self._opened = True
                        continue
                    delivery = _delivery(frame)
                    if delivery is None:
                        continue
                    if not self.resume.is_new(delivery.event_id):
                        self.resume.skipped(delivery.cursor)
                        continue
                    self.resume.delivered(delivery.event_id, delivery.cursor)
                    yield delivery


def _delivery(frame: SseFrame) -> Delivery | None:
    if frame.data is None or not frame.id:
        return None
    envelope = json.loads(frame.data)
    event_type = str(envelope.get("type") or frame.event or "")
    raw = envelope.get("data")
    model = EVENT_MODELS.get(event_type)
    data: BaseModel | dict[str, Any] | None = raw
    hidden: tuple[str, ...] = ()
    if raw is not None and model is not None:
        if event_type.endswith(".deleted"):
            data = raw
        else:
            data, hidden = parse_view(model, raw)
    time = envelope.get("time")
    return Delivery(event_id=envelope.get("id"), type=event_type, subject=envelope.get("subject"),
                    data=data, cursor=frame.id, hidden=hidden,
                    time=dt.datetime.fromisoformat(time.replace("Z", "+00:00")) if time else None)


def _event_body(event: EventType | BaseModel, data: BaseModel | Mapping[str, Any] | None,
                deleted: bool) -> tuple[str, dict[str, Any]]:
    """The event type and the JSON body to publish."""
    if isinstance(event, BaseModel):
        if data is not None:
            raise TypeError("publish(model_instance) takes no data")
        data = event
        event = type(event)
    if isinstance(event, str):
        event_type = event
        model = EVENT_MODELS.get(event_type)
        deleted = event_type.endswith(".deleted")
    else:
        types = getattr(event, "event_types", ())
        wanted = ".deleted" if deleted else ".upserted"
        matching = [t for t in types if t.endswith(wanted)]
        if not matching:
            raise TypeError(f"{event.__name__} is not a canonical event an application publishes")
        event_type, model = matching[0], event
    if data is None:
        raise TypeError("publish needs the event's data")
    if deleted:
        entity = event_type.split(".")[2] if event_type.count(".") >= 3 else ""
        key_model = KEY_MODELS.get(entity)
        raw = data.model_dump(mode="json") if isinstance(data, BaseModel) else dict(data)
        if key_model is None:
            return event_type, raw
        return event_type, _checked(key_model, {k: raw.get(k) for k in key_model.model_fields})
    if model is None:
        return event_type, data.model_dump(mode="json") if isinstance(data, BaseModel) else dict(data)
    if not isinstance(data, model):
        data = _validated(model, data)
    return event_type, data.model_dump(mode="json", exclude={"source"})


def _validated(model: type[BaseModel], data: BaseModel | Mapping[str, Any]) -> BaseModel:
    raw = data.model_dump() if isinstance(data, BaseModel) else data
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise _failed(model, exc) from exc


def _checked(model: type[BaseModel], raw: Mapping[str, Any]) -> dict[str, Any]:
    return _validated(model, raw).model_dump(mode="json")


def _failed(model: type[BaseModel], exc: ValidationError) -> ValidationFailed:
    errors = [{"field": _path(e["loc"]), "message": e["msg"]} for e in exc.errors()]
    return ValidationFailed(422, {
        "type": "/problems/invalid-event", "title": "The event does not fit its schema",
        "detail": f"{len(errors)} field(s) do not fit {model.__name__} (checked before sending)",
        "status": 422, "errors": errors})


def _path(location: Iterable[int | str]) -> str:
    path = ""
    for part in location:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path
