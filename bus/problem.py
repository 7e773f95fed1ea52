"""RFC 9457 problem details (``application/problem+json``) with a stable ``type`` per error."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

PROBLEM_CONTENT_TYPE = "application/problem+json"


def problem(status: int, type_: str, title: str, detail: str | None = None,
            **extra: Any) -> web.Response:
    body: dict[str, Any] = {"type": f"/problems/{type_}", "title": title, "status": status}
    if detail:
        body["detail"] = detail
    body.update(extra)
    return web.Response(status=status, content_type=PROBLEM_CONTENT_TYPE,
                        text=json.dumps(body, ensure_ascii=False))
