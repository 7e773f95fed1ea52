"""What tests ask of the processes a capture spawns."""

from __future__ import annotations

import time
from pathlib import Path


def gone(pid: int, within: float = 10.0) -> bool:
    """Whether process ``pid`` ended (exited, or a zombie left to its parent) within
    ``within`` seconds."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            if Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] == "Z":
                return True
        except (FileNotFoundError, ProcessLookupError):  # reaped, or while being read
            return True
        time.sleep(0.02)
    return False
