"""Capture of legacy file drops: CSV or fixed-width files arriving in a directory.

A :class:`FileDropSource` takes each complete file exactly once, in name order, and turns its
records into changes: creates (``mode: append``) or the difference with the previous complete
extract (``mode: full``). The checkpoint names every file taken (with its SHA-256) and how far
the current file was published, so a crash resumes after the last committed batch. See
``docs/capture-files.md``.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import time
from collections.abc import AsyncGenerator, Callable
from dataclasses import replace
from pathlib import Path
from typing import Literal

from adapters.capture.engines.files_listing import (
    DropFile,
    Fingerprint,
    Listing,
    SettleWatch,
    fingerprint,
    list_directory,
)
from adapters.capture.engines.files_options import MARKER_SUFFIXES, FileDropOptions, parse_options
from adapters.capture.engines.files_progress import CurrentFile, FileProgress
from adapters.capture.engines.files_reader import FileReader, ProcessReader, ThreadReader
from adapters.capture.engines.files_records import codec_for, open_records
from adapters.capture.engines.files_state import ExtractState
from adapters.capture.engines.files_take import FileChanged, FileJob
from adapters.capture.source import (
    Batch,
    Checkpoint,
    SourceMisconfigured,
    SourceUnavailable,
    TableInfo,
    TableSpec,
)

__all__ = ["FileDropSource"]

log = logging.getLogger(__name__)


class FileDropSource:
    """A CaptureSource over a directory of CSV / fixed-width file drops (``spec.options``)."""

    engine = "files"
    #: The next batch depends only on what this read took before, never on an
    #: acknowledgement, so the runner may read ahead (``BUS_CAPTURE_PIPELINE``). What the
    #: acknowledgements do meanwhile is safe alongside: pruning only drops generations older
    #: than a committed one (the read saves newer ones), and archiving moves only files the
    #: committed checkpoint — and so this read, which is ahead of it — has taken.
    reads_ahead = True

    def __init__(self, spec: TableSpec, *, clock: Callable[[], float] = time.time) -> None:
        self.spec = spec
        self.options: FileDropOptions = parse_options(spec)
        self.database = self.options.directory.name or str(self.options.directory)
        self._watch = SettleWatch(self.options.settle_seconds, clock)
        self._fingerprints: dict[tuple[str, int, int], Fingerprint] = {}
        self._columns: tuple[str, ...] = self.options.configured_columns
        #: Whether the directory was readable once: if it vanishes later, that is an outage.
        self._directory_seen = False
        state_dir = self.options.state_dir
        self._state = None if state_dir is None or self.options.mode != "full" else (
            ExtractState(state_dir / f"{spec.owner}.sqlite"))

    async def check(self) -> None:
        directory = self.options.directory
        if directory.is_dir() and os.access(directory, os.R_OK | os.X_OK):
            self._directory_seen = True
            return
        message = f"options.directory={directory} does not exist or is not a readable directory"
        if self._directory_seen and not directory.is_file():
            # It was there: a share unmounted or a directory renamed away for a while.
            raise SourceUnavailable(message)
        raise SourceMisconfigured(message)

    async def discover(self) -> list[TableInfo]:
        columns = await asyncio.to_thread(self._discover_columns)
        return [TableInfo(self.spec.table, columns, self.spec.key_columns)]

    def _discover_columns(self) -> tuple[str, ...]:
        if self.options.configured_columns:
            return self.options.configured_columns
        files = list_directory(self.options).files
        if not files:
            return ()
        latest = files[-1]
        codec = codec_for(self.options.encoding, fingerprint(latest.path).is_utf8)
        with latest.path.open("rb") as stream:
            return open_records(stream, self.options, codec)[0]

    async def read(self, checkpoint: Checkpoint | None) -> AsyncGenerator[Batch, None]:
        progress = FileProgress.from_checkpoint(checkpoint)
        reader = self._reader()
        try:
            await reader.load(progress.generation)
            while True:
                job = await asyncio.to_thread(self._next_job, progress)
                if job is None:
                    yield Batch((), progress.as_checkpoint(), self._columns)
                    await asyncio.sleep(self.spec.poll_interval)
                    continue
                try:
                    self._columns = await reader.open(job)
                except FileChanged:
                    continue
                while (taken := await reader.next_batch()) is not None:
                    batch, progress = taken
                    yield batch
                log.info("took %s (%s) for %s", job.file.name, job.fingerprint.sha256[:12],
                         self.spec.topic)
        finally:
            reader.close()

    def _reader(self) -> FileReader:
        state_path = None if self._state is None else self._state.path
        if self.options.reader == "process":
            return ProcessReader(self.spec, state_path)
        return ThreadReader(self.spec, state_path)

    def _next_job(self, progress: FileProgress) -> FileJob | None:
        """The file to read next (resuming the current one), or None if none is complete."""
        listing = list_directory(self.options)
        self._watch.forget(listing.names)
        self._fingerprints = {k: v for k, v in self._fingerprints.items() if k[0] in listing.names}
        if progress.current is not None:
            resumed = self._resume(progress, listing)
            if resumed != "drop":
                return None if resumed == "wait" else resumed
            progress = replace(progress, current=None)
        for file in listing.files:
            if progress.recognises(file.name, file.size, file.mtime_ns):
                continue
            if not self._complete(file, listing):
                return None  # keep the order: later files wait for this one
            content = self._fingerprint(file)
            if content is None or progress.is_taken(file.name, content.sha256):
                continue
            if progress.was_taken_with_other_content(file.name, content.sha256):
                log.warning("%s was delivered again with other content (sha256 %s); taking it as a "
                            "new file", file.name, content.sha256)
            current = CurrentFile(file.name, file.size, content.sha256, file.mtime_ns)
            return FileJob(file, content, replace(progress, current=current), listing.names)
        return None

    def _resume(self, progress: FileProgress, listing: Listing) -> FileJob | Literal["wait", "drop"]:
        """Resume the file in progress, wait for it, or drop it (it vanished or was replaced)."""
        current = progress.current
        assert current is not None
        file = next((f for f in listing.files if f.name == current.name), None)
        if file is None:
            log.warning("%s vanished after %d records were published; moving on", current.name,
                        current.records)
            return "drop"
        content = self._fingerprint(file) if self._complete(file, listing) else None
        if content is None:
            return "wait"
        if content.sha256 == current.sha256:
            return FileJob(file, content, progress, listing.names)
        log.warning("%s was replaced after %d records were published; taking the new content "
                    "as a new file", current.name, current.records)
        return "drop"

    def _complete(self, file: DropFile, listing: Listing) -> bool:
        if self.options.require_marker and not listing.has_marker(file):
            return False
        return self._watch.settled(file)

    def _fingerprint(self, file: DropFile) -> Fingerprint | None:
        """The file's fingerprint, or None if it changed while being hashed."""
        key = (file.name, file.size, file.mtime_ns)
        if key not in self._fingerprints:
            content = fingerprint(file.path)
            stat = file.path.stat()
            if (stat.st_size, stat.st_mtime_ns) != (file.size, file.mtime_ns):
                return None
            self._fingerprints[key] = content
        return self._fingerprints[key]

    async def acknowledge(self, checkpoint: Checkpoint) -> None:
        progress = FileProgress.from_checkpoint(checkpoint)
        if self._state is not None:
            await asyncio.to_thread(self._state.prune_before, progress.generation)
        if self.options.archive_directory is not None:
            await asyncio.to_thread(self._archive, progress, self.options.archive_directory)

    def _archive(self, progress: FileProgress, archive: Path) -> None:
        """Move every taken file still in the directory (and its marker) into ``archive``."""
        archive.mkdir(parents=True, exist_ok=True)
        listing = list_directory(self.options)
        for file in listing.files:
            if not progress.recognises(file.name, file.size, file.mtime_ns):
                continue
            sha = next(f.sha256 for f in progress.taken if f.name == file.name
                       and (f.size, f.mtime_ns) == (file.size, file.mtime_ns))
            target = archive / file.name
            if target.exists():
                target = archive / f"{file.name}.{sha[:12]}"
            shutil.move(file.path, target)
            for suffix in MARKER_SUFFIXES:
                marker = file.path.with_name(file.name + suffix)
                if marker.exists():
                    shutil.move(marker, target.with_name(target.name + suffix))

    async def close(self) -> None:
        self._fingerprints.clear()
