"""A batch of records compared with the previous extract at once (``ExtractDiff.changes``)
makes the changes and the state that judging each record alone makes."""

from __future__ import annotations

import pytest

from adapters.capture.engines.files_diff import ExtractDiff, key_json, row_hash
from adapters.capture.engines.files_diff import _to_json as to_json
from adapters.capture.engines.files_records import LINE_COLUMN, Record
from adapters.capture.source import Change, key_of
from bus.speedups import pure_python, speedups

KEY = ("id", "part")


def state_of(row: dict[str, str | None]) -> tuple[str, tuple[str, str]]:
    return key_json(row, KEY), (row_hash(row), to_json(row))


PREVIOUS = dict(state_of(row) for row in [
    {"id": "1", "part": "a", "v": "same"},
    {"id": "2", "part": "a", "v": "old"},
    {"id": "3", "part": None, "v": "old"},
    {"id": "9", "part": "z", "v": "gone"},
])

RECORDS = [
    Record(1, {"id": "1", "part": "a", "v": "same"}),  # unchanged: nothing
    Record(2, {"id": "2", "part": "a", "v": "new"}),  # changed: u with the old row
    Record(3, {"id": "3", "part": None, "v": "新的"}),  # changed, a NULL in the key
    Record(4, {"id": "4", "part": "b", "v": None}),  # new: c
    Record(5, {"id": "4", "part": "b", "v": "again"}),  # the same key twice in the file
    Record(6, {"id": "5", "part": "c", "v": "\\x"}, ("v",)),  # undecodable value, key readable
    Record(7, {"id": None, "part": None, "v": None, LINE_COLUMN: "5;c;\\xff"}, (LINE_COLUMN,)),
    Record(8, {"id": "6", "part": "d", "v": 7}),  # not text: the C leaves it to the Python
]


def judged_one_by_one(diff: ExtractDiff, records: list[Record]) -> list[Change]:
    return [Change(verdict.op, key_of(record.row, KEY), verdict.before, record.row,
                   f"x.csv:{record.number}", 5, False, record.undecodable)
            for record in records if (verdict := diff.judge(record)) is not None]


@pytest.mark.parametrize("in_c", [True, False])
@pytest.mark.parametrize("first", [True, False])
def test_a_batch_is_judged_as_its_records_are_one_by_one(in_c: bool, first: bool) -> None:
    if in_c and speedups() is None:
        pytest.skip("the C speedups are not built")
    previous = {} if first else PREVIOUS
    one_by_one = ExtractDiff(previous, KEY, first=first)
    expected = judged_one_by_one(one_by_one, RECORDS)
    at_once = ExtractDiff(previous, KEY, first=first)
    if in_c:
        found = at_once.changes(RECORDS, "x.csv", 5, False)
    else:
        with pure_python():
            at_once = ExtractDiff(previous, KEY, first=first)
            found = at_once.changes(RECORDS, "x.csv", 5, False)

    assert found == expected
    assert at_once.seen == one_by_one.seen
    assert at_once.withhold_deletes == one_by_one.withhold_deletes is True
    assert at_once.deletes() == one_by_one.deletes() == []
    ops = [(c.op, c.key["id"]) for c in found]
    assert ops == ([("r", "1"), ("r", "2"), ("r", "3"), ("r", "4"), ("r", "4"), ("r", "5"),
                    ("r", None), ("r", "6")] if first else
                   [("u", "2"), ("u", "3"), ("c", "4"), ("u", "4"), ("c", "5"), ("c", None),
                    ("c", "6")])
    if not first:
        assert found[0].before == {"id": "2", "part": "a", "v": "old"}
