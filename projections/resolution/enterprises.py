"""Enterprises: deterministic links on the unified social credit code (GB 32100-2015).

An ``EnterpriseRecord`` is an enterprise as one source record names it (市场监管 ``qy_jbxx``,
税务 ``swdj``, an employer in 人社 ``ac01``). Codes are normalized as the standard says (half
width, no whitespace, upper case). Records with the same **valid** code are linked (rule
``credit_code``); a code with a wrong check character is linked to the valid code of the same
first 17 characters when the normalized names agree too (rule ``credit_code_body``) — MOD 31
detects every single substitution, so the body identifies the enterprise and the name guards
against a mistyped body. Nothing else is linked: there is no probabilistic step for enterprises.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from bus.standards.credit_code import InvalidCreditCode, normalize_credit_text, parse_credit_code
from bus.standards.text import normalize_whitespace, to_half_width
from projections.resolution.decisions import ENGINE, DecisionKind, LinkDecision, make_decision
from projections.resolution.model import DEFAULT_RULES, RuleSet
from projections.resolution.records import RecordRef

__all__ = ["EnterpriseRecord", "link_enterprises"]

RULE_CODE = "credit_code"
RULE_CODE_BODY = "credit_code_body"


@dataclass(frozen=True, slots=True)
class EnterpriseRecord:
    """An enterprise as one source record names it, values as given."""

    ref: RecordRef
    credit_code: str | None
    name: str | None = None


def link_enterprises(
    records: Iterable[EnterpriseRecord], *, decided_at: datetime, rules: RuleSet = DEFAULT_RULES
) -> list[LinkDecision]:
    """``accepted`` decisions linking records of one enterprise, in a deterministic order."""
    valid: dict[str, list[EnterpriseRecord]] = {}
    broken: list[tuple[str, EnterpriseRecord]] = []
    for record in sorted(records, key=lambda r: r.ref.key):
        try:
            valid.setdefault(parse_credit_code(record.credit_code), []).append(record)
        except InvalidCreditCode:
            text = normalize_credit_text(record.credit_code or "")
            if len(text) == 18:
                broken.append((text[:17], record))
    decisions = []
    for code in sorted(valid):
        first, *others = valid[code]
        decisions += [make_decision(DecisionKind.ACCEPTED, first.ref, other.ref, rule=RULE_CODE, rules=rules,
                                    decided_by=ENGINE, decided_at=decided_at,
                                    reason="same valid credit code") for other in others]
    by_body = {code[:17]: group for code, group in valid.items()}
    for body, record in broken:
        name = _name(record.name)
        match = next((r for r in by_body.get(body, ()) if name is not None and _name(r.name) == name), None)
        if match is not None:
            decisions.append(make_decision(
                DecisionKind.ACCEPTED, match.ref, record.ref, rule=RULE_CODE_BODY, rules=rules,
                decided_by=ENGINE, decided_at=decided_at,
                reason="credit code with a wrong check character, same body and name"))
    return decisions


def _name(raw: str | None) -> str | None:
    if raw is None:
        return None
    text = normalize_whitespace(to_half_width(raw)).replace(" ", "")
    return text or None
