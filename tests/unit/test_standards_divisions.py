"""GB/T 2260 division codes from the packaged code table."""

from __future__ import annotations

from bus.standards.divisions import (
    all_divisions,
    counties_under,
    division,
    division_name,
    is_known_division,
    is_known_province,
    province_of,
)
from schemas import read_code_table


def test_the_code_table_ships_all_three_levels_in_six_digit_form() -> None:
    rows = read_code_table("divisions")
    assert {row["level"] for row in rows} == {"province", "prefecture", "county"}
    assert all(len(row["code"]) == 6 and row["code"].isdigit() for row in rows)
    assert sum(row["level"] == "province" for row in rows) == 31
    assert len(rows) > 3000


def test_every_parent_is_in_the_table() -> None:
    table = all_divisions()
    assert all(d.parent == "" or d.parent in table for d in table.values())


def test_names_and_levels_of_known_codes() -> None:
    assert division_name("110000") == "北京市"
    assert division_name("330106") == "西湖区"
    found = division("330106")
    assert found is not None
    assert (found.level, found.parent) == ("county", "330100")
    assert division_name("999999") is None


def test_known_and_unknown_codes() -> None:
    assert is_known_division("110105")
    assert not is_known_division("330103")  # abolished in 2021
    assert is_known_province("330103")
    assert not is_known_province("990101")


def test_the_province_of_a_code() -> None:
    province = province_of("330106")
    assert province is not None
    assert province.name == "浙江省"
    assert province_of("99") is None
    assert province_of("") is None


def test_counties_under_a_prefecture_are_in_code_order() -> None:
    codes = [d.code for d in counties_under("3301")]
    assert codes == sorted(codes)
    assert "330106" in codes
    assert all(code.startswith("3301") for code in codes)
