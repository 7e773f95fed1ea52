"""Person records: who a legacy row or a canonical event mentions, with the values as given.

A row may mention several persons (a marriage registration names a husband and a wife, a birth
certificate a mother, a father and the newborn); each mention is one ``PersonRecord`` with its
own ``RecordRef`` (department, table, key, role). Values are kept as the source gave them — the
identity number may be 15 digits, full width, with a broken check character or missing — and
are only normalized when compared (``projections.resolution.features``).

Layouts name, per source, which column (legacy row) or field (canonical event) holds each value.
The legacy layouts read quarantined rows, whose identity number failed the standard: entity
resolution is what still links them to a person.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

__all__ = [
    "CANONICAL_LAYOUTS",
    "LEGACY_LAYOUTS",
    "MentionLayout",
    "PersonRecord",
    "RecordRef",
    "records_from_canonical",
    "records_from_legacy_row",
    "records_from_quarantine",
]


@dataclass(frozen=True, slots=True, order=True)
class RecordRef:
    """One mention of a person in one source record; ``key`` is its stable text form."""

    department: str
    table: str
    record_key: str
    role: str

    @property
    def key(self) -> str:
        return f"{self.department}.{self.table}/{self.record_key}#{self.role}"


@dataclass(frozen=True, slots=True)
class PersonRecord:
    """A person as one source record mentions them, values as given (any may be missing)."""

    ref: RecordRef
    identity_number: str | None = None
    name: str | None = None
    birth_date: date | str | None = None
    sex: str | None = None
    division: str | None = None
    address: str | None = None


@dataclass(frozen=True, slots=True)
class MentionLayout:
    """Where one mentioned person's values sit in a row or event (column or field names).

    ``implied_sex`` is the GB/T 2261.1 code the role itself implies (a husband, a mother).
    """

    role: str
    identity_number: str | None = None
    name: str | None = None
    birth_date: str | None = None
    sex: str | None = None
    division: str | None = None
    address: str | None = None
    implied_sex: str | None = None


#: Legacy tables of the reference government that mention persons, by (department, table).
LEGACY_LAYOUTS: Mapping[tuple[str, str], tuple[MentionLayout, ...]] = {
    ("gongan", "hj_ryxx"): (MentionLayout("person", "SFZH", "XM", "CSRQ", "XB", "XZQH", "HJDZ"),),
    ("rsj", "ac01"): (MentionLayout("insured", "AAC002", "AAC003", "AAC006", "AAC004"),),
    ("scjg", "qy_jbxx"): (MentionLayout("legal_rep", "FDDBR_SFZH", "FDDBR_XM"),),
    ("mz", "hydj"): (MentionLayout("husband", "NF_SFZH", "NF_XM", implied_sex="1"),
                     MentionLayout("wife", "NV_SFZH", "NV_XM", implied_sex="2")),
    ("mz", "dbjz"): (MentionLayout("recipient", "SFZH", "XM"),),
    ("wsjk", "csyxzm"): (MentionLayout("mother", "MQ_SFZH", "MQ_XM", implied_sex="2"),
                         MentionLayout("father", "FQ_SFZH", "FQ_XM", implied_sex="1"),
                         MentionLayout("newborn", None, "XSEXM", "CSRQ", "XSEXB")),
}

#: Canonical entities that mention persons, by entity name (fields of schemas/avro/<entity>.avsc).
CANONICAL_LAYOUTS: Mapping[str, tuple[MentionLayout, ...]] = {
    "person": (MentionLayout("person", "identity_number", "name", "birth_date", "sex_code", "division_code",
                             "household_address"),),
    "social_insurance": (MentionLayout("insured", "identity_number", "name", "birth_date", "sex_code"),),
    "enterprise": (MentionLayout("legal_rep", "legal_rep_identity_number", "legal_rep_name"),),
    "marriage": (MentionLayout("husband", "husband_identity_number", "husband_name", implied_sex="1"),
                 MentionLayout("wife", "wife_identity_number", "wife_name", implied_sex="2")),
    "social_assistance": (MentionLayout("recipient", "identity_number", "name"),),
    "birth_certificate": (MentionLayout("mother", "mother_identity_number", "mother_name", implied_sex="2"),
                          MentionLayout("father", "father_identity_number", "father_name", implied_sex="1"),
                          MentionLayout("newborn", None, "newborn_name", "birth_date", "newborn_sex_code")),
}


def records_from_legacy_row(
    department: str, table: str, record_key: str, row: Mapping[str, Any]
) -> list[PersonRecord]:
    """The persons a legacy row mentions (none for a table that mentions nobody)."""
    layouts = LEGACY_LAYOUTS.get((department, table), ())
    return _mentions(department, table, record_key, row, layouts)


def records_from_quarantine(value: Mapping[str, Any]) -> list[PersonRecord]:
    """The persons a ``QuarantinedRecord`` (quarantine.<dept>.<table>) mentions, from its original row."""
    original = value.get("original")
    key = value.get("record_key")
    if not isinstance(original, Mapping) or key is None:
        return []
    return records_from_legacy_row(str(value["department"]), str(value["table"]), str(key), original)


def records_from_canonical(entity: str, value: Mapping[str, Any]) -> list[PersonRecord]:
    """The persons a canonical event of ``std.<entity>`` mentions, referenced by its legacy source."""
    source = value.get("source") or {}
    layouts = CANONICAL_LAYOUTS.get(entity, ())
    return _mentions(str(source.get("department", "")), str(source.get("table", "")),
                     str(source.get("record_key", "")), value, layouts)


def _mentions(
    department: str, table: str, record_key: str, row: Mapping[str, Any], layouts: tuple[MentionLayout, ...]
) -> list[PersonRecord]:
    records = []
    for layout in layouts:
        identity, name = _text(row, layout.identity_number), _text(row, layout.name)
        birth = _birth(row, layout.birth_date)
        if identity is None and name is None and birth is None:
            continue  # nobody in this role (a certificate without a father)
        records.append(PersonRecord(
            RecordRef(department, table, record_key, layout.role), identity, name, birth,
            _text(row, layout.sex) or layout.implied_sex, _text(row, layout.division),
            _text(row, layout.address)))
    return records


def _text(row: Mapping[str, Any], column: str | None) -> str | None:
    if column is None:
        return None
    value = row.get(column)
    if value is None:
        return None
    text = str(value)
    return text if text.strip() else None


def _birth(row: Mapping[str, Any], column: str | None) -> date | str | None:
    if column is None:
        return None
    value = row.get(column)
    if isinstance(value, date):
        return value
    return _text(row, column)
