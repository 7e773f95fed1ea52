"""The ops collector's figures from made-up samples: rates, lag in messages and in seconds."""

from __future__ import annotations

from bus.web.ops.samples import (
    GroupSample,
    History,
    PartitionOffsets,
    Sample,
    group_detail,
    group_rows,
    kind_of,
    topic_rows,
)


def sample(at: float, end: int, committed: int | None = None, *, size: int | None = None) -> Sample:
    groups = {} if committed is None else {
        "projections": GroupSample("projections", {("std.person", 0): committed}, "Stable", 1)}
    return Sample(at, {"std.person": {0: PartitionOffsets(0, end)}}, groups,
                  None if size is None else {"std.person": size})


def test_the_rate_is_the_growth_of_the_end_offsets_over_the_window() -> None:
    history = History()
    for second, end in enumerate((0, 10, 30, 60)):
        history.add(sample(1000.0 + 2 * second, end, size=end * 100))
    assert history.topic_rate("std.person") == 10.0  # 60 messages in 6 s
    assert history.byte_rate("std.person") == 1000.0
    assert history.rate_series("std.person") == [5.0, 10.0, 15.0]
    [row] = topic_rows(history)
    assert row["messages_per_second"] == 10.0 and row["messages"] == 60 and row["bytes"] == 6000


def test_one_sample_gives_no_rate_and_unknown_sizes_stay_unknown() -> None:
    history = History()
    history.add(sample(1000.0, 50))
    assert history.topic_rate("std.person") == 0.0
    assert history.byte_rate("std.person") is None


def test_lag_in_seconds_is_the_age_of_the_first_sample_past_the_committed_offset() -> None:
    history = History()
    history.add(sample(1000.0, 10, committed=10))
    history.add(sample(1002.0, 20, committed=10))  # offset 10 written between 1000 and 1002
    history.add(sample(1004.0, 30, committed=10))
    history.add(sample(1006.0, 40, committed=10))
    assert history.lag_seconds("std.person", 0, 10) == (4.0, False)
    [row] = group_rows(history)
    assert (row["lag"], row["lag_seconds"], row["lag_seconds_estimated"]) == (30, 4.0, False)


def test_a_group_at_the_end_has_no_lag() -> None:
    history = History()
    history.add(sample(1000.0, 10, committed=10))
    history.add(sample(1002.0, 20, committed=20))
    [row] = group_rows(history)
    assert (row["lag"], row["lag_seconds"]) == (0, 0.0)


def test_lag_older_than_the_buffer_is_estimated_from_the_produce_rate() -> None:
    history = History()
    history.add(sample(1000.0, 100, committed=0))
    history.add(sample(1010.0, 200, committed=0))  # 10 messages/s
    seconds, estimated = history.lag_seconds("std.person", 0, 0)
    assert estimated
    assert seconds == 10.0 + 100 / 10.0  # the buffer's age + the older messages at the rate


def test_the_ring_buffer_keeps_the_last_samples() -> None:
    history = History(size=3)
    for n in range(5):
        history.add(sample(float(n), n))
    assert [s.at for s in history] == [2.0, 3.0, 4.0]


def test_group_detail_lists_each_partition_and_unknown_groups_are_none() -> None:
    history = History()
    history.add(sample(1000.0, 5, committed=2))
    [partition] = group_detail(history, "projections") or []
    assert partition["lag"] == 3 and partition["end_offset"] == 5 and partition["committed"] == 2
    assert group_detail(history, "nobody") is None


def test_topics_are_kinds_by_their_bus_names() -> None:
    assert [kind_of(t) for t in ("legacy.gongan.hj_ryxx", "std.person", "quarantine.mz.hy",
                                 "projection.citizen_profile", "bus.audit", "_schemas", "orders")
            ] == ["legacy", "std", "quarantine", "projection", "bus", "internal", "other"]
