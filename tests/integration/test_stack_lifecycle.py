"""`bus stack up|down|status` on a stack of its own: idempotent up, clean down."""

from __future__ import annotations

from pathlib import Path

import pytest

from bus.stack.local import LocalStack
from tests.conftest import isolated_settings

pytestmark = pytest.mark.integration


def test_up_is_idempotent_status_reports_each_component_and_down_stops_both(
    tmp_path: Path,
) -> None:
    stack = LocalStack(isolated_settings(tmp_path / "state"))
    try:
        first = stack.up(timeout=180)
        assert first.started == ("kafka", "registry")
        assert first.healthy
        kafka_pid = stack.kafka.pid()

        second = stack.up(timeout=180)
        assert second.started == ()
        assert stack.kafka.pid() == kafka_pid

        status = {c.name: c for c in stack.status().components}
        assert status["kafka"].running and status["kafka"].answering
        assert status["registry"].running and status["registry"].answering
        assert status["kafka"].log_file.is_relative_to(tmp_path / "state")
        assert (tmp_path / "state" / "kafka" / "data" / "meta.properties").exists()
    finally:
        stopped = stack.down()

    assert stopped == ["registry", "kafka"]
    after = stack.status()
    assert not after.healthy
    assert not any(c.running for c in after.components)
