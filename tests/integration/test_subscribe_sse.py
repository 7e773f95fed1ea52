"""The subscription gateway on real Kafka: SSE and WebSocket, filtered, masked, resumable."""

from __future__ import annotations

import json
import random
from collections import Counter
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer

from bus.access.audit import MemoryAuditLog
from bus.settings import Settings, load_settings
from bus.standards.idcard import compute_check_char
from bus.web.app import create_web_app
from tests.access import add_client, headers

pytestmark = pytest.mark.integration


def a_number(rng: random.Random) -> str:
    body = f"330106{rng.randint(1950, 2005)}0{rng.randint(1, 9)}1{rng.randint(0, 9)}{rng.randint(100, 999)}"
    return body + compute_check_char(body)


async def events(response: aiohttp.ClientResponse, count: int) -> list[tuple[str, dict[str, Any]]]:
    """The next ``count`` events of an SSE stream: (id, data)."""
    found: list[tuple[str, dict[str, Any]]] = []
    event_id, data = "", ""
    while len(found) < count:
        line = (await response.content.readline()).decode().rstrip("\n")
        if line.startswith("id: "):
            event_id = line[4:]
        elif line.startswith("data: "):
            data = line[6:]
        elif line == "" and data:
            found.append((event_id, json.loads(data)))
            event_id, data = "", ""
    return found


async def test_events_arrive_masked_and_a_reconnect_resumes_after_the_last_one(
        stack: Settings, tmp_path: Path) -> None:
    settings = load_settings(state_dir=tmp_path, kafka_bootstrap=stack.kafka_bootstrap,
                             registry_url=stack.registry_url)
    number = a_number(random.Random())
    publisher = add_client(tmp_path, "registrar", publishes=("person",))
    watcher = add_client(tmp_path, "watcher", classifications=("public", "internal"))
    audit = MemoryAuditLog()
    async with TestClient(TestServer(create_web_app(settings, audit=audit))) as client:
        for name in ("林一", "林二", "林三"):
            body = {"identity_number": number, "name": name, "sex_code": "2",
                    "birth_date": f"{number[6:10]}-{number[10:12]}-{number[12:14]}",
                    "division_code": "330106", "household_address": "杭州市西湖区"}
            published = await client.post("/v1/events/rongtong.std.person.upserted", json=body,
                                          headers=headers(publisher, None))
            assert published.status == 202, await published.text()
        query = {"types": "rongtong.std.person.upserted", "subject": f"person/{number}",
                 "from": "beginning"}
        async with client.session.get(client.make_url("/v1/subscribe"), params=query,
                                      headers=headers(watcher, None),
                                      timeout=aiohttp.ClientTimeout(total=60)) as stream:
            assert stream.status == 200 and stream.content_type == "text/event-stream"
            first_two = await events(stream, 2)
        assert [d["data"]["name"] for _, d in first_two] == ["林*", "林*"], "names masked"
        assert all(number not in json.dumps(d, ensure_ascii=False) for _, d in first_two)
        assert "birth_date" not in first_two[0][1]["data"]
        last_id = first_two[-1][0]
        async with client.session.get(client.make_url("/v1/subscribe"), params=query,
                                      headers={**headers(watcher, None), "Last-Event-ID": last_id},
                                      timeout=aiohttp.ClientTimeout(total=60)) as resumed:
            [(_, third)] = await events(resumed, 1)
        assert third["type"] == "rongtong.std.person.upserted"
        assert third["subject"] == f"person/{number[:6]}********{number[-4:]}", "the key masked too"
        assert third["id"] not in {d["id"] for _, d in first_two}, "resumed after the last one"
        full = add_client(tmp_path, "desk")
        async with client.session.get(client.make_url("/v1/subscribe"), params=query,
                                      headers=headers(full),
                                      timeout=aiohttp.ClientTimeout(total=60)) as unmasked:
            names = [d["data"]["name"] for _, d in await events(unmasked, 3)]
        assert names == ["林一", "林二", "林三"]
        async with client.session.ws_connect(client.make_url("/v1/subscribe"), params=query,
                                             headers=headers(full)) as socket:
            hello = await socket.receive_json(timeout=30)
            received = [await socket.receive_json(timeout=30) for _ in range(3)]
        assert "subscribed" in hello
        assert [m["data"]["data"]["name"] for m in received] == ["林一", "林二", "林三"]
        assert received[-1]["id"] and received[0]["event"] == "rongtong.std.person.upserted"
    delivered = Counter(r.client for r in audit.records)
    # events that showed personal fields (masked or not) are audited like reads; the watcher's
    # first stream may have been sent the third event before the client hung up
    assert delivered["desk"] == 6 and delivered["watcher"] in (3, 4), delivered
    bad = add_client(tmp_path, "nobody", classifications=("public",))
    async with TestClient(TestServer(create_web_app(settings, audit=MemoryAuditLog()))) as client:
        refused = await client.get("/v1/subscribe", params=query, headers=headers(bad, None))
        assert refused.status == 403
        wrong = await client.get("/v1/subscribe", params={"types": "rongtong.std.nothing.upserted"},
                                 headers=headers(full))
        assert wrong.status == 400
