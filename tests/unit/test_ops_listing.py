"""Server-side filtering, sorting and paging of the dashboard's tables."""

from __future__ import annotations

import pytest

from bus.web.ops.listing import ListingError, Query, page_of
from bus.web.ops.schemas import side_by_side

ROWS = [{"name": f"legacy.d{n:03d}.t", "kind": "legacy", "lag": n % 7} for n in range(500)] + [
    {"name": "std.person", "kind": "std", "lag": None}]


def test_a_page_holds_size_rows_and_the_total_counts_the_filtered_rows() -> None:
    page = page_of(ROWS, Query.parse({"q": "D00", "page": "1", "size": "5"}), name="name",
                   columns=["name", "lag"])
    assert page["total"] == 10 and len(page["items"]) == 5
    assert [r["name"] for r in page["items"]] == [f"legacy.d00{n}.t" for n in range(5)]


def test_sorting_descending_puts_missing_values_last() -> None:
    page = page_of(ROWS, Query.parse({"sort": "-lag", "size": "200", "page": "3"}), name="name",
                   columns=["name", "lag"])
    assert page["items"][-1]["name"] == "std.person"
    first = page_of(ROWS, Query.parse({"sort": "-lag", "size": "3"}), name="name", columns=["lag"])
    assert [r["lag"] for r in first["items"]] == [6, 6, 6]


def test_the_kind_filter_and_a_page_past_the_end() -> None:
    assert page_of(ROWS, Query.parse({"kind": "std"}), name="name", columns=[])["total"] == 1
    assert page_of(ROWS, Query.parse({"page": "99"}), name="name", columns=[])["items"] == []


@pytest.mark.parametrize(("params", "parameter"), [
    ({"page": "0"}, "page"), ({"page": "x"}, "page"), ({"size": "201"}, "size"),
    ({"sort": "secret"}, "sort")])
def test_bad_parameters_are_refused_by_name(params: dict[str, str], parameter: str) -> None:
    with pytest.raises(ListingError) as raised:
        page_of(ROWS, Query.parse(params), name="name", columns=["name", "lag"])
    assert raised.value.parameter == parameter


def test_the_schema_diff_pairs_lines_side_by_side() -> None:
    rows = side_by_side("a\nb\nc", "a\nB\nc\nd")
    assert [(r["op"], r["left"], r["right"]) for r in rows] == [
        ("equal", "a", "a"), ("replace", "b", "B"), ("equal", "c", "c"), ("insert", None, "d")]
