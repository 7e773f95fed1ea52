"""Taking one complete file: its records as batches of changes, resumable mid-file.

``append`` mode turns each record into a create. ``full`` mode compares the file with the
previous extract (:mod:`files_diff`), then publishes the deletes; the new generation of the
state is saved before the batch that finishes the file is handed out.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from adapters.capture.engines.files_diff import ExtractDiff
from adapters.capture.engines.files_listing import DropFile, Fingerprint
from adapters.capture.engines.files_options import FileDropOptions
from adapters.capture.engines.files_progress import FileProgress
from adapters.capture.engines.files_records import Record, codec_for, open_records
from adapters.capture.engines.files_state import ExtractRows, ExtractState
from adapters.capture.source import Batch, Change, Row, SourceMisconfigured, State, TableSpec, key_of


class FileChanged(Exception):
    """The file changed between fingerprinting and opening; it is taken at a later poll."""


@dataclass(frozen=True)
class FileJob:
    """A complete file to take and the progress whose ``current`` names it."""

    file: DropFile
    fingerprint: Fingerprint
    progress: FileProgress
    #: Every name in the directory when the file was chosen (taken entries to keep).
    present: frozenset[str]


class FileTake:
    """Reads one file in batches of ``spec.batch_size`` records (synchronous; run in a thread)."""

    def __init__(self, job: FileJob, spec: TableSpec, options: FileDropOptions,
                 previous: ExtractRows | None, state: ExtractState | None) -> None:
        self.job, self.spec, self.options, self.state = job, spec, options, state
        self.progress = job.progress
        self.diff = None if previous is None else ExtractDiff(
            previous, spec.key_columns, first=job.progress.generation == 0)
        self._stream: BinaryIO | None = None
        self._records: Iterator[Record] = iter(())
        self._deletes: list[tuple[str, Row]] | None = None
        self.columns: tuple[str, ...] = ()
        self.finished = False

    def open(self) -> None:
        """Open the file, check it is the fingerprinted one, skip what was already published."""
        stream = self.job.file.path.open("rb")
        stat = os.fstat(stream.fileno())
        if (stat.st_size, stat.st_mtime_ns) != (self.job.file.size, self.job.file.mtime_ns):
            stream.close()
            raise FileChanged(self.job.file.name)
        self._stream = stream
        codec = codec_for(self.options.encoding, self.job.fingerprint.is_utf8)
        self.columns, self._records = open_records(stream, self.options, codec)
        self._check_key_columns()
        assert self.progress.current is not None
        for record in itertools.islice(self._records, self.progress.current.records):
            if self.diff is not None:
                self.diff.judge(record)  # rebuild the in-file state; published before the crash

    def _check_key_columns(self) -> None:
        missing = [k for k in self.spec.key_columns if k not in self.columns]
        if missing:
            raise SourceMisconfigured(
                f"file {self.job.file.name} has no key column(s) {missing} (key_columns); "
                f"its columns are {list(self.columns)}")

    def close(self) -> None:
        if self._stream is not None:
            self._stream.close()
            self._stream = None

    @property
    def snapshot(self) -> bool:
        return self.diff is not None and self.diff.first

    def next_batch(self) -> Batch | None:
        """The next batch; the one that finishes the file marks it taken. None after that."""
        if self.finished:
            return None
        if self._deletes is None:
            records = list(itertools.islice(self._records, self.spec.batch_size))
            if records or self.diff is None:
                return self._record_batch(records)
            self._deletes = self._start_deletes()
        return self._delete_batch()

    def _record_batch(self, records: list[Record]) -> Batch:
        key_columns, name = self.spec.key_columns, self.job.file.name
        commit_ts_ms, snapshot = self.job.file.mtime_ms, self.snapshot
        if self.diff is not None:
            changes = self.diff.changes(records, name, commit_ts_ms, snapshot)
        else:  # append mode: every record is a create
            changes = [Change("c", key_of(record.row, key_columns), None, record.row,
                              f"{name}:{record.number}", commit_ts_ms, snapshot,
                              record.undecodable) for record in records]
        self.progress = self.progress.advanced(records=len(records))
        if self.diff is None and len(records) < self.spec.batch_size:
            self._finish(new_generation=False)
        return self._batch(changes)

    def _start_deletes(self) -> list[tuple[str, Row]]:
        """All records read: save the next generation, then list the deletes."""
        assert self.diff is not None and self.state is not None
        self.state.save(self.progress.generation + 1, self.job.file.name,
                        self.job.fingerprint.sha256, self.diff.next_state())
        return self.diff.deletes()

    def _delete_batch(self) -> Batch:
        assert self._deletes is not None and self.progress.current is not None
        done = self.progress.current.deletes
        chunk = self._deletes[done:done + self.spec.batch_size]
        changes = [
            Change(op="d", key=key_of(before, self.spec.key_columns), before=before, after=None,
                   position=f"{self.job.file.name}:d{done + i}", commit_ts_ms=self.job.file.mtime_ms)
            for i, (_, before) in enumerate(chunk, start=1)
        ]
        self.progress = self.progress.advanced(deletes=len(chunk))
        if done + len(chunk) >= len(self._deletes):
            self._finish(new_generation=True)
        return self._batch(changes)

    def _finish(self, *, new_generation: bool) -> None:
        self.progress = self.progress.finished(
            new_generation=new_generation, present=self.job.present, remember=self.options.remember_files)
        self.finished = True
        self.close()

    def _batch(self, changes: list[Change]) -> Batch:
        state: State = "snapshotting" if self.snapshot and not self.finished else "streaming"
        return Batch(changes, self.progress.as_checkpoint(), self.columns, state=state)
