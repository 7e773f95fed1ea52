"""Runs the bus's long-lived processes side by side for the demo; Ctrl-C stops them all."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Service:
    name: str
    argv: tuple[str, ...]


def bus_command(*args: str) -> tuple[str, ...]:
    return (sys.executable, "-m", "bus", *args)


class Supervisor:
    """Starts services as child processes and stops them in reverse order."""

    def __init__(self, services: Sequence[Service], log_dir: Path,
                 env: Mapping[str, str] | None = None) -> None:
        self.services = services
        self.log_dir = log_dir
        self.env = dict(env or os.environ)
        self.children: dict[str, subprocess.Popen[bytes]] = {}

    def log_file(self, name: str) -> Path:
        return self.log_dir / f"{name}.log"

    def start(self) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        for service in self.services:
            with open(self.log_file(service.name), "ab") as log:
                self.children[service.name] = subprocess.Popen(
                    service.argv, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL)

    def wait(self) -> str | None:
        """Block until one child exits (its name) or SIGINT/SIGTERM arrives (None)."""
        stop = False

        def request_stop(signum: int, frame: object) -> None:
            nonlocal stop
            stop = True

        signal.signal(signal.SIGINT, request_stop)
        signal.signal(signal.SIGTERM, request_stop)
        while not stop:
            for name, child in self.children.items():
                if child.poll() is not None:
                    return name
            time.sleep(0.3)
        return None

    def stop(self, timeout: float = 20.0) -> None:
        for name in reversed(list(self.children)):
            child = self.children[name]
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for child in self.children.values():
            try:
                child.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
