"""Entity resolution against the reference government's ground truth: precision, recall, speed.

The population and the legacy rows of every department table that mentions persons come from
the demo seed's own generators, in memory (no database): 公安 ``hj_ryxx`` (the residents),
人社 ``ac01`` (insured persons), 市场监管 ``qy_jbxx`` (legal representatives), 民政 ``hydj``
(husband and wife, latest night) and ``dbjz`` (assistance recipients, latest night), 卫健
``csyxzm`` (mother, father, newborn). Each row becomes ``PersonRecord``s exactly as a
quarantined row would (``records_from_legacy_row``); the truth of each record is the seed's
``refers_to`` / ``related`` identity number (a newborn is its own person). Tax rows name the
legal representative only by name and are left out.

Measured (pairwise, over every pair of records):

* ``identity numbers only`` — the baseline in the same run: only the deterministic links of
  records whose numbers normalize to the same valid number (what the standardize stage alone
  gives; every quarantined number stays apart);
* ``engine`` — deterministic + probabilistic links (review band left undecided);
* ``engine + review`` — the review band decided by an oracle reviewer (the truth).

Two scenarios: the rows as seeded, and a stress run in which every 人社 row has lost its
identity number (name, sex and birthday only), so those rows can only be linked by the
probabilistic model.

Link precision counts the accepted link decisions themselves. Timed: ``resolve`` (normalizing,
blocking, scoring, deciding, clustering); the seed's generation is not timed.

    .venv/bin/python bench/entity_resolution.py --persons 20000
"""

from __future__ import annotations

import argparse
import platform
import random
import sys
import time
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bus.demo import seed as gongan_seed
from bus.demo.departments import civil_affairs, health, hrss, market, tax
from bus.demo.departments.population import Population, build_population
from projections.resolution import (
    Clusters,
    DecisionKind,
    EnterpriseRecord,
    PersonRecord,
    RecordRef,
    decide_review,
    features_of,
    link_enterprises,
    pending_reviews,
    records_from_legacy_row,
    resolve,
)

DECIDED_AT = datetime(2024, 6, 3, 12, 0, tzinfo=UTC)
GONGAN_COLUMNS = ("RYBH", "SFZH", "XM", "XB", "CSRQ", "HJDZ", "XZQH", "GXSJ")
HRSS_COLUMNS = ("AAC001", "AAC002", "AAC003", "AAC004", "AAC006", "AAB001", "AAC008", "AAE036")
MARKET_COLUMNS = ("TYSHXYDM", "QYMC", "FDDBR_SFZH", "FDDBR_XM", "ZCZB", "CLRQ", "DJZT", "GXSJ")
HEALTH_COLUMNS = ("CSZMBH", "XSEXM", "XSEXB", "CSRQ", "CSSJ", "MQ_SFZH", "MQ_XM", "FQ_SFZH", "FQ_XM",
                  "CSDD", "QFRQ", "GXSJ")
DBJZ_COLUMNS = tuple(name for name, _ in civil_affairs.DBJZ_FIELDS)


@dataclass(frozen=True, slots=True)
class Seeded:
    records: list[PersonRecord]
    truth: dict[str, str]  # record reference key → true identity
    per_table: Counter[str]


def seeded_records(persons: int, seed: int) -> Seeded:
    """Every person mention of the seeded departments, with its true identity."""
    population = build_population(persons, seed)
    records: list[PersonRecord] = []
    truth: dict[str, str] = {}
    per_table: Counter[str] = Counter()

    def add(department: str, table: str, key: str, row: Mapping[str, Any],
            identities: Mapping[str, str]) -> None:
        for record in records_from_legacy_row(department, table, key, row):
            records.append(record)
            truth[record.ref.key] = identities[record.ref.role]
            per_table[f"{department}.{table}"] += 1

    rows = gongan_seed._generate(random.Random(seed), persons)  # the generators, no databases
    for (row, _), person in zip(rows, population.persons, strict=True):
        add("gongan", "hj_ryxx", row[0], dict(zip(GONGAN_COLUMNS, row, strict=True)), {"person": person.id18})
    ac01, ac01_truth = hrss._generate(random.Random(f"{seed}:hrss"), population)
    for row, line in zip(ac01, ac01_truth, strict=True):
        add("rsj", "ac01", row[0], dict(zip(HRSS_COLUMNS, row, strict=True)),
            {"insured": _known(line.refers_to)})
    qy, qy_truth = market._generate(random.Random(f"{seed}:market"), population)
    for row, line in zip(qy, qy_truth, strict=True):
        add("scjg", "qy_jbxx", row[0], dict(zip(MARKET_COLUMNS, row, strict=True)),
            {"legal_rep": _known(line.related["legal_rep"])})
    _civil_affairs(population, add)
    births, births_truth = health._generate(random.Random(f"{seed}:health"), population)
    for row, line in zip(births, births_truth, strict=True):
        add("wsjk", "csyxzm", row[0], dict(zip(HEALTH_COLUMNS, row, strict=True)),
            {"mother": _known(line.refers_to), "father": str(line.related.get("father")),
             "newborn": f"newborn:{row[0]}"})
    return Seeded(records, truth, per_table)


def _civil_affairs(population: Population, add: Any) -> None:
    rng = random.Random(f"{population.seed}:civil_affairs")
    marriages, judge_marriage = civil_affairs._marriages(rng, population)
    assistance, judge_assistance = civil_affairs._assistance(rng, population)
    for history in marriages:
        if (row := history[-1]) is not None:
            line = judge_marriage(row)
            add("mz", "hydj", row[0], dict(zip(civil_affairs.HYDJ_COLUMNS, row, strict=True)),
                {"husband": _known(line.refers_to), "wife": _known(line.related["wife"])})
    for history in assistance:
        if (row := history[-1]) is not None:
            line = judge_assistance(row)
            add("mz", "dbjz", row[0], dict(zip(DBJZ_COLUMNS, row, strict=True)),
                {"recipient": _known(line.refers_to)})


def _known(identity: str | None) -> str:
    if identity is None:
        raise ValueError("a seeded person mention without a true identity")
    return identity


# -- measuring -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Quality:
    name: str
    links: int
    link_precision: float | None
    predicted_pairs: int
    true_pairs: int
    correct_pairs: int
    broken_recall: float

    @property
    def precision(self) -> float:
        return self.correct_pairs / self.predicted_pairs if self.predicted_pairs else 1.0

    @property
    def recall(self) -> float:
        return self.correct_pairs / self.true_pairs if self.true_pairs else 1.0

    @property
    def f1(self) -> float:
        total = self.precision + self.recall
        return 2 * self.precision * self.recall / total if total else 0.0


def _pairs(sizes: Iterable[int]) -> int:
    return sum(n * (n - 1) // 2 for n in sizes)


def measure(name: str, clusters: Clusters, truth: Mapping[str, str], broken: set[str]) -> Quality:
    """Pairwise precision/recall of the clusters; recall on the true pairs with a broken number."""
    predicted = {key: clusters.cluster_id(key) for key in truth}
    cells = Counter((predicted[key], truth[key]) for key in truth)
    links = list(clusters.pairs(DecisionKind.ACCEPTED))
    right_links = sum(truth[d.left.key] == truth[d.right.key] for d in links)
    members: dict[str, list[str]] = {}
    for key, identity in truth.items():
        members.setdefault(identity, []).append(key)
    broken_true = broken_found = 0
    for group in members.values():
        for position, a in enumerate(group):
            for b in group[position + 1:]:
                if a in broken or b in broken:
                    broken_true += 1
                    broken_found += predicted[a] == predicted[b]
    return Quality(
        name, len(links), right_links / len(links) if links else None,
        _pairs(Counter(predicted.values()).values()), _pairs(Counter(truth.values()).values()),
        _pairs(cells.values()), broken_found / broken_true if broken_true else 1.0,
    )


def oracle_review(clusters: Clusters, truth: Mapping[str, str]) -> int:
    """Decide every pending pair as the truth says; the number decided."""
    items = pending_reviews(clusters)
    for item in items:
        same = truth[item.left] == truth[item.right]
        clusters.apply(decide_review(clusters, item.pair_id, accept=same, by="oracle", at=DECIDED_AT))
    return len(items)


def run_scenario(title: str, records: list[PersonRecord], truth: Mapping[str, str]) -> list[str]:
    """Resolve ``records`` (timed), measure baseline, engine and engine + review; the report lines."""
    broken = {r.ref.key for r in records if not features_of(r).identity_valid}
    started = time.perf_counter()
    resolution = resolve(records, decided_at=DECIDED_AT)
    elapsed = time.perf_counter() - started
    baseline = Clusters(d for d in resolution.decisions if d.rule == "identity_number")
    rows = [measure("identity numbers only", baseline, truth, broken),
            measure("engine", resolution.clusters, truth, broken)]
    reviewed = Clusters(resolution.decisions)
    pending = oracle_review(reviewed, truth)
    rows.append(measure("engine + review", reviewed, truth, broken))
    stats = resolution.stats
    lines = [
        f"### {title}",
        "",
        f"{stats.records:,} records, {len(broken):,} without a valid identity number; resolved in "
        f"{elapsed:.2f} s = {stats.records / elapsed:,.0f} records/s; candidate pairs scored "
        f"{stats.candidate_pairs:,}; links: identity {stats.identity_links:,}, probabilistic "
        f"{stats.probabilistic_links:,}; review band {pending:,} pairs.",
        "",
        "| clusters from | links | link precision | pairs predicted | true pairs | precision | recall | F1 "
        "| recall, pairs with a broken number |",
        "|---|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for q in rows:
        link_precision = "—" if q.link_precision is None else f"{q.link_precision:.4f}"
        lines.append(f"| {q.name} | {q.links:,} | {link_precision} | {q.predicted_pairs:,} "
                     f"| {q.true_pairs:,} | {q.precision:.4f} | {q.recall:.4f} | {q.f1:.4f} "
                     f"| {q.broken_recall:.4f} |")
    return [*lines, ""]


def enterprise_lines(persons: int, seed: int) -> list[str]:
    """Enterprises of 市场监管 and 税务 linked on credit codes, against the seed's ``refers_to``."""
    population = build_population(persons, seed)
    records: list[EnterpriseRecord] = []
    truth: dict[str, str] = {}
    sources = (("scjg", "qy_jbxx", market._generate(random.Random(f"{seed}:market"), population)),
               ("sw", "swdj", tax._generate(random.Random(f"{seed}:tax"), population)))
    for department, table, (rows, truths) in sources:
        for row, line in zip(rows, truths, strict=True):
            record = EnterpriseRecord(RecordRef(department, table, str(row[0]), "enterprise"), str(row[0]),
                                      str(row[1]))
            records.append(record)
            truth[record.ref.key] = _known(line.refers_to)
    started = time.perf_counter()
    decisions = link_enterprises(records, decided_at=DECIDED_AT)
    elapsed = time.perf_counter() - started
    no_broken: set[str] = set()
    rows_out = [measure("valid credit codes only", Clusters(d for d in decisions if d.rule == "credit_code"),
                        truth, no_broken),
                measure("credit codes + same body and name", Clusters(decisions), truth, no_broken)]
    lines = ["### Enterprises: 市场监管 qy_jbxx and 税务 swdj on credit codes", "",
             f"{len(records):,} records linked in {elapsed:.2f} s.", "",
             "| clusters from | links | link precision | pairs predicted | true pairs | precision | recall |",
             "|---|--:|--:|--:|--:|--:|--:|"]
    for q in rows_out:
        link_precision = "—" if q.link_precision is None else f"{q.link_precision:.4f}"
        lines.append(f"| {q.name} | {q.links:,} | {link_precision} | {q.predicted_pairs:,} "
                     f"| {q.true_pairs:,} | {q.precision:.4f} | {q.recall:.4f} |")
    return [*lines, ""]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--persons", type=int, default=20_000, help="residents of the seed (default 20,000)")
    parser.add_argument("--seed", type=int, default=gongan_seed.DEFAULT_SEED)
    args = parser.parse_args(argv)

    started = time.perf_counter()
    seeded = seeded_records(args.persons, args.seed)
    generated = time.perf_counter() - started
    print(f"persons {args.persons:,}, seed {args.seed}; person records by table: "
          f"{', '.join(f'{t} {n:,}' for t, n in sorted(seeded.per_table.items()))}; generated in "
          f"{generated:.1f} s (not timed); Python {platform.python_version()}\n")
    print("\n".join(run_scenario("As seeded", seeded.records, seeded.truth)))
    # Stress: 人社 keeps names, sex and birthdays but loses every identity number, so its rows
    # can only be linked by the probabilistic model (and the review band gets work).
    stripped = [replace(r, identity_number=None) if r.ref.table == "ac01" else r for r in seeded.records]
    print("\n".join(run_scenario("Stress: every 人社 identity number removed", stripped, seeded.truth)))
    print("\n".join(enterprise_lines(args.persons, args.seed)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
