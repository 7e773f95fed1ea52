"""A throw-away MariaDB server for tests, from Debian's ``mariadb-server`` package.

``MariaDbServer`` initialises a data directory with ``mariadb-install-db`` in a temporary
directory, runs ``mariadbd`` on a free port of 127.0.0.1 with the binlog set up the way a
log-based capture needs it (ROW format, FULL image and metadata), and creates a database and a
``capture`` user holding exactly the privileges a capture needs. ``stop()`` and ``start()`` keep
the data directory and the port, so a test can take the source database down and bring it back.

When the tests run as root, the server runs as the package's unprivileged ``mysql`` user and the
temporary directory is handed to it (pytest's own temporary directories are 0700 under root, so
the server gets its own directory under the system temporary directory).
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pymysql
import pytest

INSTALL_DB = "/usr/bin/mariadb-install-db"
MARIADBD = "/usr/sbin/mariadbd"
SERVER_USER = "mysql"
#: What a binlog capture needs (MariaDB >= 10.5 names; REPLICATION CLIENT is BINLOG MONITOR).
CAPTURE_GRANTS = "SELECT, RELOAD, BINLOG MONITOR, REPLICATION SLAVE"

#: Settings that make a test server start in a fraction of a second and write little to disk.
FAST_SETTINGS = (
    "--innodb-flush-log-at-trx-commit=0",
    "--sync-binlog=0",
    "--innodb-buffer-pool-size=32M",
    "--innodb-log-file-size=8M",
    "--innodb-doublewrite=0",
    "--performance-schema=OFF",
    "--skip-name-resolve",
    "--max-connections=200",
)

#: How a legacy server should be configured for binlog capture.
BINLOG_SETTINGS = {
    "binlog-format": "ROW",
    "binlog-row-image": "FULL",
    "binlog-row-metadata": "FULL",
    "server-id": "1",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def mariadb_available() -> bool:
    return Path(INSTALL_DB).exists() and Path(MARIADBD).exists()


class MariaDbServer:
    """One throw-away ``mariadbd`` with a database and a capture user.

    ``settings`` override or add server options (``{"binlog-format": "STATEMENT"}``); a value of
    ``None`` drops the option (``{"log-bin": None}`` runs without a binlog).
    """

    def __init__(
        self, *, database: str = "legacy", user: str = "capture", password: str = "capture-pw",
        settings: dict[str, str | None] | None = None, root_dir: Path | None = None,
    ) -> None:
        self.host = "127.0.0.1"
        self.port = free_port()
        self.database = database
        self.user = user
        self.password = password
        self.settings: dict[str, str | None] = {**BINLOG_SETTINGS, **(settings or {})}
        self.dir = Path(tempfile.mkdtemp(prefix="rongtong-mariadb-", dir=root_dir))
        self.datadir = self.dir / "data"
        self.socket = self.dir / "mysqld.sock"
        self.error_log = self.dir / "error.log"
        self._process: subprocess.Popen[bytes] | None = None
        self._as_root = os.geteuid() == 0
        if self._as_root:
            account = pwd.getpwnam(SERVER_USER)
            os.chown(self.dir, account.pw_uid, account.pw_gid)

    # -- lifecycle -------------------------------------------------------------------------

    def install(self) -> None:
        """Create the data directory, start the server and create the database and user."""
        command = [INSTALL_DB, "--no-defaults", "--auth-root-authentication-method=normal",
                   f"--datadir={self.datadir}", "--skip-test-db", "--skip-name-resolve",
                   "--innodb-log-file-size=8M", "--innodb-buffer-pool-size=32M",
                   *self._user_option()]
        result = subprocess.run(command, capture_output=True, timeout=120, check=False)
        if result.returncode != 0:
            raise RuntimeError(f"mariadb-install-db failed: {result.stderr.decode(errors='replace')}")
        self.start()
        self._create_database_and_user()

    def start(self, timeout: float = 30.0) -> None:
        """Start ``mariadbd`` on the existing data directory and wait until it answers."""
        if self.running:
            return
        with open(self.dir / "mariadbd.out", "ab") as out:
            self._process = subprocess.Popen(self._server_command(), stdout=out, stderr=out)
        self._wait_until_ready(timeout)

    def stop(self, timeout: float = 30.0) -> None:
        """Shut the server down cleanly (SIGTERM) and wait for it to exit."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)

    def kill(self) -> None:
        """Kill the server without a clean shutdown (crash recovery on the next start)."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.kill()
            process.wait(10)

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    # -- access ----------------------------------------------------------------------------

    def connection_settings(self) -> dict[str, Any]:
        """What a capture is configured with: host, port, user, password, database."""
        return {"host": self.host, "port": self.port, "user": self.user,
                "password": self.password, "database": self.database}

    def admin(self, database: str | None = None) -> Any:
        """A root connection over the server's socket, autocommitting; close it after use."""
        return pymysql.connect(unix_socket=str(self.socket), user="root", password="",
                               database=database, charset="utf8mb4", autocommit=True,
                               connect_timeout=5)

    def execute(self, *statements: str, database: str | None = None) -> None:
        """Run statements as root in the test database (each autocommitted)."""
        connection = self.admin(database or self.database)
        try:
            with connection.cursor() as cursor:
                for statement in statements:
                    cursor.execute(statement)
        finally:
            connection.close()

    def query(self, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        connection = self.admin(self.database)
        try:
            with connection.cursor() as cursor:
                cursor.execute(sql, args)
                return list(cursor.fetchall())
        finally:
            connection.close()

    @contextmanager
    def transaction(self) -> Iterator[Any]:
        """A root cursor in one transaction, committed when the block ends without error."""
        connection = self.admin(self.database)
        connection.begin()
        try:
            with connection.cursor() as cursor:
                yield cursor
            connection.commit()
        except BaseException:
            connection.rollback()
            raise
        finally:
            connection.close()

    def create_user(self, name: str, password: str, grants: str) -> None:
        """A further account, e.g. one lacking a privilege; ``grants`` like ``"SELECT"``."""
        self.execute(f"CREATE USER '{name}'@'%' IDENTIFIED BY '{password}'",
                     f"GRANT {grants} ON *.* TO '{name}'@'%'")

    # -- internals -------------------------------------------------------------------------

    def _user_option(self) -> list[str]:
        return [f"--user={SERVER_USER}"] if self._as_root else []

    def _server_command(self) -> list[str]:
        command = [MARIADBD, "--no-defaults", *self._user_option(),
                   f"--datadir={self.datadir}", f"--port={self.port}",
                   f"--bind-address={self.host}", f"--socket={self.socket}",
                   f"--pid-file={self.dir / 'mysqld.pid'}", f"--log-error={self.error_log}",
                   "--character-set-server=utf8mb4", "--collation-server=utf8mb4_general_ci",
                   *FAST_SETTINGS]
        settings: dict[str, str | None] = {"log-bin": str(self.dir / "binlog"), **self.settings}
        command += [f"--{name}={value}" for name, value in settings.items() if value is not None]
        return command

    def _wait_until_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if self._process is None or self._process.poll() is not None:
                raise RuntimeError(f"mariadbd exited during start-up:\n{self._log_tail()}")
            try:
                self.admin().close()
                return
            except pymysql.err.OperationalError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"mariadbd did not answer in {timeout}s:\n{self._log_tail()}"
                                       ) from None
                time.sleep(0.05)

    def _log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.error_log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no error log)"

    def _create_database_and_user(self) -> None:
        self.execute(f"CREATE DATABASE IF NOT EXISTS `{self.database}` CHARACTER SET utf8mb4",
                     database="mysql")
        self.create_user(self.user, self.password, CAPTURE_GRANTS)


@contextmanager
def running_mariadb(**options: Any) -> Iterator[MariaDbServer]:
    """A started server (see :class:`MariaDbServer`), removed when the block ends."""
    if not mariadb_available():
        pytest.skip("MariaDB server binaries are not installed (Debian package mariadb-server)")
    server = MariaDbServer(**options)
    try:
        server.install()
        yield server
    finally:
        server.close()


@pytest.fixture(scope="session")
def mariadb_server() -> Iterator[MariaDbServer]:
    """One MariaDB server for a test session (register with ``pytest_plugins``)."""
    with running_mariadb() as server:
        yield server
