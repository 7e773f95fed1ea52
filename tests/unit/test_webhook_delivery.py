"""One event to one webhook: signed, retried, dead-lettered, logged with the position."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from bus.access.audit import MemoryAuditLog
from bus.access.clients import Client
from bus.access.policy import Access
from bus.webhooks.delivery import DeadLetter, Deliverer, DeliveryMetrics, Outgoing
from bus.webhooks.guard import Destinations
from bus.webhooks.retry import RetryPolicy
from bus.webhooks.signing import verify
from bus.webhooks.store import Attempt, Webhook, WebhookStore

NOW = 1_800_000_000.0
EVENT = Outgoing("std.person", 0, 41, "/clients/registrar",
                 {"type": "rongtong.std.person.upserted", "id": "evt-41",
                  "subject": "person/330106********1236", "time": "2026-11-27T08:00:00Z",
                  "data": {"name": "林*"}},
                 "person", "330106199003071236", personal=True, masked=("name",))
AFTER = {("std.person", 0): 42}


class Receiver:
    """Answers each POST with the next status of ``script`` (an exception is raised instead)."""

    def __init__(self, *script: int | Exception) -> None:
        self.script = list(script)
        self.calls: list[tuple[str, bytes, dict[str, str]]] = []

    async def __call__(self, url: str, body: bytes, headers: Mapping[str, str]) -> int:
        self.calls.append((url, body, dict(headers)))
        answer = self.script.pop(0) if len(self.script) > 1 else self.script[0]
        if isinstance(answer, Exception):
            raise answer
        return answer


class Letters:
    def __init__(self) -> None:
        self.sent: list[DeadLetter] = []

    async def send(self, letter: DeadLetter) -> None:
        self.sent.append(letter)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[WebhookStore]:
    found = WebhookStore(tmp_path / "webhooks.sqlite")
    yield found
    found.close()


def a_webhook(store: WebhookStore) -> Webhook:
    webhook, _ = store.register("app", "https://app.example.org/hook",
                                ["rongtong.std.person.upserted"], None, None)
    return webhook


def deliverer(store: WebhookStore, receiver: Receiver, letters: Letters,
              audit: MemoryAuditLog | None = None, attempts: int = 3) -> Deliverer:
    return Deliverer(store, receiver, audit=audit or MemoryAuditLog(), dead_letters=letters,
                     policy=RetryPolicy(max_attempts=attempts, base_seconds=0.0, cap_seconds=0.0),
                     destinations=Destinations(), metrics=DeliveryMetrics(CollectorRegistry()),
                     clock=lambda: NOW)


ACCESS = Access(Client("app", "app", classifications=frozenset({"public", "internal"})))


async def test_a_2xx_delivers_once_signed_with_cloudevents_headers_and_moves_the_position(
        store: WebhookStore) -> None:
    webhook = a_webhook(store)
    receiver = Receiver(204)
    outcome = await deliverer(store, receiver, Letters()).deliver(
        webhook, ACCESS, EVENT, AFTER, asyncio.Event())
    assert outcome == "delivered"
    [(url, body, headers)] = receiver.calls
    assert url == webhook.url and json.loads(body) == EVENT.body
    assert headers["webhook-id"] == "evt-41" and headers["webhook-timestamp"] == str(int(NOW))
    verify(webhook.secrets[0], "evt-41", headers["webhook-timestamp"], body,
           headers["webhook-signature"], now=NOW)
    assert {k: headers[k] for k in ("ce-id", "ce-type", "ce-source", "ce-subject", "ce-time")} == {
        "ce-id": "evt-41", "ce-type": "rongtong.std.person.upserted",
        "ce-source": "/clients/registrar", "ce-subject": "person/330106********1236",
        "ce-time": "2026-11-27T08:00:00Z"}
    assert store.positions(webhook.id) == AFTER
    [attempt], _ = store.deliveries(webhook.id)
    assert (attempt.attempt, attempt.status, attempt.outcome) == (1, 204, "delivered")


async def test_failures_are_retried_with_the_same_webhook_id_and_every_attempt_is_logged(
        store: WebhookStore) -> None:
    webhook = a_webhook(store)
    receiver = Receiver(500, OSError("connection refused"), 200)
    outcome = await deliverer(store, receiver, Letters()).deliver(
        webhook, ACCESS, EVENT, AFTER, asyncio.Event())
    assert outcome == "delivered"
    assert {headers["webhook-id"] for _, _, headers in receiver.calls} == {"evt-41"}
    log, _ = store.deliveries(webhook.id)
    assert [(a.attempt, a.status, a.outcome) for a in reversed(log)] == [
        (1, 500, "failed"), (2, None, "failed"), (3, 200, "delivered")]
    assert "connection refused" in (log[1].error or "")


async def test_after_the_last_failed_attempt_the_event_is_dead_lettered_and_passed(
        store: WebhookStore) -> None:
    webhook = a_webhook(store)
    letters = Letters()
    outcome = await deliverer(store, Receiver(503), letters, attempts=3).deliver(
        webhook, ACCESS, EVENT, AFTER, asyncio.Event())
    assert outcome == "dead_lettered"
    [letter] = letters.sent
    assert (letter.attempts, letter.status, letter.event.event_id) == (3, 503, "evt-41")
    assert store.positions(webhook.id) == AFTER, "the next event is not held up"
    log, _ = store.deliveries(webhook.id)
    assert [a.outcome for a in reversed(log)] == ["failed", "failed", "dead_lettered"]


async def test_a_redirect_is_not_a_delivery(store: WebhookStore) -> None:
    webhook = a_webhook(store)
    letters = Letters()
    outcome = await deliverer(store, Receiver(302), letters, attempts=2).deliver(
        webhook, ACCESS, EVENT, AFTER, asyncio.Event())
    assert outcome == "dead_lettered" and store.get(webhook.id).state == "active"  # type: ignore[union-attr]


async def test_410_gone_disables_the_webhook_without_moving_its_position(
        store: WebhookStore) -> None:
    webhook = a_webhook(store)
    outcome = await deliverer(store, Receiver(410), Letters()).deliver(
        webhook, ACCESS, EVENT, AFTER, asyncio.Event())
    assert outcome == "disabled"
    found = store.get(webhook.id)
    assert found is not None and found.state == "disabled" and "410" in (found.state_reason or "")
    assert store.positions(webhook.id) == {}
    assert store.active() == []


async def test_a_stop_during_the_backoff_leaves_the_event_undone_and_its_attempts_counted(
        store: WebhookStore) -> None:
    webhook = a_webhook(store)
    stop = asyncio.Event()
    stop.set()
    first = deliverer(store, Receiver(500), Letters(), attempts=3)
    assert await first.deliver(webhook, ACCESS, EVENT, AFTER, stop) is None
    assert store.positions(webhook.id) == {}
    letters = Letters()
    again = deliverer(store, Receiver(500), letters, attempts=3)
    assert await again.deliver(webhook, ACCESS, EVENT, AFTER, asyncio.Event()) == "dead_lettered"
    assert letters.sent[0].attempts == 3, "the count goes on after a restart"


async def test_personal_fields_are_audited_once_per_event_not_per_attempt(
        store: WebhookStore) -> None:
    webhook = a_webhook(store)
    audit = MemoryAuditLog()
    await deliverer(store, Receiver(500, 500, 200), Letters(), audit=audit).deliver(
        webhook, ACCESS, EVENT, AFTER, asyncio.Event())
    [record] = audit.records
    assert (record.client, record.subject, record.masked) == ("app", "330106199003071236", ("name",))
    assert record.endpoint == f"webhook {webhook.id}"
    public = Outgoing("std.person", 0, 42, "/x", {"type": "t", "id": "evt-42", "data": {}}, "person",
                      "k", personal=False)
    await deliverer(store, Receiver(200), Letters(), audit=audit).deliver(
        webhook, ACCESS, public, AFTER, asyncio.Event())
    assert len(audit.records) == 1, "an event without personal fields is not a read of them"


async def test_an_internal_destination_is_refused_at_delivery_and_never_contacted(
        store: WebhookStore) -> None:
    webhook, _ = store.register("app", "http://169.254.169.254/latest", ["t"], None, None)
    receiver = Receiver(200)
    outcome = await deliverer(store, receiver, Letters(), attempts=1).deliver(
        webhook, ACCESS, EVENT, AFTER, asyncio.Event())
    assert outcome == "dead_lettered" and receiver.calls == []
    [attempt], _ = store.deliveries(webhook.id)
    assert "refused destination" in (attempt.error or "")


def test_the_delivery_log_pages_newest_first(store: WebhookStore) -> None:
    webhook = a_webhook(store)
    for n in range(1, 6):
        store.record(Attempt(webhook.id, f"e{n}", "t", "std.person", 0, n, 1, n, 200, None, 1.0,
                             "delivered"), {("std.person", 0): n + 1})
    page, after = store.deliveries(webhook.id, limit=2)
    assert [a.event_id for a in page] == ["e5", "e4"] and after is not None
    page, after = store.deliveries(webhook.id, before=after, limit=2)
    assert [a.event_id for a in page] == ["e3", "e2"]
    page, after = store.deliveries(webhook.id, before=after, limit=2)
    assert [a.event_id for a in page] == ["e1"] and after is None
    assert store.positions(webhook.id) == {("std.person", 0): 6}
