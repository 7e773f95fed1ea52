"""The five department seeds (no servers): one population, credit codes, file drops, SQLite."""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from bus.demo.departments.civil_affairs import DBJZ_FIELDS, HYDJ_COLUMNS, NIGHTS, seed_civil_affairs
from bus.demo.departments.credit_code import (
    compute_credit_check_char,
    compute_organization_check_char,
    is_valid_credit_code,
    parse_credit_code,
)
from bus.demo.departments.government import SeedTargets, seed_government
from bus.demo.departments.ground_truth import DepartmentReport
from bus.demo.departments.health import HEALTH_TABLE, seed_health
from bus.demo.departments.hrss import seed_hrss
from bus.demo.departments.population import Population, build_population
from bus.demo.departments.tax import seed_tax
from bus.demo.seed import seed_gongan
from bus.demo.truth import read_truth
from bus.standards.errors import StandardViolation
from bus.standards.idcard import parse_identity_number

PERSONS = 2000
SEED = 4242
#: Real codes: a commonly cited example, 华为技术有限公司, 小米科技有限责任公司.
REAL_CODES = ("91350100M000100Y43", "914403001922038216", "91110108551385082Q")


@pytest.fixture(scope="module")
def population() -> Population:
    return build_population(PERSONS, SEED)


def lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


# -- population ---------------------------------------------------------------------------------


def test_the_same_persons_and_seed_give_the_same_population(population: Population) -> None:
    assert build_population(PERSONS, SEED) == population
    assert build_population(PERSONS, SEED + 1).persons != population.persons


def test_the_persons_are_those_of_the_public_security_seed(tmp_path: Path, population: Population) -> None:
    report = seed_gongan(tmp_path / "gongan.db", persons=PERSONS, seed=SEED)
    truth = read_truth(report.ground_truth_path)
    known = [
        (line["canonical_id"], person.id18)
        for line, person in zip(truth, population.persons, strict=True)
        if line["canonical_id"] is not None
    ]
    assert len(known) > PERSONS * 0.9
    assert all(canonical == id18 for canonical, id18 in known)
    with sqlite3.connect(report.db_path) as conn:
        addresses = [row[0] for row in conn.execute("SELECT HJDZ FROM hj_ryxx ORDER BY RYBH")]
    assert addresses == list(population.addresses)


def test_enterprises_have_valid_unique_codes_and_legal_reps_from_the_population(
    population: Population,
) -> None:
    assert len(population.enterprises) == PERSONS // 10
    assert len({e.credit_code for e in population.enterprises}) == len(population.enterprises)
    assert all(is_valid_credit_code(e.credit_code) for e in population.enterprises)
    persons = set(population.persons)
    assert all(e.legal_rep in persons for e in population.enterprises)


def test_a_tiny_population_still_has_ten_enterprises() -> None:
    assert len(build_population(30, SEED).enterprises) == 10


def test_couples_are_a_man_and_a_woman_married_before_any_divorce(population: Population) -> None:
    assert population.couples
    for couple in population.couples:
        assert couple.husband.male and not couple.wife.male
        assert couple.divorced is None or couple.married < couple.divorced <= population.today


# -- GB 32100 credit codes ----------------------------------------------------------------------


@pytest.mark.parametrize("code", REAL_CODES)
def test_real_credit_codes_have_the_check_characters_computed_here(code: str) -> None:
    assert compute_credit_check_char(code[:17]) == code[17]
    assert compute_organization_check_char(code[8:16]) == code[16]


def test_a_check_character_of_31_is_written_as_zero() -> None:
    # Seventeen zeros weigh 0: the check is 31 - 0 = 31, which the standard writes as "0".
    assert compute_credit_check_char("0" * 17) == "0"


@pytest.mark.parametrize(
    ("raw", "rule"),
    [
        (None, "credit_code.missing"),
        ("  ", "credit_code.missing"),
        ("9135010", "credit_code.length"),
        ("91350100M000100I43", "credit_code.charset"),
        ("91350100M000100Y44", "credit_code.checksum"),
    ],
)
def test_invalid_credit_codes_fail_with_the_first_broken_rule(raw: str | None, rule: str) -> None:
    with pytest.raises(StandardViolation) as caught:
        parse_credit_code(raw)
    assert caught.value.rule_id == rule


def test_lower_case_spaces_and_full_width_are_normalized_before_the_check() -> None:
    assert parse_credit_code(" 91350100 m000100y43 ") == "91350100M000100Y43"
    assert parse_credit_code("９１350100M000100Y43") == "91350100M000100Y43"


# -- civil affairs ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def civil_affairs(
    tmp_path_factory: pytest.TempPathFactory, population: Population
) -> tuple[Path, DepartmentReport]:
    directory = tmp_path_factory.mktemp("minzheng") / "drops"
    return directory, seed_civil_affairs(directory, population)


def test_marriage_extracts_are_gbk_csv_with_the_legacy_header_and_chinese_dates(
    civil_affairs: tuple[Path, DepartmentReport],
) -> None:
    directory, _ = civil_affairs
    text = (directory / f"hydj_{NIGHTS[-1]:%Y%m%d}.csv").read_bytes().decode("gbk")
    rows = text.splitlines()
    assert rows[0] == ",".join(HYDJ_COLUMNS)
    assert all(row.split(",")[5].endswith("日") and "年" in row.split(",")[5] for row in rows[1:])
    assert {row.split(",")[6] for row in rows[1:]} == {"结婚", "离婚"}


def test_assistance_records_have_fixed_byte_widths_in_gbk(
    civil_affairs: tuple[Path, DepartmentReport],
) -> None:
    directory, _ = civil_affairs
    records = (directory / f"dbjz_{NIGHTS[-1]:%Y%m%d}.txt").read_bytes().split(b"\r\n")[:-1]
    width = sum(w for _, w in DBJZ_FIELDS)
    assert records and all(len(record) == width for record in records)
    for record in records:
        start, fields = 0, {}
        for name, field_width in DBJZ_FIELDS:
            fields[name] = record[start : start + field_width].decode("gbk").strip()
            start += field_width
        assert fields["JZBH"].startswith("DB") and fields["JZLX"] in ("低保", "特困")
        assert len(fields["FFRQ"]) == 8 and float(fields["JE"]) > 0
        assert any("\u4e00" <= ch <= "\u9fff" for ch in fields["XM"])


def test_consecutive_nights_differ_by_creates_updates_and_deletes(
    civil_affairs: tuple[Path, DepartmentReport],
) -> None:
    directory, report = civil_affairs
    changes = lines(next(p for p in report.truth_paths if p.name == "changes.jsonl"))
    assert {change["op"] for change in changes} == {"c", "u", "d"}
    nights = [f"{night:%Y%m%d}" for night in NIGHTS]
    keys = [
        {
            row.split(",")[0]
            for row in (directory / f"hydj_{n}.csv").read_bytes().decode("gbk").splitlines()[1:]
        }
        for n in nights
    ]
    created = {
        c["key"] for c in changes if c["file"] == "hydj" and c["night"] == nights[1] and c["op"] == "c"
    }
    deleted = {
        c["key"] for c in changes if c["file"] == "hydj" and c["night"] == nights[1] and c["op"] == "d"
    }
    assert created == keys[1] - keys[0]
    assert deleted == keys[0] - keys[1]


def test_seeding_the_drops_again_leaves_the_files_untouched(
    civil_affairs: tuple[Path, DepartmentReport],
    population: Population,
) -> None:
    directory, report = civil_affairs
    before = {p.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in directory.iterdir()}
    assert seed_civil_affairs(directory, population) == report
    assert {p.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in directory.iterdir()} == before


def test_the_civil_affairs_truth_counts_match_the_latest_extracts(
    civil_affairs: tuple[Path, DepartmentReport],
) -> None:
    _, report = civil_affairs
    stamp = f"{NIGHTS[-1]:%Y%m%d}"
    truth = [line for p in report.truth_paths if stamp in p.name and "truth" in p.name for line in lines(p)]
    assert len(truth) == report.rows
    assert Counter(line["outcome"] for line in truth) == {
        "accepted": report.expected_accepted,
        "quarantined": report.expected_quarantined,
    }
    assert report.expected_quarantined > 0


# -- health -------------------------------------------------------------------------------------


def test_birth_certificates_name_parents_of_the_population_and_no_newborn_identity(
    tmp_path: Path,
    population: Population,
) -> None:
    report = seed_health(tmp_path / "weijian.db", population)
    with sqlite3.connect(tmp_path / "weijian.db") as conn:
        conn.row_factory = sqlite3.Row
        rows = conn.execute(f"SELECT * FROM {HEALTH_TABLE}").fetchall()
    assert len(rows) == report.rows == PERSONS // 50
    assert not {"SFZH", "XSESFZH"} & set(rows[0].keys())
    truth = {line["key"]: line for line in lines(report.truth_paths[0])}
    ids = {person.id18 for person in population.persons}
    married = {(c.wife.id18, c.husband.id18) for c in population.couples}
    for row in rows:
        line = truth[row["CSZMBH"]]
        assert line["refers_to"] in ids
        assert line["related"]["father"] is None or (line["refers_to"], line["related"]["father"]) in married
        assert "2024-01-01" <= line["related"]["born"] <= "2026-12-31"
        if line["outcome"] == "accepted":
            assert parse_identity_number(row["MQ_SFZH"]).number == line["refers_to"]
    assert Counter(line["outcome"] for line in truth.values())["accepted"] == report.expected_accepted


def test_health_seeding_is_idempotent(tmp_path: Path, population: Population) -> None:
    first = seed_health(tmp_path / "weijian.db", population)
    second = seed_health(tmp_path / "weijian.db", population)
    with sqlite3.connect(tmp_path / "weijian.db") as conn:
        count = conn.execute(f"SELECT COUNT(*) FROM {HEALTH_TABLE}").fetchone()[0]
    assert first == second and count == first.rows


# -- the government -----------------------------------------------------------------------------


def test_the_government_seeds_only_the_configured_targets(tmp_path: Path) -> None:
    done: list[str] = []
    targets = SeedTargets(
        truth_dir=tmp_path / "truth",
        civil_affairs_dir=tmp_path / "drops",
        health_sqlite=tmp_path / "weijian.db",
    )
    reports = seed_government(targets, persons=300, seed=SEED, progress=lambda name, _: done.append(name))
    assert [r.department for r in reports] == done == ["civil_affairs", "health"]
    assert all(
        path.exists() and path.is_relative_to(tmp_path / "truth") for r in reports for path in r.truth_paths
    )


# -- HRSS and Tax rows, captured by a fake DB-API connection ------------------------------------


class FakeCursor:
    def __init__(self, sink: list[tuple[str, list[tuple[Any, ...]]]]) -> None:
        self.sink = sink

    def execute(self, sql: str, args: Any = None) -> None:
        self.sink.append((sql, []))

    def executemany(self, sql: str, rows: list[tuple[Any, ...]]) -> None:
        self.sink.append((sql, list(rows)))

    def close(self) -> None:
        pass


class FakeConnection:
    def __init__(self) -> None:
        self.statements: list[tuple[str, list[tuple[Any, ...]]]] = []
        self.commits = 0

    def cursor(self) -> FakeCursor:
        return FakeCursor(self.statements)

    def commit(self) -> None:
        self.commits += 1

    def rollback(self) -> None:
        raise AssertionError("nothing should fail")

    def rows(self) -> list[tuple[Any, ...]]:
        return [row for sql, rows in self.statements if sql.startswith("INSERT") for row in rows]


def test_hrss_insures_about_seventy_percent_with_old_ids_and_m_f_sex(
    tmp_path: Path, population: Population
) -> None:
    connection = FakeConnection()
    report = seed_hrss(connection, population, truth_dir=tmp_path)
    rows = connection.rows()
    assert connection.commits == 1 and len(rows) == report.rows
    assert 0.6 * PERSONS < len(rows) < 0.8 * PERSONS
    assert 0.07 < sum(len(row[1]) == 15 for row in rows) / len(rows) < 0.13
    assert Counter(row[3] for row in rows).most_common(2)[0][0] in ("M", "F")
    assert len({row[7] for row in rows}) < len(rows)  # same-second updates
    truth = lines(report.truth_paths[0])
    assert [line["key"] for line in truth] == [row[0] for row in rows]
    assert {line["reason"] for line in truth} >= {None, "id.checksum"}
    employers = {e.credit_code for e in population.enterprises}
    assert {row[5] for row in rows} - {None} <= employers
    # The truth names each row's employer, a person's second insurance record included.
    assert [line["related"]["employer"] for line in truth] == [row[5] for row in rows]
    assert any("duplicate_person" in line["noise"] and line["related"]["employer"] for line in truth)


def test_tax_registers_most_enterprises_under_messy_taxpayer_ids(
    tmp_path: Path, population: Population
) -> None:
    connection = FakeConnection()
    report = seed_tax(connection, population, truth_dir=tmp_path)
    rows = connection.rows()
    truth = lines(report.truth_paths[0])
    known = {e.credit_code for e in population.enterprises}
    referred = {line["refers_to"] for line in truth}
    assert 0.9 * len(known) < len(referred & known) < len(known)
    assert any("unknown_enterprise" in line["noise"] for line in truth)
    assert any(row[0] != row[0].upper() for row in rows) and any(" " in row[0] for row in rows)
    assert {row[3] for row in rows} <= {"01", "02", "03", "05"}
    assert Counter(line["outcome"] for line in truth)["quarantined"] == report.expected_quarantined
