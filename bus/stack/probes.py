"""Readiness probes: does the broker answer metadata requests, does the registry answer HTTP."""

from __future__ import annotations

import asyncio
import json
import logging
import time
import urllib.error
import urllib.request
from collections.abc import Callable

from aiokafka.admin import AIOKafkaAdminClient


def kafka_answers(bootstrap: str, timeout: float = 5.0) -> bool:
    # aiokafka logs every refused connection as an error; a probe expects refusals.
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)

    async def probe() -> bool:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=int(timeout * 1000))
        try:
            await asyncio.wait_for(admin.start(), timeout)
            await asyncio.wait_for(admin.list_topics(), timeout)
            return True
        except Exception:
            return False
        finally:
            await admin.close()

    return asyncio.run(probe())


def registry_answers(url: str, timeout: float = 3.0) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/subjects", timeout=timeout) as response:
            json.load(response)
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError, ValueError):
        return False


def wait_until(
    check: Callable[[], bool], *, timeout: float, interval: float = 0.5,
    failed: Callable[[], bool] = lambda: False,
) -> bool:
    """Poll ``check`` until it holds, ``failed`` holds, or ``timeout`` seconds pass."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        if failed():
            return False
        time.sleep(interval)
    return check()
