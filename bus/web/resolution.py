"""``/v1/resolution``: the entity-resolution review queue — list pending pairs, decide, un-merge.

Reads the live resolver's store (read-only) and publishes each reviewer's decision on
``std.link_decision``; the resolver applies it when it reads it back, like any decision, so the
review itself is in the log and the citizen profiles follow. A command answers 202 with the
published decision; the pair's new state shows once the resolver has applied it.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from aiohttp import web
from aiokafka import AIOKafkaProducer

from bus.problem import problem
from bus.serde.avro import AvroSerde
from bus.serde.registry_client import RegistryClient
from bus.settings import Settings
from projections.resolution.decisions import LinkDecision
from projections.resolution.live import DECISIONS_TOPIC, UnknownPair, review_decision, split_decision
from projections.resolution.records import RecordRef
from projections.resolution.review import ReviewError
from projections.resolution.store import ResolutionStore
from projections.resolution.worker import encode_decision

__all__ = ["REVIEWS", "ReviewDesk", "add_routes"]

log = logging.getLogger(__name__)

MAX_LIMIT = 200
DEFAULT_LIMIT = 50
MAX_TEXT = 1000


class ReviewDesk:
    """The store to read and, once the first command comes, a producer to publish with."""

    def __init__(self, store_path: Path, bootstrap: str, registry_url: str) -> None:
        self.store_path = store_path
        self.bootstrap = bootstrap
        self.registry_url = registry_url
        self._producer: AIOKafkaProducer | None = None
        self._registry: RegistryClient | None = None
        self._lock = asyncio.Lock()

    def read(self) -> ResolutionStore | None:
        """The resolver's store, read-only (None before the resolver made it); close it after."""
        if not self.store_path.exists():
            return None
        return ResolutionStore(self.store_path, readonly=True)

    async def publish(self, decision: LinkDecision) -> None:
        async with self._lock:
            if self._producer is None:
                producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap, acks="all",
                                            enable_idempotence=True)
                await producer.start()
                self._producer, self._registry = producer, RegistryClient(self.registry_url)
        assert self._registry is not None
        key, value, headers = await encode_decision(AvroSerde(self._registry), decision)
        await self._producer.send_and_wait(DECISIONS_TOPIC, value, key, headers=headers)

    async def close(self) -> None:
        if self._producer is not None:
            await self._producer.stop()
        if self._registry is not None:
            await self._registry.close()


REVIEWS = web.AppKey("resolution_reviews", ReviewDesk)


# -- reading ------------------------------------------------------------------------------------


def _ref(ref: RecordRef) -> dict[str, str]:
    return {"key": ref.key, "department": ref.department, "table": ref.table, "record_key": ref.record_key,
            "role": ref.role}


def _decision_json(decision: LinkDecision) -> dict[str, Any]:
    weights = [{"field": w.field, "level": w.level, "weight": w.weight} for w in decision.weights]
    return {
        "pair_id": decision.pair_id, "decision_id": decision.decision_id, "kind": decision.kind.value,
        "left": _ref(decision.left), "right": _ref(decision.right), "score": decision.score,
        "weights": weights,
        "explanation": ", ".join(f"{w.field}={w.level} {w.weight:+.1f}" for w in decision.weights) or None,
        "rule": decision.rule, "ruleset_version": decision.ruleset_version,
        "thresholds": {"upper": decision.upper_threshold, "lower": decision.lower_threshold},
        "decided_by": decision.decided_by, "reason": decision.reason,
        "decided_at": decision.decided_at.isoformat(), "subject": decision.subject,
    }


def _cursor(decision: LinkDecision) -> str:
    raw = json.dumps([decision.score or 0.0, decision.pair_id], ensure_ascii=False).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _after(text: str) -> tuple[float, str]:
    try:
        score, pid = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
    except (binascii.Error, ValueError, TypeError, UnicodeDecodeError) as exc:
        raise ValueError("after is not a cursor this API gave") from exc
    if not isinstance(score, int | float) or not isinstance(pid, str):
        raise ValueError("after is not a cursor this API gave")
    return float(score), pid


def _pending(desk: ReviewDesk, limit: int, after: tuple[float, str] | None) -> list[LinkDecision]:
    store = desk.read()
    if store is None:
        return []
    try:
        return store.pending(limit + 1, after)
    finally:
        store.close()


async def list_reviews(request: web.Request) -> web.Response:
    raw_limit = request.query.get("limit", str(DEFAULT_LIMIT))
    if not (raw_limit.isascii() and raw_limit.isdigit()) or not 1 <= int(raw_limit) <= MAX_LIMIT:
        return problem(400, "invalid-parameter", "Invalid query parameter",
                       f"limit must be an integer between 1 and {MAX_LIMIT}", parameter="limit")
    after = None
    if request.query.get("after"):
        try:
            after = _after(request.query["after"])
        except ValueError as exc:
            return problem(400, "invalid-parameter", "Invalid query parameter", str(exc), parameter="after")
    limit = int(raw_limit)
    rows = await asyncio.to_thread(_pending, request.app[REVIEWS], limit, after)
    page = rows[:limit]
    items = [{**_decision_json(d), "href": f"/v1/resolution/reviews/{quote(d.pair_id, safe='')}"}
             for d in page]
    return web.json_response({"items": items, "next": _cursor(page[-1]) if len(rows) > limit else None},
                             dumps=_dumps)


# -- commands -----------------------------------------------------------------------------------


class _BadRequest(ValueError):
    pass


async def _body(request: web.Request, *, needs_decision: bool) -> dict[str, Any]:
    try:
        body = await request.json()
    except (ValueError, UnicodeDecodeError) as exc:
        raise _BadRequest("the body is not JSON") from exc
    if not isinstance(body, dict):
        raise _BadRequest("the body must be a JSON object")
    if needs_decision and body.get("decision") not in ("accept", "reject"):
        raise _BadRequest("decision must be \"accept\" or \"reject\"")
    reviewer = body.get("reviewer")
    if not isinstance(reviewer, str) or not reviewer.strip() or len(reviewer) > 100 or "\n" in reviewer:
        raise _BadRequest("reviewer must be a non-empty name of at most 100 characters")
    if reviewer.strip() == "engine":
        raise _BadRequest("reviewer cannot be the engine")
    reason = body.get("reason")
    if reason is not None and (not isinstance(reason, str) or len(reason) > MAX_TEXT):
        raise _BadRequest(f"reason must be text of at most {MAX_TEXT} characters")
    unknown = set(body) - {"decision", "reviewer", "reason"}
    if unknown:
        raise _BadRequest(f"unknown fields: {', '.join(sorted(map(str, unknown)))}")
    return body


def _command(desk: ReviewDesk, pid: str, body: dict[str, Any], split: bool) -> LinkDecision:
    store = desk.read()
    if store is None:
        raise UnknownPair(f"no decision names the pair {pid}")
    try:
        at = datetime.now(UTC)
        reviewer, reason = str(body["reviewer"]).strip(), body.get("reason")
        if split:
            return split_decision(store, pid, by=reviewer, at=at, reason=reason)
        return review_decision(store, pid, accept=body["decision"] == "accept", by=reviewer, at=at,
                               reason=reason)
    finally:
        store.close()


async def _decide(request: web.Request, *, split: bool) -> web.Response:
    pid = request.match_info["pair_id"]
    try:
        body = await _body(request, needs_decision=not split)
    except _BadRequest as exc:
        return problem(400, "invalid-body", "Invalid request body", str(exc))
    desk = request.app[REVIEWS]
    try:
        decision = await asyncio.to_thread(_command, desk, pid, body, split)
    except UnknownPair as exc:
        return problem(404, "pair-not-found", "Pair not found", str(exc))
    except ReviewError as exc:
        return problem(409, "pair-state-conflict", "The pair is not in a state for this", str(exc))
    try:
        await desk.publish(decision)
    except Exception:
        log.exception("publishing a review decision failed")
        return problem(503, "decisions-unavailable", "Decision not published",
                       "std.link_decision cannot be written now; nothing was decided, try again")
    return web.json_response(_decision_json(decision), status=202, dumps=_dumps)


async def decide_review(request: web.Request) -> web.Response:
    return await _decide(request, split=False)


async def split_link(request: web.Request) -> web.Response:
    return await _decide(request, split=True)


def _dumps(value: object) -> str:
    return json.dumps(value, ensure_ascii=False)


def add_routes(app: web.Application, settings: Settings) -> None:
    app[REVIEWS] = ReviewDesk(settings.projection_store_path("resolution").resolve(),
                              settings.kafka_bootstrap, settings.registry_url)

    async def close_desk(app: web.Application) -> AsyncIterator[None]:
        yield
        await app[REVIEWS].close()

    app.cleanup_ctx.append(close_desk)
    app.router.add_get("/v1/resolution/reviews", list_reviews)
    # A pair id holds "/", "|" and "#": the client percent-encodes it, the route takes the rest.
    app.router.add_post(r"/v1/resolution/links/{pair_id:.+}/split", split_link)
    app.router.add_post(r"/v1/resolution/reviews/{pair_id:.+}", decide_review)
