"""Opaque page cursors: the last key of a page, sealed so that it reveals nothing.

A citizen list pages by identity number; a cursor in clear text would hand every caller the
numbers a masked page hides. The cursor is the key encrypted with SHA-256 in counter mode
under a random nonce and authenticated with HMAC-SHA-256 (encrypt-then-MAC), both keyed by
the service's cursor key; a changed or foreign cursor is refused.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from pathlib import Path

_NONCE = 12
_TAG = 16


class InvalidCursor(ValueError):
    """Not a cursor this service issued (changed, truncated, or from another key)."""


def load_key(path: Path) -> bytes:
    """The service's cursor key, created (32 random bytes, mode 600) on first use."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(secrets.token_bytes(32))
    return path.read_bytes()


def _keystream(key: bytes, nonce: bytes, length: int) -> bytes:
    blocks = (hashlib.sha256(key + b"enc" + nonce + n.to_bytes(4, "big")).digest()
              for n in range((length + 31) // 32))
    return b"".join(blocks)[:length]


def seal(key: bytes, text: str) -> str:
    plain = text.encode()
    nonce = secrets.token_bytes(_NONCE)
    body = nonce + bytes(a ^ b for a, b in zip(plain, _keystream(key, nonce, len(plain)), strict=True))
    tag = hmac.new(key, b"mac" + body, hashlib.sha256).digest()[:_TAG]
    return base64.urlsafe_b64encode(body + tag).decode().rstrip("=")


def unseal(key: bytes, cursor: str) -> str:
    if len(cursor) > 256:
        raise InvalidCursor("cursor too long")
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    except (ValueError, TypeError):
        raise InvalidCursor("not a cursor") from None
    if len(raw) < _NONCE + _TAG:
        raise InvalidCursor("not a cursor")
    body, tag = raw[:-_TAG], raw[-_TAG:]
    if not hmac.compare_digest(tag, hmac.new(key, b"mac" + body, hashlib.sha256).digest()[:_TAG]):
        raise InvalidCursor("not a cursor of this service")
    nonce, sealed = body[:_NONCE], body[_NONCE:]
    try:
        return bytes(a ^ b for a, b in zip(sealed, _keystream(key, nonce, len(sealed)),
                                            strict=True)).decode()
    except UnicodeDecodeError:
        raise InvalidCursor("not a cursor") from None
