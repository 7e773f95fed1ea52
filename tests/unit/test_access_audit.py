"""The hash-chained audit log: verify finds a changed, removed or reordered record."""

from __future__ import annotations

import itertools
from dataclasses import replace

import pytest

from bus.access.audit import GENESIS, AuditEntry, AuditRecord, MemoryAuditLog, verify


def entry(n: int) -> AuditEntry:
    return AuditEntry(f"req-{n}", "desk", "service-desk", "citizen", f"33010619900307{n:04d}",
                      "GET /v1/citizens/{identity_number}", ("name",), ("identity_number",), "ok", 200)


async def chain(count: int) -> list[AuditRecord]:
    log = MemoryAuditLog()
    for n in range(count):
        await log.append(entry(n))
    return log.records


def numbered(records: list[AuditRecord]) -> list[tuple[int, AuditRecord]]:
    return list(enumerate(records))


async def test_an_intact_log_verifies_and_reports_its_head() -> None:
    records = await chain(5)
    assert records[0].prev_hash == GENESIS
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(records))
    findings, heads = verify(numbered(records))
    assert findings == [] and heads == {records[0].chain: records[-1].hash}


async def test_a_changed_record_is_found_even_when_its_hash_is_recomputed() -> None:
    records = await chain(5)
    changed = replace(records[2], purpose="marketing")
    [finding] = verify(numbered([*records[:2], changed, *records[3:]]))[0]
    assert (finding.position, finding.seq) == (2, 2) and "changed" in finding.problem
    resealed = changed.sealed()
    [finding] = verify(numbered([*records[:2], resealed, *records[3:]]))[0]
    assert (finding.position, finding.seq) == (3, 3) and "broken link" in finding.problem


@pytest.mark.parametrize("removed", [0, 2, 4])
async def test_a_removed_record_is_found(removed: int) -> None:
    records = await chain(6)
    kept = [r for r in records if r.seq != removed]
    findings = verify(numbered(kept))[0]
    assert len(findings) == 1 and "removed" in findings[0].problem
    assert findings[0].seq == removed + 1


async def test_reordered_records_are_found() -> None:
    records = await chain(5)
    swapped = [records[0], records[1], records[3], records[2], records[4]]
    findings = verify(numbered(swapped))[0]
    assert [f.seq for f in findings] == [3, 2]
    assert "removed" in findings[0].problem and "reordered" in findings[1].problem


async def test_a_later_writer_chains_onto_the_last_record_of_the_log() -> None:
    first = await chain(3)
    later = MemoryAuditLog()
    later._chain.head = first[-1].hash  # what KafkaAuditLog reads from the topic at start
    await later.append(entry(9))
    log = [*first, *later.records]
    assert verify(numbered(log))[0] == []
    findings = verify(numbered([*first[:2], *later.records]))[0]
    assert [f.problem for f in findings] == ["removed: the record this chain starts from is missing"]


def test_records_round_trip_through_their_avro_form() -> None:
    record = AuditRecord("c", 0, GENESIS, 1, "r", "desk", None, "citizen", "x", "GET /", ("a",), (),
                         "ok", 200).sealed()
    assert AuditRecord.from_avro(record.as_avro()) == record
