"""``bus webhooks run``: reads the canonical topics and delivers to every active webhook.

Each webhook reads the log with a consumer of its own (no consumer group), from the positions
kept for it in the webhook store — so a slow or failing receiver holds back only its own
webhook, and what it has not taken yet waits in Kafka, not in memory. A webhook delivers its
events in log order, one at a time; the POSTs in flight across all webhooks are bounded by
``BUS_WEBHOOKS_CONCURRENCY``. A new webhook starts with the events appended after its
registration (``start: beginning``: at the beginning of the log); a topic of its filter that
does not exist yet (no event of that type was ever published) is looked for again every few
seconds while the others are delivered. The store is checked every
``BUS_WEBHOOKS_RELOAD_SECONDS`` for webhooks registered, deleted or disabled meanwhile, and each
webhook's registration and its client's grants are read again before every batch.
"""

from __future__ import annotations

import asyncio
import json
import logging
import signal
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass

import aiohttp
from aiohttp import web
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Gauge, generate_latest

from bus.access.audit import AuditSink, KafkaAuditLog
from bus.access.clients import ClientStore
from bus.access.policy import Access
from bus.envelope import CloudEvent, header_value
from bus.kafka import TopicSpec, ensure_topics
from bus.serde.avro import AvroSerde
from bus.serde.registry_client import RegistryClient
from bus.settings import Settings
from bus.web.event_views import EventFilter, EventViews
from bus.webhooks.delivery import (
    DeadLetter,
    DeadLetterSink,
    Deliverer,
    DeliveryMetrics,
    Outgoing,
    http_post,
)
from bus.webhooks.guard import Destinations, GuardedResolver
from bus.webhooks.retry import RetryPolicy
from bus.webhooks.store import Webhook, WebhookStore

__all__ = ["DEAD_LETTER_TOPIC", "Dispatcher", "KafkaDeadLetters", "dispatcher_from", "run_dispatcher"]

log = logging.getLogger(__name__)
DEAD_LETTER_TOPIC = "bus.webhooks.dead_letter"
DEAD_LETTER_TYPE = "rongtong.webhooks.dead_lettered"
FETCH_RECORDS = 100
#: Seconds between two looks for a filter's topics that do not exist yet.
TOPIC_LOOK_SECONDS = 5.0


class KafkaDeadLetters:
    """Dead letters as JSON on ``bus.webhooks.dead_letter``, keyed by webhook, with CloudEvents
    headers; the event inside is the body the webhook was sent (already masked)."""

    def __init__(self, bootstrap: str, topic: str = DEAD_LETTER_TOPIC) -> None:
        self.bootstrap = bootstrap
        self.topic = topic
        self._producer: AIOKafkaProducer | None = None

    async def start(self) -> None:
        await ensure_topics(self.bootstrap, [TopicSpec.history(self.topic)])
        producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap, enable_idempotence=True,
                                    acks="all")
        await producer.start()
        self._producer = producer

    async def send(self, letter: DeadLetter) -> None:
        if self._producer is None:
            raise RuntimeError("the dead-letter producer is not started")
        event = letter.event
        value = {"webhook": letter.webhook.id, "client": letter.webhook.client,
                 "url": letter.webhook.url, "event_id": event.event_id,
                 "position": f"{event.topic}:{event.partition}:{event.offset}",
                 "attempts": letter.attempts, "last_status": letter.status,
                 "last_error": letter.error, "event": event.body}
        envelope = CloudEvent(DEAD_LETTER_TYPE, f"/webhooks/{letter.webhook.id}", id=event.event_id,
                              subject=event.body.get("subject"), causationid=event.event_id,
                              dataclassification="personal" if event.personal else "internal")
        headers = [(k, b"application/json" if k == "content-type" else v)
                   for k, v in envelope.to_headers()]
        await self._producer.send_and_wait(
            self.topic, json.dumps(value, ensure_ascii=False).encode(),
            key=letter.webhook.id.encode(), headers=headers)

    async def close(self) -> None:
        if self._producer is not None:
            await self._producer.stop()


@dataclass
class _Worker:
    task: asyncio.Task[None]
    stop: asyncio.Event


class Dispatcher:
    """Runs one worker per active webhook until ``stop``; a worker that fails stops them all."""

    def __init__(self, store: WebhookStore, views: EventViews, clients: ClientStore,
                 deliverer: Deliverer, *, bootstrap: str, reload_seconds: float = 1.0,
                 registry: CollectorRegistry | None = None) -> None:
        self.store = store
        self.views = views
        self.clients = clients
        self.deliverer = deliverer
        self.bootstrap = bootstrap
        self.reload_seconds = reload_seconds
        self.workers: dict[str, _Worker] = {}
        self.active = Gauge("rongtong_webhooks_active", "Webhooks being delivered to.",
                            registry=registry or CollectorRegistry())

    async def run(self, stop: asyncio.Event) -> None:
        try:
            while not stop.is_set():
                self._reconcile()
                failed = [w.task for w in self.workers.values() if w.task.done()
                          and not w.task.cancelled() and w.task.exception() is not None]
                if failed:
                    raise failed[0].exception()  # type: ignore[misc]
                with suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=self.reload_seconds)
        finally:
            for worker in self.workers.values():
                worker.stop.set()
            await asyncio.gather(*(w.task for w in self.workers.values()), return_exceptions=True)

    def _reconcile(self) -> None:
        active = {w.id for w in self.store.active()}
        for webhook_id, worker in list(self.workers.items()):
            if webhook_id not in active:
                worker.stop.set()
            if worker.task.done() and (webhook_id not in active or worker.task.exception() is None):
                del self.workers[webhook_id]
        for webhook_id in active - set(self.workers):
            stop = asyncio.Event()
            task = asyncio.create_task(self._serve(webhook_id, stop), name=f"webhook {webhook_id}")
            self.workers[webhook_id] = _Worker(task, stop)
        self.active.set(len(self.workers))

    def _access(self, webhook: Webhook) -> Access | None:
        """The client's access now, or None (and the webhook disabled) when it has none."""
        client = self.clients.get(webhook.client)
        if client is None or not client.active:
            self.store.disable(webhook.id, f"client {webhook.client!r} is revoked")
            return None
        access = Access(client, webhook.purpose)
        if not access.sees("internal"):
            self.store.disable(webhook.id, f"client {webhook.client!r} is no longer granted "
                                           "internal data")
            return None
        return access

    async def _serve(self, webhook_id: str, stop: asyncio.Event) -> None:
        webhook = self.store.get(webhook_id)
        if webhook is None:
            return
        wanted = self.views.parse(webhook.types, webhook.subject, webhook.department)
        consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, enable_auto_commit=False,
                                    isolation_level="read_committed",
                                    max_poll_records=FETCH_RECORDS)
        await consumer.start()
        try:
            await self._deliver_from(consumer, webhook, wanted, stop)
        finally:
            await consumer.stop()

    async def _assign(self, consumer: AIOKafkaConsumer, webhook: Webhook, wanted: EventFilter,
                      positions: dict[tuple[str, int], int]) -> bool:
        """Assign every partition of the filter's topics that exists by now (a topic appears
        when its first event is published); whether some are still missing."""
        await consumer._client.force_metadata_update()
        partitions = [TopicPartition(topic, p) for topic in wanted.topics
                      for p in sorted(consumer.partitions_for_topic(topic) or ())]
        missing = any(not consumer.partitions_for_topic(topic) for topic in wanted.topics)
        if set(partitions) == consumer.assignment():
            return missing
        if not positions:
            positions.update(self.store.positions(webhook.id))
        new = [tp for tp in partitions if (tp.topic, tp.partition) not in positions]
        if new:
            if webhook.start == "beginning":
                starts = await consumer.beginning_offsets(new)
            else:
                ends = await consumer.end_offsets(new)
                after = await consumer.offsets_for_times({tp: webhook.created_ms for tp in new})
                starts = {tp: found.offset if found else ends[tp] for tp, found in after.items()}
            positions.update({(tp.topic, tp.partition): offset for tp, offset in starts.items()})
            self.store.save_positions(webhook.id, positions)
        consumer.assign(partitions)
        for tp in partitions:
            consumer.seek(tp, positions[(tp.topic, tp.partition)])
        return missing

    async def _deliver_from(self, consumer: AIOKafkaConsumer, webhook: Webhook,
                            wanted: EventFilter, stop: asyncio.Event) -> None:
        positions: dict[tuple[str, int], int] = {}
        look_again: float | None = 0.0
        while not stop.is_set():
            if look_again is not None and time.monotonic() >= look_again:
                missing = await self._assign(consumer, webhook, wanted, positions)
                look_again = time.monotonic() + TOPIC_LOOK_SECONDS if missing else None
            if not consumer.assignment():
                await asyncio.sleep(min(1.0, TOPIC_LOOK_SECONDS))
                continue
            batch = await consumer.getmany(timeout_ms=500)
            if not batch:
                continue
            found = self.store.get(webhook.id)
            if found is None or found.state != "active":
                return
            webhook = found
            access = self._access(webhook)
            if access is None:
                return
            skipped = False
            for tp, messages in batch.items():
                for message in messages:
                    if stop.is_set():
                        return
                    positions[(tp.topic, tp.partition)] = message.offset + 1
                    event = await self.views.view(message, wanted, access)
                    if event is None:
                        skipped = True
                        continue
                    view = event.view
                    outgoing = Outgoing(tp.topic, tp.partition, message.offset,
                                        header_value(message.headers, "ce_source") or "",
                                        event.body, event.entity, event.subject_key, event.personal,
                                        tuple(view.revealed) if view else (),
                                        tuple(view.masked) if view else ())
                    outcome = await self.deliverer.deliver(webhook, access, outgoing, positions, stop)
                    if outcome in (None, "disabled"):
                        return
                    skipped = False
            if skipped:
                self.store.save_positions(webhook.id, positions)


@asynccontextmanager
async def dispatcher_from(settings: Settings, *, audit: AuditSink | None = None,
                          dead_letters: DeadLetterSink | None = None,
                          registry: CollectorRegistry | None = None) -> AsyncIterator[Dispatcher]:
    """The dispatcher of ``settings`` with everything it needs, closed in reverse order."""
    registry = registry or CollectorRegistry()
    store = WebhookStore(settings.webhooks_path)
    clients = ClientStore(settings.clients_path)
    views = EventViews(settings.kafka_bootstrap, settings.registry_url)
    audit_registry: RegistryClient | None = None
    kafka_audit: KafkaAuditLog | None = None
    kafka_letters: KafkaDeadLetters | None = None
    destinations = Destinations.parse(settings.webhooks_allowed_hosts)
    session = aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=settings.webhooks_concurrency,
                                       resolver=GuardedResolver(destinations)),
        timeout=aiohttp.ClientTimeout(total=settings.webhooks_timeout))
    try:
        if audit is None:
            audit_registry = RegistryClient(settings.registry_url)
            kafka_audit = KafkaAuditLog(settings.kafka_bootstrap, AvroSerde(audit_registry))
            await kafka_audit.start()
            audit = kafka_audit
        if dead_letters is None:
            kafka_letters = KafkaDeadLetters(settings.kafka_bootstrap)
            await kafka_letters.start()
            dead_letters = kafka_letters
        policy = RetryPolicy(settings.webhooks_max_attempts, settings.webhooks_backoff_base,
                             settings.webhooks_backoff_cap)
        deliverer = Deliverer(store, http_post(session), audit=audit, dead_letters=dead_letters,
                              policy=policy, destinations=destinations,
                              metrics=DeliveryMetrics(registry),
                              concurrency=settings.webhooks_concurrency)
        yield Dispatcher(store, views, clients, deliverer, bootstrap=settings.kafka_bootstrap,
                         reload_seconds=settings.webhooks_reload_seconds, registry=registry)
    finally:
        await session.close()
        if kafka_letters is not None:
            await kafka_letters.close()
        if kafka_audit is not None:
            await kafka_audit.close()
        if audit_registry is not None:
            await audit_registry.close()
        await views.close()
        clients.close()
        store.close()


async def _status_server(settings: Settings, registry: CollectorRegistry) -> web.AppRunner:
    async def healthz(_: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def metrics(_: web.Request) -> web.Response:
        return web.Response(body=generate_latest(registry),
                            headers={"Content-Type": CONTENT_TYPE_LATEST})

    app = web.Application()
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, settings.webhooks_host, settings.webhooks_port).start()
    return runner


async def run_dispatcher(settings: Settings, stop: asyncio.Event | None = None) -> None:
    """The ``bus webhooks run`` process: the dispatcher and its ``/healthz`` + ``/metrics``, until
    ``stop`` (by default: SIGINT or SIGTERM). A worker that fails ends it with the error."""
    if stop is None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with suppress(NotImplementedError):
                loop.add_signal_handler(sig, stop.set)
    registry = CollectorRegistry()
    async with dispatcher_from(settings, registry=registry) as dispatcher:
        status = await _status_server(settings, registry)
        try:
            await dispatcher.run(stop)
        finally:
            await status.cleanup()
