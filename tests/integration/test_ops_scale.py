"""The dashboard with 200 topics and 500 consumer groups on the real broker: the server pages,
filters and sorts them, and /metrics carries the same figures.

The groups are made by committing offsets directly (OffsetCommit with no member, as a
standalone consumer does), one request each, all in flight at once; the test deletes its
topics and groups again, so later tests' collectors do not sample them.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import GroupCoordinatorNotAvailableError
from aiokafka.protocol.admin import DeleteGroupsRequest
from aiokafka.protocol.commit import OffsetCommitRequest

from bus.access.audit import MemoryAuditLog
from bus.settings import Settings, load_settings
from bus.web.app import create_web_app
from tests.access import add_client
from tests.e2e.test_ops_browser import CHROMIUM_ARGS, SHOTS, chromium

pytestmark = pytest.mark.integration

TOPICS = 200
GROUPS = 500
BEHIND = 5  # messages on the first topic that its groups have not committed


async def coordinator_of(admin: AIOKafkaAdminClient, group: str) -> int:
    """The group coordinator (a fresh broker creates __consumer_offsets on first ask)."""
    for _ in range(100):
        try:
            return int(await admin.find_coordinator(group))
        except GroupCoordinatorNotAvailableError:
            await asyncio.sleep(0.2)
    raise AssertionError("no group coordinator")


@pytest.fixture
async def crowded(stack: Settings) -> AsyncIterator[str]:
    """200 topics and 500 groups named after this run; the run's prefix."""
    prefix = f"opsload{uuid.uuid4().hex[:8]}"
    topics = [f"{prefix}.t{n:03d}" for n in range(TOPICS)]
    groups = [f"{prefix}.g{n:03d}" for n in range(GROUPS)]
    admin = AIOKafkaAdminClient(bootstrap_servers=stack.kafka_bootstrap)
    await admin.start()
    coordinator = None
    try:
        await admin.create_topics([NewTopic(t, 1, 1) for t in topics])
        producer = AIOKafkaProducer(bootstrap_servers=stack.kafka_bootstrap)
        await producer.start()
        try:
            for n in range(BEHIND):
                await producer.send_and_wait(topics[0], f"m{n}".encode())
        finally:
            await producer.stop()
        coordinator = await coordinator_of(admin, groups[0])

        async def commit(n: int) -> None:
            request = OffsetCommitRequest(groups[n], -1, "", -1, [(topics[n % TOPICS], [(0, 0, "")])])
            for _ in range(50):  # a coordinator still loading answers with a retriable error
                response = await admin._send_request(request, coordinator)
                if all(error == 0 for _, partitions in response.topics for _, error in partitions):
                    return
                await asyncio.sleep(0.2)
            raise AssertionError(f"offsets of {groups[n]} not committed: {response}")

        await asyncio.gather(*(commit(n) for n in range(GROUPS)))
        yield prefix
    finally:
        if coordinator is not None:
            await admin._send_request(DeleteGroupsRequest(groups), coordinator)
        await admin.delete_topics(topics)
        await admin.close()


async def wait_for(client: TestClient, path: str, params: dict[str, str], total: int  # type: ignore[type-arg]
                   ) -> dict[str, Any]:
    body: dict[str, Any] = {}
    for _ in range(120):
        response = await client.get(path, params=params)
        assert response.status == 200, await response.text()
        body = await response.json()
        if body["total"] == total:
            return body
        await asyncio.sleep(0.5)
    raise AssertionError(f"{path} never listed {total} rows: {body.get('total')}")


async def test_200_topics_and_500_groups_are_paged_filtered_and_sorted_by_the_server(
        stack: Settings, crowded: str, tmp_path: Path) -> None:
    settings = load_settings(state_dir=tmp_path, kafka_bootstrap=stack.kafka_bootstrap,
                             registry_url=stack.registry_url, ops_sample_interval=1.0)
    key = add_client(tmp_path, "ops-viewer", roles=("reader",))
    app = create_web_app(settings, audit=MemoryAuditLog())
    async with TestClient(TestServer(app), headers={"Authorization": f"Bearer {key}"}) as client:
        topics = await wait_for(client, "/ops/api/topics",
                                {"q": crowded, "sort": "-messages", "size": "50"}, TOPICS)
        assert len(topics["items"]) == 50
        assert topics["items"][0]["name"] == f"{crowded}.t000"
        assert topics["items"][0]["messages"] == BEHIND
        last = await (await client.get("/ops/api/topics", params={
            "q": crowded, "size": "50", "page": "4"})).json()
        assert [t["name"] for t in last["items"]][-1] == f"{crowded}.t199"
        beyond = await (await client.get("/ops/api/topics", params={
            "q": crowded, "size": "50", "page": "5"})).json()
        assert beyond["items"] == [] and beyond["total"] == TOPICS

        groups = await wait_for(client, "/ops/api/groups",
                                {"q": crowded, "sort": "-lag", "size": "25"}, GROUPS)
        assert len(groups["items"]) == 25
        lagging = [g["group"] for g in groups["items"] if g["lag"] == BEHIND]
        assert lagging == [f"{crowded}.g000", f"{crowded}.g200", f"{crowded}.g400"]
        assert all(g["lag"] == 0 for g in groups["items"][3:])
        detail = await (await client.get(f"/ops/api/groups/{crowded}.g200")).json()
        assert detail["partitions"] == [{**detail["partitions"][0], "topic": f"{crowded}.t000",
                                         "partition": 0, "committed": 0, "end_offset": BEHIND,
                                         "lag": BEHIND}]
        one = await (await client.get("/ops/api/groups", params={"q": f"{crowded}.g4"})).json()
        assert one["total"] == 100

        bad = await client.get("/ops/api/groups", params={"sort": "password"})
        assert bad.status == 400 and (await bad.json())["parameter"] == "sort"

        metrics = await (await client.get("/metrics")).text()
        assert f'bus_consumer_group_lag{{group="{crowded}.g000"}} {float(BEHIND)}' in metrics
        assert f'bus_topic_messages{{kind="other",topic="{crowded}.t000"}} {float(BEHIND)}' in metrics

        await the_page_pages_them(str(client.make_url("/ops/")), key, crowded)


async def the_page_pages_them(url: str, key: str, prefix: str) -> None:
    """In Chromium: the groups page shows one page of 25 of the 500, the busiest first."""
    path = chromium()
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page(viewport={"width": 1360, "height": 900})
            errors: list[str] = []
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            await page.goto(url)
            await page.fill("#api-key", key)
            await page.click("#sign-in")
            await page.wait_for_url(url)
            await page.click("#tabs button[data-view=groups]")
            await page.fill("#groups-q", prefix)
            await page.wait_for_selector(f"#groups-table tr[data-key='{prefix}.g000']")
            # the filter is the server's: the pager counts this run's groups only (other tests'
            # groups share the broker)
            await page.wait_for_function(
                "document.getElementById('groups-pager').innerText.includes('500')")
            rows = await page.eval_on_selector_all("#groups-table tbody tr[data-key]", "r => r.length")
            assert rows == 25
            await page.click("#groups-pager button:last-child")
            await page.wait_for_selector(f"#groups-table tr[data-key='{prefix}.g000']", state="detached")
            SHOTS.mkdir(parents=True, exist_ok=True)
            await page.screenshot(path=str(SHOTS / "groups-500.png"))
            assert errors == []
        finally:
            await browser.close()
