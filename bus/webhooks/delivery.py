"""Delivering one event to one webhook: sign, POST, retry, dead-letter, log every attempt.

The body is the event as the webhook's client may see it — the same object as a
``GET /v1/subscribe`` event's ``data`` — sent with Standard Webhooks headers (``webhook-id`` is
the event id on every attempt) and CloudEvents HTTP binary-mode headers (``ce-*``). Only a 2xx
answer delivers; ``410 Gone`` disables the webhook; anything else (another status, a timeout,
a refused connection, a redirect) is retried after a backoff with full jitter, and after the
last attempt the event goes to ``bus.webhooks.dead_letter``. The attempt that ends an event is
logged in the same transaction as the webhook's next position.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from contextlib import suppress
from dataclasses import dataclass, replace
from typing import Any, Protocol

import aiohttp
from prometheus_client import CollectorRegistry, Counter, Histogram

from bus.access.audit import AuditEntry, AuditSink
from bus.access.policy import Access
from bus.webhooks.guard import Destinations, ForbiddenDestination
from bus.webhooks.retry import RetryPolicy
from bus.webhooks.signing import signature_header
from bus.webhooks.store import Attempt, Webhook, WebhookStore

__all__ = ["DeadLetter", "DeadLetterSink", "Deliverer", "DeliveryMetrics", "Outgoing", "Post",
           "http_post"]

log = logging.getLogger(__name__)
#: POSTs ``body`` with ``headers`` to ``url``; the answer's status (raises when there is none).
Post = Callable[[str, bytes, Mapping[str, str]], Awaitable[int]]
USER_AGENT = "rongtong-webhooks/1"


@dataclass(frozen=True)
class Outgoing:
    """One event on its way to one webhook: where it is in the log and what is sent."""

    topic: str
    partition: int
    offset: int
    source: str
    body: dict[str, Any]
    entity: str
    subject_key: str
    personal: bool
    revealed: tuple[str, ...] = ()
    masked: tuple[str, ...] = ()

    @property
    def event_id(self) -> str:
        return str(self.body.get("id") or f"{self.topic}:{self.partition}:{self.offset}")

    @property
    def type(self) -> str:
        return str(self.body.get("type") or "")


@dataclass(frozen=True)
class DeadLetter:
    webhook: Webhook
    event: Outgoing
    attempts: int
    status: int | None
    error: str | None


class DeadLetterSink(Protocol):
    async def send(self, letter: DeadLetter) -> None:
        """Store the letter; returns once it is stored (raises when it cannot be)."""


class DeliveryMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.attempts = Counter("rongtong_webhook_attempts", "Webhook POSTs by result "
                                "(2xx, 4xx, 5xx, other status, error).", ["result"],
                                registry=registry)
        self.events = Counter("rongtong_webhook_events", "Events done per webhook, by outcome "
                              "(delivered, dead_lettered, disabled).", ["outcome"],
                              registry=registry)
        self.seconds = Histogram("rongtong_webhook_attempt_seconds", "Duration of a webhook POST.",
                                 registry=registry)


def http_post(session: aiohttp.ClientSession) -> Post:
    """POST with ``session``, redirects not followed, the answer's body drained and dropped."""
    async def post(url: str, body: bytes, headers: Mapping[str, str]) -> int:
        async with session.post(url, data=body, headers=dict(headers),
                                allow_redirects=False) as response:
            with suppress(aiohttp.ClientError, asyncio.TimeoutError):
                await response.content.read(65536)
            return response.status
    return post


def _result(status: int | None) -> str:
    if status is None:
        return "error"
    return f"{status // 100}xx" if 200 <= status < 600 else "other"


class Deliverer:
    """Delivers events to webhooks; ``slots`` bounds the POSTs in flight across all of them."""

    def __init__(self, store: WebhookStore, post: Post, *, audit: AuditSink,
                 dead_letters: DeadLetterSink, policy: RetryPolicy, destinations: Destinations,
                 metrics: DeliveryMetrics, concurrency: int = 32,
                 clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.post = post
        self.audit = audit
        self.dead_letters = dead_letters
        self.policy = policy
        self.destinations = destinations
        self.metrics = metrics
        self.slots = asyncio.Semaphore(concurrency)
        self.clock = clock

    async def deliver(self, webhook: Webhook, access: Access, event: Outgoing,
                      positions: Mapping[tuple[str, int], int], stop: asyncio.Event) -> str | None:
        """Deliver ``event`` until it is done; its outcome, or None when ``stop`` came first
        (the event is then delivered again after a restart, with the same ``webhook-id``).
        ``positions`` are the webhook's positions once this event is done."""
        body = json.dumps(event.body, ensure_ascii=False, separators=(",", ":")).encode()
        made = self.store.attempts_made(webhook.id, event.event_id)
        if made == 0 and event.personal and not await self._audited(webhook, access, event, stop):
            return None
        attempt = made
        while True:
            attempt += 1
            started = self.clock()
            status, error, seconds = await self._attempt(webhook, event, body)
            row = Attempt(webhook.id, event.event_id, event.type, event.topic, event.partition,
                          event.offset, attempt, int(started * 1000), status, error,
                          seconds * 1000, "failed")
            if status is not None and 200 <= status < 300:
                return self._done(row, "delivered", positions)
            if status == 410:
                self.store.record(replace(row, outcome="disabled"),
                                  disable=f"the receiver answered 410 Gone ({_iso_now()})")
                self.metrics.events.labels("disabled").inc()
                log.warning("webhook %s disabled: %s answered 410 Gone", webhook.id, webhook.url)
                return "disabled"
            if self.policy.exhausted(attempt):
                await self.dead_letters.send(DeadLetter(webhook, event, attempt, status, error))
                return self._done(row, "dead_lettered", positions)
            self.store.record(row)
            if await _stopped(stop, self.policy.delay(attempt)):
                return None

    def _done(self, row: Attempt, outcome: str, positions: Mapping[tuple[str, int], int]) -> str:
        self.store.record(replace(row, outcome=outcome), positions)
        self.metrics.events.labels(outcome).inc()
        return outcome

    async def _audited(self, webhook: Webhook, access: Access, event: Outgoing,
                       stop: asyncio.Event) -> bool:
        """Record the delivery of personal fields before the first attempt, like a read; while
        the audit log cannot take it, nothing is sent."""
        entry = AuditEntry(f"{webhook.id}:{event.event_id}"[:64], access.client.id,
                           access.purpose, event.entity, event.subject_key,
                           f"webhook {webhook.id}", event.revealed, event.masked, "ok", 200)
        failures = 0
        while True:
            try:
                await self.audit.append(entry)
                return True
            except Exception as exc:
                failures += 1
                log.error("audit record of a webhook delivery not stored, delivery held: %s", exc)
                if await _stopped(stop, self.policy.delay(failures)):
                    return False

    async def _attempt(self, webhook: Webhook, event: Outgoing, body: bytes
                       ) -> tuple[int | None, str | None, float]:
        timestamp = int(self.clock())
        headers = {
            "content-type": "application/json", "user-agent": USER_AGENT,
            "webhook-id": event.event_id, "webhook-timestamp": str(timestamp),
            "webhook-signature": signature_header(webhook.secrets, event.event_id, timestamp, body),
            "ce-specversion": "1.0", "ce-id": event.event_id, "ce-type": event.type,
            "ce-source": event.source,
        }
        for name in ("subject", "time"):
            if event.body.get(name):
                headers[f"ce-{name}"] = str(event.body[name])
        status: int | None = None
        error: str | None = None
        async with self.slots:
            began = time.monotonic()
            try:
                self.destinations.check_url(webhook.url)
                status = await self.post(webhook.url, body, headers)
            except ForbiddenDestination as exc:
                error = f"refused destination: {exc}"
            except TimeoutError:
                error = "timeout: no answer in time"
            except (aiohttp.ClientError, OSError) as exc:
                error = f"{type(exc).__name__}: {exc}"[:500]
            seconds = time.monotonic() - began
        self.metrics.attempts.labels(_result(status)).inc()
        self.metrics.seconds.observe(seconds)
        return status, error, seconds


def _iso_now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


async def _stopped(stop: asyncio.Event, seconds: float) -> bool:
    """Wait ``seconds`` unless ``stop`` is set first; whether it was."""
    with suppress(asyncio.TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    return stop.is_set()
