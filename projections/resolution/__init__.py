"""Entity resolution: which records of the departments are the same person.

Pure and deterministic, no I/O: person records (``records``) are normalized (``features``),
blocked (``blocking``), compared field by field (``compare``) and scored with explainable
Fellegi–Sunter weights (``model``); the engine (``engine``) emits link decisions
(``decisions``, published on ``std.link_decision``) that ``clusters`` folds into clusters and
the review queue (``review``) lets a person decide. See docs/entity-resolution.md.
"""

from projections.resolution.clusters import AppliedDecision, Clusters
from projections.resolution.decisions import ENGINE, DecisionKind, LinkDecision, make_decision, pair_id
from projections.resolution.engine import Resolution, ResolutionStats, resolve
from projections.resolution.enterprises import EnterpriseRecord, link_enterprises
from projections.resolution.features import Features, features_of
from projections.resolution.model import DEFAULT_RULES, MU, FieldWeight, RuleSet, Score, score_pair
from projections.resolution.records import (
    PersonRecord,
    RecordRef,
    records_from_canonical,
    records_from_legacy_row,
    records_from_quarantine,
)
from projections.resolution.review import (
    ReviewError,
    ReviewItem,
    decide_review,
    pending_reviews,
    reviewer,
    split_out,
    split_pair,
)

__all__ = [
    "DEFAULT_RULES",
    "ENGINE",
    "MU",
    "AppliedDecision",
    "Clusters",
    "DecisionKind",
    "EnterpriseRecord",
    "Features",
    "FieldWeight",
    "LinkDecision",
    "PersonRecord",
    "RecordRef",
    "Resolution",
    "ResolutionStats",
    "ReviewError",
    "ReviewItem",
    "RuleSet",
    "Score",
    "decide_review",
    "features_of",
    "link_enterprises",
    "make_decision",
    "pair_id",
    "pending_reviews",
    "records_from_canonical",
    "records_from_legacy_row",
    "records_from_quarantine",
    "resolve",
    "reviewer",
    "score_pair",
    "split_out",
    "split_pair",
]
