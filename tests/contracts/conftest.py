"""Fixtures shared by the engines' contract modules."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bus.settings import Settings
from bus.stack.local import LocalStack
from tests.conftest import isolated_settings


@pytest.fixture(scope="class")
def outage_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Settings, LocalStack]]:
    """One stack per engine's broker-outage class; each test takes the broker down and back."""
    settings = isolated_settings(tmp_path_factory.mktemp("outage-stack"))
    local = LocalStack(settings)
    local.up(timeout=180)
    try:
        yield settings, local
    finally:
        local.down()
