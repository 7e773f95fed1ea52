"""The seeded Public Security household register (公安户籍) and its ground truth."""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from bus.demo.seed import BASE_TIME, GONGAN_TABLE, SeedReport, seed_gongan
from bus.standards.dates import normalize_date
from bus.standards.errors import StandardViolation
from bus.standards.idcard import parse_identity_number
from bus.standards.sex import normalize_sex

PERSONS = 1500
COLUMNS = ("RYBH", "SFZH", "XM", "XB", "CSRQ", "HJDZ", "XZQH", "GXSJ")


def rows_of(db_path: Path) -> list[tuple[Any, ...]]:
    with sqlite3.connect(db_path) as conn:
        return conn.execute(f"SELECT {', '.join(COLUMNS)} FROM {GONGAN_TABLE} ORDER BY RYBH").fetchall()


def truth_of(report: SeedReport) -> list[dict[str, Any]]:
    with report.ground_truth_path.open(encoding="utf-8") as lines:
        return [json.loads(line) for line in lines]


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> SeedReport:
    return seed_gongan(tmp_path_factory.mktemp("gongan") / "nested" / "gongan.db", persons=PERSONS)


@pytest.fixture(scope="module")
def rows(seeded: SeedReport) -> list[dict[str, Any]]:
    return [dict(zip(COLUMNS, row, strict=True)) for row in rows_of(seeded.db_path)]


def test_the_same_seed_gives_identical_databases(tmp_path: Path, seeded: SeedReport) -> None:
    again = seed_gongan(tmp_path / "again.db", persons=PERSONS)
    assert rows_of(again.db_path) == rows_of(seeded.db_path)
    assert truth_of(again) == truth_of(seeded)


def test_another_seed_gives_other_rows(tmp_path: Path, seeded: SeedReport) -> None:
    other = seed_gongan(tmp_path / "other.db", persons=PERSONS, seed=7)
    assert rows_of(other.db_path) != rows_of(seeded.db_path)


def test_reseeding_changes_nothing(tmp_path: Path) -> None:
    first = seed_gongan(tmp_path / "g.db", persons=300)
    before = rows_of(first.db_path)
    second = seed_gongan(tmp_path / "g.db", persons=300)
    assert rows_of(second.db_path) == before
    assert len(before) == 300
    assert second == first


def test_more_persons_with_the_same_seed_keeps_the_first_rows(tmp_path: Path) -> None:
    small = rows_of(seed_gongan(tmp_path / "small.db", persons=100).db_path)
    large = rows_of(seed_gongan(tmp_path / "large.db", persons=250).db_path)
    assert large[:100] == small


def test_the_table_has_the_legacy_columns_and_an_index_on_update_time(seeded: SeedReport) -> None:
    with sqlite3.connect(seeded.db_path) as conn:
        columns = [row[1] for row in conn.execute(f"PRAGMA table_info({GONGAN_TABLE})")]
        indexed = {row[1] for row in conn.execute(f"PRAGMA index_list({GONGAN_TABLE})")}
        index_columns = {conn.execute(f"PRAGMA index_info({name})").fetchone()[2] for name in indexed}
    assert columns == list(COLUMNS)
    assert "GXSJ" in index_columns


def test_several_rows_share_an_update_second(rows: list[dict[str, Any]]) -> None:
    per_second = Counter(row["GXSJ"] for row in rows)
    assert sum(1 for n in per_second.values() if n > 1) >= 10
    assert all(len(stamp) == 19 for stamp in per_second)


def test_old_15_digit_numbers_and_messy_writing_occur(rows: list[dict[str, Any]]) -> None:
    numbers = [row["SFZH"] for row in rows]
    assert sum(n.isdigit() and len(n) == 15 for n in numbers) > PERSONS * 0.02
    assert any(n.endswith("x") for n in numbers)
    assert any(" " in n for n in numbers)
    assert any(any("０" <= ch <= "９" for ch in n) for n in numbers)


def test_local_sex_codes_and_date_formats_occur(rows: list[dict[str, Any]]) -> None:
    assert {"1", "2", "男", "女", "M", "F", "3"} <= {row["XB"] for row in rows}
    dates = [row["CSRQ"] or "" for row in rows]
    assert any("年" in d for d in dates)
    assert any("/" in d for d in dates)
    assert any(len(d) == 8 and d.isdigit() for d in dates)


def test_names_and_addresses_look_real(rows: list[dict[str, Any]]) -> None:
    assert all(2 <= len(row["XM"].replace(" ", "").replace("\u3000", "")) <= 4 for row in rows)
    assert any(" " in row["XM"] for row in rows)
    assert all(row["HJDZ"].startswith("浙江省") and "号" in row["HJDZ"] for row in rows)
    assert all(row["XZQH"][:4] in ("3301", "3302") for row in rows)


def test_invalid_check_characters_are_expected_in_quarantine(seeded: SeedReport) -> None:
    reasons = Counter(line["reason"] for line in truth_of(seeded))
    assert reasons["id.checksum"] > 0
    assert reasons["sex.unknown_code"] > 0
    assert reasons["date.invalid"] > 0


def test_the_report_counts_match_the_ground_truth(seeded: SeedReport) -> None:
    truth = truth_of(seeded)
    outcomes = Counter(line["outcome"] for line in truth)
    assert seeded.ground_truth_path == seeded.db_path.with_name("gongan.truth.jsonl")
    assert len(truth) == seeded.persons == PERSONS
    assert outcomes["accepted"] == seeded.expected_valid
    assert outcomes["quarantined"] == seeded.expected_quarantined
    assert 0 < seeded.expected_quarantined < PERSONS * 0.2


def test_the_ground_truth_agrees_with_the_standards(seeded: SeedReport, rows: list[dict[str, Any]]) -> None:
    for row, line in zip(rows, truth_of(seeded), strict=True):
        assert line["RYBH"] == row["RYBH"]
        try:
            number = parse_identity_number(row["SFZH"], today=BASE_TIME.date()).number
        except StandardViolation as violation:
            assert (line["outcome"], line["reason"], line["canonical_id"]) == (
                "quarantined",
                violation.rule_id,
                None,
            )
            continue
        assert line["canonical_id"] == number


def test_accepted_rows_mostly_agree_on_birth_date_and_sex(
    seeded: SeedReport, rows: list[dict[str, Any]]
) -> None:
    accepted = [
        (row, line) for row, line in zip(rows, truth_of(seeded), strict=True) if line["outcome"] == "accepted"
    ]
    parsed = [(row, parse_identity_number(line["canonical_id"])) for row, line in accepted]
    same_sex = sum(normalize_sex(row["XB"]) == number.sex_code for row, number in parsed)
    same_date = sum(normalize_date(row["CSRQ"]) == number.birth_date for row, number in parsed)
    assert len(accepted) * 0.95 < same_sex < len(accepted)
    assert len(accepted) * 0.95 < same_date < len(accepted)
