"""Configuration, one-time KRaft formatting and the command line of the local Kafka broker."""

from __future__ import annotations

import base64
import subprocess
import uuid
from pathlib import Path

from bus.stack.errors import StackError
from bus.stack.kafka_dist import java_executable

_LOG4J2 = """<?xml version="1.0" encoding="UTF-8"?>
<Configuration status="WARN">
  <Appenders>
    <Console name="stdout" target="SYSTEM_OUT">
      <PatternLayout pattern="[%d] %p %m (%c)%n"/>
    </Console>
  </Appenders>
  <Loggers>
    <Logger name="kafka" level="INFO"/>
    <Logger name="org.apache.kafka" level="INFO"/>
    <Logger name="kafka.request.logger" level="WARN"/>
    <Logger name="state.change.logger" level="WARN"/>
    <Root level="WARN"><AppenderRef ref="stdout"/></Root>
  </Loggers>
</Configuration>
"""


def write_server_config(
    config_dir: Path, data_dir: Path, host: str, port: int, controller_port: int
) -> Path:
    """Single-node combined broker+controller configuration (KRaft, replication factor 1)."""
    config_dir.mkdir(parents=True, exist_ok=True)
    properties = {
        "process.roles": "broker,controller",
        "node.id": "1",
        "controller.quorum.bootstrap.servers": f"{host}:{controller_port}",
        "listeners": f"PLAINTEXT://{host}:{port},CONTROLLER://{host}:{controller_port}",
        "advertised.listeners": f"PLAINTEXT://{host}:{port}",
        "controller.listener.names": "CONTROLLER",
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        "inter.broker.listener.name": "PLAINTEXT",
        "log.dirs": str(data_dir),
        "num.partitions": "1",
        "offsets.topic.replication.factor": "1",
        "offsets.topic.num.partitions": "4",
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
        "transaction.state.log.num.partitions": "4",
        "share.coordinator.state.topic.replication.factor": "1",
        "share.coordinator.state.topic.min.isr": "1",
        "group.initial.rebalance.delay.ms": "0",
        "auto.create.topics.enable": "true",
        "log.retention.hours": "-1",
        "log.segment.bytes": str(64 * 1024 * 1024),
    }
    path = config_dir / "server.properties"
    path.write_text("".join(f"{k}={v}\n" for k, v in properties.items()), encoding="utf-8")
    (config_dir / "log4j2.xml").write_text(_LOG4J2, encoding="utf-8")
    return path


def format_storage_once(lib_dir: Path, config: Path, data_dir: Path) -> bool:
    """Format KRaft storage unless already formatted; True when it formatted now."""
    if (data_dir / "meta.properties").exists():
        return False
    data_dir.mkdir(parents=True, exist_ok=True)
    cluster_id = _kafka_cluster_id()
    result = subprocess.run(
        [java_executable(), "-cp", f"{lib_dir}/*", "kafka.tools.StorageTool", "format",
         f"--cluster-id={cluster_id}", "-c", str(config), "--standalone"],
        capture_output=True, text=True, check=False,
    )
    if result.returncode != 0:
        raise StackError(f"formatting Kafka storage in {data_dir} failed: {result.stderr.strip()}")
    return True


def broker_command(lib_dir: Path, config: Path, heap: str) -> list[str]:
    return [
        java_executable(), f"-Xms{heap}", f"-Xmx{heap}", "-XX:+UseG1GC",
        "-Djava.awt.headless=true",
        f"-Dlog4j2.configurationFile={config.parent / 'log4j2.xml'}",
        "-cp", f"{lib_dir}/*", "kafka.Kafka", str(config),
    ]


def _kafka_cluster_id() -> str:
    """A Kafka cluster id: 16 random bytes, URL-safe base64 without padding (22 chars).

    Like Kafka's own ``Uuid.randomUuid``, never one starting with '-', which command lines
    would read as an option.
    """
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode("ascii").rstrip("=")
        if not cluster_id.startswith("-"):
            return cluster_id
