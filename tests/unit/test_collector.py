"""The capture process's collector pacing (bus/collector.py)."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from bus.collector import pace_collector
from bus.settings import Settings


@pytest.fixture(autouse=True)
def restored() -> Iterator[None]:
    before = gc.get_threshold()
    yield
    gc.set_threshold(*before)


def test_the_young_threshold_is_raised_and_the_older_ratios_kept() -> None:
    gc.set_threshold(700, 10, 10)
    pace_collector(20_000)
    assert gc.get_threshold() == (20_000, 10, 10)


def test_zero_keeps_pythons_pacing() -> None:
    gc.set_threshold(700, 10, 10)
    pace_collector(0)
    assert gc.get_threshold() == (700, 10, 10)


def test_the_setting_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BUS_CAPTURE_GC_THRESHOLD", "5000")
    assert Settings().capture_gc_threshold == 5000
    monkeypatch.setenv("BUS_CAPTURE_GC_THRESHOLD", "-1")
    with pytest.raises(ValueError):
        Settings()
