"""The local stack: a single-node Kafka broker and the bus's schema registry, one state dir."""

from __future__ import annotations

import os
import sys
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

from bus.settings import Settings
from bus.stack.errors import StackError
from bus.stack.kafka_dist import ensure_kafka_jars
from bus.stack.kafka_server import broker_command, format_storage_once, write_server_config
from bus.stack.legacy_databases import MariaDbLegacyServer, PostgresLegacyServer
from bus.stack.probes import kafka_answers, registry_answers, wait_until
from bus.stack.processes import ManagedProcess

#: Databases of the departments whose legacy systems run on these engines (DESIGN §5).
POSTGRES_DATABASES = ("scjg",)  # 市场监管 Market Regulation
MARIADB_DATABASES = ("rsj", "sw")  # 人社 HRSS, 税务 Tax


@dataclass(frozen=True)
class ComponentStatus:
    name: str
    running: bool
    answering: bool
    pid: int | None
    address: str
    log_file: Path


@dataclass(frozen=True)
class StackReport:
    state_dir: Path
    components: tuple[ComponentStatus, ...]
    started: tuple[str, ...] = ()

    @property
    def healthy(self) -> bool:
        return all(c.answering for c in self.components)


class LocalStack:
    """Start, stop and inspect the local stack described by the settings."""

    def __init__(self, settings: Settings, *, legacy_databases: bool = False) -> None:
        self.settings = settings
        self.legacy_databases = legacy_databases
        self.state_dir = settings.state_dir.resolve()
        run_dir, log_dir = self.state_dir / "run", self.state_dir / "logs"
        self.kafka = ManagedProcess("kafka", run_dir, log_dir)
        self.registry = ManagedProcess("registry", run_dir, log_dir)
        self._postgres: PostgresLegacyServer | None = None
        self._mariadb: MariaDbLegacyServer | None = None

    @property
    def postgres(self) -> PostgresLegacyServer:
        if self._postgres is None:
            self._postgres = PostgresLegacyServer(self.state_dir, self.settings.legacy_postgres_port,
                                                  POSTGRES_DATABASES)
        return self._postgres

    @property
    def mariadb(self) -> MariaDbLegacyServer:
        if self._mariadb is None:
            self._mariadb = MariaDbLegacyServer(self.state_dir, self.settings.legacy_mariadb_port,
                                                MARIADB_DATABASES)
        return self._mariadb

    def up(self, *, timeout: float = 120.0) -> StackReport:
        """Start what is not running yet and wait until both answer; a no-op when they do."""
        started: list[str] = []
        if not self._kafka_answers():
            self._start_kafka(timeout)
            started.append("kafka")
        if not self._registry_answers():
            self._start_registry(timeout)
            started.append("registry")
        if self.legacy_databases:
            if self.postgres.up():
                started.append("postgresql")
            if self.mariadb.up():
                started.append("mariadb")
        return self.status(started=tuple(started))

    def down(self, only: Collection[str] | None = None) -> list[str]:
        """Stop the legacy databases, the registry, then the broker — or ``only`` those named
        (what :meth:`up` reported it started); names of the components that were stopped."""
        def wanted(name: str) -> bool:
            return only is None or name in only

        stopped = []
        if (self.state_dir / "legacy-servers").exists() or self.legacy_databases:
            if wanted("mariadb") and self.mariadb.down():
                stopped.append("mariadb")
            if wanted("postgresql") and self.postgres.down():
                stopped.append("postgresql")
        if wanted("registry") and self.registry.stop(timeout=15):
            stopped.append("registry")
        if wanted("kafka") and self.kafka.stop(timeout=60):
            stopped.append("kafka")
        return stopped

    def status(self, started: tuple[str, ...] = ()) -> StackReport:
        s = self.settings
        legacy: tuple[ComponentStatus, ...] = ()
        if self.legacy_databases or (self.state_dir / "legacy-servers").exists():
            pg, maria = self.postgres, self.mariadb
            legacy = (
                ComponentStatus("postgresql", pg.answers(), pg.answers(), None,
                                f"127.0.0.1:{pg.port}", pg.log_file),
                ComponentStatus("mariadb", maria.process.is_running(), maria.answers(),
                                maria.process.pid(), f"127.0.0.1:{maria.port}", maria.log_file),
            )
        return StackReport(
            state_dir=self.state_dir,
            started=started,
            components=(
                *legacy,
                ComponentStatus("kafka", self.kafka.is_running(), self._kafka_answers(),
                                self.kafka.pid(), s.kafka_bootstrap, self.kafka.log_file),
                ComponentStatus("registry", self.registry.is_running(), self._registry_answers(),
                                self.registry.pid(), s.registry_url, self.registry.log_file),
            ),
        )

    def _kafka_answers(self) -> bool:
        return kafka_answers(self.settings.kafka_bootstrap, timeout=3.0)

    def _registry_answers(self) -> bool:
        return registry_answers(self.settings.registry_url)

    def _start_kafka(self, timeout: float) -> None:
        s = self.settings
        if self.kafka.is_running():
            self.kafka.stop(timeout=30)  # alive but not answering: restart it
        lib = ensure_kafka_jars(s.cache_dir.expanduser(), s.kafka_version)
        data_dir = self.state_dir / "kafka" / "data"
        config = write_server_config(
            self.state_dir / "kafka", data_dir, s.kafka_host, s.kafka_port, s.kafka_controller_port
        )
        format_storage_once(lib, config, data_dir)
        self.kafka.start(broker_command(lib, config, s.kafka_heap))
        if not wait_until(self._kafka_answers, timeout=timeout, failed=self.kafka.exited_early):
            raise StackError(
                f"Kafka did not answer on {s.kafka_bootstrap} within {timeout:.0f}s; "
                f"see {self.kafka.log_file}:\n{self.kafka.log_tail()}"
            )

    def _start_registry(self, timeout: float) -> None:
        s = self.settings
        if self.registry.is_running():
            self.registry.stop(timeout=10)
        env = dict(os.environ)
        env.update({
            "BUS_KAFKA_BOOTSTRAP": s.kafka_bootstrap,
            "BUS_REGISTRY_URL": s.registry_url,
            "BUS_STATE_DIR": str(self.state_dir),
        })
        self.registry.start([sys.executable, "-m", "bus", "registry", "serve"], env=env)
        if not wait_until(self._registry_answers, timeout=timeout, failed=self.registry.exited_early):
            raise StackError(
                f"the schema registry did not answer on {s.registry_url} within {timeout:.0f}s; "
                f"see {self.registry.log_file}:\n{self.registry.log_tail()}"
            )
