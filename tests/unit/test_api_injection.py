"""Hostile input on every endpoint and parameter: a clear 4xx, never a 5xx, nothing changed."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bus.access.audit import MemoryAuditLog
from bus.problem import PROBLEM_CONTENT_TYPE
from bus.settings import Settings, load_settings
from bus.web.app import create_web_app
from bus.web.openapi import OPERATIONS
from tests.access import add_client, headers
from tests.unit.test_access_matrix import populate
from tests.unit.test_web_api import VALID_ID

HOSTILE = [
    "' OR '1'='1", "1; DROP TABLE profile; --", "330106199003071236' --", "\x00", "%00",
    "../../../../etc/passwd", "<script>alert(1)</script>", "${jndi:ldap://x/a}", "{{7*7}}",
    "😀" * 50, "A" * 5000, "-1", "1e309", "NaN", "[]", "{}", "\\", "\r\nX-Injected: 1",
]


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    settings = load_settings(state_dir=tmp_path, api_rate=1e6, api_burst=1_000_000)
    populate(settings, [VALID_ID])
    return settings


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[TestClient[Any, Any]]:
    key = add_client(settings.state_dir)
    async with TestClient(TestServer(create_web_app(settings, audit=MemoryAuditLog())),
                          headers=headers(key)) as client:
        yield client


def _path(template: str, value: str) -> str:
    for name in ("{identity_number}", "{credit_code}", "{pair_id}"):
        template = template.replace(name, quote(value, safe=""))
    return template


def _tables(settings: Settings) -> tuple[list[str], int]:
    with sqlite3.connect(settings.read_store_path) as db:
        names = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table' ORDER BY 1")]
        return names, db.execute("SELECT count(*) FROM profile").fetchone()[0]


async def test_every_parameter_of_every_endpoint_refuses_hostile_input_cleanly(
        client: TestClient[Any, Any], settings: Settings) -> None:
    before = _tables(settings)
    tried = 0
    for op in OPERATIONS:
        for parameter in op.parameters:
            if parameter.where == "header" and parameter.name != "X-Purpose":
                continue
            for value in HOSTILE:
                if parameter.where == "header" and any(c in value for c in "\r\n\x00"):
                    continue  # not sendable as a header at all
                path, params, sent = op.path, {}, {}
                if parameter.where == "path":
                    path = _path(op.path, value)
                else:
                    path = _path(op.path, VALID_ID)
                    if parameter.where == "query":
                        params[parameter.name] = value
                    else:
                        sent[parameter.name] = value
                kwargs: dict[str, Any] = {"params": params, "headers": sent}
                if op.body is not None:
                    kwargs["json"] = {"decision": value, "reviewer": value, "reason": value}
                response = await client.request(op.method.upper(), path, **kwargs)
                tried += 1
                assert response.status < 500 or response.status == 503, (op.path, parameter.name, value)
                if response.status >= 400:
                    assert response.content_type == PROBLEM_CONTENT_TYPE, (op.path, value)
                    body = await response.text()
                    assert "Traceback" not in body and "sqlite" not in body.lower()
    assert tried > 300
    assert _tables(settings) == before, "no hostile input changed the store"


async def test_an_oversized_or_malformed_body_is_a_problem(client: TestClient[Any, Any]) -> None:
    big = await client.post("/v1/resolution/reviews/x", data=b"{" + b" " * (2 * 1024 * 1024) + b"}",
                            headers={"Content-Type": "application/json"})
    assert big.status == 413 and big.content_type == PROBLEM_CONTENT_TYPE
    broken = await client.post("/v1/resolution/reviews/x", data=b"{not json",
                               headers={"Content-Type": "application/json"})
    assert broken.status == 400 and broken.content_type == PROBLEM_CONTENT_TYPE
