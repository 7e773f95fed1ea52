"""Which dropped files are complete: the directory listing, markers and settling.

A file is *complete* when it matches the pattern, is not a temporary file of a producer that
renames when done (``.tmp``/``.part``, dot-files), has its ``.done``/``.ok`` marker when
markers are required, and has not changed size or modification time for ``settle_seconds``.
"""

from __future__ import annotations

import codecs
import fnmatch
import hashlib
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from adapters.capture.engines.files_options import MARKER_SUFFIXES, PARTIAL_SUFFIXES, FileDropOptions
from adapters.capture.source import SourceUnavailable

_CHUNK = 1 << 20


@dataclass(frozen=True)
class DropFile:
    """A data file as one listing saw it."""

    name: str
    path: Path
    size: int
    mtime_ns: int

    @property
    def mtime_ms(self) -> int:
        return self.mtime_ns // 1_000_000


@dataclass(frozen=True)
class Fingerprint:
    """The content hash of a file, and whether the whole file is valid UTF-8."""

    sha256: str
    is_utf8: bool


@dataclass(frozen=True)
class Listing:
    """The data files of the directory in taking order, and every name present."""

    files: tuple[DropFile, ...]
    names: frozenset[str]

    def has_marker(self, file: DropFile) -> bool:
        return any(file.name + suffix in self.names for suffix in MARKER_SUFFIXES)


def list_directory(options: FileDropOptions) -> Listing:
    """Data files matching ``options.pattern``, sorted by name then modification time."""
    try:
        entries = list(os.scandir(options.directory))
    except OSError as exc:
        raise SourceUnavailable(f"cannot list options.directory={options.directory}: {exc}") from exc
    files = []
    for entry in entries:
        if _is_data_name(entry.name, options.pattern) and entry.is_file():
            try:
                stat = entry.stat()
            except FileNotFoundError:  # moved away since the scan (archived, or by a person)
                continue
            files.append(DropFile(entry.name, Path(entry.path), stat.st_size, stat.st_mtime_ns))
    files.sort(key=lambda f: (f.name, f.mtime_ns))
    return Listing(tuple(files), frozenset(e.name for e in entries))


def _is_data_name(name: str, pattern: str) -> bool:
    if name.startswith(".") or name.endswith(PARTIAL_SUFFIXES + MARKER_SUFFIXES):
        return False
    return fnmatch.fnmatchcase(name, pattern)


def fingerprint(path: Path) -> Fingerprint:
    """SHA-256 of the content and a UTF-8 validity check, in one streaming pass."""
    digest = hashlib.sha256()
    decoder = codecs.getincrementaldecoder("utf-8")()
    is_utf8 = True
    with path.open("rb") as stream:
        while chunk := stream.read(_CHUNK):
            digest.update(chunk)
            is_utf8 = is_utf8 and _decodes(decoder, chunk, final=False)
    is_utf8 = is_utf8 and _decodes(decoder, b"", final=True)
    return Fingerprint(digest.hexdigest(), is_utf8)


def _decodes(decoder: codecs.IncrementalDecoder, chunk: bytes, *, final: bool) -> bool:
    try:
        decoder.decode(chunk, final)
    except UnicodeDecodeError:
        return False
    return True


class SettleWatch:
    """Remembers each file's size and mtime between listings to tell when it stopped changing.

    A file seen for the first time counts as unchanged since its modification time; a change
    of size or mtime restarts its clock. It is settled after ``settle_seconds`` unchanged.
    """

    def __init__(self, settle_seconds: float, clock: Callable[[], float] = time.time) -> None:
        self.settle_seconds = settle_seconds
        self.clock = clock
        self._seen: dict[str, tuple[int, int, float]] = {}

    def settled(self, file: DropFile) -> bool:
        now = self.clock()
        seen = self._seen.get(file.name)
        if seen is None or seen[:2] != (file.size, file.mtime_ns):
            since = file.mtime_ns / 1e9 if seen is None else max(now, file.mtime_ns / 1e9)
            self._seen[file.name] = (file.size, file.mtime_ns, since)
            seen = self._seen[file.name]
        return now - seen[2] >= self.settle_seconds

    def forget(self, names: frozenset[str]) -> None:
        """Drop what is remembered about files no longer present."""
        for name in [n for n in self._seen if n not in names]:
            del self._seen[name]
