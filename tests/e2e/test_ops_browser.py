"""The ops dashboard in headless Chromium against the real broker and registry.

One walk through the pages, as an operator would: sign in with an API key; the overview goes
live; a topic's message count moves while events flow; a new application's consumer group
lags on the groups page while its consumer is stopped and drains when it comes back; the real
projection workers (``bus projections run``) fall behind on the projections page while they are
stopped and persons keep arriving on ``std.person``, and catch up once they run again; the
rows a strict mapping quarantined are listed with their reason and replayed from the page
through the fixed mapping, audited; a schema's versions are compared; the labels switch to
English. No console error on the way. Screenshots land in ``test-artifacts/ops/``.

Skipped only when Debian's chromium is absent outside CI (``CI=true`` makes it a failure).
"""

from __future__ import annotations

import asyncio
import os
import random
import re
import shutil
import uuid
from collections.abc import AsyncIterator
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pytest
from aiohttp import web
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from prometheus_client import CollectorRegistry

from adapters.standardize.mapping import Mapping, load_mapping_file
from adapters.standardize.metrics import StandardizeMetrics
from adapters.standardize.stage import StandardizeStage
from bus.access.audit import MemoryAuditLog
from bus.envelope import CloudEvent
from bus.kafka import TopicSpec, committed_reader, ensure_topics, transactional_producer
from bus.serde.avro import AvroSerde, subject_for
from bus.serde.registry_client import RegistryClient
from bus.settings import Settings, load_settings
from bus.standards.idcard import compute_check_char
from bus.web.app import create_web_app
from bus.web.ops.quarantine import REPLAY_ENDPOINT
from schemas.avro_schemas import load_avro_schema
from tests.access import PURPOSE, add_client
from tests.conftest import bus_environment, free_port
from tests.e2e.crashes import logs_on_failure
from tests.e2e.harness import BusProcess
from tests.integration.test_quality_replay import CHANGES, mapping_file, publish_raw

pytestmark = pytest.mark.e2e

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
SHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "ops"


def chromium() -> str:
    path = CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium")
    if path is None:
        if os.environ.get("CI") == "true":
            pytest.fail("chromium is not installed; scripts/ensure-system-deps.sh installs it")
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    return path


async def standardize(stack: Settings, mapping: Mapping) -> None:
    """The raw changes of the replay test through a real stage with ``mapping``, until each
    change (raw tombstones make none) has its canonical or quarantine event."""
    run = uuid.uuid4().hex[:8]
    expected = sum(1 for change in CHANGES if change is not None)
    async with RegistryClient(stack.registry_url) as registry:
        serde = AvroSerde(registry)
        await publish_raw(stack, serde, mapping)
        producer = transactional_producer(stack.kafka_bootstrap, f"test.ops.{run}")
        consumer = committed_reader(stack.kafka_bootstrap, mapping.source_topic,
                                    group_id=f"test.ops.{run}")
        await producer.start()
        await consumer.start()
        stage = StandardizeStage(mapping, consumer, producer, serde,
                                 StandardizeMetrics(CollectorRegistry()))
        stop = asyncio.Event()
        task = asyncio.create_task(stage.run(stop))
        try:
            for _ in range(240):
                if stage.accepted + sum(stage.quarantined.values()) >= expected:
                    break
                await asyncio.sleep(0.1)
        finally:
            stop.set()
            await task
            await consumer.stop()
            await producer.stop()


@dataclass
class Flow:
    """Events into a topic, and a new application's consumer group reading them."""

    bootstrap: str
    topic: str
    group: str
    producing: asyncio.Event = field(default_factory=asyncio.Event)
    consuming: asyncio.Event = field(default_factory=asyncio.Event)

    async def produce(self) -> None:
        producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap, linger_ms=0)
        await producer.start()
        try:
            n = 0
            while True:
                await self.producing.wait()
                await producer.send_and_wait(self.topic, f"event {n}".encode())
                n += 1
                await asyncio.sleep(0.05)
        finally:
            await producer.stop()

    async def consume(self) -> None:
        while True:
            await self.consuming.wait()
            consumer = AIOKafkaConsumer(self.topic, bootstrap_servers=self.bootstrap,
                                        group_id=self.group, auto_offset_reset="earliest",
                                        enable_auto_commit=False)
            await consumer.start()
            try:
                while self.consuming.is_set():
                    if await consumer.getmany(timeout_ms=200):
                        await consumer.commit()
            finally:
                await consumer.stop()


@pytest.fixture
async def flow(stack: Settings) -> AsyncIterator[Flow]:
    run = uuid.uuid4().hex[:8]
    events = Flow(stack.kafka_bootstrap, f"opsflow{run}", f"opsflow{run}.projection")
    await ensure_topics(stack.kafka_bootstrap, [TopicSpec(events.topic)])
    tasks = [asyncio.create_task(events.produce()), asyncio.create_task(events.consume())]
    events.producing.set()
    events.consuming.set()
    yield events
    for task in tasks:
        task.cancel()
        with suppress(asyncio.CancelledError):
            await task


@dataclass
class Service:
    url: str
    key: str
    department: str
    audit: MemoryAuditLog
    workers: BusProcess


async def publish_persons(stack: Settings, count: int) -> None:
    """``count`` new persons on ``std.person``, as the standardize stage would publish them."""
    value_schema, key_schema = load_avro_schema("person"), load_avro_schema("person_key")
    producer = AIOKafkaProducer(bootstrap_servers=stack.kafka_bootstrap, acks="all")
    await producer.start()
    try:
        async with RegistryClient(stack.registry_url) as registry:
            serde = AvroSerde(registry)
            for _ in range(count):
                body = f"330106{random.randint(1950, 2005)}0{random.randint(1, 9)}1{random.randint(0, 9)}" \
                       f"{random.randint(100, 999)}"
                number = body + compute_check_char(body)
                person = {"identity_number": number, "name": "测试人", "sex_code": "1",
                          "birth_date": date(int(body[6:10]), int(body[10:12]), int(body[12:14])),
                          "division_code": "330106", "household_address": "杭州市西湖区文三路1号",
                          "source": {"department": "gongan", "table": "hj_ryxx", "record_key": number,
                                     "event_id": uuid.uuid4().hex, "op": "c", "updated_at": None}}
                key = await serde.encode(subject_for("std.person", is_key=True), key_schema,
                                         {"identity_number": number})
                value = await serde.encode(subject_for("std.person"), value_schema, person)
                headers = CloudEvent("rongtong.std.person.upserted", "/test/ops",
                                     subject=f"person/{number}").to_headers()
                await producer.send_and_wait("std.person", value, key, headers=headers)
    finally:
        await producer.stop()


@pytest.fixture
async def service(stack: Settings, flow: Flow, tmp_path: Path) -> AsyncIterator[Service]:
    """The web service on a real port, with a table whose strict mapping quarantined rows and
    whose fixed mapping waits in BUS_REPLAY_MAPPINGS_DIR."""
    department = f"ops{uuid.uuid4().hex[:8]}"
    strict = load_mapping_file(mapping_file(tmp_path / "strict.yaml", department,
                                            division_required=True))
    fixed_dir = tmp_path / "fixed"
    fixed_dir.mkdir()
    mapping_file(fixed_dir / f"{department}.hj_ryxx.yaml", department, division_required=False)
    await ensure_topics(stack.kafka_bootstrap, [TopicSpec.history(t) for t in (
        strict.source_topic, strict.target_topic, strict.quarantine_topic)])
    await standardize(stack, strict)
    port = free_port()
    workers_id = f"ops{uuid.uuid4().hex[:8]}.projections"
    settings = load_settings(state_dir=tmp_path / "state", kafka_bootstrap=stack.kafka_bootstrap,
                             registry_url=stack.registry_url, web_port=port,
                             adapters_port=free_port(), replay_mappings_dir=fixed_dir,
                             ops_sample_interval=1.0, projections_app_id=workers_id)
    key = add_client(settings.state_dir, "ops-operator")
    await ensure_topics(stack.kafka_bootstrap, [TopicSpec.history("std.person")])
    await publish_persons(stack, 3)
    env = dict(bus_environment(stack, settings.state_dir), BUS_PROJECTIONS_APP_ID=workers_id)
    workers = BusProcess("projections", ["projections", "run"], env, tmp_path / "logs").start()
    audit = MemoryAuditLog()
    runner = web.AppRunner(create_web_app(settings, audit=audit), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        with logs_on_failure(workers):
            yield Service(f"http://127.0.0.1:{port}", key, department, audit, workers)
    finally:
        workers.stop()
        await runner.cleanup()


async def number_in(page: object, selector: str) -> int:
    text = await page.inner_text(selector)  # type: ignore[attr-defined]
    digits = re.sub(r"[^0-9]", "", text)
    return int(digits) if digits else -1


async def until(check: object, what: str, seconds: float = 45.0) -> None:
    for _ in range(int(seconds / 0.25)):
        if await check():  # type: ignore[operator]
            return
        await asyncio.sleep(0.25)
    raise AssertionError(f"never happened: {what}")


async def test_an_operator_watches_the_bus_and_replays_a_quarantined_row_from_the_page(
        service: Service, flow: Flow, stack: Settings) -> None:
    path = chromium()
    from playwright.async_api import async_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    problems: list[str] = []
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page(viewport={"width": 1360, "height": 900})
            page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}")
                    if m.type == "error" else None)
            page.on("pageerror", lambda e: problems.append(f"page error: {e}"))

            await page.goto(f"{service.url}/ops/")
            assert page.url.endswith("/ops/login"), "a visitor is sent to sign in"
            await page.fill("#api-key", service.key)
            await page.fill("#purpose", PURPOSE)
            await page.click("#sign-in")
            await page.wait_for_url(f"{service.url}/ops/")
            await page.wait_for_selector("#live.badge:not(.off)", timeout=30_000)
            await page.wait_for_selector("#topology g.node[data-node='topics.std']")
            await page.screenshot(path=str(SHOTS / "overview.png"))

            # numbers move while events flow
            await page.click("#tabs button[data-view=topics]")
            await page.fill("#topics-q", flow.topic)
            row = f"#topics-table tr[data-key='{flow.topic}'] td[data-col=messages]"
            await page.wait_for_selector(row)
            first = await number_in(page, row)

            async def moved() -> bool:
                return await number_in(page, row) > first
            await until(moved, "the topic's message count grows on the page")
            await page.screenshot(path=str(SHOTS / "topics.png"))

            # the projection workers: caught up, stopped while persons arrive (lag), running again
            await page.click("#tabs button[data-view=projections]")
            projection_lag = "#projections-table tr[data-key='citizen_profile'] td[data-col=lag]"
            await page.wait_for_selector(projection_lag, timeout=60_000)

            async def caught_up() -> bool:
                return await number_in(page, projection_lag) == 0
            await until(caught_up, "the running workers have no lag", seconds=120)
            service.workers.stop()
            await publish_persons(stack, 20)

            async def behind() -> bool:
                return await number_in(page, projection_lag) >= 20
            await until(behind, "the stopped workers' lag shows on the projections page")
            await page.screenshot(path=str(SHOTS / "projections-lagging.png"))
            service.workers.start()
            await until(caught_up, "the restarted workers catch up", seconds=120)

            # a new application's consumer group lags while it is stopped, drains when it restarts
            await page.click("#tabs button[data-view=groups]")
            await page.fill("#groups-q", flow.group)
            lag = f"#groups-table tr[data-key='{flow.group}'] td[data-col=lag]"
            await page.wait_for_selector(lag)
            flow.consuming.clear()

            async def lagging() -> bool:
                return await number_in(page, lag) >= 20
            await until(lagging, "the stopped group's lag shows on the page")
            await page.click(f"#groups-table tr[data-key='{flow.group}']")
            await page.wait_for_selector(f"#group-partitions tr[data-key='{flow.topic}/0']")
            await page.screenshot(path=str(SHOTS / "groups-lagging.png"))
            flow.producing.clear()
            flow.consuming.set()

            async def drained() -> bool:
                return await number_in(page, lag) == 0
            await until(drained, "the restarted consumer's lag drains to 0")

            # quarantine: the rows and their reasons, a replay through the fixed mapping
            await page.click("#tabs button[data-view=quarantine]")
            await page.wait_for_selector(f"#q-department option[value='{service.department}']",
                                         state="attached", timeout=60_000)
            await page.select_option("#q-department", service.department)
            await page.wait_for_selector("#q-table option[value='hj_ryxx']", state="attached")
            await page.select_option("#q-table", "hj_ryxx")
            rows = "#quarantine-table tbody tr[data-key]"

            async def listed(count: int) -> bool:
                keys = await page.eval_on_selector_all(
                    rows, "rows => rows.map(r => r.querySelector('td').textContent)")
                return len(keys) == count and all(service.department in k for k in keys)
            await until(lambda: listed(3), "the three quarantined rows are listed")
            assert "division.unknown" in await page.inner_text("#quarantine-table")
            assert "id.checksum" in await page.inner_text("#quarantine-table")
            await page.screenshot(path=str(SHOTS / "quarantine.png"))
            async with page.expect_response(lambda r: r.url.endswith("/quarantine/replay")) as done:
                await page.click("#q-replay")
            result = await (await done.value).json()
            assert (result["candidates"], result["passed"], result["published"]) == (3, 2, 2)
            await until(lambda: listed(1), "the replayed rows leave the quarantine list")
            assert "id.checksum" in await page.inner_text("#quarantine-table")
            await page.screenshot(path=str(SHOTS / "quarantine-replayed.png"))
            audited = [(r.client, r.subject, r.result) for r in service.audit.records
                       if r.endpoint == REPLAY_ENDPOINT]
            subject = f"{service.department}.hj_ryxx"
            assert audited == [("ops-operator", subject, "requested"),
                               ("ops-operator", subject, "published:2")]

            # schemas: the subject of the table's raw events, its versions compared
            await page.click("#tabs button[data-view=schemas]")
            await page.fill("#schemas-q", f"legacy.{service.department}")
            await page.click(f"#schemas-table tr[data-key='legacy.{service.department}.hj_ryxx-value']")
            await page.wait_for_selector("#schema-diff tr")
            assert await page.inner_text("#schema-compat")
            await page.screenshot(path=str(SHOTS / "schemas.png"))

            # adapters (none run here: the page says so) and projections with their rebuild
            await page.click("#tabs button[data-view=adapters]")
            await page.wait_for_function("document.getElementById('adapters-error').textContent")
            await page.click("#tabs button[data-view=projections]")
            await page.wait_for_selector("#projections-table button[data-rebuild='citizen_profile']")
            await page.screenshot(path=str(SHOTS / "projections.png"))

            # the message browser decodes the quarantine topic through the registry
            await page.click("#tabs button[data-view=messages]")
            await page.fill("#messages-topic", f"quarantine.{service.department}.hj_ryxx")
            await page.click("#messages-form button[type=submit]")
            await page.wait_for_selector("#messages-table tbody tr[data-key='0']")
            assert "division.unknown" in await page.inner_text("#messages-table")
            await page.screenshot(path=str(SHOTS / "messages.png"))
            assert ("ops-operator", f"quarantine.{service.department}.hj_ryxx/0", "ok") in [
                (r.client, r.subject, r.result) for r in service.audit.records]

            # catalog search and a field's lineage; the audit statistics
            await page.click("#tabs button[data-view=catalog]")
            await page.fill("#catalog-q", "identity")
            await page.click("#catalog-form button[type=submit]")
            await page.click("#catalog-table tr[data-key='std.person.identity_number']")
            await page.wait_for_selector("#lineage-up li")
            assert "gongan.hj_ryxx.SFZH" in await page.inner_text("#lineage-up")
            await page.screenshot(path=str(SHOTS / "catalog.png"))
            await page.click("#tabs button[data-view=audit]")
            await page.wait_for_function("document.getElementById('audit-summary').textContent")
            await page.screenshot(path=str(SHOTS / "audit.png"))

            # the labels switch to English
            await page.click("#tabs button[data-view=overview]")
            await page.click("#lang")
            assert await page.inner_text("#tabs button[data-view=quarantine]") == "Quarantine"
            assert await page.inner_text("#live") == "live"
            await page.screenshot(path=str(SHOTS / "overview-en.png"))
        finally:
            await browser.close()
    assert problems == []
