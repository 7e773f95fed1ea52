"""Running the registry as a process: serve until SIGTERM or SIGINT, then shut down cleanly."""

from __future__ import annotations

import asyncio
import logging
import signal

from aiohttp import web

from bus.registry.app import create_registry_app
from bus.registry.store import DEFAULT_TOPIC

__all__ = ["run_registry", "serve_registry"]

log = logging.getLogger(__name__)


async def serve_registry(
    bootstrap_servers: str, host: str, port: int, topic: str = DEFAULT_TOPIC
) -> None:
    """Serve the registry on ``host:port`` until SIGTERM/SIGINT (or cancellation)."""
    runner = web.AppRunner(create_registry_app(bootstrap_servers, topic), handle_signals=False)
    await runner.setup()
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await web.TCPSite(runner, host, port).start()
        log.info("schema registry serving on http://%s:%d (topic %s)", host, port, topic)
        await stop.wait()
        log.info("schema registry stopping")
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
        await runner.cleanup()


def run_registry(
    bootstrap_servers: str,
    host: str = "127.0.0.1",
    port: int = 8081,
    topic: str = DEFAULT_TOPIC,
) -> None:
    """Blocking entry point for ``bus registry serve``."""
    asyncio.run(serve_registry(bootstrap_servers, host, port, topic))
