"""PyMySQL connections that build the TLS context of their default mode once per process.

Given no TLS settings, PyMySQL prefers TLS where the server offers it (falling back to plain
TCP), and for that builds a default context — loading the system's CA certificates, 25–40 ms
of CPU held under the GIL — for every connection, whether the server offers TLS or not. That
context depends on nothing but the (absent) settings and verifies no certificate, so one
serves every such connection: a capture opens several (snapshot, binlog stream and control,
position checks, echo ledger), and each paid it on the event loop's time. Connections given
TLS settings build their own context, as PyMySQL does.
"""

from __future__ import annotations

import ssl
import threading
from typing import Any, ClassVar

import pymysql.connections


class MariaDbConnection(pymysql.connections.Connection):  # type: ignore[misc]
    """``pymysql.connect``, with the default mode's TLS context shared."""

    _preferred_context: ClassVar[ssl.SSLContext | None] = None
    _building = threading.Lock()

    def _create_ssl_ctx(self, sslp: Any) -> ssl.SSLContext:
        if sslp:  # the caller's own TLS settings (or context)
            context: ssl.SSLContext = super()._create_ssl_ctx(sslp)
            return context
        with MariaDbConnection._building:
            if MariaDbConnection._preferred_context is None:
                MariaDbConnection._preferred_context = super()._create_ssl_ctx(sslp)
            return MariaDbConnection._preferred_context
