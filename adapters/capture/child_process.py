"""Worker processes of a capture: started with ``spawn``, gone with their parent.

``fork`` would copy a process running an event loop and threads (a lock held by another
thread stays held forever in the child), so children start a fresh interpreter. A pool's
worker holds both ends of its call queue and never sees the parent's end close; a watcher
thread ends it when the parent is gone — without it, every SIGKILLed ``bus adapters run``
would leave its workers behind. Workers ignore SIGINT: the parent shuts them down.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from typing import Any

__all__ = ["exit_with_parent", "prepare_child", "spawned_pool"]


def exit_with_parent(parent: int) -> None:
    """In a worker: leave as soon as process ``parent`` is gone."""
    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(0)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def prepare_child(parent: int, thresholds: tuple[int, int, int]) -> None:
    """In a spawned child of ``parent``: leave with it, collect cycles at its pace
    (bus/collector.py: children stream rows too), and leave Ctrl-C to it."""
    exit_with_parent(parent)
    gc.set_threshold(*thresholds)
    # Ctrl-C reaches the whole process group; the parent stops its children itself, and a
    # child interrupted in a queue or pipe read would print a traceback to the terminal.
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _start_worker(parent: int, thresholds: tuple[int, int, int],
                  initializer: Callable[..., None] | None, initargs: tuple[Any, ...]) -> None:
    prepare_child(parent, thresholds)
    if initializer is not None:
        initializer(*initargs)


def spawned_pool(size: int, initializer: Callable[..., None] | None = None,
                 initargs: tuple[Any, ...] = ()) -> ProcessPoolExecutor:
    """A pool of ``size`` spawned workers that exit with this process and collect cycles at
    its pace; ``initializer(*initargs)`` then runs in each."""
    return ProcessPoolExecutor(size, mp_context=multiprocessing.get_context("spawn"),
                               initializer=_start_worker,
                               initargs=(os.getpid(), gc.get_threshold(), initializer, initargs))
