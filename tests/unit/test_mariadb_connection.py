"""MariaDB connections share the TLS context of PyMySQL's default (preferred) mode."""

from __future__ import annotations

import ssl

import pymysql.connections

from adapters.capture.engines.mariadb_connection import MariaDbConnection
from adapters.capture.engines.mariadb_rows import CaptureConnection


def unconnected(kind: type[pymysql.connections.Connection], **kwargs: object) -> object:
    return kind(host="127.0.0.1", port=1, user="u", defer_connect=True, **kwargs)


def test_connections_without_tls_settings_share_one_context_that_verifies_nothing() -> None:
    contexts = [unconnected(kind).ctx for kind in (MariaDbConnection, CaptureConnection,
                                                    MariaDbConnection)]
    # Built once per process, not once per connection as PyMySQL itself does:
    assert contexts[0] is contexts[1] is contexts[2]
    assert unconnected(pymysql.connections.Connection).ctx is not unconnected(
        pymysql.connections.Connection).ctx
    preferred = unconnected(MariaDbConnection)
    assert preferred.ssl and not preferred._ssl_required  # TLS when offered, TCP otherwise
    assert contexts[0].verify_mode == ssl.CERT_NONE and not contexts[0].check_hostname


def test_connections_with_tls_settings_build_their_own() -> None:
    shared = unconnected(MariaDbConnection).ctx
    own = unconnected(MariaDbConnection, ssl={"verify_mode": "required"})
    assert own.ctx is not shared and own._ssl_required
    assert own.ctx.verify_mode == ssl.CERT_REQUIRED
    given = ssl.create_default_context()
    assert unconnected(MariaDbConnection, ssl=given).ctx is given

