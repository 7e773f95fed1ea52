"""End-to-end tests own a whole stack each: topics, positions and groups start empty."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bus.stack.local import LocalStack
from tests.conftest import bus_environment, isolated_settings


@pytest.fixture
def bus_env(tmp_path: Path) -> Iterator[dict[str, str]]:
    settings = isolated_settings(tmp_path / "stack")
    local = LocalStack(settings)
    local.up(timeout=180)
    try:
        yield bus_environment(settings, tmp_path / "state")
    finally:
        local.down()
