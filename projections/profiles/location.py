"""Which file is a projection's live read store.

``<dir>/<name>.sqlite`` until a rebuild switches readers: then the pointer file
``<dir>/<name>.current`` names the live file. Writing the pointer is one atomic rename, so every
reader sees either the old store or the new one, never a mix; readers and workers resolve the
pointer whenever they open the store.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["live_store", "pointer_of", "switch_to"]


def pointer_of(default: Path) -> Path:
    return default.with_suffix(".current")


def live_store(default: Path) -> Path:
    """The live store for the default path ``<dir>/<name>.sqlite``."""
    try:
        name = pointer_of(default).read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return default
    return default.with_name(name) if name else default


def switch_to(default: Path, store: Path) -> None:
    """Make ``store`` (a file beside ``default``) the live store, atomically."""
    if store.parent.resolve() != default.parent.resolve():
        raise ValueError(f"{store} must be in {default.parent}")
    pointer = pointer_of(default)
    temporary = pointer.with_suffix(".current.tmp")
    temporary.write_text(store.name + "\n", encoding="utf-8")
    with temporary.open("rb") as handle:
        os.fsync(handle.fileno())
    os.replace(temporary, pointer)
