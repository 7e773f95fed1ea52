"""The adapters process's own small HTTP server: ``/status`` (JSON) and ``/metrics``."""

from __future__ import annotations

from collections.abc import Sequence

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from adapters.capture.runner import CaptureRunner
from bus.settings import Settings

RUNNERS = web.AppKey("capture_runners", list[CaptureRunner])
METRICS = web.AppKey("metrics_registry", CollectorRegistry)


async def status(request: web.Request) -> web.Response:
    return web.json_response({"captures": [r.status.as_dict() for r in request.app[RUNNERS]]})


async def metrics(request: web.Request) -> web.Response:
    body = generate_latest(request.app[METRICS])
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


def create_status_app(runners: Sequence[CaptureRunner], registry: CollectorRegistry) -> web.Application:
    app = web.Application()
    app[RUNNERS] = list(runners)
    app[METRICS] = registry
    app.router.add_get("/status", status)
    app.router.add_get("/metrics", metrics)
    return app


async def start_status_server(settings: Settings, runners: Sequence[CaptureRunner],
                              registry: CollectorRegistry) -> web.AppRunner:
    """Started by the adapters process; ``cleanup()`` on the result stops it."""
    runner = web.AppRunner(create_status_app(runners, registry), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, settings.adapters_host, settings.adapters_port).start()
    return runner
