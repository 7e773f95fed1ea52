"""Local PostgreSQL and MariaDB servers standing in for departments' legacy databases.

Only the demo starts them (``bus stack up --legacy-databases``): Market Regulation keeps its
register in PostgreSQL, HRSS and Tax in MariaDB (DESIGN §5). They come from Debian's
``postgresql`` and ``mariadb-server`` packages, are configured the way a log-based capture
needs (``wal_level=logical``; binlog in ROW format with full images), listen on 127.0.0.1
only, and keep their data in the stack's state directory. When run as root, the servers run
as the packages' unprivileged users, which must be able to reach the data directory; when they
cannot (a private temporary directory), the data goes under ``/var/tmp/rongtong`` instead.
"""

from __future__ import annotations

import glob
import hashlib
import os
import pwd
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from bus.stack.errors import StackError
from bus.stack.processes import ManagedProcess

DEMO_USER = "rongtong"
DEMO_PASSWORD = "rongtong"


@dataclass(frozen=True)
class LegacyDatabase:
    name: str
    port: int
    data_dir: Path
    log_file: Path


def _server_account(name: str) -> pwd.struct_passwd | None:
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam(name)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", name], check=True)
        return pwd.getpwnam(name)


def _reachable_by(account: pwd.struct_passwd | None, path: Path) -> bool:
    if account is None:
        return True
    probe = subprocess.run(["runuser", "-u", account.pw_name, "--", "test", "-x", str(path)],
                           check=False, capture_output=True)
    return probe.returncode == 0


def server_root(state_dir: Path, name: str, account: pwd.struct_passwd | None) -> Path:
    """Where a server keeps its files: in the state dir if its user can reach it."""
    root = state_dir / "legacy-servers" / name
    root.mkdir(parents=True, exist_ok=True)
    if not _reachable_by(account, root.parent):
        digest = hashlib.sha256(str(state_dir.resolve()).encode()).hexdigest()[:12]
        root = Path("/var/tmp/rongtong") / digest / name
        root.mkdir(parents=True, exist_ok=True)
        os.chmod(root.parent.parent, 0o755)
        os.chmod(root.parent, 0o755)
    if account is not None:
        os.chown(root, account.pw_uid, account.pw_gid)
    return root


def _as(account: pwd.struct_passwd | None, command: list[str]) -> list[str]:
    return command if account is None else ["runuser", "-u", account.pw_name, "--", *command]


class PostgresLegacyServer:
    """PostgreSQL for the Market Regulation register (and any department on PostgreSQL)."""

    def __init__(self, state_dir: Path, port: int, databases: tuple[str, ...]) -> None:
        self.port = port
        self.databases = databases
        self.account = _server_account("postgres")
        self.root = server_root(state_dir, "postgresql", self.account)
        self.data_dir = self.root / "data"
        self.log_file = self.root / "postgresql.log"

    def _bin(self, tool: str) -> str:
        found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{tool}"))
        if not found:
            raise StackError("PostgreSQL server binaries not found: install Debian's "
                             "'postgresql' package (apt-get install postgresql)")
        return found[-1]

    def dsn(self, database: str) -> str:
        return f"host=127.0.0.1 port={self.port} user={DEMO_USER} dbname={database}"

    def answers(self) -> bool:
        import psycopg2

        try:
            psycopg2.connect(self.dsn("postgres"), connect_timeout=2).close()
            return True
        except psycopg2.Error:
            return False

    def up(self) -> bool:
        """Start (initialising once); False when it was already running."""
        if self.answers():
            return False
        if not (self.data_dir / "PG_VERSION").exists():
            self._initdb()
        result = subprocess.run(_as(self.account, [
            self._bin("pg_ctl"), "-D", str(self.data_dir), "-l", str(self.log_file), "-w", "-t",
            "60", "start"]), capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise StackError(f"PostgreSQL did not start: {result.stderr.strip()}; see {self.log_file}")
        self._create_databases()
        return True

    def down(self) -> bool:
        if not (self.data_dir / "postmaster.pid").exists():
            return False
        subprocess.run(_as(self.account, [self._bin("pg_ctl"), "-D", str(self.data_dir), "-m",
                                          "fast", "-w", "stop"]), capture_output=True, check=False)
        return True

    def _initdb(self) -> None:
        result = subprocess.run(_as(self.account, [
            self._bin("initdb"), "-D", str(self.data_dir), "-U", DEMO_USER, "-A", "trust",
            "-E", "UTF8", "--locale=C", "--no-instructions"]),
            capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise StackError(f"initdb failed: {result.stderr.strip()}")
        settings = {"port": str(self.port), "listen_addresses": "127.0.0.1",
                    "unix_socket_directories": str(self.root), "wal_level": "logical",
                    "max_replication_slots": "10", "max_wal_senders": "10"}
        with (self.data_dir / "postgresql.conf").open("a", encoding="utf-8") as conf:
            conf.write("\n# rongtong demo legacy server\n")
            conf.writelines(f"{k} = '{v}'\n" for k, v in settings.items())

    def _create_databases(self) -> None:
        import psycopg2

        connection = psycopg2.connect(self.dsn("postgres"))
        connection.autocommit = True
        try:
            with connection.cursor() as cursor:
                for database in self.databases:
                    cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,))
                    if cursor.fetchone() is None:
                        cursor.execute(f'CREATE DATABASE "{database}"')
        finally:
            connection.close()


class MariaDbLegacyServer:
    """MariaDB for the HRSS and Tax databases, with a ROW-format binlog."""

    INSTALL_DB = "/usr/bin/mariadb-install-db"
    MARIADBD = "/usr/sbin/mariadbd"

    def __init__(self, state_dir: Path, port: int, databases: tuple[str, ...]) -> None:
        self.port = port
        self.databases = databases
        self.account = _server_account("mysql")
        self.root = server_root(state_dir, "mariadb", self.account)
        self.data_dir = self.root / "data"
        self.socket = self.root / "mariadb.sock"
        self.process = ManagedProcess("mariadb", state_dir / "run", state_dir / "logs")
        self.log_file = self.process.log_file

    def connection(self, database: str | None = None) -> dict[str, object]:
        return {"host": "127.0.0.1", "port": self.port, "user": DEMO_USER,
                "password": DEMO_PASSWORD, **({"database": database} if database else {})}

    def answers(self) -> bool:
        import pymysql

        try:
            pymysql.connect(host="127.0.0.1", port=self.port, user=DEMO_USER,
                            password=DEMO_PASSWORD, connect_timeout=2).close()
            return True
        except pymysql.err.MySQLError:
            return False

    def up(self) -> bool:
        if self.answers():
            return False
        if not Path(self.MARIADBD).exists():
            raise StackError("MariaDB server not found: install Debian's 'mariadb-server' package "
                             "(apt-get install mariadb-server)")
        if not (self.data_dir / "mysql").exists():
            self._install()
        user = ["--user=" + self.account.pw_name] if self.account else []
        self.process.start([
            self.MARIADBD, "--no-defaults", *user, f"--datadir={self.data_dir}",
            f"--port={self.port}", "--bind-address=127.0.0.1", f"--socket={self.socket}",
            f"--pid-file={self.root / 'mariadbd.pid'}", f"--log-bin={self.root / 'binlog'}",
            "--binlog-format=ROW", "--binlog-row-image=FULL", "--binlog-row-metadata=FULL",
            "--server-id=1", "--character-set-server=utf8mb4",
            "--innodb-buffer-pool-size=64M", "--expire-logs-days=7"])
        self._wait()
        return True

    def down(self) -> bool:
        return self.process.stop(timeout=30)

    def _install(self) -> None:
        user = ["--user=" + self.account.pw_name] if self.account else []
        result = subprocess.run(
            [self.INSTALL_DB, "--no-defaults", "--auth-root-authentication-method=normal",
             f"--datadir={self.data_dir}", "--skip-test-db", *user],
            capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise StackError(f"mariadb-install-db failed: {result.stderr.strip()[-500:]}")

    def _wait(self) -> None:
        import pymysql

        deadline = time.monotonic() + 60
        while True:
            try:
                admin = pymysql.connect(unix_socket=str(self.socket), user="root")
                break
            except pymysql.err.MySQLError:
                if self.process.exited_early() or time.monotonic() > deadline:
                    raise StackError(f"MariaDB did not start; see {self.log_file}:\n"
                                     f"{self.process.log_tail()}") from None
                time.sleep(0.2)
        try:
            with admin.cursor() as cursor:
                cursor.execute(f"CREATE USER IF NOT EXISTS '{DEMO_USER}'@'%' "
                               f"IDENTIFIED BY '{DEMO_PASSWORD}'")
                cursor.execute(f"GRANT ALL PRIVILEGES ON *.* TO '{DEMO_USER}'@'%'")
                for database in self.databases:
                    cursor.execute(f"CREATE DATABASE IF NOT EXISTS `{database}` "
                                   "CHARACTER SET utf8mb4")
            admin.commit()
        finally:
            admin.close()
