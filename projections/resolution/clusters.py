"""Clusters of person records from a stream of link decisions: union-find with history.

Each pair's state is its latest applicable decision. A reviewer's decision pins the pair: later
engine decisions about it are kept in the history but not applied (a re-run of the engine does
not undo a person's judgement); a later reviewer decision replaces it. Clusters are the
connected components of the ``accepted`` pairs: an accept unions two sets; a ``split`` (or a
``rejected`` after an accept) removes the link and re-derives the affected cluster from the
remaining accepted links, so a cluster held together by another path stays together.

The same decisions in the same order always give the same clusters; a cluster's id is its
smallest record reference key. Since a pair's state depends only on that pair's decisions,
decisions about different pairs may even arrive interleaved in any order.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from projections.resolution.decisions import DecisionKind, LinkDecision

__all__ = ["AppliedDecision", "Clusters"]


@dataclass(frozen=True, slots=True)
class AppliedDecision:
    """A decision in the history, and whether it changed the pair's state."""

    decision: LinkDecision
    applied: bool


class Clusters:
    """Applies link decisions in order; answers which records belong together."""

    def __init__(self, decisions: Iterable[LinkDecision] = ()) -> None:
        self._parent: dict[str, str] = {}
        self._links: dict[str, set[str]] = {}
        self._state: dict[str, LinkDecision] = {}
        self._history: list[AppliedDecision] = []
        for decision in decisions:
            self.apply(decision)

    # -- applying ---------------------------------------------------------------------------

    def apply(self, decision: LinkDecision) -> bool:
        """Apply one decision; False when a reviewer's earlier decision pins the pair."""
        current = self._state.get(decision.pair_id)
        if current is not None and current.by_reviewer and not decision.by_reviewer:
            self._history.append(AppliedDecision(decision, False))
            return False
        self._state[decision.pair_id] = decision
        self._history.append(AppliedDecision(decision, True))
        a, b = decision.left.key, decision.right.key
        self._parent.setdefault(a, a)
        self._parent.setdefault(b, b)
        if decision.kind is DecisionKind.ACCEPTED:
            self._links.setdefault(a, set()).add(b)
            self._links.setdefault(b, set()).add(a)
            self._union(a, b)
        elif b in self._links.get(a, ()):
            self._links[a].discard(b)
            self._links[b].discard(a)
            self._rederive(a, b)
        return True

    # -- reading ----------------------------------------------------------------------------

    def cluster_id(self, ref_key: str) -> str:
        """The id of the record's cluster (its smallest member key); a record never seen is alone."""
        if ref_key not in self._parent:
            return ref_key
        return self._find(ref_key)

    def members(self, ref_key: str) -> tuple[str, ...]:
        """Every record of the record's cluster, sorted."""
        if ref_key not in self._parent:
            return (ref_key,)
        return tuple(sorted(self._component(ref_key)))

    def same(self, a: str, b: str) -> bool:
        return self.cluster_id(a) == self.cluster_id(b)

    def clusters(self) -> dict[str, tuple[str, ...]]:
        """Every cluster of at least one decided record: id → sorted members."""
        groups: dict[str, list[str]] = {}
        for key in sorted(self._parent):
            groups.setdefault(self._find(key), []).append(key)
        return {root: tuple(members) for root, members in sorted(groups.items())}

    def state(self, pair: str) -> LinkDecision | None:
        """The pair's latest applied decision."""
        return self._state.get(pair)

    def pairs(self, kind: DecisionKind) -> Iterator[LinkDecision]:
        """Pairs whose current state is ``kind``, in pair id order."""
        for pid in sorted(self._state):
            if self._state[pid].kind is kind:
                yield self._state[pid]

    def links_of(self, ref_key: str) -> tuple[str, ...]:
        """The records directly linked to ``ref_key`` by an accepted decision, sorted."""
        return tuple(sorted(self._links.get(ref_key, ())))

    @property
    def history(self) -> tuple[AppliedDecision, ...]:
        return tuple(self._history)

    # -- union-find -------------------------------------------------------------------------

    def _find(self, key: str) -> str:
        root = key
        while self._parent[root] != root:
            root = self._parent[root]
        while self._parent[key] != root:
            self._parent[key], key = root, self._parent[key]
        return root

    def _union(self, a: str, b: str) -> None:
        root_a, root_b = self._find(a), self._find(b)
        if root_a != root_b:
            low, high = sorted((root_a, root_b))
            self._parent[high] = low

    def _component(self, start: str) -> set[str]:
        seen, todo = {start}, [start]
        while todo:
            for other in self._links.get(todo.pop(), ()):
                if other not in seen:
                    seen.add(other)
                    todo.append(other)
        return seen

    def _rederive(self, a: str, b: str) -> None:
        """After removing the link a–b: give each remaining component its own root again."""
        for start in (a, b):
            component = self._component(start)
            root = min(component)
            for key in component:
                self._parent[key] = root
