"""Profiles from several departments: survivorship, provenance, conflicts, facets, versions."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from projections.citizen_profile.extract import authority, from_event
from projections.citizen_profile.queries import CitizenProfileQueries
from projections.profiles.model import AUTHORITATIVE, MOST_RECENT, Contribution, Provenance, derive
from projections.profiles.store import InputPosition, ProfileStore

WANG = "330106199003071236"
LI = "330106199205081227"
ZHAO = "110101198801011232"
T0 = 1_700_000_000_000


def source(department: str, table: str, key: str, minute: int = 0, op: str = "c") -> dict[str, Any]:
    return {"department": department, "table": table, "record_key": key, "event_id": f"evt-{key}",
            "op": op, "updated_at": datetime(2024, 3, 7, 8, minute, tzinfo=UTC)}


def person(number: str = WANG, name: str = "王小明", minute: int = 0) -> dict[str, Any]:
    return {"identity_number": number, "name": name, "sex_code": "1", "birth_date": date(1990, 3, 7),
            "division_code": "330106", "household_address": "杭州市西湖区",
            "source": source("gongan", "hj_ryxx", f"R-{number[-4:]}", minute)}


def insured(number: str = WANG, name: str = "王小明", minute: int = 5) -> dict[str, Any]:
    return {"insurance_number": f"S{number[-6:]}", "identity_number": number, "name": name,
            "sex_code": "1", "birth_date": date(1990, 3, 7),
            "employer_credit_code": "91350100M000100Y43", "status_code": "paying",
            "source": source("rsj", "ac01", f"A{number[-4:]}", minute)}


def marriage(husband: str, wife: str, number: str = "M1") -> dict[str, Any]:
    return {"registration_number": number, "husband_identity_number": husband,
            "husband_name": "王小明", "wife_identity_number": wife, "wife_name": "李丽",
            "registration_type": "marriage", "registration_date": date(2015, 5, 20),
            "source": source("mz", "hydj", number, 10)}


class Feed:
    """Drives a store the way the worker does, one offset per topic and event."""

    def __init__(self, store: ProfileStore) -> None:
        self.store = store
        self.offsets: dict[str, int] = {}
        self.clock = T0

    def send(self, topic: str, key: dict[str, Any], event: dict[str, Any] | None) -> list[str] | None:
        offset = self.offsets.get(topic, 0)
        self.offsets[topic] = offset + 1
        self.clock += 1000
        at = InputPosition(topic, 0, offset, self.clock)
        source_key, contributions = from_event(at, key, event)
        return self.store.apply(at, source_key, contributions)


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "citizen_profile.sqlite"


@pytest.fixture
def store(path: Path) -> Iterator[ProfileStore]:
    store = ProfileStore(path, authority())
    yield store
    store.close()


@pytest.fixture
def feed(store: ProfileStore) -> Feed:
    return Feed(store)


def test_the_authoritative_source_wins_and_the_other_value_is_a_conflict(
        feed: Feed, store: ProfileStore, path: Path) -> None:
    feed.send("std.person", {"identity_number": WANG}, person())
    feed.send("std.social_insurance", {"insurance_number": f"S{WANG[-6:]}"}, insured(name="王晓明"))

    profile = CitizenProfileQueries(path).get(WANG)
    assert profile is not None
    assert profile["name"] == "王小明"  # Public Security's, although HRSS's is more recent
    assert profile["provenance"]["name"]["rule"] == AUTHORITATIVE
    assert profile["provenance"]["name"]["department"] == "gongan"
    assert profile["social_insurance"][0]["status_code"] == "paying"
    assert profile["social_insurance"][0]["source"]["department"] == "rsj"
    conflicts = [json.loads(body) for _id, kind, _key, body in store.pending() if kind == "conflict"]
    assert [(c["field"], c["authoritative_value"], c["other_value"], c["addressed_to"])
            for c in conflicts] == [("name", "王小明", "王晓明", "gongan")]


def test_a_conflict_is_reported_once_and_again_only_if_it_returns(feed: Feed, store: ProfileStore) -> None:
    feed.send("std.person", {"identity_number": WANG}, person())
    key = {"insurance_number": f"S{WANG[-6:]}"}
    feed.send("std.social_insurance", key, insured(name="王晓明"))
    feed.send("std.social_insurance", key, insured(name="王晓明", minute=7))  # same disagreement
    feed.send("std.social_insurance", key, insured(name="王小明", minute=8))  # fixed
    feed.send("std.social_insurance", key, insured(name="王肖明", minute=9))  # a new one
    values = [json.loads(body)["other_value"] for _i, kind, _k, body in store.pending()
              if kind == "conflict"]
    assert values == ["王晓明", "王肖明"]


def test_without_the_authority_the_most_recent_value_survives(feed: Feed, path: Path) -> None:
    feed.send("std.social_insurance", {"insurance_number": "S1"}, insured(ZHAO, "赵刚", minute=5))
    feed.send("std.social_assistance", {"assistance_number": "D1"}, {
        "assistance_number": "D1", "identity_number": ZHAO, "name": "赵钢",
        "assistance_type": "minimum_living", "amount": Decimal("820.50"),
        "payment_date": date(2024, 3, 1), "source": source("mz", "dbjz", "D1", 3)})

    profile = CitizenProfileQueries(path).get(ZHAO)
    assert profile is not None
    assert profile["name"] == "赵刚"  # HRSS at 08:05 is newer than Civil Affairs at 08:03
    assert profile["provenance"]["name"]["rule"] == MOST_RECENT
    assert profile["social_assistance"][0]["amount"] == "820.50"


def test_a_marriage_belongs_to_both_spouses_and_moves_when_corrected(feed: Feed, path: Path) -> None:
    queries = CitizenProfileQueries(path)
    feed.send("std.marriage", {"registration_number": "M1"}, marriage(WANG, ZHAO))
    assert feed.send("std.marriage", {"registration_number": "M1"}, marriage(WANG, LI)) == sorted(
        [LI, WANG, ZHAO])
    wang, li = queries.get(WANG), queries.get(LI)
    assert wang is not None and li is not None
    assert wang["marriages"][0]["spouse_identity_number"] == LI
    assert li["marriages"][0]["role"] == "wife"
    assert queries.get(ZHAO) is None  # the wrongly named wife has no record left


def test_removing_one_department_keeps_what_the_others_know(feed: Feed, path: Path) -> None:
    queries = CitizenProfileQueries(path)
    feed.send("std.person", {"identity_number": WANG}, person())
    feed.send("std.social_insurance", {"insurance_number": f"S{WANG[-6:]}"}, insured(name="王晓明"))
    feed.send("std.person", {"identity_number": WANG}, None)  # deleted at Public Security

    profile = queries.get(WANG)
    assert profile is not None
    assert profile["name"] == "王晓明" and profile["provenance"]["name"]["department"] == "rsj"
    feed.send("std.social_insurance", {"insurance_number": f"S{WANG[-6:]}"}, None)
    assert queries.get(WANG) is None


def test_every_version_is_kept_and_readable_as_of_its_time(feed: Feed, path: Path) -> None:
    queries = CitizenProfileQueries(path)
    feed.send("std.person", {"identity_number": WANG}, person())                 # T0 + 1 s
    feed.send("std.person", {"identity_number": WANG}, person(name="王晓明"))    # T0 + 2 s
    feed.send("std.person", {"identity_number": WANG}, None)                     # T0 + 3 s

    def as_of(ms: int) -> dict[str, Any] | None:
        return queries.get(WANG, datetime.fromtimestamp(ms / 1000, UTC))

    assert as_of(T0) is None
    first = as_of(T0 + 1500)
    assert first is not None and (first["name"], first["version"]) == ("王小明", 1)
    second = as_of(T0 + 2000)
    assert second is not None and (second["name"], second["version"]) == ("王晓明", 2)
    assert as_of(T0 + 3000) is None and queries.get(WANG) is None


def test_only_the_subjects_an_event_is_about_get_a_new_version(feed: Feed, path: Path) -> None:
    feed.send("std.person", {"identity_number": WANG}, person())
    assert feed.send("std.person", {"identity_number": LI}, person(LI, "李丽")) == [LI]
    assert feed.send("std.marriage", {"registration_number": "M1"}, marriage(WANG, LI)) == sorted([LI, WANG])
    profile = CitizenProfileQueries(path).get(WANG)
    assert profile is not None and profile["version"] == 2


def test_the_same_events_build_the_same_store(tmp_path: Path) -> None:
    """Deterministic: a rebuild from the log equals the live store (same checksum)."""
    stores = [ProfileStore(tmp_path / f"{n}.sqlite", authority()) for n in (1, 2)]
    try:
        for store in stores:
            feed = Feed(store)
            feed.send("std.person", {"identity_number": WANG}, person())
            feed.send("std.marriage", {"registration_number": "M1"}, marriage(WANG, LI))
            feed.send("std.social_insurance", {"insurance_number": "S1"}, insured(LI, "李丽"))
        assert stores[0].checksum() == stores[1].checksum()
    finally:
        for store in stores:
            store.close()


def test_derive_ignores_missing_values_and_orders_by_time_then_position() -> None:
    def at(ms: int, offset: int, department: str = "rsj") -> Provenance:
        return Provenance(ms, "t", 0, offset, department, "x", "k", "e")

    profile, conflicts = derive("s", [
        Contribution("s", at(2, 1), {"name": "later", "address": None}),
        Contribution("s", at(2, 0), {"name": "earlier", "address": "A"}),
        Contribution("s", at(1, 5), {"name": "oldest"}),
    ], {})
    assert profile.fields["name"][0] == "later"
    assert profile.fields["address"][0] == "A"
    assert conflicts == []


def test_a_profile_that_comes_back_after_a_delete_continues_its_versions(feed: Feed, path: Path) -> None:
    queries = CitizenProfileQueries(path)
    feed.send("std.person", {"identity_number": WANG}, person())
    feed.send("std.person", {"identity_number": WANG}, None)
    feed.send("std.person", {"identity_number": WANG}, person(name="王晓明"))
    profile = queries.get(WANG)
    assert profile is not None and (profile["name"], profile["version"]) == ("王晓明", 3)
