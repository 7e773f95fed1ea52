"""Link decisions as events: clusters that follow them (merge, split, replay) and the review queue."""

from __future__ import annotations

import io
import random
from datetime import UTC, datetime, timedelta

import fastavro
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from projections.resolution import (
    DEFAULT_RULES,
    ENGINE,
    Clusters,
    DecisionKind,
    LinkDecision,
    PersonRecord,
    RecordRef,
    ReviewError,
    decide_review,
    features_of,
    make_decision,
    pending_reviews,
    resolve,
    score_pair,
    split_out,
    split_pair,
)
from schemas.avro_schemas import load_avro_schema

AT = datetime(2024, 6, 3, 12, 0, tzinfo=UTC)
A, B, C, D = (RecordRef("gongan", "hj_ryxx", f"R{i}", "person") for i in range(1, 5))


def decision(kind: DecisionKind, a: RecordRef, b: RecordRef, *, by: str = ENGINE,
             minute: int = 0) -> LinkDecision:
    return make_decision(kind, a, b, rule="test", rules=DEFAULT_RULES, decided_by=by,
                         decided_at=AT + timedelta(minutes=minute))


def accept(a: RecordRef, b: RecordRef, *, by: str = ENGINE, minute: int = 0) -> LinkDecision:
    return decision(DecisionKind.ACCEPTED, a, b, by=by, minute=minute)


# -- clusters -----------------------------------------------------------------------------------


def test_accepted_links_merge_transitively_and_the_cluster_id_is_its_smallest_member() -> None:
    clusters = Clusters([accept(C, B), accept(B, A)])

    assert clusters.members(C.key) == (A.key, B.key, C.key)
    assert clusters.cluster_id(C.key) == A.key
    assert not clusters.same(A.key, D.key)


def test_a_split_undoes_a_merge() -> None:
    clusters = Clusters([accept(A, B)])

    clusters.apply(decision(DecisionKind.SPLIT, A, B, by="reviewer:li", minute=1))

    assert not clusters.same(A.key, B.key)
    assert clusters.members(A.key) == (A.key,)


def test_a_split_rederives_the_cluster_from_the_remaining_links() -> None:
    clusters = Clusters([accept(A, B), accept(B, C), accept(A, C)])

    clusters.apply(decision(DecisionKind.SPLIT, A, B, by="reviewer:li", minute=1))
    assert clusters.members(A.key) == (A.key, B.key, C.key)  # still held together through C

    clusters.apply(decision(DecisionKind.SPLIT, A, C, by="reviewer:li", minute=2))
    assert clusters.members(A.key) == (A.key,)
    assert clusters.members(B.key) == (B.key, C.key)
    assert clusters.cluster_id(C.key) == B.key


def test_a_split_is_itself_replayable() -> None:
    live = Clusters([accept(A, B), accept(B, C)])
    split = split_out(live, B.key, by="li", at=AT + timedelta(hours=1))
    for event in split:
        live.apply(event)

    replayed = Clusters(entry.decision for entry in live.history)

    assert replayed.clusters() == live.clusters()
    assert replayed.members(B.key) == (B.key,)
    assert [e.kind for e in split] == [DecisionKind.SPLIT, DecisionKind.SPLIT]


def test_a_reviewers_decision_pins_the_pair_against_later_engine_decisions() -> None:
    clusters = Clusters([accept(A, B), decision(DecisionKind.SPLIT, A, B, by="reviewer:li", minute=1)])

    applied = clusters.apply(accept(A, B, minute=2))  # the engine re-run links them again

    assert applied is False
    assert not clusters.same(A.key, B.key)
    assert clusters.history[-1].applied is False
    assert clusters.apply(accept(A, B, by="reviewer:wang", minute=3)) is True  # another reviewer may
    assert clusters.same(A.key, B.key)


def test_a_rejection_after_an_accept_removes_the_link() -> None:
    clusters = Clusters([accept(A, B), decision(DecisionKind.REJECTED, A, B, by="reviewer:li", minute=1)])

    assert not clusters.same(A.key, B.key)


_refs = st.sampled_from([A, B, C, D])
_kinds = st.sampled_from(list(DecisionKind))
_decisions = st.lists(
    st.tuples(_kinds, _refs, _refs, st.booleans()).filter(lambda t: t[1] != t[2]), max_size=25
).map(lambda items: [decision(kind, a, b, by="reviewer:li" if by_reviewer else ENGINE, minute=n)
                     for n, (kind, a, b, by_reviewer) in enumerate(items)])


def _components(decisions: list[LinkDecision]) -> set[frozenset[str]]:
    """Connected components of the pairs whose last applicable decision is accepted (the definition)."""
    state: dict[str, LinkDecision] = {}
    for d in decisions:
        if d.pair_id in state and state[d.pair_id].by_reviewer and not d.by_reviewer:
            continue
        state[d.pair_id] = d
    groups = {ref.key: {ref.key} for ref in (A, B, C, D)}
    for d in state.values():
        if d.kind is DecisionKind.ACCEPTED:
            merged = groups[d.left.key] | groups[d.right.key]
            for key in merged:
                groups[key] = merged
    return {frozenset(g) for g in groups.values()}


@settings(max_examples=200, deadline=None)
@given(_decisions)
def test_any_stream_of_decisions_gives_the_components_of_the_accepted_pairs(
    stream: list[LinkDecision],
) -> None:
    clusters = Clusters(stream)

    got = {frozenset(clusters.members(ref.key)) for ref in (A, B, C, D)}
    assert got == _components(stream)
    assert Clusters(stream).clusters() == clusters.clusters()  # same decisions, same order: same clusters


@settings(max_examples=100, deadline=None)
@given(_decisions, st.randoms(use_true_random=False))
def test_decisions_of_different_pairs_may_interleave_in_any_order(
    stream: list[LinkDecision], rng: random.Random
) -> None:
    by_pair: dict[str, list[LinkDecision]] = {}
    for d in stream:
        by_pair.setdefault(d.pair_id, []).append(d)
    queues = list(by_pair.values())
    shuffled: list[LinkDecision] = []
    while queues:
        queue = queues[rng.randrange(len(queues))]
        shuffled.append(queue.pop(0))
        queues = [q for q in queues if q]

    assert Clusters(shuffled).clusters() == Clusters(stream).clusters()


# -- review queue -------------------------------------------------------------------------------


def _review_case() -> Clusters:
    records = [PersonRecord(A, "330106199003071236", "王小明", "1990-03-07", "1"),
               PersonRecord(RecordRef("rsj", "ac01", "X1", "insured"), None, "王晓铭", "1990-03-07", "M")]
    return resolve(records, decided_at=AT).clusters


def test_the_review_queue_lists_proposed_pairs_with_their_explained_scores() -> None:
    [item] = pending_reviews(_review_case())

    assert item.pair_id == "gongan.hj_ryxx/R1#person|rsj.ac01/X1#insured"
    assert DEFAULT_RULES.lower <= (item.score or 0) < DEFAULT_RULES.upper
    assert {w.field: w.level for w in item.weights}["name"] == "partial"


def test_accepting_a_pending_pair_is_an_event_that_links_it_once_applied() -> None:
    clusters = _review_case()
    [item] = pending_reviews(clusters)

    event = decide_review(clusters, item.pair_id, accept=True, by="li", at=AT + timedelta(days=1),
                          reason="same person, homophone typo")
    assert not clusters.same(item.left, item.right)  # deciding does not apply
    clusters.apply(event)

    assert (event.kind, event.decided_by, event.rule) == (DecisionKind.ACCEPTED, "reviewer:li", "review")
    assert clusters.same(item.left, item.right)
    assert pending_reviews(clusters) == []


def test_rejecting_a_pending_pair_keeps_it_apart_and_off_the_queue() -> None:
    clusters = _review_case()
    [item] = pending_reviews(clusters)

    clusters.apply(decide_review(clusters, item.pair_id, accept=False, by="li", at=AT + timedelta(days=1)))

    assert not clusters.same(item.left, item.right)
    assert pending_reviews(clusters) == []


def test_review_commands_that_do_not_fit_the_state_are_refused() -> None:
    clusters = Clusters([accept(A, B)])

    with pytest.raises(ReviewError, match="not waiting for review"):
        decide_review(clusters, "x|y", accept=True, by="li", at=AT)
    with pytest.raises(ReviewError, match="not linked"):
        split_pair(clusters, "|".join(sorted((A.key, C.key))), by="li", at=AT)
    with pytest.raises(ReviewError, match="not linked to any other record"):
        split_out(clusters, D.key, by="li", at=AT)
    with pytest.raises(ReviewError, match="reviewer"):
        split_pair(clusters, "|".join(sorted((A.key, B.key))), by="engine", at=AT)


# -- the events ---------------------------------------------------------------------------------


def test_a_decision_round_trips_through_the_shipped_avro_schema() -> None:
    score = score_pair(features_of(PersonRecord(A, "330106199003071236", "王小明")),
                       features_of(PersonRecord(B, "330106199003071237", "王小明")), DEFAULT_RULES)
    original = make_decision(DecisionKind.ACCEPTED, B, A, rule="fellegi_sunter", rules=DEFAULT_RULES,
                             decided_by=ENGINE, decided_at=AT, score=score, reason="score above the upper")
    schema = fastavro.parse_schema(load_avro_schema("link_decision"))
    buffer = io.BytesIO()

    fastavro.schemaless_writer(buffer, schema, original.to_avro())
    buffer.seek(0)
    value = fastavro.schemaless_reader(buffer, schema, schema)
    assert isinstance(value, dict)
    decoded = LinkDecision.from_avro(value)

    assert decoded == original
    assert (decoded.left, decoded.right) == (A, B)  # the pair is stored sorted


def test_the_key_schema_is_the_pair_id() -> None:
    key = load_avro_schema("link_decision_key")
    value_fields = {f["name"]: f for f in load_avro_schema("link_decision")["fields"]}

    [field] = key["fields"]
    assert field["name"] == "pair_id" and value_fields["pair_id"]["type"] == field["type"] == "string"


def test_the_same_decision_has_the_same_id_and_another_one_another() -> None:
    assert accept(A, B).decision_id == accept(B, A).decision_id
    assert accept(A, B).decision_id != accept(A, B, minute=1).decision_id
    assert accept(A, B).decision_id != decision(DecisionKind.SPLIT, A, B).decision_id


def test_a_decision_needs_an_aware_time_and_two_different_records() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        make_decision(DecisionKind.ACCEPTED, A, B, rule="t", rules=DEFAULT_RULES, decided_by=ENGINE,
                      decided_at=datetime(2024, 6, 3))
    with pytest.raises(ValueError, match="itself"):
        accept(A, A)
