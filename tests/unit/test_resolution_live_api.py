"""The review API without Kafka: pending pairs with their weights a page at a time, commands
validated (400), refused for unknown pairs (404) and wrong states (409), and a valid one
publishes the reviewer's decision (here into a list instead of std.link_decision)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient, TestServer

from bus.access.audit import MemoryAuditLog
from bus.problem import PROBLEM_CONTENT_TYPE
from bus.settings import Settings, load_settings
from bus.web.app import create_web_app
from bus.web.resolution import REVIEWS
from projections.profiles.store import InputPosition
from projections.resolution import DecisionKind, LinkDecision, PersonRecord, RecordRef
from projections.resolution.live import LiveResolver
from projections.resolution.store import ResolutionStore
from tests.access import add_client, headers
from tests.unit.test_resolution_live import P, Q, R

AT_MS = int(datetime(2024, 6, 3, tzinfo=UTC).timestamp() * 1000)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings(state_dir=tmp_path)


def populate(settings: Settings, extra: int = 0) -> tuple[str, str]:
    """P linked to Q (accepted), R and ``extra`` look-alikes proposed against P: (link, proposal)."""
    store = ResolutionStore(settings.projection_store_path("resolution"))
    resolver = LiveResolver(store)
    others = [PersonRecord(RecordRef("rsj", "ac01", f"X{i}", "insured"), None, "王晓铭", "1990-03-07", "1")
              for i in range(extra)]
    taken = []
    for offset, (record, topic) in enumerate([(P, "std.person"), (Q, "quarantine.mz.hydj"),
                                              (R, "quarantine.rsj.ac01"),
                                              *((o, "quarantine.rsj.ac01") for o in others)]):
        taken += resolver.on_records(InputPosition(topic, 0, offset, AT_MS + offset), record.ref.key,
                                     [record]) or []
    store.close()
    link = next(d for d in taken if d.kind is DecisionKind.ACCEPTED and d.subject)
    proposal = next(d for d in taken if d.kind is DecisionKind.PROPOSED and R.ref.key in d.pair_id)
    return link.pair_id, proposal.pair_id


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[tuple[TestClient[Any, Any], list[LinkDecision]]]:
    app = create_web_app(settings, audit=MemoryAuditLog())
    published: list[LinkDecision] = []

    async def publish(decision: LinkDecision) -> None:
        published.append(decision)

    app[REVIEWS].publish = publish  # type: ignore[method-assign]
    async with TestClient(TestServer(app), headers=headers(add_client(settings.state_dir))) as client:
        yield client, published


async def problem_of(response: ClientResponse, status: int, type_: str) -> dict[str, Any]:
    assert response.status == status and response.content_type == PROBLEM_CONTENT_TYPE
    body: dict[str, Any] = await response.json(content_type=PROBLEM_CONTENT_TYPE)
    assert body["type"] == f"/problems/{type_}" and body["status"] == status
    return body


async def test_no_store_yet_means_no_pending_pairs(client: Any) -> None:
    response = await client[0].get("/v1/resolution/reviews")

    assert response.status == 200 and await response.json() == {"items": [], "next": None}


async def test_pending_pairs_come_with_their_weights_a_page_at_a_time(settings: Settings,
                                                                      client: Any) -> None:
    populate(settings, extra=2)
    http = client[0]

    pages = [await (await http.get("/v1/resolution/reviews", params={"limit": "2"})).json()]
    while pages[-1]["next"]:
        query = {"limit": "2", "after": pages[-1]["next"]}
        pages.append(await (await http.get("/v1/resolution/reviews", params=query)).json())

    pairs = [item["pair_id"] for page in pages for item in page["items"]]
    store = ResolutionStore(settings.projection_store_path("resolution"))
    assert pairs == [d.pair_id for d in store.pending(100)] and len(pairs) >= 3 and len(pages) >= 2
    scores = [item["score"] for page in pages for item in page["items"]]
    assert scores == sorted(scores, reverse=True)
    item = pages[0]["items"][0]
    assert {w["field"] for w in item["weights"]} == {
        "identity_number", "name", "birth_date", "sex", "division", "address"}
    assert item["kind"] == "proposed" and 8 <= item["score"] < 16 and "name=partial" in item["explanation"]


@pytest.mark.parametrize("query", [{"limit": "0"}, {"limit": "x"}, {"limit": "201"}, {"after": "%%%"},
                                   {"after": "WzFd"}])
async def test_bad_parameters_are_problems(client: Any, query: dict[str, str]) -> None:
    await problem_of(await client[0].get("/v1/resolution/reviews", params=query), 400, "invalid-parameter")


async def test_an_accept_publishes_a_reviewers_decision_joining_the_row_to_the_profile(
        settings: Settings, client: Any) -> None:
    _link, proposal = populate(settings)
    http, published = client

    response = await http.post(f"/v1/resolution/reviews/{quote(proposal, safe='')}",
                               json={"decision": "accept", "reviewer": "zhang", "reason": "same person"})

    assert response.status == 202
    body = await response.json()
    [decision] = published
    assert body["decision_id"] == decision.decision_id and decision.kind is DecisionKind.ACCEPTED
    assert decision.decided_by == "reviewer:zhang" and decision.subject == P.identity_number


@pytest.mark.parametrize("body", [None, [], {"decision": "maybe", "reviewer": "zhang"},
                                  {"decision": "accept"}, {"decision": "accept", "reviewer": " "},
                                  {"decision": "accept", "reviewer": "engine"},
                                  {"decision": "accept", "reviewer": "zhang", "reason": 3},
                                  {"decision": "accept", "reviewer": "zhang", "extra": 1}])
async def test_bad_bodies_are_problems(settings: Settings, client: Any, body: Any) -> None:
    _link, proposal = populate(settings)
    url = f"/v1/resolution/reviews/{quote(proposal, safe='')}"
    http = client[0]
    response = await (http.post(url, data=b"{not json") if body is None else http.post(url, json=body))

    await problem_of(response, 400, "invalid-body")
    assert client[1] == []


async def test_unknown_pairs_are_404_and_wrong_states_409(settings: Settings, client: Any) -> None:
    link, proposal = populate(settings)
    http, published = client
    accept = {"decision": "accept", "reviewer": "zhang"}

    await problem_of(await http.post("/v1/resolution/reviews/a%7Cb", json=accept), 404, "pair-not-found")
    await problem_of(await http.post(f"/v1/resolution/reviews/{quote(link, safe='')}", json=accept), 409,
                     "pair-state-conflict")
    await problem_of(await http.post(f"/v1/resolution/links/{quote(proposal, safe='')}/split",
                                     json={"reviewer": "zhang"}), 409, "pair-state-conflict")
    assert published == []


async def test_a_split_of_a_link_publishes_a_split(settings: Settings, client: Any) -> None:
    link, _proposal = populate(settings)
    http, published = client

    response = await http.post(f"/v1/resolution/links/{quote(link, safe='')}/split",
                               json={"reviewer": "zhang", "reason": "two different men"})

    assert response.status == 202
    [decision] = published
    assert (decision.pair_id, decision.kind, decision.subject) == (link, DecisionKind.SPLIT, None)
