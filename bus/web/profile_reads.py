"""One profile, its history, as the client may see it: shared by citizens and enterprises.

Each read: the key checked against its standard, ``as_of`` / ``explain`` / ``min_position``
checked, the positions read before the data (``X-Projection-Position``), the client's view
(masked by classification), the audit record, then the answer with an ``ETag`` of exactly the
bytes sent (``If-None-Match`` → ``304``).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Any, TypeVar

from aiohttp import web

from bus.access.policy import Access, View
from bus.problem import problem
from bus.standards.errors import StandardViolation
from bus.web.as_of import InvalidAsOf, as_of
from bus.web.auth import access_of
from bus.web.consistency import InvalidPosition, Positions, caught_up, format_positions, parse_positions
from bus.web.privacy import audit_read, view_of
from projections.profiles.history import read_history, read_positions
from projections.profiles.readers import Readers
from projections.profiles.store import StoredProfile

__all__ = ["MAX_WAIT_SECONDS", "ProfileEndpoint", "json_answer", "off_loop"]

T = TypeVar("T")

#: How long a request with ``min_position`` may wait for the projection.
MAX_WAIT_SECONDS = 5.0
HISTORY_LIMIT = 50
MAX_HISTORY_LIMIT = 200


async def off_loop(readers: Readers, function: Callable[..., T], *args: Any) -> T:
    """``function(*args)`` in a worker thread when ``readers`` wait on the network, else inline."""
    if readers.blocking:
        return await asyncio.to_thread(function, *args)
    return function(*args)


def _dumps(value: object) -> str:
    return json.dumps(value, ensure_ascii=False)


def json_answer(request: web.Request, body: object, positions: Positions | None = None
                ) -> web.Response:
    """``body`` as JSON with its ETag; ``304`` when the client holds exactly these bytes."""
    text = _dumps(body)
    etag = '"' + hashlib.sha256(text.encode()).hexdigest()[:32] + '"'
    headers = {"ETag": etag, "Cache-Control": "private, no-cache"}
    if positions is not None:
        headers["X-Projection-Position"] = format_positions(positions)
    if etag in {t.strip() for t in request.headers.get("If-None-Match", "").split(",")}:
        return web.Response(status=304, headers=headers)
    return web.Response(text=text, content_type="application/json", headers=headers)


def _explain(request: web.Request) -> bool | web.Response:
    """``?explain=true|false`` (default false), or the problem of another value."""
    flag = {"true": True, "1": True, "false": False, "0": False}.get(
        request.query.get("explain", "false").lower())
    if flag is None:
        return problem(400, "invalid-parameter", "Invalid query parameter",
                       "explain must be true or false", parameter="explain")
    return flag


@dataclass(frozen=True)
class ProfileEndpoint:
    """The read endpoints of one profile projection."""

    projection: str
    subject_kind: str
    route: str
    key_param: str
    parse_key: Callable[[str], str]
    invalid_key: tuple[str, str]
    not_found: tuple[str, str, str]
    readers: Callable[[web.Request], Readers]
    read: Callable[[web.Request, str, datetime | None], dict[str, Any] | None]
    to_json: Callable[[StoredProfile], dict[str, Any]]
    #: Citizens: every read is audited; enterprises: only reads that showed personal fields.
    audit_every_read: bool

    def _key(self, request: web.Request) -> str | web.Response:
        try:
            return self.parse_key(request.match_info[self.key_param])
        except StandardViolation as violation:
            type_, title = self.invalid_key
            return problem(400, type_, title, violation.message_en, rule_id=violation.rule_id,
                           detail_zh=violation.message_zh)

    async def _positions(self, request: web.Request) -> Positions | web.Response | None:
        """Wait for ``min_position`` when asked; None when not asked (the caller reads the
        positions together with its data)."""
        raw = request.query.get("min_position")
        if raw is None:
            return None
        try:
            wanted = parse_positions(raw)
        except InvalidPosition as exc:
            return problem(400, "invalid-parameter", "Invalid query parameter", str(exc),
                           parameter="min_position")
        positions = await caught_up(self.readers(request), wanted, MAX_WAIT_SECONDS)
        if positions is None:
            response = problem(503, "projection-behind", "Projection not caught up yet",
                               f"{self.projection} has not reached min_position within "
                               f"{MAX_WAIT_SECONDS:.0f} s; try again")
            response.headers["Retry-After"] = "1"
            return response
        return positions

    def _shown(self, request: web.Request, profile: Mapping[str, Any], access: Access,
               explain: bool) -> View:
        view = view_of(request, self.projection, profile, access)
        if not explain:
            view.body.pop("provenance", None)
        return view

    async def _audit(self, request: web.Request, access: Access, subject: str, route: str,
                     view: View | None, status: int) -> web.Response | None:
        if not self.audit_every_read and (view is None or not view.personal):
            return None
        return await audit_read(request, access, subject_kind=self.subject_kind, subject=subject,
                                endpoint=f"GET {route}", view=view, status=status)

    def _not_found(self, detail_suffix: str = "") -> web.Response:
        type_, title, detail = self.not_found
        return problem(404, type_, title, detail + detail_suffix)

    async def get(self, request: web.Request) -> web.Response:
        return await self.derived(request, "", None)

    async def derived(self, request: web.Request, suffix: str,
                      build: Callable[[web.Request, dict[str, Any]], Awaitable[object]] | None
                      ) -> web.Response:
        """The profile as the client may see it — or what ``build`` makes of that view (a
        sub-resource such as ``/links``, audited as a read of the profile)."""
        key = self._key(request)
        if isinstance(key, web.Response):
            return key
        try:
            moment = as_of(request)
        except InvalidAsOf as exc:
            return problem(400, "invalid-parameter", "Invalid query parameter", str(exc),
                           parameter="as_of")
        explain = _explain(request)
        if isinstance(explain, web.Response):
            return explain
        waited = await self._positions(request)
        if isinstance(waited, web.Response):
            return waited
        access = access_of(request)
        positions, profile = await off_loop(self.readers(request), self._read_at, request, waited,
                                            key, moment)
        view = None if profile is None else self._shown(request, profile, access, explain)
        refused = await self._audit(request, access, key, self.route + suffix, view,
                                    404 if view is None else 200)
        if refused is not None:
            return refused
        if view is None:
            return self._not_found(" at that time" if moment else "")
        body = view.body if build is None else await build(request, view.body)
        return json_answer(request, body, positions)

    def _read_at(self, request: web.Request, positions: Positions | None, key: str,
                 moment: datetime | None) -> tuple[Positions, dict[str, Any] | None]:
        """Positions (unless already known), then the profile: one trip to a worker thread."""
        if positions is None:
            positions = read_positions(self.readers(request))
        return positions, self.read(request, key, moment)

    async def history(self, request: web.Request) -> web.Response:
        key = self._key(request)
        if isinstance(key, web.Response):
            return key
        raw_after, raw_limit = request.query.get("after", "0"), request.query.get(
            "limit", str(HISTORY_LIMIT))
        if not (raw_after.isascii() and raw_after.isdigit() and len(raw_after) <= 12):
            return problem(400, "invalid-parameter", "Invalid query parameter",
                           "after must be a version number (the 'next' of the previous page)",
                           parameter="after")
        if not (raw_limit.isascii() and raw_limit.isdigit()) or not 1 <= int(raw_limit) <= MAX_HISTORY_LIMIT:
            return problem(400, "invalid-parameter", "Invalid query parameter",
                           f"limit must be an integer between 1 and {MAX_HISTORY_LIMIT}",
                           parameter="limit")
        explain = _explain(request)
        if isinstance(explain, web.Response):
            return explain
        positions = await self._positions(request)
        if isinstance(positions, web.Response):
            return positions
        access = access_of(request)
        readers = self.readers(request)
        if positions is None:
            positions = await off_loop(readers, read_positions, readers)
        page = await off_loop(readers, partial(read_history, readers, key, after=int(raw_after),
                                               limit=int(raw_limit)))
        items: list[dict[str, Any]] = []
        seen = View({})
        for version in page.versions if page else ():
            shown = None
            if version.profile is not None:
                view = self._shown(request, self.to_json(version.profile), access, explain)
                seen.revealed += [f for f in view.revealed if f not in seen.revealed]
                seen.masked += [f for f in view.masked if f not in seen.masked]
                shown = view.body
            items.append({
                "version": version.version,
                "believed_at": datetime.fromtimestamp(version.believed_at_ms / 1000, UTC).isoformat(),
                "cause": dict(zip(("topic", "partition", "offset"), version.cause, strict=True)),
                "profile": shown})
        refused = await self._audit(request, access, key, self.route + "/history",
                                    seen if page else None, 200 if page else 404)
        if refused is not None:
            return refused
        if page is None:
            return self._not_found()
        following = None if page.next_after is None else str(page.next_after)
        return json_answer(request, {"versions": items, "next": following}, positions)
