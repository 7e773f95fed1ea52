"""Webhooks on real Kafka with a real local receiver: signed, masked, retried, dead-lettered,
and a dispatcher restart that neither loses nor repeats a delivery."""

from __future__ import annotations

import asyncio
import json
import random
import string
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from aiokafka import AIOKafkaConsumer, TopicPartition

from bus.access.audit import MemoryAuditLog
from bus.envelope import CloudEvent
from bus.events.publisher import EventPublisher
from bus.serde.avro import AvroSerde
from bus.serde.registry_client import RegistryClient
from bus.settings import Settings, load_settings
from bus.web.app import create_web_app
from bus.web.event_views import entity_policy
from bus.webhooks import dispatcher as dispatcher_module
from bus.webhooks.dispatcher import DEAD_LETTER_TOPIC, dispatcher_from
from bus.webhooks.signing import verify
from bus.webhooks.store import WebhookStore
from tests.access import add_client, headers
from tests.conftest import free_port
from tests.integration.test_subscribe_sse import a_number

pytestmark = pytest.mark.integration


class Receiver:
    """A local aiohttp receiver: ``/ok`` answers 204, ``/flaky`` 503 twice per webhook-id then
    200, ``/down`` always 500, ``/stalled`` holds every request until ``release`` is set, then
    200. Every request is kept."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.requests: list[tuple[str, dict[str, str], bytes]] = []
        self._flaky: Counter[str] = Counter()
        self.release = asyncio.Event()

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.requests.append((request.path_qs, dict(request.headers), body))
        if request.path == "/ok":
            return web.Response(status=204)
        if request.path == "/stalled":
            await self.release.wait()
            return web.Response(status=200)
        if request.path == "/flaky":
            self._flaky[request.headers["webhook-id"]] += 1
            return web.Response(status=503 if self._flaky[request.headers["webhook-id"]] <= 2 else 200)
        return web.Response(status=500)

    def to(self, path_qs: str) -> list[tuple[dict[str, str], bytes]]:
        return [(h, b) for p, h, b in self.requests if p == path_qs]

    @asynccontextmanager
    async def running(self) -> AsyncIterator[Receiver]:
        app = web.Application()
        app.router.add_post("/{tail:.*}", self.handle)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", self.port).start()
        try:
            yield self
        finally:
            await runner.cleanup()


async def until(condition: Callable[[], bool], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.1)


@asynccontextmanager
async def dispatching(settings: Settings, audit: MemoryAuditLog) -> AsyncIterator[None]:
    stop = asyncio.Event()
    async with dispatcher_from(settings, audit=audit) as dispatcher:
        task = asyncio.create_task(dispatcher.run(stop))
        try:
            yield
        finally:
            stop.set()
            await task


async def dead_letters(bootstrap: str, key: str) -> list[dict[str, Any]]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        tp = TopicPartition(DEAD_LETTER_TOPIC, 0)
        consumer.assign([tp])
        await consumer.seek_to_beginning(tp)
        end = (await consumer.end_offsets([tp]))[tp]
        found = []
        while await consumer.position(tp) < end:
            for record in (await consumer.getmany(tp, timeout_ms=1000)).get(tp, []):
                if record.key == key.encode():
                    found.append({"value": json.loads(record.value or b"null"),
                                  "headers": {k: v.decode() for k, v in record.headers}})
        return found
    finally:
        await consumer.stop()


async def test_webhooks_deliver_signed_masked_retried_dead_lettered_and_resume_after_a_restart(
        stack: Settings, tmp_path: Path) -> None:
    settings = load_settings(
        state_dir=tmp_path, kafka_bootstrap=stack.kafka_bootstrap, registry_url=stack.registry_url,
        webhooks_allowed_hosts="127.0.0.1", webhooks_max_attempts=3, webhooks_backoff_base=0.05,
        webhooks_backoff_cap=0.2, webhooks_reload_seconds=0.2, webhooks_port=free_port())
    number = a_number(random.Random())
    registrar = add_client(tmp_path, "registrar", publishes=("person",))
    desk = add_client(tmp_path, "desk")
    watcher = add_client(tmp_path, "watcher", classifications=("public", "internal"))
    filters = {"types": ["rongtong.std.person.upserted"], "subject": f"person/{number}"}
    audit = MemoryAuditLog()
    async with Receiver().running() as receiver, \
            TestClient(TestServer(create_web_app(settings, audit=MemoryAuditLog()))) as api:

        async def register(key: str, path: str, purpose: str | None) -> dict[str, Any]:
            response = await api.post("/v1/webhooks", headers=headers(key, None), json={
                "url": receiver.url + path, "filters": filters, "purpose": purpose})
            assert response.status == 201, await response.text()
            return dict(await response.json())

        async def publish(*names: str) -> None:
            for name in names:
                body = {"identity_number": number, "name": name, "sex_code": "2",
                        "birth_date": f"{number[6:10]}-{number[10:12]}-{number[12:14]}",
                        "division_code": "330106", "household_address": "杭州市西湖区"}
                published = await api.post("/v1/events/rongtong.std.person.upserted", json=body,
                                           headers=headers(registrar, None))
                assert published.status == 202, await published.text()

        full = await register(desk, "/ok", "service-desk")
        masked = await register(watcher, "/ok?masked", None)
        flaky = await register(desk, "/flaky", "service-desk")
        down = await register(desk, "/down", "service-desk")
        await register(desk, "/stalled", "service-desk")
        await publish("林一", "林二", "林三")
        async with dispatching(settings, audit):
            await until(lambda: len(receiver.to("/ok")) >= 3 and len(receiver.to("/ok?masked")) >= 3
                        and len(receiver.to("/flaky")) >= 9 and len(receiver.to("/down")) >= 9,
                        "the first three events at every webhook but the stalled one")
            assert len(receiver.to("/stalled")) == 1, "a receiver that does not answer holds " \
                                                      "back its own webhook only"
            receiver.release.set()
            await until(lambda: len(receiver.to("/stalled")) >= 3, "the stalled webhook")
        await publish("林四", "林五")  # while no dispatcher runs
        async with dispatching(settings, audit):
            await until(lambda: len(receiver.to("/ok")) >= 5 and len(receiver.to("/ok?masked")) >= 5
                        and len(receiver.to("/flaky")) >= 15 and len(receiver.to("/down")) >= 15
                        and len(receiver.to("/stalled")) >= 5,
                        "all five events after the restart")
            await asyncio.sleep(0.5)  # room for a duplicate to show
        delivered = receiver.to("/ok")
        assert len(delivered) == 5 and len({h["webhook-id"] for h, _ in delivered}) == 5, \
            "each event once to a 2xx receiver, across the restart"
        names = [json.loads(b)["data"]["name"] for _, b in delivered]
        assert names == ["林一", "林二", "林三", "林四", "林五"], "in log order, in full for its purpose"
        for sent, body in delivered:
            verify(full["secret"], sent["webhook-id"], sent["webhook-timestamp"], body,
                   sent["webhook-signature"], now=time.time())
            event = json.loads(body)
            assert (sent["ce-id"], sent["ce-type"], sent["ce-subject"]) == (
                event["id"], "rongtong.std.person.upserted", f"person/{number}")
            assert sent["ce-source"] == "/clients/registrar" and sent["ce-time"] == event["time"]
        for sent, body in receiver.to("/ok?masked"):
            event = json.loads(body)
            assert event["data"]["name"] == "林*" and number not in body.decode()
            assert sent["ce-subject"] == f"person/{number[:6]}********{number[-4:]}"
            assert "birth_date" not in event["data"]
        flaky_ids = Counter(h["webhook-id"] for h, _ in receiver.to("/flaky"))
        assert set(flaky_ids.values()) == {3}, "two failures, then delivered once, same webhook-id"
        log = await (await api.get(f"/v1/webhooks/{flaky['id']}/deliveries",
                                   headers=headers(desk, None))).json()
        assert Counter(a["outcome"] for a in log["items"]) == {"failed": 10, "delivered": 5}
        assert {a["attempt"] for a in log["items"] if a["outcome"] == "delivered"} == {3}
        letters = await dead_letters(stack.kafka_bootstrap, down["id"])
        assert len(letters) == 5 and {d["value"]["attempts"] for d in letters} == {3}
        assert {d["value"]["last_status"] for d in letters} == {500}
        assert {d["headers"]["ce_id"] for d in letters} == {h["webhook-id"] for h, _ in delivered}
        assert letters[0]["headers"]["ce_type"] == "rongtong.webhooks.dead_lettered"
        down_log = await (await api.get(f"/v1/webhooks/{down['id']}/deliveries",
                                        headers=headers(desk, None))).json()
        assert Counter(a["outcome"] for a in down_log["items"]) == {"failed": 10, "dead_lettered": 5}
    readers = Counter((r.client, r.endpoint) for r in audit.records)
    assert readers[("watcher", f"webhook {masked['id']}")] == 5, "masked personal fields audited"
    assert readers[("desk", f"webhook {full['id']}")] == 5
    assert readers[("desk", f"webhook {flaky['id']}")] == 5, "once per event, not per attempt"


async def test_a_webhook_whose_topic_does_not_exist_yet_waits_for_it_without_failing(
        stack: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dispatcher_module, "TOPIC_LOOK_SECONDS", 0.3)
    settings = load_settings(
        state_dir=tmp_path, kafka_bootstrap=stack.kafka_bootstrap, registry_url=stack.registry_url,
        webhooks_allowed_hosts="127.0.0.1", webhooks_reload_seconds=0.2, webhooks_port=free_port())
    add_client(tmp_path, "desk")
    name = "later_" + "".join(random.choices(string.ascii_lowercase, k=10))
    event_type = f"rongtong.std.{name}.upserted"
    stop = asyncio.Event()
    async with Receiver().running() as receiver, \
            dispatcher_from(settings, audit=MemoryAuditLog()) as dispatcher:
        entity = replace(dispatcher.views.entities["person"], entity=name)  # topic std.<name>
        dispatcher.views.entities[name] = entity
        dispatcher.views.policies[name] = entity_policy(entity)
        store = WebhookStore(settings.webhooks_path)
        store.register("desk", receiver.url + "/ok", [event_type], None, None,
                       purpose="service-desk", start="beginning")
        store.close()
        task = asyncio.create_task(dispatcher.run(stop))
        await asyncio.sleep(1.5)
        assert not task.done() and receiver.requests == [], "waiting, not failing"
        number = a_number(random.Random())
        registry = RegistryClient(stack.registry_url)
        publisher = EventPublisher(stack.kafka_bootstrap, AvroSerde(registry))
        try:
            await publisher.publish(entity, {"identity_number": number}, {
                "identity_number": number, "name": "林一", "sex_code": "2",
                "birth_date": date(int(number[6:10]), int(number[10:12]), int(number[12:14])),
                "division_code": "330106", "household_address": None,
                "source": {"department": "gongan", "table": "hj_ryxx", "record_key": "R1",
                           "event_id": "e1", "op": "c", "updated_at": datetime.now(UTC)}},
                CloudEvent(event_type, "/test", subject=f"{name}/{number}"))
        finally:
            await publisher.close()
            await registry.close()
        await until(lambda: len(receiver.to("/ok")) == 1, "the first event of the new topic")
        stop.set()
        await task
    [(sent, body)] = receiver.to("/ok")
    assert sent["ce-type"] == event_type and json.loads(body)["data"]["name"] == "林一"
    assert await asyncio.to_thread(retention, stack.kafka_bootstrap, entity.topic) == "-1", \
        "the topic was created by its publisher (history), not by a waiting webhook's consumer"


def retention(bootstrap: str, topic: str) -> str:
    from confluent_kafka.admin import AdminClient, ConfigResource  # type: ignore[attr-defined]

    admin = AdminClient({"bootstrap.servers": bootstrap})
    futures = admin.describe_configs([ConfigResource(ConfigResource.Type.TOPIC, topic)])
    return str(next(iter(futures.values())).result(timeout=30)["retention.ms"].value)
