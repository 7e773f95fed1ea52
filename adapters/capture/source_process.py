"""A capture source run in a child process of its own (``BUS_CAPTURE_SOURCE_PROCESS``).

Reading a legacy table — the driver's rows, their text images, the changes, a strategy's
hashes — and building and sending its records are both interpreter work. In one process they
take turns on the interpreter lock: a capture of a SQL table kept one core busy while the
machine stayed 40–45% idle. :class:`ProcessSource` keeps the real source in a spawned child
with an event loop of its own; the runner talks to it as to any source.

- Every call of the port (check, discover, acknowledge, close) is a message and its answer.
- A read streams batches on its own, up to :data:`READ_AHEAD` ahead of those the runner took
  (a credit per batch handed out), as :mod:`adapters.capture.batch_wire` writes them.
- A batch's ``durable`` is a call back into the child, for the batch it came with.
- A child that dies fails what waits on it with ``SourceUnavailable``; the runner resumes from
  the last committed checkpoint and the next call starts a new child. Closing the source ends
  its child, and a child ends with its parent (``adapters/capture/child_process.py``).
"""

from __future__ import annotations

import asyncio
import functools
import gc
import itertools
import logging
import multiprocessing
import os
import pickle
from collections.abc import AsyncGenerator, Mapping
from dataclasses import replace
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from adapters.capture.batch_wire import batch_bytes, batch_of
from adapters.capture.child_process import prepare_child
from adapters.capture.source import (
    Batch,
    CaptureSource,
    Checkpoint,
    SourceError,
    SourceUnavailable,
    TableInfo,
    TableSpec,
)

__all__ = ["READ_AHEAD", "ProcessSource"]

log = logging.getLogger(__name__)

#: Batches a child may send ahead of those the runner took.
READ_AHEAD = 8

#: How a child builds its source: engine name, connection settings, table spec, state dir.
Recipe = tuple[str, dict[str, Any], TableSpec, Path]


def dumps(message: object) -> bytes:
    return pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)


def crossing(exc: BaseException) -> BaseException:
    """``exc`` if it survives pickling, else an error of the same message that does."""
    try:
        pickle.loads(pickle.dumps(exc))
    except Exception:
        return SourceUnavailable(f"{type(exc).__name__}: {exc}")
    return exc


# --- the child's side ------------------------------------------------------------------------

def _serve(connection: Connection, recipe: Recipe, parent: int,
           thresholds: tuple[int, int, int], log_level: int) -> None:
    prepare_child(parent, thresholds)
    logging.basicConfig(level=log_level, format="%(levelname)s %(name)s: %(message)s")
    asyncio.run(_Server(connection, recipe).run())


class _Read:
    """One read in the child: its credit and the ``durable`` of each batch it sent."""

    def __init__(self, read_id: int, credit: int) -> None:
        self.read_id = read_id
        self.credit = asyncio.Semaphore(credit)
        self.durables: dict[int, Any] = {}


class _Server:
    """The child: one source, its calls answered and its reads streamed."""

    def __init__(self, connection: Connection, recipe: Recipe) -> None:
        from adapters.capture.engines.registry import factory_for

        engine, settings, spec, state_dir = recipe
        self.source: CaptureSource = factory_for(engine)(settings, spec, state_dir)
        self.connection = connection
        self.read: _Read | None = None
        self.reading: asyncio.Task[None] | None = None
        self.done = asyncio.Event()
        #: Calls being answered (a reference keeps each task alive until it is done).
        self.calls: set[asyncio.Task[None]] = set()

    def send(self, message: object) -> None:
        self.connection.send_bytes(dumps(message))

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        loop.add_reader(self.connection.fileno(), self._receive)
        await self.done.wait()

    def _receive(self) -> None:
        try:
            kind, *args = pickle.loads(self.connection.recv_bytes())
        except (EOFError, OSError):  # the capture closed its end: nothing left to serve
            self.done.set()
            return
        read = self.read
        if kind == "call":
            task = asyncio.ensure_future(self._call(*args))
            self.calls.add(task)
            task.add_done_callback(self.calls.discard)
        elif kind == "read":
            read_id, checkpoint, credit = args
            self.read = _Read(read_id, credit)
            self.reading = asyncio.ensure_future(self._read(self.read, checkpoint))
        elif kind == "credit" and read is not None and read.read_id == args[0]:
            read.credit.release()
        elif kind == "stop" and read is not None and read.read_id == args[0]:
            assert self.reading is not None
            self.reading.cancel()

    async def _call(self, call_id: int, method: str, args: tuple[Any, ...]) -> None:
        try:
            if method == "durable":
                await self._durable(*args)
                result = None
            else:
                result = await getattr(self.source, method)(*args)
        except BaseException as exc:  # every failure crosses to the caller
            self.send(("error", call_id, crossing(exc)))
            if isinstance(exc, asyncio.CancelledError):
                raise
        else:
            self.send(("result", call_id, result))
        if method == "close":
            self.done.set()

    async def _durable(self, read_id: int, number: int) -> None:
        read = self.read
        if read is None or read.read_id != read_id:
            raise SourceUnavailable("the read this batch came from has ended")
        durable = read.durables.pop(number)
        for older in [n for n in read.durables if n < number]:  # cumulative: done by this one
            del read.durables[older]
        await durable()

    async def _read(self, read: _Read, checkpoint: Checkpoint | None) -> None:
        reader = self.source.read(checkpoint)
        try:
            numbers = itertools.count(1)
            async for batch in reader:
                await read.credit.acquire()
                number = next(numbers)
                if batch.durable is not None:
                    read.durables[number] = batch.durable
                self.send(("batch", read.read_id, number, batch_bytes(batch),
                           batch.durable is not None))
            self.send(("end", read.read_id))
        except asyncio.CancelledError:
            raise
        except BaseException as exc:
            self.send(("failed", read.read_id, crossing(exc)))
        finally:
            await reader.aclose()


# --- the capture's side ----------------------------------------------------------------------

class _Child:
    """One running child and what waits on it."""

    def __init__(self, recipe: Recipe, name: str) -> None:
        context = multiprocessing.get_context("spawn")
        self.connection, theirs = context.Pipe(duplex=True)
        self.process = context.Process(
            target=_serve, name=name, daemon=True,
            args=(theirs, recipe, os.getpid(), gc.get_threshold(), logging.getLogger().level))
        self.process.start()
        theirs.close()
        self.calls: dict[int, asyncio.Future[Any]] = {}
        self.batches: asyncio.Queue[tuple[Any, ...]] = asyncio.Queue()
        self.ids = itertools.count(1)
        self.alive = True
        self.loop = asyncio.get_running_loop()
        self.loop.add_reader(self.connection.fileno(), self._receive)

    def send(self, message: object) -> None:
        try:
            self.connection.send_bytes(dumps(message))
        except OSError as exc:
            self._ended(exc)
            raise self.lost(exc) from exc

    def lost(self, cause: object) -> SourceUnavailable:
        return SourceUnavailable(f"the capture process {self.process.name} (pid "
                                 f"{self.process.pid}) ended unexpectedly ({cause}); resuming "
                                 f"from the last committed checkpoint")

    def _receive(self) -> None:
        try:
            message = pickle.loads(self.connection.recv_bytes())
        except (EOFError, OSError) as exc:
            self._ended(str(exc) or "its pipe closed")
            return
        kind = message[0]
        if kind in ("result", "error"):
            future = self.calls.pop(message[1], None)
            if future is not None and not future.done():
                if kind == "result":
                    future.set_result(message[2])
                else:
                    future.set_exception(message[2])
        else:
            self.batches.put_nowait(message)

    def _ended(self, cause: object) -> None:
        if not self.alive:
            return
        self.alive = False
        self.loop.remove_reader(self.connection.fileno())
        error = self.lost(cause)
        for future in self.calls.values():
            if not future.done():
                future.set_exception(error)
        self.calls.clear()
        self.batches.put_nowait(("failed", None, error))

    async def call(self, method: str, *args: Any) -> Any:
        if not self.alive:
            raise self.lost("before this call")
        call_id = next(self.ids)
        future: asyncio.Future[Any] = self.loop.create_future()
        self.calls[call_id] = future
        self.send(("call", call_id, method, args))
        return await future

    def stop(self) -> None:
        if self.alive:
            self.alive = False
            self.loop.remove_reader(self.connection.fileno())
        self.connection.close()
        self.process.join(5)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(5)


class ProcessSource:
    """A :class:`CaptureSource` whose real source runs in a child process."""

    def __init__(self, engine: str, connection: Mapping[str, Any], spec: TableSpec,
                 state_dir: Path, local: CaptureSource) -> None:
        # The local source only answers what the runner asks before reading; it never connects.
        self.engine, self.database, self.spec = local.engine, local.database, local.spec
        self.reads_ahead = bool(getattr(local, "reads_ahead", False))
        #: A SQL source's dialect: the runner's echo filter reads the write-back ledger
        #: through connections of its own (adapters/capture/echo.py).
        self.dialect = getattr(local, "dialect", None)
        self._recipe: Recipe = (engine, dict(connection), replace(spec, options=dict(spec.options)),
                                state_dir)
        self._child: _Child | None = None
        self._reads = 0

    def _running(self) -> _Child:
        if self._child is None or not self._child.alive:
            if self._child is not None:
                self._child.stop()
            self._child = _Child(self._recipe, f"capture-{self.spec.department}-{self.spec.table}")
        return self._child

    async def check(self) -> None:
        await self._running().call("check")

    async def discover(self) -> list[TableInfo]:
        infos: list[TableInfo] = await self._running().call("discover")
        return infos

    async def read(self, checkpoint: Checkpoint | None) -> AsyncGenerator[Batch, None]:
        child = self._running()
        self._reads += 1
        read_id = self._reads
        child.send(("read", read_id, checkpoint, READ_AHEAD))
        finished = False
        try:
            while True:
                kind, message_read, *rest = await child.batches.get()
                if message_read is not None and message_read != read_id:
                    continue  # sent for a read that has ended
                if kind == "end":
                    finished = True
                    return
                if kind == "failed":
                    finished = True
                    (error,) = rest
                    raise error
                number, data, durable = rest
                child.send(("credit", read_id))
                batch, _ = batch_of(data)
                if durable:
                    batch = replace(batch, durable=functools.partial(
                        child.call, "durable", read_id, number))
                yield batch
        finally:
            if not finished and child.alive:
                try:
                    child.send(("stop", read_id))
                except SourceError:
                    pass

    async def acknowledge(self, checkpoint: Checkpoint) -> None:
        await self._running().call("acknowledge", checkpoint)

    async def close(self) -> None:
        child, self._child = self._child, None
        if child is None:
            return
        try:
            if child.alive:
                await child.call("close")
        except SourceError as exc:
            log.warning("closing %s: %s", self.spec.topic, exc)
        finally:
            await asyncio.to_thread(child.stop)
