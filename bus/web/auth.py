"""Authentication and default-deny authorization for every ``/v1`` route.

A request names its client with ``Authorization: Bearer <API key or JWT>`` (or ``X-API-Key``);
citizens use a JWT whose subject is ``citizen:<identity number>`` and reach only ``/v1/me``.
Each route family needs a grant (a projection or the operator role); a declared purpose
(``X-Purpose``) must be one the client was granted. Every response carries the request id
(``X-Request-ID``, the caller's when well-formed) that the audit log records.
"""

from __future__ import annotations

import math
import re
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web

from bus.access.clients import Client, ClientStore
from bus.access.policy import Access
from bus.access.ratelimit import RateLimiter
from bus.access.tokens import InvalidToken, looks_like_jwt, verify
from bus.problem import problem

__all__ = ["ACCESS", "CLIENTS", "JWT_SECRET", "LIMITER", "Identity", "access_of", "auth_middleware",
           "request_id_of"]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
CLIENTS = web.AppKey("clients", ClientStore)
LIMITER = web.AppKey("rate_limiter", RateLimiter)
JWT_SECRET = web.AppKey("jwt_secret", str)
ACCESS = web.RequestKey("access", Access)
_REQUEST_ID = web.RequestKey("request_id", str)
_WELL_FORMED_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")
_PURPOSE = re.compile(r"[a-z0-9][a-z0-9._-]{0,62}")
#: Route families and what a client must hold to enter (checked in order, longest first).
_GRANTS: tuple[tuple[str, str], ...] = (
    ("/v1/citizens", "projection:citizen_profile"),
    ("/v1/enterprises", "projection:enterprise_profile"),
    ("/v1/resolution", "role:operator"),
    ("/v1/webhooks", "role:reader"),
)


@dataclass(frozen=True)
class Identity:
    client: Client | None = None
    citizen: str | None = None


_IDENTITY = web.RequestKey("identity", Identity)


def request_id_of(request: web.Request) -> str:
    return str(request.get(_REQUEST_ID) or "")


def access_of(request: web.Request) -> Access:
    """The client's access for a route the middleware let through."""
    access = request.get(ACCESS)
    if not isinstance(access, Access):
        raise RuntimeError(f"{request.path} is not behind the auth middleware")
    return access


def _unauthenticated(detail: str) -> web.Response:
    response = problem(401, "unauthenticated", "Authentication required", detail)
    response.headers["WWW-Authenticate"] = 'Bearer realm="rongtong"'
    return response


def _credentials(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    if header[:7].lower() == "bearer ":
        return header[7:].strip() or None
    return request.headers.get("X-API-Key", "").strip() or None


def _identify(request: web.Request) -> Identity | web.Response:
    credentials = _credentials(request)
    if credentials is None:
        return _unauthenticated("send an API key or token: Authorization: Bearer <key>")
    if looks_like_jwt(credentials):
        secret = request.app.get(JWT_SECRET)
        if not secret:
            return _unauthenticated("bearer tokens are not enabled on this service (BUS_JWT_SECRET)")
        try:
            subject = verify(secret, credentials)
        except InvalidToken:
            return _unauthenticated("the token is invalid or expired")
        if subject.citizen is not None:
            return Identity(citizen=subject.citizen)
        client = request.app[CLIENTS].get(subject.client_id or "")
    else:
        client = request.app[CLIENTS].authenticate(credentials)
    if client is None or not client.active:
        return _unauthenticated("the API key or token is not valid (unknown, rotated or revoked)")
    return Identity(client=client)


def _forbidden(detail: str) -> web.Response:
    return problem(403, "forbidden", "Forbidden", detail)


def _authorize(request: web.Request, identity: Identity) -> Access | web.Response | None:
    path = request.path
    if path.startswith("/v1/me/") or path == "/v1/me":
        if identity.citizen is None:
            return _forbidden("this page is for the citizen it is about: sign in as the citizen")
        return None
    client = identity.client
    if client is None:
        return _forbidden("a citizen's token opens only /v1/me")
    for prefix, grant in _GRANTS:
        if path == prefix or path.startswith(prefix + "/"):
            kind, _, what = grant.partition(":")
            if kind == "projection" and what not in client.projections:
                return _forbidden(f"client {client.id!r} is not granted {what}")
            if kind == "role" and what not in client.roles:
                return _forbidden(f"client {client.id!r} does not have the {what} role")
    purpose = request.headers.get("X-Purpose")
    if purpose is not None:
        purpose = purpose.strip()
        if not _PURPOSE.fullmatch(purpose):
            return problem(400, "invalid-purpose", "Invalid purpose",
                           "X-Purpose must be a purpose code: lower-case letters, digits, . _ -")
        if purpose not in client.purposes:
            return problem(403, "purpose-not-granted", "Purpose not granted",
                           f"client {client.id!r} is not granted the purpose {purpose!r}")
    return Access(client, purpose)


def _limited(request: web.Request, identity: Identity) -> float | None:
    limiter = request.app.get(LIMITER)
    if limiter is None:
        return None
    who = f"client:{identity.client.id}" if identity.client else f"citizen:{identity.citizen}"
    return limiter.take(who)


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    supplied = request.headers.get("X-Request-ID", "")
    request[_REQUEST_ID] = supplied if _WELL_FORMED_ID.fullmatch(supplied) else uuid.uuid4().hex
    response: web.StreamResponse
    if request.path.startswith("/v1/") or request.path == "/v1":
        identity = _identify(request)
        if isinstance(identity, web.Response):
            response = identity
        elif (wait := _limited(request, identity)) is not None:
            response = problem(429, "too-many-requests", "Too many requests",
                               f"this client's rate limit is reached; retry in {wait:.1f} s")
            response.headers["Retry-After"] = str(max(1, math.ceil(wait)))
        else:
            request[_IDENTITY] = identity
            decision = _authorize(request, identity)
            if isinstance(decision, web.Response):
                response = decision
            else:
                if decision is not None:
                    request[ACCESS] = decision
                response = await handler(request)
    else:
        response = await handler(request)
    response.headers["X-Request-ID"] = request[_REQUEST_ID]
    return response


def citizen_of(request: web.Request) -> str:
    identity = request.get(_IDENTITY)
    if not isinstance(identity, Identity) or identity.citizen is None:
        raise RuntimeError(f"{request.path} needs a citizen's identity")
    return identity.citizen
