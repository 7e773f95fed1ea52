"""A throw-away PostgreSQL server for tests, from the Debian ``postgresql`` binaries.

``initdb`` into a temporary directory, ``pg_ctl start`` on a free port (TCP on 127.0.0.1 and a
unix socket inside the directory), logical decoding enabled, durability off (tests only). The
server can be stopped and started again on the same data directory, which the capture
contract suite needs for "source database down, then back".

PostgreSQL refuses to run as root: when the tests run as root, the server binaries run as the
unprivileged ``postgres`` user (created by the Debian package; created here if missing).
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

import psycopg2

SERVER_USER = "postgres"
DEFAULT_SETTINGS: Mapping[str, str] = {
    "wal_level": "logical",
    "max_replication_slots": "10",
    "max_wal_senders": "10",
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "shared_buffers": "32MB",
    "max_connections": "40",
    "wal_sender_timeout": "60s",
    "log_min_messages": "warning",
}


def postgres_bin_dir() -> Path:
    """The newest installed ``/usr/lib/postgresql/<version>/bin``."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda p: int(Path(p).parent.parent.name))
    if not found:
        raise RuntimeError("PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin; "
                           "install the Debian package 'postgresql'")
    return Path(found[-1]).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _ensure_server_user() -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(SERVER_USER)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", SERVER_USER], check=True)
        return pwd.getpwnam(SERVER_USER)


class PostgresServer:
    """One throw-away PostgreSQL instance: ``with PostgresServer() as pg: connect(pg.dsn)``."""

    def __init__(
        self, *, dbname: str = "legacy", user: str = "rongtong",
        settings: Mapping[str, str] | None = None, port: int | None = None,
    ) -> None:
        self.dbname = dbname
        self.user = user
        self.host = "127.0.0.1"
        self.port = port or free_port()
        self.settings = {**DEFAULT_SETTINGS, **(settings or {})}
        self.bin = postgres_bin_dir()
        self.root = Path(tempfile.mkdtemp(prefix="rtpg-"))
        self.data_dir = self.root / "data"
        self.socket_dir = self.root / "sock"
        self.log_file = self.root / "server.log"
        self._as_root = os.geteuid() == 0
        self._initialized = False
        self.running = False

    # -- connection details -------------------------------------------------------------

    @property
    def dsn(self) -> str:
        return self.dsn_for(self.user, self.dbname)

    def dsn_for(self, user: str, dbname: str | None = None, **extra: Any) -> str:
        parts = {"host": self.host, "port": str(self.port), "user": user,
                 "dbname": dbname or self.dbname, "connect_timeout": "5", **extra}
        return " ".join(f"{k}={v}" for k, v in parts.items())

    def connect(self, *, autocommit: bool = True, dbname: str | None = None) -> Any:
        """A superuser psycopg2 connection (for test set-up, not for the code under test)."""
        connection = psycopg2.connect(self.dsn_for(self.user, dbname))
        connection.autocommit = autocommit
        return connection

    def execute(self, *statements: str, dbname: str | None = None) -> None:
        """Run statements as the superuser, each in its own autocommit transaction."""
        connection = self.connect(dbname=dbname)
        try:
            with connection.cursor() as cursor:
                for statement in statements:
                    cursor.execute(statement)
        finally:
            connection.close()

    def drop_replication_slots(self) -> None:
        """Drop every inactive replication slot (tests create one per captured table)."""
        self.execute("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots "
                     "WHERE NOT active")

    # -- lifecycle ------------------------------------------------------------------------

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        command = [str(a) for a in args]
        if self._as_root:
            command = ["runuser", "-u", SERVER_USER, "--", *command]
        return subprocess.run(command, check=check, capture_output=True, text=True, timeout=120)

    def _initdb(self) -> None:
        if self._as_root:
            account = _ensure_server_user()
            os.chown(self.root, account.pw_uid, account.pw_gid)
        self.socket_dir.mkdir(mode=0o700)
        if self._as_root:
            os.chown(self.socket_dir, account.pw_uid, account.pw_gid)
        self._run(str(self.bin / "initdb"), "-D", str(self.data_dir), "-U", self.user,
                  "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync", "--no-instructions")
        lines = [f"{k} = '{v}'" for k, v in {
            **self.settings, "port": str(self.port), "listen_addresses": self.host,
            "unix_socket_directories": str(self.socket_dir)}.items()]
        with (self.data_dir / "postgresql.conf").open("a", encoding="utf-8") as conf:
            conf.write("\n# rongtong test server\n" + "\n".join(lines) + "\n")
        self._initialized = True

    def start(self) -> PostgresServer:
        """Start the server (creating it on first use); returns when it accepts connections."""
        if self.running:
            return self
        first = not self._initialized
        if first:
            self._initdb()
        result = self._run(str(self.bin / "pg_ctl"), "-D", str(self.data_dir), "-l",
                           str(self.log_file), "-w", "-t", "60", "start", check=False)
        if result.returncode != 0:
            raise RuntimeError(f"pg_ctl start failed: {result.stdout}{result.stderr}\n{self.log_tail()}")
        self.running = True
        if first:
            self.execute(f'CREATE DATABASE "{self.dbname}"', dbname="postgres")
        return self

    def stop(self, mode: str = "fast") -> None:
        """Stop the server, keeping its data (``mode``: smart, fast or immediate)."""
        if not self.running:
            return
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data_dir), "-m", mode, "-w", "-t", "60",
                  "stop", check=False)
        self.running = False

    def restart(self) -> None:
        self.stop()
        self.start()

    def destroy(self) -> None:
        """Stop the server and remove its directory."""
        with contextlib.suppress(Exception):
            self.stop(mode="immediate")
        shutil.rmtree(self.root, ignore_errors=True)

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def __enter__(self) -> PostgresServer:
        try:
            return self.start()
        except BaseException:
            self.destroy()
            raise

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.destroy()


def postgres_server(**kwargs: Any) -> Iterator[PostgresServer]:
    """Generator for pytest fixtures: ``yield from postgres_server()``."""
    with PostgresServer(**kwargs) as server:
        yield server
