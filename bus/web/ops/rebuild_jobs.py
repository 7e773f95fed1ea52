"""Rebuild a projection from the dashboard: ``bus projections rebuild NAME --json`` as a child
process of the web service (operator role), one per projection at a time, audited.

The child builds the new store beside the live one and switches readers when it equals the
live store at the live store's positions (as on the command line); its progress shows on the
projections page through :mod:`bus.web.ops.rebuilds`. The audit log gets a record when the
rebuild is asked for (no record, no rebuild) and one with its outcome. Stopping the service
stops a rebuild in progress (its half-built store is never switched to).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from bus.access.audit import AuditEntry
from bus.problem import problem
from bus.settings import Settings
from bus.web.auth import request_id_of
from bus.web.ops.session import ops_access
from bus.web.privacy import AUDIT

__all__ = ["AlreadyRunning", "RebuildJob", "RebuildJobs", "add_routes"]

log = logging.getLogger(__name__)
#: The command of a rebuild: argv for ``projection`` with or without the switch.
Command = Callable[[str, bool], Sequence[str]]
Outcome = Callable[["RebuildJob"], Awaitable[None]]


class AlreadyRunning(Exception):
    pass


@dataclass
class RebuildJob:
    projection: str
    client: str
    switch: bool
    started_ms: int = field(default_factory=lambda: int(time.time() * 1000))
    state: str = "running"
    pid: int | None = None
    exit_code: int | None = None
    finished_ms: int | None = None
    report: dict[str, Any] | None = None
    error: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items()}


def default_command(projection: str, switch: bool) -> list[str]:
    return [sys.executable, "-m", "bus", "projections", "rebuild", projection, "--json",
            *([] if switch else ["--no-switch"])]


class RebuildJobs:
    """The rebuilds this service started, the latest per projection."""

    def __init__(self, settings: Settings, command: Command = default_command) -> None:
        self.settings = settings
        self.command = command
        self.jobs: dict[str, RebuildJob] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._processes: dict[str, asyncio.subprocess.Process] = {}

    def environment(self) -> dict[str, str]:
        """The child's settings: the service's own, whatever they were read from."""
        s = self.settings
        env = {k: v for k, v in os.environ.items() if not k.startswith("BUS_")}
        env.update({"BUS_STATE_DIR": str(s.state_dir.resolve()),
                    "BUS_KAFKA_BOOTSTRAP": s.kafka_bootstrap, "BUS_REGISTRY_URL": s.registry_url,
                    "PYTHONUNBUFFERED": "1"})
        if s.read_store_url:
            env["BUS_READ_STORE_URL"] = s.read_store_url
        return env

    def running(self, projection: str) -> bool:
        job = self.jobs.get(projection)
        return job is not None and job.state == "running"

    async def start(self, projection: str, client: str, *, switch: bool,
                    finished: Outcome) -> RebuildJob:
        if self.running(projection):
            raise AlreadyRunning(projection)
        job = RebuildJob(projection, client, switch)
        process = await asyncio.create_subprocess_exec(
            *self.command(projection, switch), env=self.environment(),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        job.pid = process.pid
        self.jobs[projection] = job
        self._processes[projection] = process
        task = asyncio.create_task(self._wait(job, process, finished), name=f"rebuild-{projection}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return job

    async def _wait(self, job: RebuildJob, process: asyncio.subprocess.Process,
                    finished: Outcome) -> None:
        out, err = await process.communicate()
        job.exit_code = process.returncode
        job.finished_ms = int(time.time() * 1000)
        try:
            job.report = json.loads(out.decode() or "null")
        except ValueError:
            job.report = None
        if job.exit_code == 0:
            job.state = "done"
        else:
            job.state = "failed"
            lines = [line for line in err.decode(errors="replace").splitlines() if line.strip()]
            job.error = lines[-1][:500] if lines else f"exit code {job.exit_code}"
        self._processes.pop(job.projection, None)
        try:
            await finished(job)
        except Exception:
            log.exception("the outcome of the %s rebuild was not recorded", job.projection)

    async def close(self) -> None:
        for process in list(self._processes.values()):
            with suppress(ProcessLookupError):
                process.terminate()
        for task in list(self._tasks):
            with suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(task, timeout=10)


# --- HTTP -----------------------------------------------------------------------------------

REBUILD_ENDPOINT = "POST /ops/api/projections/{name}/rebuild"
JOBS = web.AppKey("ops_rebuild_jobs", RebuildJobs)
PROJECTIONS = web.AppKey("ops_rebuildable", list[str])


async def start_rebuild(request: web.Request) -> web.Response:
    """``POST /ops/api/projections/{name}/rebuild`` ``{"switch": true}`` (operator): 202."""
    name = request.match_info["name"]
    known: list[str] = request.config_dict[PROJECTIONS]
    if name not in known:
        return problem(404, "projection-not-found", "Projection not found",
                       f"no projection {name!r}; known: {', '.join(known)}")
    try:
        body = await request.json() if request.can_read_body else {}
    except ValueError:
        body = None
    if not isinstance(body, dict):
        return problem(400, "invalid-body", "Invalid body", 'send {"switch": true} or nothing')
    jobs = request.config_dict[JOBS]
    if jobs.running(name):
        return problem(409, "rebuild-running", "A rebuild is running",
                       f"{name} is being rebuilt; wait for it to finish")
    access = ops_access(request)
    audit = request.config_dict[AUDIT]
    request_id = request_id_of(request)

    def entry(result: str, status: int) -> AuditEntry:
        return AuditEntry(request_id, access.client.id, access.purpose, "projection", name,
                          REBUILD_ENDPOINT, (), (), result, status)

    try:
        await audit.append(entry("requested", 202))
    except Exception as exc:
        log.error("audit record of a rebuild not stored: %s", exc)
        response = problem(503, "audit-unavailable", "Audit log unavailable",
                           "the rebuild could not be recorded in the audit log; nothing was done")
        response.headers["Retry-After"] = "5"
        return response

    async def finished(job: RebuildJob) -> None:
        await audit.append(entry(job.state, 200 if job.state == "done" else 500))

    try:
        job = await jobs.start(name, access.client.id, switch=bool(body.get("switch", True)),
                               finished=finished)
    except AlreadyRunning:
        return problem(409, "rebuild-running", "A rebuild is running",
                       f"{name} is being rebuilt; wait for it to finish")
    return web.json_response(job.as_json(), status=202)


async def list_jobs(request: web.Request) -> web.Response:
    jobs = request.config_dict[JOBS]
    return web.json_response({"items": [j.as_json() for j in jobs.jobs.values()]})


def add_routes(ops: web.Application, settings: Settings, projections: Sequence[str]) -> None:
    jobs = RebuildJobs(settings)
    ops[JOBS] = jobs
    ops[PROJECTIONS] = list(projections)

    async def close(_: web.Application) -> None:
        await jobs.close()

    ops.on_cleanup.append(close)
    ops.router.add_post("/api/projections/{name}/rebuild", start_rebuild)
    ops.router.add_get("/api/rebuilds", list_jobs)
