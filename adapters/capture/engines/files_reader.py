"""Where a file drop is read: in a process of its own, or in a worker thread.

Reading a file — decoding, parsing, hashing every record and comparing it with the previous
extract — is interpreter work. In a thread it takes turns on the interpreter lock with the
event loop that builds and sends the records, so a capture used one core while the other
waited. :class:`ProcessReader` keeps the take, and the previous extract it compares with, in
a child process (``reader: process``, the default); only the batches travel back
(:mod:`adapters.capture.batch_wire`): in the capture process a row then costs about 1.1 µs to
load against about 5 µs to read.

Both readers do the same synchronous work (:class:`TakeReader`); the choice of the next file
stays with :class:`~adapters.capture.engines.files.FileDropSource`, in the capture process.
The process reader asks for :data:`READ_AHEAD` batches ahead, so the child reads the next
batches while the capture builds and sends the last ones. A child that dies fails the read
with ``SourceUnavailable``: the runner resumes from the last committed checkpoint with a new
child.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import replace
from pathlib import Path
from typing import Protocol, TypeVar

from adapters.capture.batch_wire import batch_bytes, batch_of
from adapters.capture.child_process import spawned_pool
from adapters.capture.engines.files_options import parse_options
from adapters.capture.engines.files_progress import FileProgress
from adapters.capture.engines.files_state import ExtractRows, ExtractState
from adapters.capture.engines.files_take import FileJob, FileTake
from adapters.capture.source import Batch, SourceUnavailable, TableSpec

__all__ = ["FileReader", "ProcessReader", "TakeReader", "Taken", "ThreadReader"]

#: A batch and the progress after it.
Taken = tuple[Batch, FileProgress]

T = TypeVar("T")

#: Batches the child reads ahead of the one the capture asked for.
READ_AHEAD = 4


class TakeReader:
    """The files of one read, one after the other (synchronous).

    Holds the previous extract of ``full`` mode between files: each file taken to its end
    leaves the generation the next one is compared with.
    """

    def __init__(self, spec: TableSpec, state_path: Path | None) -> None:
        self.spec = spec
        self.options = parse_options(spec)
        self.state = None if state_path is None else ExtractState(state_path)
        self.previous: ExtractRows | None = None
        self.take: FileTake | None = None

    def load(self, generation: int) -> None:
        """Start from the extract ``generation`` left (``full`` mode)."""
        self.previous = None if self.state is None else self.state.load(generation)

    def open(self, job: FileJob) -> tuple[str, ...]:
        """Open ``job``'s file (raises FileChanged); its columns."""
        self.close()
        take = FileTake(job, self.spec, self.options, self.previous, self.state)
        try:
            take.open()
        except BaseException:
            take.close()
            raise
        self.take = take
        return take.columns

    def next_batch(self) -> Taken | None:
        """The open file's next batch; None once it is taken."""
        take = self.take
        if take is None:
            return None
        batch = take.next_batch()
        if batch is None:
            if take.diff is not None:
                self.previous = take.diff.next_state()
            self.close()
            return None
        return batch, take.progress

    def close(self) -> None:
        if self.take is not None:
            self.take.close()
            self.take = None


class FileReader(Protocol):
    """What the source asks of a reader; ``close`` ends it (and its child)."""

    async def load(self, generation: int) -> None: ...

    async def open(self, job: FileJob) -> tuple[str, ...]: ...

    async def next_batch(self) -> Taken | None: ...

    def close(self) -> None: ...


class ThreadReader:
    """A :class:`TakeReader` in worker threads of the capture process (``reader: thread``)."""

    def __init__(self, spec: TableSpec, state_path: Path | None) -> None:
        self._reader = TakeReader(spec, state_path)

    async def load(self, generation: int) -> None:
        await asyncio.to_thread(self._reader.load, generation)

    async def open(self, job: FileJob) -> tuple[str, ...]:
        return await asyncio.to_thread(self._reader.open, job)

    async def next_batch(self) -> Taken | None:
        return await asyncio.to_thread(self._reader.next_batch)

    def close(self) -> None:
        self._reader.close()


# --- the child's side ------------------------------------------------------------------------

_child: TakeReader | None = None


def _start_child(spec: TableSpec, state_path: Path | None) -> None:
    global _child
    _child = TakeReader(spec, state_path)


def _load(generation: int) -> None:
    assert _child is not None
    _child.load(generation)


def _open(job: FileJob) -> tuple[str, ...]:
    assert _child is not None
    return _child.open(job)


def _next_batch() -> bytes | None:
    assert _child is not None
    return _packed(_child.next_batch())


def _packed(taken: Taken | None) -> bytes | None:
    return None if taken is None else batch_bytes(*taken)


def _unpacked(packed: bytes | None) -> Taken | None:
    if packed is None:
        return None
    batch, progress = batch_of(packed)
    return batch, progress


# --- the capture's side ----------------------------------------------------------------------

class ProcessReader:
    """A :class:`TakeReader` in a child process, :data:`READ_AHEAD` batches ahead."""

    def __init__(self, spec: TableSpec, state_path: Path | None) -> None:
        # Options arrive as whatever mapping the configuration built; the child needs a dict.
        self._spec = replace(spec, options=dict(spec.options))
        self._state_path = state_path
        self._pool: ProcessPoolExecutor | None = None
        #: Batches asked for and not yet handed out, oldest first.
        self._ahead: deque[asyncio.Future[bytes | None]] = deque()

    def _executor(self) -> ProcessPoolExecutor:
        if self._pool is None:
            self._pool = spawned_pool(1, _start_child, (self._spec, self._state_path))
        return self._pool

    def _submit(self, call: Callable[..., T], *args: object) -> asyncio.Future[T]:
        try:
            return asyncio.wrap_future(self._executor().submit(call, *args))
        except BrokenProcessPool as exc:  # the child died before this call: fail it the same
            failed: asyncio.Future[T] = asyncio.get_running_loop().create_future()
            failed.set_exception(exc)
            return failed

    async def _result(self, future: asyncio.Future[T]) -> T:
        try:
            return await future
        except BrokenProcessPool as exc:
            self.close()
            raise SourceUnavailable(
                f"the reader process of {self._spec.topic} ended unexpectedly ({exc}); "
                f"resuming from the last committed checkpoint") from exc

    async def load(self, generation: int) -> None:
        await self._result(self._submit(_load, generation))

    async def open(self, job: FileJob) -> tuple[str, ...]:
        self._drop_ahead()
        return await self._result(self._submit(_open, job))

    async def next_batch(self) -> Taken | None:
        ahead = self._ahead
        while len(ahead) < READ_AHEAD:  # the child reads these while the capture sends
            ahead.append(self._submit(_next_batch))
        # After the file's last batch these come back None: open() drops them.
        return _unpacked(await self._result(ahead.popleft()))

    def _drop_ahead(self) -> None:
        while self._ahead:
            future = self._ahead.popleft()
            if future.done() and not future.cancelled():
                future.exception()  # retrieved: a batch nobody asked for failing is not logged
            else:
                future.cancel()

    def close(self) -> None:
        """End the child; a batch it was reading ahead is dropped (never handed out)."""
        self._drop_ahead()
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)
