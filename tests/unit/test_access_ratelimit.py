"""Per-client rate limits: token buckets, and 429 with Retry-After from the API."""

from __future__ import annotations

from pathlib import Path

from aiohttp.test_utils import TestClient, TestServer

from bus.access.audit import MemoryAuditLog
from bus.access.ratelimit import RateLimiter
from bus.settings import load_settings
from bus.web.app import create_web_app
from tests.access import add_client, headers


def test_a_bucket_allows_its_burst_then_the_rate() -> None:
    limiter = RateLimiter(rate=2.0, burst=3)
    assert [limiter.take("a", now=0.0) for _ in range(3)] == [None, None, None]
    wait = limiter.take("a", now=0.0)
    assert wait is not None and abs(wait - 0.5) < 1e-9
    assert limiter.take("b", now=0.0) is None, "each client has its own bucket"
    assert limiter.take("a", now=0.6) is None
    assert limiter.take("a", now=0.6) is not None


def test_the_least_recently_used_buckets_are_forgotten() -> None:
    limiter = RateLimiter(rate=1.0, burst=1, max_clients=2)
    for who in ("a", "b", "c"):
        limiter.take(who, now=0.0)
    assert limiter.take("a", now=0.0) is None, "a was forgotten: full again"
    assert limiter.take("c", now=0.0) is not None


async def test_the_api_answers_429_with_retry_after_per_client(tmp_path: Path) -> None:
    settings = load_settings(state_dir=tmp_path, api_rate=0.5, api_burst=2)
    busy, quiet = add_client(tmp_path, "busy"), add_client(tmp_path, "quiet")
    async with TestClient(TestServer(create_web_app(settings, audit=MemoryAuditLog()))) as http:
        statuses = [(await http.get("/v1/catalog", headers=headers(busy))).status for _ in range(3)]
        limited = await http.get("/v1/catalog", headers=headers(busy))
        body = await limited.json(content_type=None)
        other = await http.get("/v1/catalog", headers=headers(quiet))
    assert statuses == [200, 200, 429]
    assert limited.status == 429 and int(limited.headers["Retry-After"]) >= 1
    assert body["type"] == "/problems/too-many-requests"
    assert other.status == 200
