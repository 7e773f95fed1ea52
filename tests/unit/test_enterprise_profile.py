"""enterprise_profile: Market Regulation's register, Tax's registrations, HRSS's employees."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bus.access.audit import MemoryAuditLog
from bus.problem import PROBLEM_CONTENT_TYPE
from bus.settings import Settings, load_settings
from bus.web.app import create_web_app
from projections.enterprise_profile.extract import enterprise_projection
from projections.enterprise_profile.queries import EnterpriseProfileQueries
from projections.profiles.store import InputPosition, ProfileStore
from tests.access import add_client, headers

CODE = "91350100M000100Y43"
T0 = 1_700_000_000_000


def source(department: str, table: str, key: str, minute: int) -> dict[str, Any]:
    return {"department": department, "table": table, "record_key": key, "event_id": f"e-{key}",
            "op": "c", "updated_at": datetime(2024, 3, 7, 8, minute, tzinfo=UTC)}


REGISTER = {"credit_code": CODE, "name": "福州某某科技有限公司",
            "legal_rep_identity_number": "330106199003071236", "legal_rep_name": "王小明",
            "registered_capital": Decimal("1000000.0000"), "founding_date": date(2012, 5, 1),
            "status_code": "active", "source": source("scjg", "qy_jbxx", CODE, 0)}
TAX = {"taxpayer_id": CODE, "taxpayer_name": "福州某某科技公司", "legal_rep_name": "王小明",
       "status_code": "normal", "registration_date": date(2012, 6, 1),
       "source": source("sw", "swdj", CODE, 5)}
EMPLOYEE = {"insurance_number": "S1", "identity_number": "330106199205081227", "name": "李丽",
            "sex_code": "2", "birth_date": date(1992, 5, 8), "employer_credit_code": CODE,
            "status_code": "paying", "source": source("rsj", "ac01", "S1", 7)}


def feed(store: ProfileStore, events: list[tuple[str, dict[str, Any], dict[str, Any] | None]]) -> None:
    projection = enterprise_projection()
    for offset, (topic, key, event) in enumerate(events):
        at = InputPosition(topic, 0, offset, T0 + offset * 1000)
        store.apply(at, *projection.from_event(at, key, event))


def fill_enterprise_store(settings: Settings) -> None:
    """The enterprise of the register, Tax's registration and one insured employee."""
    store = ProfileStore(settings.projection_store_path("enterprise_profile"),
                         enterprise_projection().authority)
    try:
        feed(store, [("std.enterprise", {"credit_code": CODE}, REGISTER),
                     ("std.tax_registration", {"taxpayer_id": CODE}, TAX),
                     ("std.social_insurance", {"insurance_number": "S1"}, EMPLOYEE)])
    finally:
        store.close()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    settings = load_settings(state_dir=tmp_path)
    fill_enterprise_store(settings)
    return settings


def test_one_file_per_enterprise_from_three_departments(settings: Settings) -> None:
    profile = EnterpriseProfileQueries(settings.projection_store_path("enterprise_profile")).get(CODE)
    assert profile is not None
    assert profile["name"] == "福州某某科技有限公司"  # the register's, not Tax's later spelling
    assert profile["provenance"]["name"]["rule"] == "authoritative_source"
    assert profile["registered_capital"] == "1000000.0000"
    assert profile["tax_registrations"][0]["status_code"] == "normal"
    assert profile["insured_employees"][0]["identity_number"] == "330106199205081227"
    assert profile["version"] == 3


def test_an_employee_without_employer_contributes_nothing(tmp_path: Path) -> None:
    store = ProfileStore(tmp_path / "e.sqlite", enterprise_projection().authority)
    try:
        feed(store, [("std.social_insurance", {"insurance_number": "S2"},
                      {**EMPLOYEE, "employer_credit_code": None})])
        assert store.checksum() == ProfileStore(tmp_path / "empty.sqlite", {}).checksum()
    finally:
        store.close()


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[TestClient[Any, Any]]:
    app = create_web_app(settings, audit=MemoryAuditLog())
    async with TestClient(TestServer(app), headers=headers(add_client(settings.state_dir))) as client:
        yield client


async def test_the_api_answers_by_credit_code_and_as_of(client: TestClient[Any, Any]) -> None:
    response = await client.get(f"/v1/enterprises/{CODE.lower()}")
    assert response.status == 200
    assert (await response.json())["credit_code"] == CODE
    before_tax = datetime.fromtimestamp((T0 + 500) / 1000, UTC).isoformat()
    early = await client.get(f"/v1/enterprises/{CODE}", params={"as_of": before_tax})
    assert early.status == 200
    assert (await early.json())["version"] == 1
    too_early = await client.get(f"/v1/enterprises/{CODE}", params={"as_of": "2001-01-01"})
    assert too_early.status == 404


@pytest.mark.parametrize(("path", "params", "status"), [
    ("/v1/enterprises/91350100M000100Y44", {}, 400),     # wrong check character
    ("/v1/enterprises/91110000802100433B", {}, 404),     # valid, unknown
    (f"/v1/enterprises/{CODE}", {"as_of": "yesterday"}, 400),
])
async def test_bad_questions_are_problems(client: TestClient[Any, Any], path: str,
                                          params: dict[str, str], status: int) -> None:
    response = await client.get(path, params=params)
    assert response.status == status
    assert response.content_type == PROBLEM_CONTENT_TYPE
