"""``bus sinks run``: every configured write-back sink in one asyncio process, with a status server.

Built from settings like the adapters process (:mod:`bus.bootstrap`): the configuration named
by ``BUS_WRITEBACK_CONFIG`` (``adapters/config/writeback.yaml`` by default), one runner per
sink, ``/status`` (JSON) and ``/metrics`` (Prometheus) on ``BUS_SINKS_HOST:BUS_SINKS_PORT``.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager, suppress
from pathlib import Path

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from adapters.sinks.config import SinkConfig, load_configured_sinks
from adapters.sinks.file_target import FileTarget
from adapters.sinks.model import Target
from adapters.sinks.runner import SinkRunner
from adapters.sinks.sql_target import SqlTarget
from adapters.sinks.status import SinkMetrics
from bus.serde.avro import AvroSerde
from bus.serde.registry_client import RegistryClient
from bus.settings import Settings

__all__ = ["build_target", "run_sinks", "sink_runners"]

log = logging.getLogger(__name__)
RUNNERS = web.AppKey("sink_runners", list[SinkRunner])
METRICS = web.AppKey("sink_metrics", CollectorRegistry)


def build_target(config: SinkConfig, state_dir: Path) -> Target:
    if config.engine == "files":
        return FileTarget(config, state_dir)
    return SqlTarget(config)


@asynccontextmanager
async def sink_runners(settings: Settings, configs: Sequence[SinkConfig] | None = None,
                       ) -> AsyncIterator[tuple[list[SinkRunner], CollectorRegistry]]:
    """A runner for every configured sink (not started), sharing one serde and one registry."""
    configs = list(load_configured_sinks(settings) if configs is None else configs)
    registry = RegistryClient(settings.registry_url)
    metrics_registry = CollectorRegistry()
    metrics = SinkMetrics(metrics_registry)
    serde = AvroSerde(registry)
    state_dir = settings.state_dir.resolve()
    try:
        yield ([SinkRunner(c, build_target(c, state_dir), bootstrap=settings.kafka_bootstrap,
                           serde=serde, metrics=metrics) for c in configs], metrics_registry)
    finally:
        await registry.close()


def create_status_app(runners: Sequence[SinkRunner], registry: CollectorRegistry) -> web.Application:
    async def status(request: web.Request) -> web.Response:
        return web.json_response({"sinks": [r.status.as_dict() for r in request.app[RUNNERS]]})

    async def metrics(request: web.Request) -> web.Response:
        return web.Response(body=generate_latest(request.app[METRICS]),
                            headers={"Content-Type": CONTENT_TYPE_LATEST})

    app = web.Application()
    app[RUNNERS] = list(runners)
    app[METRICS] = registry
    app.router.add_get("/status", status)
    app.router.add_get("/metrics", metrics)
    return app


async def run_sinks(settings: Settings) -> None:
    """Run every sink until SIGINT/SIGTERM; an unexpected error stops all, loudly."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    async with sink_runners(settings) as (runners, metrics_registry):
        server = web.AppRunner(create_status_app(runners, metrics_registry), access_log=None)
        await server.setup()
        await web.TCPSite(server, settings.sinks_host, settings.sinks_port).start()
        log.info("sinks: %s", ", ".join(r.config.name for r in runners) or "(none configured)")
        try:
            tasks = [asyncio.create_task(r.run(stop), name=r.config.name) for r in runners]
            if not tasks:
                await stop.wait()
                return
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
            stop.set()
            await asyncio.gather(*tasks, return_exceptions=True)
            for task in done:
                if task.exception() is not None:
                    raise task.exception()  # type: ignore[misc]
        finally:
            await server.cleanup()
