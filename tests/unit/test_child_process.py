"""Spawned capture workers: Ctrl-C leaves them to their parent, and they collect cycles at
the parent's pace."""

from __future__ import annotations

import gc
import os
import signal
import time
from collections.abc import Iterator

import pytest

from adapters.capture.child_process import spawned_pool


def _thresholds() -> tuple[int, int, int]:
    return gc.get_threshold()


def _pid() -> int:
    return os.getpid()


@pytest.fixture
def paced() -> Iterator[None]:
    before = gc.get_threshold()
    gc.set_threshold(12_345, before[1], before[2])
    yield
    gc.set_threshold(*before)


def test_a_worker_survives_the_terminals_ctrl_c_and_keeps_the_parents_collector_pace(
        paced: None) -> None:
    pool = spawned_pool(1)
    try:
        worker = pool.submit(_pid).result(timeout=60)
        os.kill(worker, signal.SIGINT)  # what Ctrl-C sends to every process of the group
        time.sleep(0.3)
        assert pool.submit(_pid).result(timeout=10) == worker
        assert pool.submit(_thresholds).result(timeout=10)[0] == 12_345
    finally:
        pool.shutdown(wait=True)
