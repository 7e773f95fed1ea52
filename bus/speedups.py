"""The optional C speedups (``bus/_speedups*.c``), or None where they are not built or are off.

``BUS_SPEEDUPS=0`` turns them off (the pure-Python code, identical output), read once per
process; :func:`pure_python` turns them off for a block (the tests compare both paths).
"""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import Iterator
from types import ModuleType

_OFF = frozenset({"0", "false", "no", "off"})
_pure_python_blocks = 0


def speedups() -> ModuleType | None:
    """The compiled module, unless turned off or not built. Cheap enough to ask per row."""
    if _pure_python_blocks:
        return None
    return _configured()


@contextlib.contextmanager
def pure_python() -> Iterator[None]:
    """Within the block :func:`speedups` is None (this thread and every other)."""
    global _pure_python_blocks
    _pure_python_blocks += 1
    try:
        yield
    finally:
        _pure_python_blocks -= 1


@functools.cache
def _configured() -> ModuleType | None:
    if os.environ.get("BUS_SPEEDUPS", "1").strip().lower() in _OFF:
        return None
    try:
        from bus import _speedups
    except ImportError:
        return None
    return _speedups
