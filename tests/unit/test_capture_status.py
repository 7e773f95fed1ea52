"""A capture's rows/s: over the last ten seconds of batches, and its report without them."""

from __future__ import annotations

import pytest

from adapters.capture import status as status_module
from adapters.capture.status import CaptureStatus


def test_rows_per_second_counts_the_last_ten_seconds_only(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [100.0]
    monkeypatch.setattr(status_module.time, "monotonic", lambda: now[0])
    status = CaptureStatus("minzheng", "hy_djxx", "files", "diff")

    for _ in range(20):  # 1,000 rows a second for 20 s
        now[0] += 1.0
        status.record_rows(1_000)
    assert status.rows == 20_000
    assert status.rows_per_second == pytest.approx(1_000)

    for _ in range(10):  # then 50 rows a second: the first phase has left the window
        now[0] += 1.0
        status.record_rows(50)
    assert status.rows_per_second == pytest.approx(50)
    assert len(status._window) == 11

    report = status.as_dict()
    assert "_window" not in report and report["rows"] == 20_500
    assert len(status._window) == 11, "reporting leaves the window as it was"
