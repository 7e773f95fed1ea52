"""SIGKILL the capture and the projections again and again while all six departments load.

The reference government is seeded from one population (``BUS_E2E_DEPARTMENT_PERSONS``, default
1,500) into its real engines: Public Security and Health in SQLite, HRSS (binlog) and Tax
(polling) in a throw-away MariaDB, Market Regulation (logical decoding) in a throw-away
PostgreSQL, Civil Affairs as three nights of GBK file drops. ``bus adapters run`` (the
reference capture configuration, its polled tables paced to 80 rows a second so the capture's
work outlasts its kills) and ``bus projections run`` run as real processes and are each
SIGKILLed several times while they work, at moments drawn from a seeded RNG
(``BUS_E2E_KILL_SEED``). Everything expected is derived from the seed's ground-truth files:

- every raw topic holds each legacy change exactly once (Civil Affairs: the first night's
  extract, then each change between nights);
- every ``std.*`` topic holds one event per accepted change, keyed as the truth says, and every
  ``quarantine.*`` topic one per refused change, with the truth's rule;
- ``citizen_profile`` and ``enterprise_profile`` hold exactly the expected subjects, each with
  exactly the facet items the truth implies; every accepted change touching a subject made one
  version of it, and no input event made two.

Measured locally (two shared cores): 1,500 persons (3,390 legacy changes) take 90–120 s in
all, fixtures included; 2,000 persons took 140–165 s.
"""

from __future__ import annotations

import os
import random
import sqlite3
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bus.demo.departments.civil_affairs import NIGHTS
from bus.demo.departments.government import SeedTargets, seed_government
from bus.demo.seed import DEFAULT_SEED, seed_gongan
from bus.demo.truth import read_truth
from projections.citizen_profile.queries import CitizenProfileQueries
from projections.enterprise_profile.queries import EnterpriseProfileQueries
from tests.e2e.crashes import (
    DEFAULT_KILL_SEED,
    Work,
    committed_counts,
    diff_counters,
    kill_repeatedly,
    logs_on_failure,
    running,
    version_history,
)
from tests.e2e.harness import BusProcess, read_topic, wait_for
from tests.servers.mariadb import MariaDbServer, running_mariadb
from tests.servers.postgres import PostgresServer, postgres_server

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(480)]

REFERENCE_CONFIG = Path(__file__).resolve().parents[2] / "adapters" / "config" / "reference.yaml"
LINK_DECISIONS = "std.link_decision"
#: Tables whose seed only inserts: each row is one change, whatever op the capture names it.
REGISTERS = ("hj_ryxx", "ac01", "qy_jbxx", "swdj", "csyxzm")


def paced_reference(directory: Path) -> Path:
    """The reference configuration with its polled tables paced (``max_rows_per_second``, where
    a table sets none), so the capture's work outlasts its kills: unpaced, a restarted capture
    took its remaining changes before the killer saw it working again."""
    defaults = "  batch_size: ${BUS_CAPTURE_BATCH_SIZE:-500}\n"
    text = REFERENCE_CONFIG.read_text(encoding="utf-8")
    assert defaults in text, "the reference configuration's defaults moved"
    paced = directory / "reference-paced.yaml"
    paced.write_text(text.replace(defaults, defaults + "  max_rows_per_second: 80\n"),
                     encoding="utf-8")
    return paced


def persons() -> int:
    return int(os.environ.get("BUS_E2E_DEPARTMENT_PERSONS", "1500"))


def kill_seed() -> int:
    return int(os.environ.get("BUS_E2E_KILL_SEED", str(DEFAULT_KILL_SEED)))


# -- what the truth implies ---------------------------------------------------------------------


@dataclass(frozen=True)
class Table:
    """A legacy table, its topics, and how its truth lines name the key and the subjects."""

    raw: str
    std: str
    quarantine: str
    key_column: str
    #: The canonical key of its std topic: the truth field holding it ("key": the row's key).
    std_key: str
    #: (truth field, facet or None) per citizen and per enterprise the row is about.
    citizens: tuple[tuple[str, str | None], ...] = ()
    enterprises: tuple[tuple[str, str | None], ...] = ()


TABLES = {
    "hj_ryxx": Table("legacy.gongan.hj_ryxx", "std.person", "quarantine.gongan.hj_ryxx", "RYBH",
                     "canonical_id", citizens=(("canonical_id", None),)),
    "ac01": Table("legacy.rsj.ac01", "std.social_insurance", "quarantine.rsj.ac01", "AAC001", "key",
                  citizens=(("refers_to", "social_insurance"),),
                  enterprises=(("related.employer", "insured_employees"),)),
    "qy_jbxx": Table("legacy.scjg.qy_jbxx", "std.enterprise", "quarantine.scjg.qy_jbxx", "TYSHXYDM",
                     "refers_to", citizens=(("related.legal_rep", "enterprises"),),
                     enterprises=(("refers_to", None),)),
    "swdj": Table("legacy.sw.swdj", "std.tax_registration", "quarantine.sw.swdj", "NSRSBH", "refers_to",
                  enterprises=(("refers_to", "tax_registrations"),)),
    "csyxzm": Table("legacy.wsjk.csyxzm", "std.birth_certificate", "quarantine.wsjk.csyxzm", "CSZMBH",
                    "key", citizens=(("refers_to", "births"), ("related.father", "births"))),
    "hydj": Table("legacy.mz.hydj", "std.marriage", "quarantine.mz.hydj", "DJBH", "key",
                  citizens=(("refers_to", "marriages"), ("related.wife", "marriages"))),
    "dbjz": Table("legacy.mz.dbjz", "std.social_assistance", "quarantine.mz.dbjz", "JZBH", "key",
                  citizens=(("refers_to", "social_assistance"),)),
}
#: The field of a facet item naming the record it came from.
ITEM_KEY = {"social_insurance": "insurance_number", "enterprises": "credit_code", "births":
            "certificate_number", "marriages": "registration_number", "social_assistance":
            "assistance_number", "tax_registrations": "taxpayer_id", "insured_employees":
            "insurance_number"}
#: The truth field holding that value, where it is not the row's key (a canonical credit code).
ITEM_TRUTH = {"enterprises": "refers_to", "tax_registrations": "refers_to"}


@dataclass(frozen=True)
class Change:
    """One legacy change the capture must publish, with the truth line of the image judged."""

    table: str
    op: str
    line: dict[str, Any]

    @property
    def key(self) -> str:
        return str(self.line.get("key", self.line.get("RYBH")))

    @property
    def accepted(self) -> bool:
        return bool(self.line["outcome"] == "accepted")

    def field(self, name: str) -> str | None:
        value: Any = self.line
        for part in name.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        return None if value is None else str(value)

    def subjects(self, kind: str) -> Iterator[tuple[str, str | None]]:
        table = TABLES[self.table]
        for name, facet in table.citizens if kind == "citizen" else table.enterprises:
            if (subject := self.field(name)) is not None:
                yield subject, facet


@dataclass(frozen=True)
class Expected:
    changes: list[Change]
    #: The changes standing at the end (the latest image of every row still present).
    final: list[Change]

    def raw(self, table: str) -> Counter[str]:
        return Counter(f"{c.key}/{c.op}" for c in self.changes if c.table == table)

    def std(self, table: str) -> Counter[str]:
        """Canonical keys, ``/-`` for a delete's tombstone."""
        return Counter(f"{c.field(TABLES[table].std_key)}/{'-' if c.op == 'd' else '+'}"
                       for c in self.changes if c.table == table and c.accepted)

    def deletes(self, table: str) -> int:
        return sum(c.op == "d" for c in self.changes if c.table == table)

    def quarantined(self, table: str) -> Counter[str]:
        return Counter(f"{c.key}/{c.line['reason']}" for c in self.changes
                       if c.table == table and not c.accepted)

    def versions(self, kind: str) -> Counter[str]:
        """Each accepted change touching a subject makes one version of its profile."""
        return Counter(s for c in self.changes if c.accepted for s in {s for s, _ in c.subjects(kind)})

    def profiles(self, kind: str) -> dict[str, dict[str, Counter[str]]]:
        """Every subject with a record standing at the end, and its facets' item keys."""
        found: dict[str, dict[str, Counter[str]]] = defaultdict(dict)
        for change in self.final:
            if not change.accepted:
                continue
            for subject, facet in change.subjects(kind):
                facets = found[subject]
                if facet is not None:
                    item = change.field(ITEM_TRUTH.get(facet, "key"))
                    facets.setdefault(facet, Counter())[str(item)] += 1
        return dict(found)


def expected_from_truth(legacy: Path, truth_dir: Path) -> Expected:
    """The changes the seed implies: one per row of the register-like tables; Civil Affairs'
    first extract, then every change its truth lists between nights (a delete is judged on the
    image it removes)."""
    changes: list[Change] = []
    final: list[Change] = []
    for table, path in (("hj_ryxx", legacy / "gongan.truth.jsonl"),
                        ("ac01", truth_dir / "hrss" / "ac01.truth.jsonl"),
                        ("qy_jbxx", truth_dir / "market" / "qy_jbxx.truth.jsonl"),
                        ("swdj", truth_dir / "tax" / "swdj.truth.jsonl"),
                        ("csyxzm", truth_dir / "health" / "wsjk.truth.jsonl")):
        lines = [Change(table, "insert", line) for line in read_truth(path)]
        changes += lines
        final += lines
    civil = truth_dir / "civil_affairs"
    nights = [f"{night:%Y%m%d}" for night in NIGHTS]
    for file in ("hydj", "dbjz"):
        images = {night: {str(line["key"]): line
                          for line in read_truth(civil / f"{file}_{night}.truth.jsonl")}
                  for night in nights}
        changes += [Change(file, "r", line) for line in images[nights[0]].values()]
        for change in read_truth(civil / "changes.jsonl"):
            if change["file"] != file:
                continue
            night = str(change["night"])
            judged = images[nights[nights.index(night) - 1] if change["op"] == "d" else night]
            changes.append(Change(file, str(change["op"]), judged[str(change["key"])]))
        final += [Change(file, "final", line) for line in images[nights[-1]].values()]
    return Expected(changes, final)


# -- the legacy engines -------------------------------------------------------------------------


@pytest.fixture
def mariadb() -> Iterator[MariaDbServer]:
    """HRSS's database ``rsj`` and Tax's ``sw``, with the reference configuration's account."""
    with running_mariadb(database="rsj") as server:
        server.execute("CREATE DATABASE sw CHARACTER SET utf8mb4", database="mysql")
        server.create_user("rongtong", "rongtong", "ALL PRIVILEGES")
        yield server


@pytest.fixture
def postgres() -> Iterator[PostgresServer]:
    """Market Regulation's database ``scjg``; the reference configuration's user owns it."""
    yield from postgres_server(dbname="scjg", user="rongtong")


def test_repeated_sigkills_while_six_departments_load_end_with_exactly_the_expected_profiles(
    bus_env: dict[str, str], mariadb: MariaDbServer, postgres: PostgresServer, tmp_path: Path,
) -> None:
    started = time.monotonic()
    state = Path(bus_env["BUS_STATE_DIR"])
    legacy, truth_dir = state / "legacy", state / "legacy" / "truth"
    seed_gongan(legacy / "gongan.sqlite", persons=persons(), seed=DEFAULT_SEED)
    mariadb_target = {**mariadb.connection_settings(), "user": "rongtong", "password": "rongtong"}
    seed_government(SeedTargets(
        truth_dir=truth_dir, hrss_mariadb={**mariadb_target, "database": "rsj"},
        tax_mariadb={**mariadb_target, "database": "sw"}, market_postgres_dsn=postgres.dsn,
        civil_affairs_dir=legacy / "mz", health_sqlite=legacy / "wsjk.sqlite"),
        persons=persons(), seed=DEFAULT_SEED)
    expected = expected_from_truth(legacy, truth_dir)
    seeded = time.monotonic() - started

    env = dict(bus_env, BUS_ADAPTERS_CONFIG=str(paced_reference(tmp_path)),
               BUS_CAPTURE_BATCH_SIZE="50", BUS_LEGACY_MARIADB_PORT=str(mariadb.port),
               BUS_LEGACY_POSTGRES_PORT=str(postgres.port))
    bootstrap, registry = env["BUS_KAFKA_BOOTSTRAP"], env["BUS_REGISTRY_URL"]
    outputs = [t for table in TABLES.values() for t in (table.std, table.quarantine)]
    stores = {kind: state / "projections" / f"{kind}_profile.sqlite" for kind in ("citizen", "enterprise")}
    versions = {kind: expected.versions(kind) for kind in stores}
    profiles = {kind: expected.profiles(kind) for kind in stores}

    def standardized() -> int:
        return sum(n for n, _ in committed_counts(bootstrap, outputs).values())

    def projected() -> int:
        total = 0
        for store in stores.values():
            if not store.exists():
                continue
            try:
                history = version_history(store)
            except sqlite3.OperationalError:  # the file is there, its tables not yet
                continue
            total += sum(history.counts(excluding_topics=[LINK_DECISIONS]).values())
        return total

    def caught_up() -> bool:
        return projected() >= sum(sum(v.values()) for v in versions.values())

    adapters = BusProcess("adapters", ["adapters", "run"], env, tmp_path / "logs")
    projection = BusProcess("projections", ["projections", "run"], env, tmp_path / "logs")
    with logs_on_failure(adapters, projection):
        adapters.start()
        projection.start()
        try:
            kills = kill_repeatedly(
                [Work(adapters, standardized, len(expected.changes)),
                 Work(projection, projected, sum(sum(v.values()) for v in versions.values()))],
                kills_each=3, rng=random.Random(kill_seed()), pause=(0.5, 1.5))
            wait_for(lambda: running(adapters, projection) and standardized() >= len(expected.changes),
                     120, f"{len(expected.changes)} legacy changes standardized")
            loaded = time.monotonic() - started
            wait_for(lambda: running(adapters, projection) and caught_up(), 240,
                     "both profile projections to catch up")
        finally:
            adapters.stop()
            projection.stop()
        print(f"\n{persons()} persons, {len(expected.changes)} legacy changes, kill seed {kill_seed()}: "
              f"kills {', '.join(map(str, kills))}; seeded {seeded:.0f}s, standardized {loaded:.0f}s, "
              f"projected {time.monotonic() - started:.0f}s")
        killed = Counter(k.victim for k in kills)
        assert killed["adapters"] >= 2 and killed["projections"] >= 2, \
            f"each process killed at least twice while it worked: {kills}"

        for name, table in TABLES.items():
            check_topics(bootstrap, registry, name, table, expected)
        for kind, store in stores.items():
            check_versions(kind, store, versions[kind])
        check_citizens(stores["citizen"], profiles["citizen"], expected)
        check_enterprises(stores["enterprise"], profiles["enterprise"])
        print(f"checks done after {time.monotonic() - started:.0f}s")


def check_topics(bootstrap: str, registry: str, name: str, table: Table, expected: Expected) -> None:
    raw = read_topic(bootstrap, registry, table.raw)
    published = Counter(f"{key[table.key_column]}/{'insert' if name in REGISTERS else record['op']}"
                        for key, record in zip(raw.keys, raw.records, strict=True) if record is not None)
    assert published == expected.raw(name), f"{table.raw}: {diff_counters(expected.raw(name), published)}"
    tombstones = sum(record is None for record in raw.records)
    assert tombstones == expected.deletes(name), f"{table.raw}: {tombstones} tombstones"
    canonical = read_topic(bootstrap, registry, table.std)
    keys = Counter(f"{next(iter(key.values()))}/{'-' if record is None else '+'}"
                   for key, record in zip(canonical.keys, canonical.records, strict=True))
    assert keys == expected.std(name), f"{table.std}: {diff_counters(expected.std(name), keys)}"
    refused = read_topic(bootstrap, registry, table.quarantine, decode_keys=False)
    rules = Counter(f"{r['record_key']}/{r['rule_id']}" for r in refused.records if r)
    assert rules == expected.quarantined(name), \
        f"{table.quarantine}: {diff_counters(expected.quarantined(name), rules)}"


def check_versions(kind: str, store: Path, expected: Counter[str]) -> None:
    history = version_history(store)
    assert not history.applied_twice(), f"{kind}: an event applied twice: {history.applied_twice()}"
    assert not history.out_of_order(), f"{kind}: an old event applied again: {history.out_of_order()}"
    assert not history.gaps(), f"{kind}: versions not 1..N: {dict(list(history.gaps().items())[:10])}"
    counts = history.counts(excluding_topics=[LINK_DECISIONS])
    assert counts == expected, f"{kind} versions per subject: {diff_counters(expected, counts)}"


def facets_of(profile: dict[str, Any], names: set[str]) -> dict[str, Counter[str]]:
    return {facet: Counter(str(item[ITEM_KEY[facet]]) for item in profile[facet])
            for facet in names if profile.get(facet)}


def check_citizens(store: Path, expected: dict[str, dict[str, Counter[str]]], changes: Expected) -> None:
    page = CitizenProfileQueries(store).page(limit=len(expected) + 1000)
    found = {p["identity_number"]: p for p in page.items}
    assert set(found) == set(expected), \
        f"citizens: {diff_counters(Counter(expected), Counter(found))}"
    names = {"social_insurance", "marriages", "social_assistance", "births", "enterprises"}
    wrong = {s: (facets_of(p, names), expected[s]) for s, p in found.items()
             if facets_of(p, names) != expected[s]}
    assert not wrong, f"{len(wrong)} citizens with other facet items, e.g. {list(wrong.items())[:3]}"
    registered = defaultdict(set)
    for change in changes.final:
        if change.table == "hj_ryxx" and change.accepted:
            registered[str(change.line["canonical_id"])].add(change.key)
    for number, rows in registered.items():
        source = found[number]["provenance"]["household_address"]
        assert (source["department"], source["record_key"] in rows) == ("gongan", True), (number, source)


def check_enterprises(store: Path, expected: dict[str, dict[str, Counter[str]]]) -> None:
    queries = EnterpriseProfileQueries(store)
    current = version_history(store).current
    assert set(current) == set(expected), f"enterprises: {diff_counters(Counter(expected), Counter(current))}"
    names = {"tax_registrations", "insured_employees"}
    wrong = {}
    for code, facets in expected.items():
        profile = queries.get(code)
        assert profile is not None, code
        if facets_of(profile, names) != facets:
            wrong[code] = (facets_of(profile, names), facets)
    assert not wrong, f"{len(wrong)} enterprises with other facet items, e.g. {list(wrong.items())[:3]}"
