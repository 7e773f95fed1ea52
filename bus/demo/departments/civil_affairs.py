"""Seed Civil Affairs (民政): nightly FULL extracts dropped as GBK files, no change columns.

Every night the department drops the whole of two registers into one directory:

- ``hydj_<YYYYMMDD>.csv``: marriage registrations, GBK CSV with a header
  ``DJBH,NF_SFZH,NF_XM,NV_SFZH,NV_XM,DJRQ,DJLX`` and dates like ``1990年3月7日``;
- ``dbjz_<YYYYMMDD>.txt``: social assistance (低保), GBK fixed width (see ``DBJZ_FIELDS``).

Consecutive nights differ (records added, corrected, removed), so only a diff of the extracts
tells what changed. The truth is one file per extract plus ``changes.jsonl`` listing the
expected ``c``/``u``/``d`` between consecutive nights.
"""

from __future__ import annotations

import csv
import io
import json
import os
import random
from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path

from bus.demo.departments.ground_truth import DepartmentReport, RowTruth, judge, write_truth
from bus.demo.departments.mess import messy_id
from bus.demo.departments.population import Couple, Population, age_on
from bus.demo.draw import between, pick
from bus.demo.noise import messy_name
from bus.demo.people import Person
from bus.standards.dates import normalize_date
from bus.standards.idcard import parse_identity_number

__all__ = ["DBJZ_FIELDS", "HYDJ_COLUMNS", "NIGHTS", "seed_civil_affairs"]

#: The nights whose extracts are dropped, oldest first.
NIGHTS = (date(2024, 6, 1), date(2024, 6, 2), date(2024, 6, 3))
HYDJ_COLUMNS = ("DJBH", "NF_SFZH", "NF_XM", "NV_SFZH", "NV_XM", "DJRQ", "DJLX")
#: Fixed-width layout of ``dbjz`` records: (name, width in GBK bytes); lines end in CRLF.
DBJZ_FIELDS = (("JZBH", 10), ("SFZH", 18), ("XM", 12), ("JZLX", 4), ("JE", 8), ("FFRQ", 8))

Row = tuple[str, ...]
#: One record through the nights: its row on each night, None when absent that night.
History = list[Row | None]
Judge = Callable[[Row], RowTruth]


def seed_civil_affairs(
    directory: Path, population: Population, *, truth_dir: Path | None = None
) -> DepartmentReport:
    """Drop every night's extracts into ``directory`` (atomically; unchanged files are left alone).

    The truth goes to ``<truth_dir>/civil_affairs/``, or to ``<directory>.truth/`` beside it.
    """
    rng = random.Random(f"{population.seed}:civil_affairs")
    marriages, marriage_truth = _marriages(rng, population)
    assistance, assistance_truth = _assistance(rng, population)
    truth_home = truth_dir / "civil_affairs" if truth_dir else directory.with_name(f"{directory.name}.truth")
    directory.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []
    latest: list[RowTruth] = []
    for night_index, night in enumerate(NIGHTS):
        stamp = f"{night:%Y%m%d}"
        hydj = [h[night_index] for h in marriages if h[night_index] is not None]
        dbjz = [h[night_index] for h in assistance if h[night_index] is not None]
        _write_atomically(directory / f"hydj_{stamp}.csv", _csv_bytes(hydj))
        _write_atomically(directory / f"dbjz_{stamp}.txt", _fixed_width_bytes(dbjz))
        hydj_truth = [marriage_truth(row) for row in hydj if row is not None]
        dbjz_truth = [assistance_truth(row) for row in dbjz if row is not None]
        paths.append(write_truth(truth_home / f"hydj_{stamp}.truth.jsonl", hydj_truth))
        paths.append(write_truth(truth_home / f"dbjz_{stamp}.truth.jsonl", dbjz_truth))
        latest = [*hydj_truth, *dbjz_truth]
    paths.append(_write_changes(truth_home / "changes.jsonl", {"hydj": marriages, "dbjz": assistance}))
    accepted = sum(line.outcome == "accepted" for line in latest)
    return DepartmentReport("civil_affairs", "files", ("hydj", "dbjz"), len(latest), accepted,
                            len(latest) - accepted, tuple(paths))


# -- registers through the nights ---------------------------------------------------------------


def _evolve(rng: random.Random, row: Row, changed: Callable[[Row], Row]) -> History:
    """Most records are on every night; some arrive late, are corrected, or are removed."""
    roll = rng.random()
    if roll < 0.03:
        return [None, row, row]
    if roll < 0.06:
        return [None, None, row]
    if roll < 0.09:
        return [row, changed(row), changed(row)]
    if roll < 0.11:
        return [row, row, changed(row)]
    if roll < 0.12:
        return [row, None, None]
    if roll < 0.13:
        return [row, row, None]
    return [row, row, row]


def _with_value(index: int, value: str) -> Callable[[Row], Row]:
    """A correction: the row with field ``index`` set to ``value``."""
    return lambda row: (*row[:index], value, *row[index + 1:])


def _marriages(rng: random.Random, population: Population) -> tuple[list[History], Judge]:
    today = population.today
    by_key: dict[str, tuple[Couple, str]] = {}
    histories: list[History] = []
    for couple in population.couples:
        events = [("结婚", couple.married)] + ([("离婚", couple.divorced)] if couple.divorced else [])
        for kind, day in events:
            key = f"HY{len(by_key) + 1:08d}"
            by_key[key] = (couple, kind)
            row = _marriage_row(rng, key, couple.husband, couple.wife, day, kind)
            histories.append(_evolve(rng, row, _with_value(2, couple.husband.name)))

    def judge_row(row: Row) -> RowTruth:
        couple, _ = by_key[row[0]]
        nf, nv, djrq = row[1], row[3], row[5]
        return judge("hydj", row[0], couple.husband.id18,
                     (lambda: parse_identity_number(nf, today=today),
                      lambda: parse_identity_number(nv, today=today), lambda: normalize_date(djrq)),
                     noise=_noise_of(row, couple.husband, couple.wife), related={"wife": couple.wife.id18})

    return histories, judge_row


def _marriage_row(rng: random.Random, key: str, husband: Person, wife: Person, day: date, kind: str) -> Row:
    nf_sfzh, _ = messy_id(rng, husband, old=0.08, bad_check=0.01, full_width=0.02)
    nv_sfzh, _ = messy_id(rng, wife, old=0.08, bad_check=0.01, full_width=0.02)
    nf_xm, _ = messy_name(rng, husband.name)
    nv_xm, _ = messy_name(rng, wife.name)
    roll = rng.random()
    if roll < 0.005:
        djrq = f"{day.year}年2月30日"
    elif roll < 0.1:
        djrq = f"{day.year}年{day.month:02d}月{day.day:02d}日"
    else:
        djrq = f"{day.year}年{day.month}月{day.day}日"
    return (key, nf_sfzh, nf_xm, nv_sfzh, nv_xm, djrq, kind)


def _assistance(rng: random.Random, population: Population) -> tuple[list[History], Judge]:
    today = population.today
    adults = [p for p in population.persons if age_on(p, today) >= 18]
    by_key: dict[str, Person] = {}
    histories: list[History] = []
    for person in adults:
        if rng.random() >= 0.03:
            continue
        key = f"DB{len(by_key) + 1:08d}"
        by_key[key] = person
        sfzh, _ = messy_id(rng, person, old=0.05, bad_check=0.01, full_width=0.0)
        name, _ = messy_name(rng, person.name)
        amount = between(rng, 60, 130) * 10
        paid = f"{NIGHTS[0].year}{NIGHTS[0].month - 1:02d}{between(rng, 10, 28):02d}"
        row: Row = (key, sfzh, name, pick(rng, ("低保",) * 9 + ("特困",)), f"{amount:8.2f}", paid)
        histories.append(_evolve(rng, row, _with_value(4, f"{amount + 50:8.2f}")))

    def judge_row(row: Row) -> RowTruth:
        person = by_key[row[0]]
        sfzh, ffrq = row[1], row[5]
        return judge("dbjz", row[0], person.id18,
                     (lambda: parse_identity_number(sfzh, today=today), lambda: normalize_date(ffrq)),
                     noise=_noise_of(row, person))

    return histories, judge_row


def _noise_of(row: Row, *persons: Person) -> tuple[str, ...]:
    """Noise tags read back off the row (so a corrected record loses its tags)."""
    tags: list[str] = []
    for person in persons:
        for value in row:
            if value == person.id15:
                tags.append("id15")
            elif value[:17] == person.id18[:17] and value != person.id18 and value.upper() != person.id18:
                tags.append("bad_check_char")
            elif value != person.id18 and "".join(value.split()).translate(_HALF).upper() == person.id18:
                tags.append("full_width")
            elif value != person.name and "".join(value.split()) == person.name:
                tags.append("name_spaces")
    return tuple(tags)


_HALF = str.maketrans("０１２３４５６７８９Ｘ", "0123456789X")


# -- files --------------------------------------------------------------------------------------


def _csv_bytes(rows: Sequence[Row | None]) -> bytes:
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\r\n")
    writer.writerow(HYDJ_COLUMNS)
    writer.writerows(row for row in rows if row is not None)
    return text.getvalue().encode("gbk")


def _fixed_width_bytes(rows: Sequence[Row | None]) -> bytes:
    lines = []
    for row in rows:
        if row is None:
            continue
        fields = []
        for value, (name, width) in zip(row, DBJZ_FIELDS, strict=True):
            encoded = value.encode("gbk")
            if len(encoded) > width:
                raise ValueError(f"{name} {value!r} is wider than {width} bytes")
            fields.append(encoded.ljust(width, b" "))
        lines.append(b"".join(fields) + b"\r\n")
    return b"".join(lines)


def _write_atomically(path: Path, content: bytes) -> None:
    if path.exists() and path.read_bytes() == content:
        return
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(content)
    os.replace(tmp, path)


def _write_changes(path: Path, registers: dict[str, list[History]]) -> Path:
    lines = []
    for file, histories in registers.items():
        for history in histories:
            for night_index in range(1, len(NIGHTS)):
                before, after = history[night_index - 1], history[night_index]
                op = "c" if before is None and after else "d" if after is None and before else (
                    "u" if before != after else None)
                if op is not None:
                    key = (after or before or ("",))[0]
                    lines.append(json.dumps({"file": file, "night": f"{NIGHTS[night_index]:%Y%m%d}",
                                             "key": key, "op": op}, ensure_ascii=False))
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
    os.replace(tmp, path)
    return path
