"""The optional C speedups (``bus/_speedups.c``), or None where they are not built or are off.

``BUS_SPEEDUPS=0`` turns them off (the pure-Python code, identical output); the tests run both.
"""

from __future__ import annotations

import os
from types import ModuleType


def speedups() -> ModuleType | None:
    """The compiled module, unless ``BUS_SPEEDUPS`` is ``0``/``false`` or it is not built."""
    if os.environ.get("BUS_SPEEDUPS", "1").strip().lower() in {"0", "false", "no", "off"}:
        return None
    try:
        from bus import _speedups
    except ImportError:
        return None
    return _speedups
