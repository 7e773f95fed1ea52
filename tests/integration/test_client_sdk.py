"""The SDK against the real service on a real port with the real broker: typed publish,
a subscription that survives a restart of the web app with no gap and no duplicate, and the
bus's errors as the SDK's exceptions."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from aiohttp import web

from bus.access.audit import MemoryAuditLog
from bus.client import (
    Backoff,
    BusClient,
    Delivery,
    NotAuthorized,
    NotFound,
    Person,
    Published,
    ServiceCase,
    Unavailable,
    ValidationFailed,
)
from bus.client.models import CaseStep
from bus.settings import Settings, load_settings
from bus.web.app import create_web_app
from tests.access import PURPOSE, add_client
from tests.conftest import free_port

pytestmark = pytest.mark.integration

STATUSES = ("submitted", "in_progress", "in_progress", "in_progress", "in_progress", "completed")
APPLICANT = "330106199003071236"


@asynccontextmanager
async def serving(settings: Settings, port: int) -> AsyncIterator[None]:
    """The web app on ``127.0.0.1:port`` until the block ends (open streams are cut)."""
    runner = web.AppRunner(create_web_app(settings, audit=MemoryAuditLog()), shutdown_timeout=0.5)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield
    finally:
        await runner.cleanup()


def case_version(case_id: str, step: int) -> ServiceCase:
    moment = dt.datetime(2026, 11, 27, 8, tzinfo=dt.UTC) + dt.timedelta(minutes=step)
    return ServiceCase(case_id=case_id, case_type="newborn", status_code=STATUSES[step],
                       applicant_identity_number=APPLICANT, applicant_name="王小明",
                       subject_reference="wsjk.csyxzm/Q330106202611270001",
                       steps=[CaseStep(department="gongan", task="household_registration",
                                       status_code=STATUSES[step], updated_at=moment)],
                       submitted_at=moment - dt.timedelta(minutes=step), updated_at=moment)


async def take(events: AsyncIterator[Delivery], count: int) -> list[Delivery]:
    return [await asyncio.wait_for(anext(events), 60) for _ in range(count)]


async def test_a_subscription_resumes_across_a_restart_of_the_web_app_without_gap_or_duplicate(
        stack: Settings, tmp_path: Path) -> None:
    settings = load_settings(state_dir=tmp_path, kafka_bootstrap=stack.kafka_bootstrap,
                             registry_url=stack.registry_url)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    case_id = f"ZW{uuid.uuid4().hex[:12].upper()}"
    app_key = add_client(tmp_path, "citizen-app", publishes=("service_case",))
    desk_key = add_client(tmp_path, "desk")
    published: list[Published] = []
    fast = Backoff(base=0.05, cap=0.5)
    async with BusClient(url, app_key, backoff=fast) as app, \
            BusClient(url, desk_key, purpose=PURPOSE, backoff=fast) as desk:
        subscription = desk.subscribe(ServiceCase, subject=f"service_case/{case_id}", from_beginning=True)
        events = aiter(subscription)
        async with serving(settings, port):
            for step in range(3):
                published.append(await app.publish(case_version(case_id, step)))
            first = await take(events, 2)
        # the web app is gone: the subscription waits and retries; events keep coming meanwhile
        async with serving(settings, port):
            for step in range(3, len(STATUSES)):
                published.append(await app.publish(case_version(case_id, step)))
            rest = await take(events, len(STATUSES) - 2)
            await subscription.aclose()
    delivered = first + rest
    assert [d.event_id for d in delivered] == [p.event_id for p in published], "no gap, no duplicate"
    assert [d.as_(ServiceCase).status_code for d in delivered] == list(STATUSES)
    assert subscription.connections >= 2, "it did reconnect"
    assert subscription.resume.duplicates == 0, "the bus resumed at the cursor: nothing sent twice"
    last = delivered[-1]
    assert last.type == "rongtong.std.service_case.upserted" and last.subject == f"service_case/{case_id}"
    case = last.as_(ServiceCase)
    assert case.applicant_identity_number == APPLICANT and case.steps[0].updated_at is not None
    assert case.source is not None and case.source.department == "citizen-app", "filled by the bus"
    assert last.cursor == subscription.cursor and last.cursor.startswith("std.service_case:")
    assert all(p.position.startswith("std.service_case:") for p in published)


async def test_the_bus_refusals_surface_as_the_sdk_exceptions(stack: Settings, tmp_path: Path) -> None:
    settings = load_settings(state_dir=tmp_path, kafka_bootstrap=stack.kafka_bootstrap,
                             registry_url=stack.registry_url)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    app_key = add_client(tmp_path, "citizen-app", publishes=("service_case",),
                         classifications=("public", "internal"))
    case = case_version(f"ZW{uuid.uuid4().hex[:12].upper()}", 0)
    bad = case.model_copy(update={"applicant_identity_number": "330106199003071235",
                                  "case_type": "birthday"})
    async with serving(settings, port), BusClient(url, app_key, retries=0) as app:
        with pytest.raises(ValidationFailed) as refused:
            await app.publish(bad)
        fields = {e.field for e in refused.value.errors}
        assert fields == {"applicant_identity_number", "case_type"}, refused.value.errors
        assert refused.value.type == "/problems/invalid-event" and refused.value.status == 422
        first = await app.publish(case, idempotency_key=f"apply-{case.case_id}")
        again = await app.publish(case, idempotency_key=f"apply-{case.case_id}")
        assert again.replayed and again.event_id == first.event_id and not first.replayed
        with pytest.raises(NotAuthorized) as no_person:
            await app.publish(Person(identity_number=APPLICANT, name="王小明", sex_code="1",
                                     birth_date=dt.date(1990, 3, 7)))
        assert no_person.value.status == 403
        with pytest.raises(NotFound):
            await app.citizen(APPLICANT)
        with pytest.raises(Unavailable) as behind:  # read-your-writes: no projection runs here
            await app.citizen(APPLICANT, min_position=first)
        assert behind.value.type == "/problems/projection-behind" and behind.value.retry_after == 1.0
        async with BusClient(url, "rtk_not-a-key") as stranger:
            with pytest.raises(NotAuthorized) as unknown:
                await stranger.citizen(APPLICANT)
            assert unknown.value.status == 401
            with pytest.raises(NotAuthorized):
                async for _ in stranger.subscribe(ServiceCase):
                    pass
        # a client granted only public data may not subscribe; the refusal is not retried
        public_only = add_client(tmp_path, "kiosk", classifications=("public",))
        async with BusClient(url, public_only) as kiosk:
            with pytest.raises(NotAuthorized):
                async for _ in kiosk.subscribe("rongtong.std.service_case.upserted"):
                    pass
