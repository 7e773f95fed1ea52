"""Standard Webhooks signatures (https://www.standardwebhooks.com/).

A delivery carries ``webhook-id`` (the event id: the same on every retry, so a receiver can
deduplicate), ``webhook-timestamp`` (Unix seconds of this attempt) and ``webhook-signature``:
``v1,<base64 HMAC-SHA256 of "<id>.<timestamp>.<body>">`` keyed with the secret's bytes. A secret
is ``whsec_<base64 of 32 random bytes>``; during a rotation the header lists one signature per
live secret, separated by spaces, and a receiver accepts any one it can verify.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Iterable

__all__ = ["PREFIX", "InvalidSignature", "new_secret", "sign", "signature_header", "verify"]

PREFIX = "whsec_"
#: How far a receiver should let a timestamp drift from its clock (replay protection).
TOLERANCE_SECONDS = 300


class InvalidSignature(ValueError):
    """No signature of the header verifies, or the timestamp is out of tolerance."""


def new_secret() -> str:
    return PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def _key(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix(PREFIX), validate=True)


def sign(secret: str, webhook_id: str, timestamp: int, body: bytes) -> str:
    """``v1,<base64 signature>`` of one body."""
    content = f"{webhook_id}.{timestamp}.".encode() + body
    digest = hmac.new(_key(secret), content, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signature_header(secrets_: Iterable[str], webhook_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` value: one signature per live secret."""
    return " ".join(sign(secret, webhook_id, timestamp, body) for secret in secrets_)


def verify(secret: str, webhook_id: str, timestamp: str, body: bytes, header: str, *,
           now: float, tolerance: float = TOLERANCE_SECONDS) -> None:
    """What a receiver does (tests, and the documentation's example); raises when it fails."""
    try:
        sent_at = int(timestamp)
    except ValueError as exc:
        raise InvalidSignature("webhook-timestamp is not Unix seconds") from exc
    if abs(now - sent_at) > tolerance:
        raise InvalidSignature("webhook-timestamp is too far from now")
    expected = sign(secret, webhook_id, sent_at, body)
    if not any(hmac.compare_digest(expected, candidate) for candidate in header.split()):
        raise InvalidSignature("no signature matches")
