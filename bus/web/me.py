"""``/v1/me``: what a citizen, signed in as themself, may see about the bus's use of their data."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from aiohttp import web

from bus.web.auth import CLIENTS, citizen_of
from bus.web.privacy import AUDIT


async def access_log(request: web.Request) -> web.Response:
    """Who read my data, when, why, which fields — newest first."""
    citizen = citizen_of(request)
    records = await request.app[AUDIT].for_subject(citizen)
    clients = request.app[CLIENTS]
    names: dict[str, str] = {}
    items = []
    for record in reversed(records):
        if record.client not in names:
            known = clients.get(record.client)
            names[record.client] = known.name if known else record.client
        items.append({
            "at": datetime.fromtimestamp(record.at_ms / 1000, UTC).isoformat(),
            "client": record.client, "client_name": names[record.client],
            "purpose": record.purpose, "endpoint": record.endpoint,
            "fields": list(record.fields), "masked": list(record.masked),
            "result": record.result, "request_id": record.request_id,
        })
    return web.json_response({"subject": citizen, "items": items},
                             dumps=lambda v: json.dumps(v, ensure_ascii=False))


def add_routes(app: web.Application) -> None:
    app.router.add_get("/v1/me/access-log", access_log)
