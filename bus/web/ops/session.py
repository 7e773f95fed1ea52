"""Sign-in to the dashboard: an API key (or client JWT) exchanged for a short-lived session.

``POST /ops/api/login`` checks the key against the client store, as the API does, and sets an
HttpOnly, SameSite=Strict cookie naming a random session (kept in memory only; a restart signs
everyone out). Every request re-reads the client, so revoking it ends its sessions at once.
Scripts may skip the cookie and send ``Authorization: Bearer <key>`` to ``/ops/api/…``.

Roles (``bus clients add --role``): ``reader`` sees every page; ``operator`` also acts
(quarantine replay). Actions sent with the cookie must carry ``X-Ops-Request: 1``, which a
cross-site form cannot, so the cookie cannot be ridden.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web

from bus.access.clients import Client, ClientStore
from bus.access.policy import Access
from bus.access.tokens import InvalidToken, looks_like_jwt, verify
from bus.problem import problem
from bus.web.auth import CLIENTS, JWT_SECRET

__all__ = ["COOKIE", "OPS_ACCESS", "SESSIONS", "Session", "SessionStore", "ops_auth_middleware"]

COOKIE = "rongtong_ops"
ACTION_HEADER = "X-Ops-Request"
OPS_ROLES = frozenset({"reader", "operator"})
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class Session:
    client_id: str
    purpose: str | None
    expires: float


class SessionStore:
    """Sessions by their random id; each lives ``ttl`` seconds from sign-in."""

    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self._sessions: dict[str, Session] = {}

    def open(self, client_id: str, purpose: str | None) -> str:
        now = time.monotonic()
        self._sessions = {k: s for k, s in self._sessions.items() if s.expires > now}
        token = secrets.token_urlsafe(32)
        self._sessions[token] = Session(client_id, purpose, now + self.ttl)
        return token

    def get(self, token: str) -> Session | None:
        session = self._sessions.get(token)
        if session is None or session.expires <= time.monotonic():
            self._sessions.pop(token, None)
            return None
        return session

    def close(self, token: str) -> None:
        self._sessions.pop(token, None)


SESSIONS = web.AppKey("ops_sessions", SessionStore)
OPS_ACCESS = web.RequestKey("ops_access", Access)
#: Paths under /ops/ open without signing in: the sign-in page, its call, the static assets.
_OPEN = ("/ops/login", "/ops/api/login", "/ops/static/")


def client_for(request: web.Request, credentials: str) -> Client | None:
    """The active client an API key or client JWT names (None when it names none)."""
    store: ClientStore = request.config_dict[CLIENTS]
    if looks_like_jwt(credentials):
        secret = request.config_dict.get(JWT_SECRET)
        if not secret:
            return None
        try:
            subject = verify(secret, credentials)
        except InvalidToken:
            return None
        client = store.get(subject.client_id or "") if subject.citizen is None else None
    else:
        client = store.authenticate(credentials)
    return client if client is not None and client.active else None


def _bearer(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    return header[7:].strip() or None if header[:7].lower() == "bearer " else None


def _unauthenticated(request: web.Request) -> web.StreamResponse:
    if not request.path.startswith("/ops/api/"):
        raise web.HTTPFound("/ops/login")
    return problem(401, "unauthenticated", "Sign-in required",
                   "sign in at /ops/login, or send Authorization: Bearer <API key>")


@web.middleware
async def ops_auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.path.startswith(_OPEN):
        return await handler(request)
    bearer = _bearer(request)
    from_cookie = False
    if bearer is not None:
        client, purpose = client_for(request, bearer), request.headers.get("X-Purpose")
    else:
        session = request.config_dict[SESSIONS].get(request.cookies.get(COOKIE, ""))
        if session is None:
            return _unauthenticated(request)
        store: ClientStore = request.config_dict[CLIENTS]
        client, purpose, from_cookie = store.get(session.client_id), session.purpose, True
    if client is None or not client.active:
        return _unauthenticated(request)
    if not client.roles & OPS_ROLES:
        return problem(403, "forbidden", "Forbidden",
                       f"client {client.id!r} has neither the reader nor the operator role")
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        if from_cookie and request.headers.get(ACTION_HEADER) != "1":
            return problem(403, "missing-action-header", "Forbidden",
                           f"dashboard actions carry the header {ACTION_HEADER}: 1")
        if "operator" not in client.roles:
            return problem(403, "forbidden", "Forbidden",
                           f"client {client.id!r} does not have the operator role")
    request[OPS_ACCESS] = Access(client, purpose if purpose in client.purposes else None)
    return await handler(request)


def ops_access(request: web.Request) -> Access:
    access = request.get(OPS_ACCESS)
    if not isinstance(access, Access):
        raise RuntimeError(f"{request.path} is not behind the ops sign-in")
    return access


async def login(request: web.Request) -> web.StreamResponse:
    try:
        body = await request.json()
    except ValueError:
        body = None
    if not isinstance(body, dict) or not isinstance(body.get("api_key"), str):
        return problem(400, "invalid-body", "Invalid body",
                       'send {"api_key": "...", "purpose": "..." (optional)}')
    client = client_for(request, body["api_key"].strip())
    if client is None:
        return problem(401, "unauthenticated", "Sign-in failed",
                       "the API key is not valid (unknown, rotated or revoked)")
    if not client.roles & OPS_ROLES:
        return problem(403, "forbidden", "Forbidden",
                       f"client {client.id!r} has neither the reader nor the operator role")
    purpose = body.get("purpose") or None
    if purpose is not None and purpose not in client.purposes:
        return problem(403, "purpose-not-granted", "Purpose not granted",
                       f"client {client.id!r} is not granted the purpose {purpose!r}")
    sessions = request.config_dict[SESSIONS]
    token = sessions.open(client.id, purpose)
    response = web.json_response({"client": client.id, "roles": sorted(client.roles),
                                  "purpose": purpose, "expires_in": int(sessions.ttl)})
    response.set_cookie(COOKIE, token, max_age=int(sessions.ttl), path="/ops/", httponly=True,
                        samesite="Strict", secure=request.secure)
    return response


async def logout(request: web.Request) -> web.Response:
    request.config_dict[SESSIONS].close(request.cookies.get(COOKIE, ""))
    response = web.json_response({"signed_out": True})
    response.del_cookie(COOKIE, path="/ops/")
    return response


async def whoami(request: web.Request) -> web.Response:
    access = ops_access(request)
    return web.json_response({"client": access.client.id, "name": access.client.name,
                              "roles": sorted(access.client.roles), "purpose": access.purpose,
                              "operator": "operator" in access.client.roles})
