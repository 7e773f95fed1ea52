"""Shared fixtures: the real local stack (Kafka + registry) on free ports, started once per run."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from bus.settings import Settings, load_settings
from bus.stack.local import LocalStack


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def distinct_free_ports(count: int) -> list[int]:
    """``count`` free ports, all different: the kernel may hand a just-closed port out again."""
    ports: list[int] = []
    while len(ports) < count:
        port = free_port()
        if port not in ports:
            ports.append(port)
    return ports


def isolated_settings(state_dir: Path) -> Settings:
    """Settings of a test stack: its own state dir and ports, so a running demo is untouched."""
    kafka, controller, registry, web = distinct_free_ports(4)
    return load_settings(
        state_dir=state_dir,
        kafka_bootstrap=f"127.0.0.1:{kafka}",
        kafka_controller_port=controller,
        registry_url=f"http://127.0.0.1:{registry}",
        web_port=web,
        kafka_heap="512m",
        capture_poll_interval=0.2,
    )


@pytest.fixture(scope="session")
def stack_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return isolated_settings(tmp_path_factory.mktemp("rongtong-state"))


@pytest.fixture(scope="session")
def stack(stack_settings: Settings) -> Iterator[Settings]:
    """A real single-node Kafka broker and the bus's schema registry for the whole run."""
    local = LocalStack(stack_settings)
    local.up(timeout=180)
    try:
        yield stack_settings
    finally:
        local.down()


GONGAN_ONLY = """
sources:
  - department: gongan
    engine: sqlite
    connection: {path: "${BUS_STATE_DIR}/legacy/gongan.sqlite"}
    tables:
      - {table: hj_ryxx, key: [RYBH], strategy: incremental, updated_column: GXSJ,
         batch_size: "${BUS_CAPTURE_BATCH_SIZE:-500}", poll_interval: 0.2,
         max_rows_per_second: "${BUS_CAPTURE_MAX_ROWS_PER_SECOND:-}"}
"""


def bus_environment(stack: Settings, state_dir: Path) -> dict[str, str]:
    """Environment for ``bus`` subprocesses talking to ``stack`` with their own state dir.

    The adapters capture only the Public Security register, so tests do not depend on (or
    reach) PostgreSQL and MariaDB servers a running demo may have started.
    """
    state_dir.mkdir(parents=True, exist_ok=True)
    config = state_dir / "adapters.yaml"
    config.write_text(GONGAN_ONLY, encoding="utf-8")
    env = dict(os.environ)
    env.update({
        "BUS_STATE_DIR": str(state_dir),
        "BUS_KAFKA_BOOTSTRAP": stack.kafka_bootstrap,
        "BUS_REGISTRY_URL": stack.registry_url,
        "BUS_CAPTURE_POLL_INTERVAL": "0.2",
        "BUS_WEB_PORT": str(free_port()),
        "BUS_ADAPTERS_PORT": str(free_port()),
        "BUS_ADAPTERS_CONFIG": str(config),
        # Each test's projection workers are a consumer group of their own on the shared stack.
        "BUS_PROJECTIONS_APP_ID": f"rongtong-projections-{uuid.uuid4().hex[:12]}",
        "PYTHONUNBUFFERED": "1",
    })
    return env
