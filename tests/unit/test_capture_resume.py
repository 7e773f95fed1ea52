"""Which stream changes a resumed snapshot segment already published (no database)."""

from __future__ import annotations

from collections.abc import Sequence

from adapters.capture.resume import CoveredKeys, KeyValues, ResumedSegment
from adapters.capture.source import Change


def numeric_ranks(values: Sequence[KeyValues]) -> list[int]:
    """Dense ranks of one-column integer keys, as a database ordering the column would give."""
    ordered = sorted({int(v[0] or 0) for v in values})
    return [ordered.index(int(v[0] or 0)) + 1 for v in values]


def change(key: int, op: str = "u") -> Change:
    return Change(op, {"id": str(key)}, None, {"id": str(key)}, "p", 0)  # type: ignore[arg-type]


def covered(*segments: ResumedSegment[int]) -> CoveredKeys[int]:
    return CoveredKeys(list(segments), ["id"], numeric_ranks, lambda tx, at: tx < at)


def kept_keys(result: list[list[Change]]) -> list[list[str | None]]:
    return [[c.key["id"] for c in changes] for changes in result]


def test_changes_before_a_resume_point_are_kept_and_those_after_it_dropped_until_its_position() -> None:
    keys = covered(ResumedSegment(("10",), 100))
    result = keys.filter([(50, [change(5), change(25), change(9)]), (150, [change(25)])])
    assert kept_keys(result) == [["5", "9"], ["25"]]


def test_keys_compare_in_the_database_order_not_as_text() -> None:
    keys = covered(ResumedSegment(("9",), 100))
    assert kept_keys(keys.filter([(50, [change(10), change(100), change(8), change(9)])])) == [
        ["8", "9"]]


def test_each_key_belongs_to_the_last_segment_starting_before_it() -> None:
    keys = covered(ResumedSegment(("10",), 100), ResumedSegment(("20",), 200))
    result = keys.filter([(150, [change(5), change(15), change(25)]), (250, [change(15), change(25)])])
    # At 150: 15 was read at 100 (so its change is new), 25 at 200 (already shown).
    assert kept_keys(result) == [["5", "15"], ["15", "25"]]


def test_segments_are_forgotten_once_the_stream_passes_them() -> None:
    keys = covered(ResumedSegment(("10",), 100), ResumedSegment(("20",), 200))
    keys.passed(150)
    assert [s.position for s in keys.segments] == [200]
    keys.passed(200)
    assert keys.segments == []
    assert kept_keys(keys.filter([(250, [change(25)])])) == [["25"]]


def test_nothing_is_asked_of_the_database_outside_the_window() -> None:
    def no_ranks(values: Sequence[KeyValues]) -> list[int]:
        raise AssertionError("ranked keys although no transaction is in a resumed snapshot")

    keys = CoveredKeys([ResumedSegment(("10",), 100)], ["id"], no_ranks, lambda tx, at: tx < at)
    assert kept_keys(keys.filter([(100, [change(25)]), (300, [change(5)])])) == [["25"], ["5"]]
