"""Rebuilds started from the dashboard: a child process per projection, one at a time, audited."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Sequence
from pathlib import Path

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bus.access.audit import MemoryAuditLog
from bus.settings import load_settings
from bus.web.app import create_web_app
from bus.web.ops.rebuild_jobs import JOBS, REBUILD_ENDPOINT, RebuildJob, RebuildJobs
from tests.access import add_client

REPORT = '{"projection": "citizen_profile", "events": 0, "switched": true}'


def child(code: str) -> list[str]:
    return [sys.executable, "-c", code]


def ops_app(app: web.Application) -> web.Application:
    [ops] = [r._app for r in app.router.resources() if isinstance(r, web.PrefixedSubAppResource)]
    return ops


async def test_a_finished_rebuild_keeps_its_report_and_a_failed_one_its_last_error(
        tmp_path: Path) -> None:
    outcomes: list[str] = []

    async def finished(job: RebuildJob) -> None:
        outcomes.append(job.state)

    def command(projection: str, switch: bool) -> Sequence[str]:
        if projection == "citizen_profile":
            return child(f"print('{REPORT}')")
        return child("import sys; sys.stderr.write('trace\\nRebuildUnsupported: on PostgreSQL\\n');"
                     " sys.exit(1)")

    jobs = RebuildJobs(load_settings(state_dir=tmp_path), command)
    done = await jobs.start("citizen_profile", "ops", switch=True, finished=finished)
    failed = await jobs.start("enterprise_profile", "ops", switch=False, finished=finished)
    for _ in range(100):
        if len(outcomes) == 2:
            break
        await asyncio.sleep(0.05)
    assert (done.state, done.exit_code, done.report) == (
        "done", 0, {"projection": "citizen_profile", "events": 0, "switched": True})
    assert (failed.state, failed.error) == ("failed", "RebuildUnsupported: on PostgreSQL")
    assert sorted(outcomes) == ["done", "failed"]
    assert jobs.environment()["BUS_STATE_DIR"] == str(tmp_path.resolve())


async def test_an_operator_starts_one_rebuild_at_a_time_and_each_is_audited(tmp_path: Path) -> None:
    operator = add_client(tmp_path, "desk-operator")
    reader = add_client(tmp_path, "desk-reader", roles=("reader",))
    audit = MemoryAuditLog()
    app = create_web_app(load_settings(state_dir=tmp_path, kafka_bootstrap="127.0.0.1:9",
                                       registry_url="http://127.0.0.1:9"), audit=audit)
    release = tmp_path / "release"
    async with TestClient(TestServer(app)) as client:
        ops_app(app)[JOBS].command = lambda name, switch: child(
            "import pathlib, time\n"
            f"while not pathlib.Path({str(release)!r}).exists(): time.sleep(0.05)\n"
            f"print('{REPORT}')")
        url = "/ops/api/projections/citizen_profile/rebuild"
        as_reader = {"Authorization": f"Bearer {reader}"}
        assert (await client.post(url, headers=as_reader)).status == 403
        as_operator = {"Authorization": f"Bearer {operator}"}
        unknown = await client.post("/ops/api/projections/nothing/rebuild", headers=as_operator)
        assert unknown.status == 404
        started = await client.post(url, headers=as_operator, json={"switch": True})
        assert started.status == 202 and (await started.json())["state"] == "running"
        again = await client.post(url, headers=as_operator)
        assert again.status == 409
        release.touch()
        for _ in range(100):
            jobs = (await (await client.get("/ops/api/rebuilds", headers=as_reader)).json())["items"]
            if jobs[0]["state"] != "running":
                break
            await asyncio.sleep(0.05)
        assert jobs[0]["state"] == "done" and jobs[0]["client"] == "desk-operator"
    recorded = [(r.client, r.subject, r.result) for r in audit.records
                if r.endpoint == REBUILD_ENDPOINT]
    assert recorded == [("desk-operator", "citizen_profile", "requested"),
                        ("desk-operator", "citizen_profile", "done")]
