"""Quarantine on the dashboard: browse the rows still refused, replay a table after a fix.

The rows come from the service's quality feed (``bus.web.quality``), which follows ``std.*``
and ``quarantine.*``: a row is listed while its quarantine record is the latest state of its
legacy record, so a replayed (or re-sent and accepted) row leaves the list by itself.

A quarantined row is a legacy row as the department sent it, so it is shown as its table's
most sensitive data (``sensitive_personal``): in full only to a client that sees that
classification with a purpose declared at sign-in, otherwise each value partially masked.

A replay (operator role) runs ``adapters.standardize.replay`` for one table: the mapping is the
shipped one, or the fixed file ``<department>.<table>.yaml`` in ``BUS_REPLAY_MAPPINGS_DIR``.
It is recorded in the audit log before it starts (no record, no replay) and again with its
outcome.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Mapping as MappingType
from pathlib import Path
from typing import Any

from aiohttp import web

from adapters.standardize.mapping import Mapping, MappingError, find_mapping, load_mapping_file
from adapters.standardize.replay import replay
from bus.access import masking
from bus.access.audit import AuditEntry
from bus.access.policy import Access
from bus.governance.quality import QuarantineSeen
from bus.problem import problem
from bus.settings import Settings
from bus.web.auth import request_id_of
from bus.web.ops.listing import ListingError, Query
from bus.web.ops.session import ops_access
from bus.web.privacy import AUDIT
from bus.web.quality import FEED

__all__ = ["Replays", "add_routes", "masked_row"]

log = logging.getLogger(__name__)
_CODE = re.compile(r"^[a-z0-9_]{1,64}$")
_IDENTITY_LIKE = re.compile(r"^[0-9]{15}$|^[0-9]{17}[0-9Xx]$")
ROW_CLASSIFICATION = "sensitive_personal"
REPLAY_ENDPOINT = "POST /ops/api/quarantine/replay"


class Replays:
    """One replay at a time per service, with the mappings it may use."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.lock = asyncio.Lock()

    def mapping(self, department: str, table: str) -> Mapping | None:
        folder: Path | None = self.settings.replay_mappings_dir
        if folder is not None:
            fixed = folder / f"{department}.{table}.yaml"
            if fixed.is_file():
                return load_mapping_file(fixed)
        return find_mapping(department, table)


REPLAYS = web.AppKey("ops_replays", Replays)


def masked_row(row: MappingType[str, str | None] | None, access: Access
               ) -> dict[str, str | None] | None:
    """The original row as ``access`` may see it."""
    if row is None:
        return None
    if access.sees(ROW_CLASSIFICATION):
        return dict(row)
    shown: dict[str, str | None] = {}
    for column, value in row.items():
        if value is None or value == "":
            shown[column] = value
        elif _IDENTITY_LIKE.match(value):
            shown[column] = masking.identity_number(value)
        else:
            shown[column] = masking.name(value)
    return shown


def _record(seen: QuarantineSeen, access: Access) -> dict[str, Any]:
    p = seen.position
    key = seen.record_key
    return {"department": seen.department, "table": seen.table,
            "record_key": key if key is None or access.sees(ROW_CLASSIFICATION)
            else masking.name(key),
            "rule_id": seen.rule_id, "message_zh": seen.message_zh, "message_en": seen.message_en,
            "column": seen.column, "op": seen.op, "original": masked_row(seen.original, access),
            "event_id": seen.event_id, "at_ms": p.timestamp_ms,
            "position": f"{p.topic}/{p.partition}/{p.offset}"}


def _bad(parameter: str, detail: str) -> web.Response:
    return problem(400, "invalid-parameter", "Invalid query parameter", detail, parameter=parameter)


def _unavailable(request: web.Request) -> web.Response | None:
    feed = request.config_dict[FEED]
    if feed.ready:
        return None
    detail = (f"the quarantine cannot be read from Kafka: {feed.error}" if feed.error
              else "the quarantine is still being read from Kafka")
    response = problem(503, "quarantine-unavailable", "Quarantine unavailable", detail)
    response.headers["Retry-After"] = str(feed.retry_after())
    return response


async def list_quarantine(request: web.Request) -> web.Response:
    """``GET /ops/api/quarantine?department=&table=&rule=&page=&size=``: tables with their
    counts by rule, and one page of rows."""
    if (busy := _unavailable(request)) is not None:
        return busy
    filters = {name: request.query.get(name, "").strip() for name in ("department", "table")}
    for name, value in filters.items():
        if value and not _CODE.match(value):
            return _bad(name, f"{name} is a lower-case code such as gongan or hj_ryxx")
    rule = request.query.get("rule", "").strip()
    try:
        query = Query.parse(request.query, default_size=25)
    except ListingError as exc:
        return _bad(exc.parameter, str(exc))
    aggregate = request.config_dict[FEED].aggregate
    report = aggregate.report(filters["department"] or None, filters["table"] or None)
    access = ops_access(request)
    tables = [{"department": t.department, "table": t.table, "entity": t.entity,
               "quarantined": t.quarantined,
               "rules": [{"rule_id": r.rule_id, "records": r.records, "message_zh": r.message_zh,
                          "message_en": r.message_en} for r in t.rules]}
              for t in report.tables]
    rows = [seen for t in report.tables for seen in aggregate.pending(t.department, t.table)
            if not rule or seen.rule_id == rule]
    rows.sort(key=lambda seen: seen.position, reverse=True)  # newest first
    start = (query.page - 1) * query.size
    return web.json_response({
        "tables": tables, "total": len(rows), "page": query.page, "size": query.size,
        "items": [_record(seen, access) for seen in rows[start:start + query.size]],
        "masked": not access.sees(ROW_CLASSIFICATION)})


async def _audit(request: web.Request, access: Access, subject: str, result: str, status: int
                 ) -> bool:
    entry = AuditEntry(request_id_of(request), access.client.id, access.purpose, "quarantine",
                       subject, REPLAY_ENDPOINT, (), (), result, status)
    try:
        await request.config_dict[AUDIT].append(entry)
    except Exception as exc:
        log.error("audit record of a replay not stored: %s", exc)
        return False
    return True


async def replay_table(request: web.Request) -> web.Response:
    """``POST /ops/api/quarantine/replay`` ``{"department", "table", "dry_run"}`` (operator)."""
    try:
        body = await request.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        return problem(400, "invalid-body", "Invalid body",
                       'send {"department": "gongan", "table": "hj_ryxx", "dry_run": false}')
    department, table = body.get("department"), body.get("table")
    for name, value in (("department", department), ("table", table)):
        if not isinstance(value, str) or not _CODE.match(value):
            return problem(400, "invalid-body", "Invalid body",
                           f"{name} is a lower-case code such as gongan or hj_ryxx")
    assert isinstance(department, str) and isinstance(table, str)
    dry_run = bool(body.get("dry_run", False))
    replays = request.config_dict[REPLAYS]
    try:
        mapping = replays.mapping(department, table)
    except MappingError as exc:
        return problem(422, "mapping-invalid", "Mapping invalid", str(exc))
    if mapping is None:
        return problem(404, "mapping-not-found", "Mapping not found",
                       f"no mapping for {department}.{table}: nothing to replay it through")
    if replays.lock.locked():
        return problem(409, "replay-running", "A replay is running",
                       "one replay runs at a time; try again when it has finished")
    access = ops_access(request)
    subject = f"{department}.{table}"
    async with replays.lock:
        if not await _audit(request, access, subject, "dry_run" if dry_run else "requested", 202):
            response = problem(503, "audit-unavailable", "Audit log unavailable",
                               "the replay could not be recorded in the audit log; nothing was done")
            response.headers["Retry-After"] = "5"
            return response
        settings = replays.settings
        try:
            [result] = await replay(settings.kafka_bootstrap, settings.registry_url, [mapping],
                                    dry_run=dry_run)
        except Exception as exc:
            log.exception("replay of %s failed", subject)
            await _audit(request, access, subject, "failed", 502)
            return problem(502, "replay-failed", "Replay failed",
                           f"{type(exc).__name__}: {exc}".splitlines()[0])
        await _audit(request, access, subject, f"published:{result.published}", 200)
    return web.json_response(result.as_json())


async def get_quality(request: web.Request) -> web.Response:
    """``GET /ops/api/quality``: the figures of ``GET /v1/quality`` for the dashboard (no
    examples: they are legacy record keys)."""
    if (busy := _unavailable(request)) is not None:
        return busy
    report = request.config_dict[FEED].aggregate.report().as_json()
    for table in report.get("tables", []):
        for rule in table.get("rules", []):
            rule["examples"] = []
    return web.json_response(report)


def add_routes(ops: web.Application, settings: Settings) -> None:
    ops[REPLAYS] = Replays(settings)
    ops.router.add_get("/api/quality", get_quality)
    ops.router.add_get("/api/quarantine", list_quarantine)
    ops.router.add_post("/api/quarantine/replay", replay_table)
