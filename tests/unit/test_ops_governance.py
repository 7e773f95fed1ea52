"""The message browser's masking and the audit statistics' counts (no I/O)."""

from __future__ import annotations

from bus.access.audit import AuditRecord
from bus.access.clients import Client
from bus.access.policy import Access
from bus.settings import load_settings
from bus.web.ops.governance import AuditStats
from bus.web.ops.messages import MessageBrowser, masked_value
from tests.access import PURPOSE


def record(client: str, endpoint: str, result: str, at_ms: int, chain: str = "c1") -> AuditRecord:
    return AuditRecord(chain, 1, "0" * 64, at_ms, "r", client, None, "citizen", "x", endpoint,
                       (), (), result, 200)


def test_every_text_of_a_legacy_record_is_masked_at_any_depth() -> None:
    value = {"after": {"SFZH": "330106199003071033", "XM": "王小明", "XB": "1", "N": 3},
             "list": ["李四", ""], "none": None}
    assert masked_value(value) == {
        "after": {"SFZH": "330106********1033", "XM": "王**", "XB": "1*", "N": 3},
        "list": ["李*", ""], "none": None}


def test_canonical_events_follow_their_schema_and_other_topics_need_sensitive_data() -> None:
    browser = MessageBrowser(load_settings(registry_url="http://127.0.0.1:9"))
    internal = Access(Client("desk", "desk", classifications=frozenset({"public", "internal"})))
    full = Access(Client("ops", "ops", classifications=frozenset({"sensitive_personal"}),
                         purposes=frozenset({PURPOSE})), PURPOSE)
    person = {"identity_number": "330106199003071033", "name": "王小明", "sex_code": "1"}
    shown = browser.shown("std.person", person, internal)
    assert shown["identity_number"] == "330106********1033" and shown["name"] == "王**"
    row = {"SFZH": "330106199003071033"}
    assert browser.shown("legacy.gongan.hj_ryxx", row, internal) == {"SFZH": "330106********1033"}
    assert browser.shown("legacy.gongan.hj_ryxx", row, full) == row


def test_audit_statistics_count_by_client_endpoint_result_and_day() -> None:
    stats = AuditStats(load_settings(registry_url="http://127.0.0.1:9"))
    day = 1_780_000_000_000
    stats.count(record("desk", "GET /v1/citizens/{identity_number}", "ok", day))
    stats.count(record("desk", "GET /v1/citizens/{identity_number}", "denied", day + 1))
    stats.count(record("ops", "POST /ops/api/quarantine/replay", "published:2", day + 86_400_000,
                       chain="c2"))
    body = stats.as_json(end=3)
    assert body["records"] == 3 and body["chains"] == 2 and body["last_at_ms"] == day + 86_400_000
    assert body["by_client"] == [{"name": "desk", "records": 2}, {"name": "ops", "records": 1}]
    assert {r["name"] for r in body["by_result"]} == {"ok", "denied", "published"}
    assert [d["records"] for d in body["by_day"]] == [2, 1]
