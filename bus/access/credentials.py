"""API keys: ``rtk_<key id>_<secret>``; the bus keeps only a digest of the secret.

The secret is 256 random bits, so a plain SHA-256 is as good as a slow password hash here
(nothing to brute-force) and keeps each request's check to microseconds.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

PREFIX = "rtk"
_FORM = re.compile(r"rtk_([0-9a-f]{12})_([A-Za-z0-9_-]{43})")


@dataclass(frozen=True)
class NewKey:
    """A freshly issued key: ``text`` is shown once, only ``digest`` is stored."""

    key_id: str
    text: str
    digest: str


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("ascii")).hexdigest()


def new_api_key() -> NewKey:
    key_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    return NewKey(key_id, f"{PREFIX}_{key_id}_{secret}", digest(secret))


def parse_api_key(text: str) -> tuple[str, str] | None:
    """(key id, secret) of a well-formed key, else None."""
    match = _FORM.fullmatch(text.strip())
    return (match.group(1), match.group(2)) if match else None


def matches(secret: str, stored_digest: str) -> bool:
    return hmac.compare_digest(digest(secret), stored_digest)
