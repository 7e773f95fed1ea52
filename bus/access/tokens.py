"""JWT bearer tokens (HS256, ``pyjwt``): for client applications and for citizens.

A client's token has ``sub`` = its client id and is worth exactly what the client's grants are
(the store is asked on every request, so revoking a client ends its tokens too). A citizen's
token — issued by the government's identity service, signed with the same secret — has
``sub`` = ``citizen:<identity number>`` and opens only the citizen's own pages (``/v1/me``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import jwt

ISSUER = "rongtong"
AUDIENCE = "rongtong-api"
CITIZEN_PREFIX = "citizen:"
_ALGORITHM = "HS256"


class InvalidToken(Exception):
    """The token is malformed, expired, not for this service or not signed by its key."""


@dataclass(frozen=True)
class TokenSubject:
    """Who a verified token speaks for: a client id, or a citizen's identity number."""

    client_id: str | None = None
    citizen: str | None = None


def mint(secret: str, subject: str, *, ttl_seconds: int = 3600, now: float | None = None) -> str:
    issued = int(time.time() if now is None else now)
    claims: dict[str, Any] = {"iss": ISSUER, "aud": AUDIENCE, "sub": subject, "iat": issued,
                              "exp": issued + ttl_seconds}
    return jwt.encode(claims, secret, algorithm=_ALGORITHM)


def verify(secret: str, token: str) -> TokenSubject:
    try:
        claims = jwt.decode(token, secret, algorithms=[_ALGORITHM], audience=AUDIENCE,
                            issuer=ISSUER, leeway=30,
                            options={"require": ["exp", "iat", "sub", "iss", "aud"]})
    except jwt.PyJWTError as exc:
        raise InvalidToken(str(exc)) from None
    subject = str(claims["sub"])
    if subject.startswith(CITIZEN_PREFIX):
        return TokenSubject(citizen=subject.removeprefix(CITIZEN_PREFIX))
    return TokenSubject(client_id=subject)


def looks_like_jwt(text: str) -> bool:
    return text.count(".") == 2 and text.startswith("eyJ")
