"""docker-compose.yml is a valid Compose file that wires the bus to Kafka and the registry.

The structural tests read the file with PyYAML and need nothing else. The validation tests
ask a real Compose implementation (``docker-compose`` v1, or the ``docker compose`` plugin)
to parse and interpolate the file; neither needs a Docker engine for ``config``.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
SERVICES = {"kafka", "schema-registry", "seed", "adapters", "projections", "web"}
BUS_SERVICES = ("seed", "adapters", "projections", "web")


def compose_command() -> list[str]:
    """The Compose CLI available here, or skip: validation needs one, not a Docker engine."""
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    docker = shutil.which("docker")
    if docker and subprocess.run([docker, "compose", "version"], capture_output=True,
                                 check=False).returncode == 0:
        return [docker, "compose"]
    pytest.skip("neither docker-compose nor the docker compose plugin is installed "
                "(apt-get install -y --no-install-recommends docker-compose)")


def run_compose(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*compose_command(), "-f", str(COMPOSE_FILE), *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=60, check=False)


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    document = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    assert isinstance(document, dict)
    return document


def service(compose: dict[str, Any], name: str) -> dict[str, Any]:
    found = compose["services"][name]
    assert isinstance(found, dict)
    return found


def internal_listener(kafka: dict[str, Any]) -> str:
    """host:port that other containers use: the INTERNAL advertised listener of the broker."""
    advertised = dict(
        entry.split("://", 1) for entry in kafka["environment"]["KAFKA_ADVERTISED_LISTENERS"].split(",")
    )
    return str(advertised["INTERNAL"])


def test_compose_config_is_valid_for_the_compose_cli() -> None:
    result = run_compose("config", "-q")
    assert result.returncode == 0, result.stderr


def test_compose_cli_lists_every_service() -> None:
    result = run_compose("config", "--services")
    assert result.returncode == 0, result.stderr
    assert set(result.stdout.split()) == SERVICES


def test_the_file_declares_kafka_the_registry_and_the_bus_services(compose: dict[str, Any]) -> None:
    assert set(compose["services"]) == SERVICES
    assert service(compose, "kafka")["image"] == "apache/kafka:4.1.1"
    assert service(compose, "schema-registry")["image"] == "confluentinc/cp-schema-registry:7.7.1"


def test_kafka_is_a_single_kraft_node_with_replication_factor_one(compose: dict[str, Any]) -> None:
    env = service(compose, "kafka")["environment"]
    assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert str(env["KAFKA_NODE_ID"]) == "1"
    assert env["KAFKA_CONTROLLER_QUORUM_VOTERS"] == "1@kafka:9093"
    for setting in ("KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR",
                    "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR",
                    "KAFKA_TRANSACTION_STATE_LOG_MIN_ISR"):
        assert str(env[setting]) == "1", setting
    assert str(env["KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS"]) == "0"
    assert "healthcheck" in service(compose, "kafka")


def test_every_bus_service_reaches_kafka_on_its_internal_listener(compose: dict[str, Any]) -> None:
    internal = internal_listener(service(compose, "kafka"))
    assert internal.split(":")[0] == "kafka"
    for name in BUS_SERVICES:
        assert service(compose, name)["environment"]["BUS_KAFKA_BOOTSTRAP"] == internal, name


def test_the_registry_stores_schemas_in_the_same_kafka(compose: dict[str, Any]) -> None:
    internal = internal_listener(service(compose, "kafka"))
    registry = service(compose, "schema-registry")
    bootstrap = registry["environment"]["SCHEMA_REGISTRY_KAFKASTORE_BOOTSTRAP_SERVERS"]
    assert bootstrap.split("://", 1)[-1] == internal
    assert registry["depends_on"]["kafka"]["condition"] == "service_healthy"


def test_every_bus_service_uses_the_registry_and_one_shared_state_volume(
        compose: dict[str, Any]) -> None:
    for name in BUS_SERVICES:
        bus = service(compose, name)
        assert bus["environment"]["BUS_REGISTRY_URL"] == "http://schema-registry:8081", name
        state_dir = bus["environment"]["BUS_STATE_DIR"]
        assert f"bus-state:{state_dir}" in bus["volumes"], name
    assert "bus-state" in compose["volumes"]


def test_web_publishes_8080_on_all_interfaces_and_the_registry_8081(compose: dict[str, Any]) -> None:
    web = service(compose, "web")
    assert "8080:8080" in web["ports"]
    assert web["environment"]["BUS_WEB_HOST"] == "0.0.0.0"
    assert str(web["environment"]["BUS_WEB_PORT"]) == "8080"
    assert "8081:8081" in service(compose, "schema-registry")["ports"]


def test_the_adapters_start_after_the_seed_completed(compose: dict[str, Any]) -> None:
    depends = service(compose, "adapters")["depends_on"]
    assert depends["seed"]["condition"] == "service_completed_successfully"
    assert service(compose, "seed")["restart"] == "no"


def test_each_bus_service_runs_its_bus_command(compose: dict[str, Any]) -> None:
    commands = {name: service(compose, name)["command"][:2] for name in BUS_SERVICES}
    assert commands == {"seed": ["demo", "seed"], "adapters": ["adapters", "run"],
                        "projections": ["projections", "run"], "web": ["serve"]}
    for name in BUS_SERVICES:
        assert service(compose, name)["build"]["context"] == "."


def test_the_image_runs_the_bus_cli_as_a_non_root_user() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert "FROM python:3.11-slim" in dockerfile
    assert 'ENTRYPOINT ["bus"]' in dockerfile
    final_stage = dockerfile.rsplit("FROM ", 1)[1]
    assert "\nUSER bus" in final_stage
