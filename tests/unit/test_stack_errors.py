"""A machine without a JDK or Maven gets one line saying what to install, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from bus.cli import main
from bus.stack.errors import StackError
from bus.stack.kafka_dist import ensure_kafka_jars, require_tool


def test_a_missing_tool_names_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(StackError, match=r"'mvn' not found on PATH: install Apache Maven"):
        require_tool("mvn", "Apache Maven 3 (Debian: apt-get install maven)")


def test_fetching_kafka_without_java_fails_before_touching_the_cache(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(StackError, match="JDK 17"):
        ensure_kafka_jars(tmp_path / "cache", "4.1.1")
    assert not (tmp_path / "cache").exists()


def test_stack_up_without_java_prints_one_line_and_exits_1(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("BUS_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("BUS_CACHE_DIR", str(tmp_path / "cache"))
    # Ports nothing listens on, so the stack must try to start Kafka.
    monkeypatch.setenv("BUS_KAFKA_BOOTSTRAP", "127.0.0.1:1")
    monkeypatch.setenv("BUS_REGISTRY_URL", "http://127.0.0.1:1")
    monkeypatch.setenv("PATH", "/nonexistent")

    result = CliRunner().invoke(main, ["stack", "up"])

    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert lines == [lines[-1]] and lines[-1].startswith("error: 'java' not found on PATH")
    assert "Traceback" not in result.output


def test_generated_kafka_cluster_ids_never_start_with_a_dash() -> None:
    from bus.stack.kafka_server import _kafka_cluster_id

    ids = [_kafka_cluster_id() for _ in range(2000)]
    assert all(len(i) == 22 and not i.startswith("-") for i in ids)
    assert len(set(ids)) == len(ids)
