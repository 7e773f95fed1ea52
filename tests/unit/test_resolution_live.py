"""The live resolver: records one at a time give the batch engine's clusters, its decisions
replay to the clusters it holds, a review and a split are events like any other, and a
quarantined row linked to a person joins (and leaves) that person's profile."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from bus.standards.idcard import compute_check_char
from projections.citizen_profile.extract import citizen_projection
from projections.profiles.store import InputPosition, ProfileStore
from projections.resolution import Clusters, DecisionKind, LinkDecision, PersonRecord, RecordRef, resolve
from projections.resolution.live import (
    DECISIONS_TOPIC,
    INPUT_TOPICS,
    LiveResolver,
    UnknownPair,
    mentions,
    review_decision,
    split_decision,
)
from projections.resolution.review import ReviewError
from projections.resolution.store import ResolutionStore

AT = datetime(2024, 6, 3, 12, 0, tzinfo=UTC)
QUARANTINE = "quarantine.mz.hydj"


def number(body: str) -> str:
    return body + compute_check_char(body)


WANG = number("33010619900307123")
BROKEN = WANG[:17] + ("0" if WANG[17] != "0" else "1")
LI = number("33010619920508122")


def ref(department: str, table: str, key: str, role: str) -> RecordRef:
    return RecordRef(department, table, key, role)


P = PersonRecord(ref("gongan", "hj_ryxx", "R1", "person"), WANG, "王小明", "1990-03-07", "1", "330106",
                 "西湖区文三路1号")
Q = PersonRecord(ref("mz", "hydj", "HY1", "husband"), BROKEN, "王小明", None, "1")
R = PersonRecord(ref("rsj", "ac01", "A1", "insured"), None, "王晓铭", "1990-03-07", "1")


class Feed:
    """Feeds a resolver as the agents would: one message per record, offsets per topic."""

    def __init__(self, path: Path) -> None:
        self.store = ResolutionStore(path)
        self.resolver = LiveResolver(self.store)
        self.offsets: dict[str, int] = {}
        self.minute = 0

    def at(self, topic: str) -> InputPosition:
        offset = self.offsets[topic] = self.offsets.get(topic, -1) + 1
        self.minute += 1
        return InputPosition(topic, 0, offset, int(AT.timestamp() * 1000) + self.minute * 60_000)

    def record(self, record: PersonRecord, topic: str = "std.person", key: str | None = None
               ) -> list[LinkDecision]:
        return self.resolver.on_records(self.at(topic), key or record.ref.key, [record]) or []

    def delete(self, key: str, topic: str = "std.person") -> list[LinkDecision]:
        return self.resolver.on_records(self.at(topic), key, None) or []


@pytest.fixture
def feed(tmp_path: Path) -> Feed:
    return Feed(tmp_path / "resolution.sqlite")


def test_a_quarantined_row_with_a_broken_check_digit_is_linked_to_its_person_with_the_number(
        feed: Feed) -> None:
    feed.record(P)
    [decision] = feed.record(Q, QUARANTINE)

    assert (decision.kind, decision.rule) == (DecisionKind.ACCEPTED, "fellegi_sunter")
    assert decision.subject == WANG and decision.joining_ref == Q.ref
    assert {w.field: w.level for w in decision.weights}["identity_number"] == "close"
    assert feed.store.outbox()[0][1] == decision  # queued for std.link_decision


def test_a_pair_in_the_review_band_is_proposed_with_its_weights_and_nothing_below(feed: Feed) -> None:
    feed.record(P)
    [proposal] = feed.record(R, "quarantine.rsj.ac01")
    stranger = PersonRecord(ref("rsj", "ac01", "A2", "insured"), None, "王大力", "1990-03-07", "2")

    assert proposal.kind is DecisionKind.PROPOSED and 8 <= (proposal.score or 0) < 16
    assert feed.record(stranger, "quarantine.rsj.ac01") == []
    assert [d.pair_id for d in feed.store.pending(10)] == [proposal.pair_id]


def test_a_redelivered_message_changes_nothing(feed: Feed) -> None:
    feed.record(P)
    at = feed.at(QUARANTINE)
    first = feed.resolver.on_records(at, "HY1", [Q])

    assert first and feed.resolver.on_records(at, "HY1", [Q]) is None
    assert len(feed.store.history()) == 1


def test_the_same_record_again_decides_nothing_new(feed: Feed) -> None:
    feed.record(P)
    feed.record(Q, QUARANTINE)

    assert feed.record(Q, QUARANTINE) == [] and feed.record(P) == []


def test_a_reviewers_accept_is_applied_from_the_log_and_pins_the_pair(feed: Feed) -> None:
    feed.record(P)
    [proposal] = feed.record(R, "quarantine.rsj.ac01")
    accepted = review_decision(feed.store, proposal.pair_id, accept=True, by="zhang", at=AT,
                               reason="same person")

    assert feed.resolver.on_decision(feed.at(DECISIONS_TOPIC), accepted) is True
    assert accepted.subject == WANG and accepted.joining_ref == R.ref
    assert feed.store.pending(10) == []
    assert feed.store.clusters() == {P.ref.key: (P.ref.key, R.ref.key)}
    # the engine seeing the record again does not undo a person's judgement
    changed = PersonRecord(R.ref, None, "王晓铭", "1990-03-08", "1")
    assert feed.record(changed, "quarantine.rsj.ac01") == []
    assert feed.store.clusters() == {P.ref.key: (P.ref.key, R.ref.key)}


def test_review_commands_refuse_unknown_pairs_and_wrong_states(feed: Feed) -> None:
    feed.record(P)
    [link] = feed.record(Q, QUARANTINE)

    with pytest.raises(UnknownPair):
        review_decision(feed.store, "a|b", accept=True, by="zhang", at=AT)
    with pytest.raises(ReviewError, match="not waiting"):
        review_decision(feed.store, link.pair_id, accept=False, by="zhang", at=AT)
    with pytest.raises(ReviewError, match="reviewer"):
        split_decision(feed.store, link.pair_id, by=" ", at=AT)


def test_a_split_removes_the_link_and_the_engine_does_not_redo_it(feed: Feed) -> None:
    feed.record(P)
    [link] = feed.record(Q, QUARANTINE)
    split = split_decision(feed.store, link.pair_id, by="zhang", at=AT, reason="another man")

    feed.resolver.on_decision(feed.at(DECISIONS_TOPIC), split)

    assert feed.store.clusters() == {} and split.subject is None
    assert feed.record(PersonRecord(Q.ref, BROKEN, "王小明", "1990-03-07", "1"), QUARANTINE) == []


def test_a_deleted_record_and_a_fixed_row_take_the_quarantined_record_out_of_the_profile(
        feed: Feed) -> None:
    feed.record(P)
    feed.record(Q, QUARANTINE, key="HY1")
    fixed = PersonRecord(Q.ref, WANG, "王小明", None, "1")

    [relinked] = feed.record(fixed, "std.marriage", key="HY1")  # replayed after a fix: canonical now
    assert relinked.kind is DecisionKind.ACCEPTED and relinked.rule == "identity_number"
    assert relinked.subject is None  # its own canonical event brings it to the profile now
    [split] = feed.delete("HY1", "std.marriage")
    assert split.kind is DecisionKind.SPLIT and feed.store.clusters() == {}


def test_a_changed_record_that_no_longer_matches_is_split(feed: Feed) -> None:
    feed.record(P)
    feed.record(Q, QUARANTINE)
    [split] = feed.record(PersonRecord(Q.ref, "110101198001010000", "赵四", None, "1"), QUARANTINE)

    assert split.kind is DecisionKind.SPLIT and split.reason == "the records no longer match"


def test_a_link_that_would_merge_two_valid_numbers_goes_to_review(feed: Feed) -> None:
    twin = PersonRecord(ref("gongan", "hj_ryxx", "R2", "person"), number("33010619900307125"), "王小明",
                        "1990-03-07", "1", "330106", "西湖区文三路1号")
    feed.record(P)
    feed.record(twin)
    decisions = feed.record(PersonRecord(ref("rsj", "ac01", "A9", "insured"), None, "王小明", "1990-03-07",
                                         "1"), "quarantine.rsj.ac01")

    assert [d.kind for d in decisions] == [DecisionKind.ACCEPTED, DecisionKind.PROPOSED]
    assert decisions[1].reason == "would merge records of two different valid identity numbers"


def test_mentions_read_canonical_events_and_only_identity_quarantines() -> None:
    row = {"NF_SFZH": BROKEN, "NF_XM": "王小明", "NV_SFZH": LI, "NV_XM": "李丽"}
    quarantined = {"rule_id": "id.checksum", "department": "mz", "table": "hydj", "record_key": "HY1",
                   "original": row}

    assert [r.ref.role for r in mentions(QUARANTINE, quarantined)] == ["husband", "wife"]
    assert mentions(QUARANTINE, {**quarantined, "rule_id": "marriage_type.unknown_code"}) == []
    assert "std.person" in INPUT_TOPICS and "quarantine.mz.hydj" in INPUT_TOPICS
    assert INPUT_TOPICS[-1] == DECISIONS_TOPIC


# -- incremental == batch -----------------------------------------------------------------------


def population() -> list[tuple[PersonRecord, str]]:
    """Persons seen by several departments, some with broken, missing or old numbers, typos."""
    names = ["王小明", "李丽", "张伟", "刘洋", "陈静", "杨帆", "赵磊", "黄敏"]
    out: list[tuple[PersonRecord, str]] = []
    for i, name in enumerate(names):
        born = date(1980 + i, 1 + i, 10 + i)
        body = f"330106{born:%Y%m%d}{100 + i:03d}"[:16] + ("1" if i % 2 else "2")
        valid = number(body)
        sex = "1" if i % 2 else "2"
        out.append((PersonRecord(ref("gongan", "hj_ryxx", f"R{i}", "person"), valid, name, born, sex,
                                 "330106", f"西湖区路{i}号"), "std.person"))
        out.append((PersonRecord(ref("rsj", "ac01", f"A{i}", "insured"), valid, name, born, sex),
                     "std.social_insurance"))
        broken = valid[:17] + ("0" if valid[17] != "0" else "1")
        out.append((PersonRecord(ref("mz", "dbjz", f"D{i}", "recipient"), broken, name),
                    "quarantine.mz.dbjz"))
        if i % 3 == 0:
            out.append((PersonRecord(ref("rsj", "ac01", f"N{i}", "insured"), None, name, born, sex),
                         "quarantine.rsj.ac01"))
        if i % 4 == 1:
            out.append((PersonRecord(ref("scjg", "qy_jbxx", f"E{i}", "legal_rep"), valid, name),
                         "std.enterprise"))
    return out


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_records_one_at_a_time_in_any_order_give_the_batch_clusters(tmp_path: Path, seed: int) -> None:
    records = population()
    random.Random(seed).shuffle(records)
    feed = Feed(tmp_path / "resolution.sqlite")
    for record, topic in records:
        feed.record(record, topic)

    batch = resolve([r for r, _t in records], decided_at=AT)
    expected = {k: v for k, v in batch.clusters.clusters().items() if len(v) > 1}
    assert feed.store.clusters() == expected
    assert len(expected) == 8
    assert {d.pair_id for d in feed.store.pending(100)} == {
        d.pair_id for d in batch.clusters.pairs(DecisionKind.PROPOSED)}


def test_the_decisions_taken_replay_to_the_same_clusters(tmp_path: Path) -> None:
    feed = Feed(tmp_path / "resolution.sqlite")
    for record, topic in population():
        feed.record(record, topic)
    feed.delete("R3")  # a deleted record splits its links
    published = [decision for _id, decision in feed.store.outbox(10_000)]

    replayed = Clusters(published)
    assert {k: v for k, v in replayed.clusters().items() if len(v) > 1} == feed.store.clusters()


# -- the citizen profile follows ----------------------------------------------------------------


def test_an_accepted_link_adds_the_row_to_the_persons_profile_and_a_split_removes_it(
        feed: Feed, tmp_path: Path) -> None:
    feed.record(P)
    [link] = feed.record(Q, QUARANTINE)
    split = split_decision(feed.store, link.pair_id, by="zhang", at=AT)
    projection = citizen_projection()
    profiles = ProfileStore(tmp_path / "citizen.sqlite", projection.authority)

    def project(offset: int, decision: LinkDecision) -> None:
        at = InputPosition(DECISIONS_TOPIC, 0, offset, int(AT.timestamp() * 1000))
        value = decision.to_avro()
        key, contributions = projection.from_event(at, {"pair_id": value["pair_id"]}, value)
        profiles.apply(at, key, contributions)

    project(0, link)
    profile = profiles.profile(WANG)
    assert profile is not None
    [item] = profile.document["facets"]["linked_records"]
    assert item["record"] == Q.ref.key and item["linked_to"] == P.ref.key and item["pair_id"] == link.pair_id
    assert item["score"] == link.score and "identity_number=close" in str(item["explanation"])
    assert item["provenance"]["department"] == "mz" and item["provenance"]["record_key"] == "HY1"

    project(1, split)
    assert profiles.profile(WANG) is None  # the row was all this store knew of the person
