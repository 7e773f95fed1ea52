"""The citizen_profile read store: idempotent applies with positions, and its read-side queries."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from projections.citizen_profile.extract import authority, from_event
from projections.citizen_profile.queries import CitizenProfileQueries
from projections.profiles.model import Contribution, Provenance
from projections.profiles.store import InputPosition, ProfileStore

TOPIC = "std.person"


class CitizenProfileStore(ProfileStore):
    """The store as the worker drives it, for ``std.person`` events given as dicts."""

    def __init__(self, path: Path) -> None:
        super().__init__(path, authority())

    def apply_person(self, at: InputPosition, number: str, event: dict[str, Any] | None) -> bool:
        source_key, contributions = from_event(at, {"identity_number": number}, event)
        return self.apply(at, source_key, contributions) is not None


def person(number: str = "330106199003071236", name: str = "王小明", **changes: Any) -> dict[str, Any]:
    value: dict[str, Any] = {
        "identity_number": number, "name": name, "sex_code": "1", "birth_date": date(1990, 3, 7),
        "division_code": "330106", "household_address": "杭州市西湖区",
        "source": {"department": "gongan", "table": "hj_ryxx", "record_key": "R1",
                   "event_id": "evt-1", "op": "c",
                   "updated_at": datetime(2024, 3, 7, 0, 30, 15, tzinfo=UTC)},
    }
    value.update(changes)
    return value


def at(offset: int, partition: int = 0) -> InputPosition:
    return InputPosition(TOPIC, partition, offset)


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "projections" / "citizen_profile.sqlite"


@pytest.fixture
def store(path: Path) -> Iterator[CitizenProfileStore]:
    store = CitizenProfileStore(path)
    yield store
    store.close()


@pytest.fixture
def queries(path: Path) -> CitizenProfileQueries:
    return CitizenProfileQueries(path)


def test_the_store_creates_its_directory_and_file(path: Path, store: CitizenProfileStore) -> None:
    assert path.is_file()


def test_applying_a_person_stores_a_profile_at_version_one(
    store: CitizenProfileStore, queries: CitizenProfileQueries,
) -> None:
    assert store.apply_person(at(0, partition=2), "330106199003071236", person()) is True

    profile = queries.get("330106199003071236")
    assert profile is not None
    assert profile["name"] == "王小明"
    assert profile["birth_date"] == "1990-03-07"
    assert profile["division_code"] == "330106"
    assert profile["version"] == 1
    assert profile["source"] == {"department": "gongan", "table": "hj_ryxx", "record_key": "R1",
                                 "event_id": "evt-1", "op": "c",
                                 "updated_at": "2024-03-07T00:30:15+00:00"}
    assert profile["position"] == {"topic": TOPIC, "partition": 2, "offset": 0}


def test_a_later_event_for_the_same_person_updates_the_profile_and_its_version(
    store: CitizenProfileStore, queries: CitizenProfileQueries,
) -> None:
    store.apply_person(at(0), "330106199003071236", person())
    source = {**person()["source"], "event_id": "evt-2", "op": "u", "updated_at": None}

    assert store.apply_person(at(1), "330106199003071236",
                       person(name="王晓明", household_address=None, source=source)) is True

    profile = queries.get("330106199003071236")
    assert profile is not None
    assert (profile["name"], profile["version"]) == ("王晓明", 2)
    assert profile["household_address"] is None
    assert profile["source"]["event_id"] == "evt-2"
    assert profile["source"]["updated_at"] is None
    assert profile["position"]["offset"] == 1
    assert queries.count() == 1


@pytest.mark.parametrize("offset", [5, 4, 0])
def test_reapplying_the_same_or_an_older_offset_changes_nothing(
    store: CitizenProfileStore, queries: CitizenProfileQueries, offset: int,
) -> None:
    store.apply_person(at(5), "330106199003071236", person())

    assert store.apply_person(at(offset), "330106199003071236", person(name="重放")) is False

    profile = queries.get("330106199003071236")
    assert profile is not None
    assert (profile["name"], profile["version"]) == ("王小明", 1)
    assert store.next_offset(TOPIC, 0) == 6


def test_a_delete_removes_the_profile_and_still_moves_the_position(
    store: CitizenProfileStore, queries: CitizenProfileQueries,
) -> None:
    store.apply_person(at(0), "330106199003071236", person())

    assert store.apply_person(at(1), "330106199003071236", None) is True

    assert queries.get("330106199003071236") is None
    assert queries.count() == 0
    assert store.next_offset(TOPIC, 0) == 2


def test_positions_are_kept_per_partition(
    store: CitizenProfileStore, queries: CitizenProfileQueries,
) -> None:
    store.apply_person(at(10, partition=0), "330106199003071236", person())
    store.apply_person(at(3, partition=1), "110101199003071234", person("110101199003071234"))

    assert store.next_offset(TOPIC, 0) == 11
    assert store.next_offset(TOPIC, 1) == 4
    assert store.next_offset(TOPIC, 2) == 0
    assert store.next_offset("other", 0) == 0
    assert store.apply_person(at(3, partition=0), "x", person("x")) is False  # behind partition 0
    assert store.apply_person(at(4, partition=1), "x", person("x")) is True
    assert sorted((p["partition"], p["next_offset"]) for p in queries.positions()) == [(0, 11), (1, 5)]


def test_a_failing_apply_rolls_back_row_and_position(
    store: CitizenProfileStore, queries: CitizenProfileQueries,
) -> None:
    provenance = Provenance(0, TOPIC, 0, 0, "gongan", "hj_ryxx", "R1", "evt-1")
    unstorable = Contribution("330106199003071236", provenance, {"name": "王小明"}, "x",
                              {"bad": object()})  # type: ignore[dict-item]

    with pytest.raises(TypeError):
        store.apply(at(0), "330106199003071236", [unstorable])

    assert queries.count() == 0
    assert store.next_offset(TOPIC, 0) == 0
    assert store.apply_person(at(0), "330106199003071236", person()) is True


def test_positions_survive_reopening_the_store(path: Path) -> None:
    first = CitizenProfileStore(path)
    first.apply_person(at(7), "330106199003071236", person())
    first.close()

    reopened = CitizenProfileStore(path)
    try:
        assert reopened.next_offset(TOPIC, 0) == 8
        assert reopened.apply_person(at(7), "330106199003071236", person(name="重放")) is False
    finally:
        reopened.close()


# --- queries ---------------------------------------------------------------------------------

NUMBERS = [f"3301061990030{i:04d}" for i in range(7)]


def fill(store: CitizenProfileStore) -> None:
    for offset, number in enumerate(reversed(NUMBERS)):
        store.apply_person(at(offset), number, person(number))


def test_a_page_lists_profiles_in_identity_number_order_with_a_next_cursor(
    store: CitizenProfileStore, queries: CitizenProfileQueries,
) -> None:
    fill(store)

    page = queries.page(3)

    assert [p["identity_number"] for p in page.items] == NUMBERS[:3]
    assert page.next == NUMBERS[2]


def test_following_next_cursors_visits_every_profile_once(
    store: CitizenProfileStore, queries: CitizenProfileQueries,
) -> None:
    fill(store)
    seen: list[str] = []
    cursor: str | None = None

    for _ in range(10):
        page = queries.page(3, cursor)
        seen += [p["identity_number"] for p in page.items]
        cursor = page.next
        if cursor is None:
            break

    assert seen == NUMBERS


def test_a_page_that_reaches_the_end_exactly_has_no_next_cursor(
    store: CitizenProfileStore, queries: CitizenProfileQueries,
) -> None:
    fill(store)

    assert queries.page(7).next is None
    assert queries.page(6).next == NUMBERS[5]
    assert queries.page(3, NUMBERS[3]).next is None


def test_count_and_get_reflect_the_store(store: CitizenProfileStore, queries: CitizenProfileQueries) -> None:
    fill(store)

    assert queries.count() == 7
    assert queries.get(NUMBERS[4]) is not None
    assert queries.get("110101199003071234") is None


def test_queries_on_a_missing_file_return_empty_answers(tmp_path: Path) -> None:
    missing = CitizenProfileQueries(tmp_path / "nowhere.sqlite")

    assert missing.page(10).items == []
    assert missing.page(10).next is None
    assert missing.get("330106199003071236") is None
    assert missing.count() == 0
    assert missing.positions() == []
    assert not (tmp_path / "nowhere.sqlite").exists()


def test_queries_on_a_file_without_tables_return_empty_answers(tmp_path: Path) -> None:
    empty = tmp_path / "empty.sqlite"
    empty.write_bytes(b"")
    queries = CitizenProfileQueries(empty)

    assert queries.page(10).items == []
    assert queries.get("330106199003071236") is None
    assert queries.count() == 0
    assert queries.positions() == []


def test_queries_release_the_file_so_the_writer_keeps_applying(
    path: Path, store: CitizenProfileStore, queries: CitizenProfileQueries,
) -> None:
    fill(store)
    before = store.next_offset(TOPIC, 0)

    queries.page(100)
    queries.get(NUMBERS[0])

    assert store.next_offset(TOPIC, 0) == before
    assert store.apply_person(at(before), NUMBERS[0], person(NUMBERS[0], name="新")) is True
    after = queries.get(NUMBERS[0])
    assert after is not None
    assert after["name"] == "新"
