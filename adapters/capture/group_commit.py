"""Group commit: batches read ahead are committed in reading order, several per transaction.

With the pipeline on (:mod:`adapters.capture.runner`), the runner keeps reading while earlier
batches are built and committed. Each Kafka transaction costs round trips of its own (adding
the partitions, the commit markers), so instead of one transaction per read batch, the
committer takes the oldest batch and every later one already built, and commits their
records with the *last* checkpoint in one transaction. The order stays the reading order and
only one transaction is open at a time, so a checkpoint is still never stored before the
batches it follows; a group is as large as what arrived while the previous one committed, so
a slow broker gets larger transactions and an idle one the same latency as before.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Generic, TypeVar

__all__ = ["GroupCommitter"]

T = TypeVar("T")
BatchT = TypeVar("BatchT")
BuiltT = TypeVar("BuiltT")
#: Commits a group: its batches in reading order and what was built for each.
CommitGroup = Callable[[Sequence[BatchT], Sequence[BuiltT]], Awaitable[None]]


class GroupCommitter(Generic[BatchT, BuiltT]):
    """Commits submitted batches in order, with at most ``depth`` submitted and not committed.

    ``submit`` and ``drain`` raise what a commit raised; after that nothing more is committed.
    ``close`` cancels what is left (the builds too), e.g. when the runner restarts.
    """

    def __init__(self, commit: CommitGroup[BatchT, BuiltT], depth: int) -> None:
        if depth < 1:
            raise ValueError("depth must be at least 1")
        self._commit = commit
        self._depth = depth
        self._pending: deque[tuple[BatchT, asyncio.Future[BuiltT]]] = deque()
        self._committing = 0
        self._arrived = asyncio.Event()
        self._committed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def submit(self, batch: BatchT, built: asyncio.Future[BuiltT]) -> None:
        """Queue ``batch`` (``built``: its records, being built); waits while ``depth`` are."""
        if self._task is None:
            self._task = asyncio.create_task(self._run())
        elif self._task.done():
            self._task.result()  # a commit failed: nothing after it is taken
            raise RuntimeError("the committer stopped")
        self._pending.append((batch, built))
        self._arrived.set()
        while len(self._pending) + self._committing > self._depth:
            await self._progress()

    async def alongside(self, awaitable: Awaitable[T]) -> T:
        """``awaitable``'s result — unless a commit fails first: then ``awaitable`` is
        cancelled and the commit's exception raised. For a read that may wait on what the
        commits acknowledge (a ``diff`` pass waits for its hashes), which would otherwise
        wait for a failed commit forever."""
        future = asyncio.ensure_future(awaitable)
        task = self._task
        if task is None:
            return await future
        try:
            await asyncio.wait({future, task}, return_when=asyncio.FIRST_COMPLETED)
        except BaseException:
            future.cancel()
            raise
        if not task.done():
            return future.result()
        future.cancel()
        await asyncio.gather(future, return_exceptions=True)
        task.result()  # the commit's exception
        raise RuntimeError("the committer stopped")

    async def drain(self) -> None:
        """Wait until every submitted batch is committed."""
        while self._pending or self._committing:
            await self._progress()

    async def close(self) -> None:
        waiting: list[asyncio.Future[Any]] = [built for _, built in self._pending]
        if self._task is not None:
            waiting.append(self._task)
        for future in waiting:
            future.cancel()
        await asyncio.gather(*waiting, return_exceptions=True)
        self._pending.clear()

    async def _progress(self) -> None:
        """Wait for the next group to be committed; raise if committing failed."""
        task = self._task
        if task is None:
            return
        self._committed.clear()  # no await since the caller checked: no commit is missed
        waiter = asyncio.ensure_future(self._committed.wait())
        try:
            await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            waiter.cancel()
        if task.done():
            task.result()  # the commit's exception
            raise RuntimeError("the committer stopped with batches still pending")

    async def _run(self) -> None:
        pending = self._pending
        while True:
            while not pending:
                self._arrived.clear()
                await self._arrived.wait()
            batch, future = pending.popleft()
            self._committing = 1
            batches, built = [batch], [await future]
            # Every later batch already built joins this transaction, in order.
            while pending and pending[0][1].done():
                batch, future = pending.popleft()
                batches.append(batch)
                built.append(future.result())
            self._committing = len(batches)
            await self._commit(batches, built)
            self._committing = 0
            self._committed.set()
