"""The optional C speedups (``bus/_speedups.c``), or None where they are not built or are off.

``BUS_SPEEDUPS=0`` turns them off (the pure-Python code, identical output); the tests run both.
"""

from __future__ import annotations

import functools
import os
from types import ModuleType

_OFF = frozenset({"0", "false", "no", "off"})


def speedups() -> ModuleType | None:
    """The compiled module, unless ``BUS_SPEEDUPS`` is ``0``/``false`` or it is not built.

    Cheap enough to ask per row: the environment is read each time (tests switch it), the
    import only once.
    """
    if os.environ.get("BUS_SPEEDUPS", "1").strip().lower() in _OFF:
        return None
    return _compiled()


@functools.cache
def _compiled() -> ModuleType | None:
    try:
        from bus import _speedups
    except ImportError:
        return None
    return _speedups
