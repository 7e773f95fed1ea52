"""The projection benchmarks' own stack and ``bus`` child processes.

A Kafka broker and the schema registry on free ports with a state dir of their own
(``LocalStack``), so a running demo or test stack is never touched — the projections read fixed
topic names (``std.person`` …), which only a private broker keeps apart. Each ``bus`` process
gets its own state dir and faust app id, and runs from the tree this file belongs to.
"""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path

from bus.settings import Settings, load_settings

__all__ = ["BusProcess", "bus_env", "free_port", "positions", "stack_settings"]

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def stack_settings(state_dir: Path) -> Settings:
    """Settings of a private stack: its own state dir and ports."""
    return load_settings(state_dir=state_dir, kafka_bootstrap=f"127.0.0.1:{free_port()}",
                         kafka_controller_port=free_port(),
                         registry_url=f"http://127.0.0.1:{free_port()}", kafka_heap="768m")


def bus_env(stack: Settings, state_dir: Path, **extra: str) -> dict[str, str]:
    """Environment of a ``bus`` child talking to ``stack`` with ``state_dir`` of its own."""
    state_dir.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env.update({
        "BUS_STATE_DIR": str(state_dir),
        "BUS_KAFKA_BOOTSTRAP": stack.kafka_bootstrap,
        "BUS_REGISTRY_URL": stack.registry_url,
        "BUS_WEB_PORT": str(free_port()),
        "BUS_ADAPTERS_PORT": str(free_port()),
        "BUS_PROJECTIONS_APP_ID": f"bench-projections-{uuid.uuid4().hex[:12]}",
        "PYTHONPATH": str(ROOT) + os.pathsep + env.get("PYTHONPATH", ""),
        "PYTHONUNBUFFERED": "1",
    })
    env.update(extra)
    return env


class BusProcess:
    """One ``python -m bus …`` child with its output in ``log_dir/<name>.log``."""

    def __init__(self, name: str, args: list[str], env: Mapping[str, str], log_dir: Path,
                 python: Sequence[str] = ()) -> None:
        self.name = name
        self.python = list(python)  # interpreter options before ``-m bus`` (e.g. cProfile)
        self.args = args
        self.env = dict(env)
        log_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = log_dir / f"{name}.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> BusProcess:
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen([sys.executable, *self.python, "-m", "bus", *self.args],
                                            env=self.env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
        return self

    def run(self, timeout: float) -> subprocess.CompletedProcess[str]:
        """Run to completion; its stdout (stderr goes to the log)."""
        with open(self.log_path, "ab") as log:
            return subprocess.run([sys.executable, "-m", "bus", *self.args], env=self.env, cwd=ROOT,
                                  stdout=subprocess.PIPE, stderr=log, text=True, timeout=timeout,
                                  check=False)

    def cpu_seconds(self) -> float | None:
        """User + system CPU seconds the process has used so far (Linux ``/proc``; None elsewhere
        or once it is gone). Steadier than wall time on a machine shared with other work."""
        if self.process is None:
            return None
        try:
            fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return None
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self, timeout: float = 30) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def log_tail(self, lines: int = 30) -> str:
        text = self.log_path.read_text(encoding="utf-8", errors="replace")
        return "\n".join(text.splitlines()[-lines:])


def positions(store: Path) -> dict[str, int]:
    """``topic → next offset`` (partition 0) of a projection's SQLite store; empty before it exists."""
    if not store.exists():
        return {}
    try:
        db = sqlite3.connect(f"file:{store}?mode=ro", uri=True, timeout=5)
    except sqlite3.OperationalError:
        return {}
    try:
        return {str(topic): int(offset) for topic, offset in db.execute(
            "SELECT topic, next_offset FROM projection_position WHERE partition = 0")}
    except sqlite3.OperationalError:
        return {}  # the worker has not created its tables yet
    finally:
        db.close()


def outbox_size(store: Path) -> int:
    """Messages the store's outbox publisher has not sent yet."""
    if not store.exists():
        return 0
    db = sqlite3.connect(f"file:{store}?mode=ro", uri=True, timeout=5)
    try:
        return int(db.execute("SELECT count(*) FROM outbox").fetchone()[0])
    except sqlite3.OperationalError:
        return 0
    finally:
        db.close()
