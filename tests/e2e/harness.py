"""Drives real ``bus`` processes and reads real topics for the end-to-end tests."""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
from aiokafka import AIOKafkaConsumer, TopicPartition

from bus.serde.avro import AvroSerde
from bus.serde.registry_client import RegistryClient

T = TypeVar("T")


class BusProcess:
    """One ``python -m bus …`` child process with its output in a log file."""

    def __init__(self, name: str, args: list[str], env: Mapping[str, str], log_dir: Path) -> None:
        self.name = name
        self.args = args
        self.env = dict(env)
        self.log_path = log_dir / f"{name}.log"
        log_dir.mkdir(parents=True, exist_ok=True)
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self) -> BusProcess:
        log = open(self.log_path, "ab")  # noqa: SIM115 - the child owns it until it exits
        self.process = subprocess.Popen([sys.executable, "-m", "bus", *self.args], env=self.env,
                                        stdout=log, stderr=subprocess.STDOUT)
        log.close()
        self.starts += 1
        return self

    def kill(self) -> None:
        """SIGKILL: no clean-up, no flush, no offset commit."""
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()

    def stop(self, timeout: float = 20) -> int | None:
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")


def wait_for(check: Callable[[], T | None], timeout: float, what: str,
             interval: float = 0.3) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


@dataclass(frozen=True)
class TopicContents:
    """Every committed message of a topic, decoded."""

    records: list[dict[str, Any] | None]
    keys: list[Any]
    headers: list[dict[str, str]]

    def __len__(self) -> int:
        return len(self.records)

    def key_counts(self) -> Counter[str]:
        return Counter(json.dumps(k, sort_keys=True, ensure_ascii=False) for k in self.keys)


def read_topic(bootstrap: str, registry_url: str, topic: str, *,
               decode_keys: bool = True) -> TopicContents:
    """All committed messages of ``topic`` (read_committed), decoded through the registry."""

    async def read() -> TopicContents:
        consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, isolation_level="read_committed",
                                    enable_auto_commit=False)
        await consumer.start()
        records: list[dict[str, Any] | None] = []
        keys: list[Any] = []
        headers: list[dict[str, str]] = []
        try:
            partitions = consumer.partitions_for_topic(topic)
            if not partitions:
                await consumer._client.force_metadata_update()
                partitions = consumer.partitions_for_topic(topic) or set()
            tps = [TopicPartition(topic, p) for p in sorted(partitions)]
            if not tps:
                return TopicContents([], [], [])
            consumer.assign(tps)
            await consumer.seek_to_beginning(*tps)
            end = await consumer.end_offsets(tps)
            async with RegistryClient(registry_url) as registry:
                serde = AvroSerde(registry)
                for tp in tps:
                    while await consumer.position(tp) < end[tp]:
                        batch = await consumer.getmany(tp, timeout_ms=1000)
                        for m in batch.get(tp, []):
                            records.append(None if m.value is None else await serde.decode(m.value))
                            keys.append(await serde.decode(m.key) if decode_keys and m.key
                                        else m.key)
                            headers.append({k: v.decode() for k, v in m.headers or ()})
        finally:
            await consumer.stop()
        return TopicContents(records, keys, headers)

    return _run_outside_loop(read)


def _run_outside_loop(factory: Callable[[], Any]) -> Any:
    """``asyncio.run`` that also works when called from inside a running event loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(factory())
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(lambda: asyncio.run(factory())).result()


def http_get(url: str, headers: Mapping[str, str] | None = None) -> tuple[int, Any]:
    async def get() -> tuple[int, Any]:
        async with aiohttp.ClientSession(headers=headers) as session, session.get(url) as response:
            return response.status, await response.json(content_type=None)

    try:
        return asyncio.run(get())
    except aiohttp.ClientError:
        return 0, None
