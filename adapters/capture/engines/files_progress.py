"""The opaque checkpoint of a file-drop source: files taken, the file in progress, generation.

Stored by the runner in the same Kafka transaction as the batch's events, this is the truth
about what was published. It names each finished file with its size and SHA-256 (a file
re-delivered under the same name with other content is a new file), the records (and, in
``full`` mode, deletes) already emitted from the current file, and the ``full``-mode
*generation*: how many complete extracts the published changes reflect.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from typing import Any

from adapters.capture.source import Checkpoint

CHECKPOINT_VERSION = 1


@dataclass(frozen=True)
class TakenFile:
    """A file whose every record has been published."""

    name: str
    size: int
    sha256: str
    mtime_ns: int


@dataclass(frozen=True)
class CurrentFile:
    """The file being read: ``records`` records and ``deletes`` deletes already published."""

    name: str
    size: int
    sha256: str
    mtime_ns: int
    records: int = 0
    deletes: int = 0

    def taken(self) -> TakenFile:
        return TakenFile(self.name, self.size, self.sha256, self.mtime_ns)


@dataclass(frozen=True)
class FileProgress:
    taken: tuple[TakenFile, ...] = ()
    current: CurrentFile | None = None
    generation: int = 0

    def as_checkpoint(self) -> Checkpoint:
        return {
            "version": CHECKPOINT_VERSION,
            "taken": [asdict(f) for f in self.taken],
            "current": None if self.current is None else asdict(self.current),
            "generation": self.generation,
        }

    @classmethod
    def from_checkpoint(cls, checkpoint: Mapping[str, Any] | None) -> FileProgress:
        if not checkpoint:
            return cls()
        current = checkpoint.get("current")
        return cls(
            taken=tuple(TakenFile(**f) for f in checkpoint.get("taken", ())),
            current=None if current is None else CurrentFile(**current),
            generation=int(checkpoint.get("generation", 0)),
        )

    def is_taken(self, name: str, sha256: str) -> bool:
        return any(f.name == name and f.sha256 == sha256 for f in self.taken)

    def was_taken_with_other_content(self, name: str, sha256: str) -> bool:
        return any(f.name == name and f.sha256 != sha256 for f in self.taken)

    def recognises(self, name: str, size: int, mtime_ns: int) -> bool:
        """Whether a file looking exactly like this was taken (no need to hash it again)."""
        return any((f.name, f.size, f.mtime_ns) == (name, size, mtime_ns) for f in self.taken)

    def advanced(self, records: int = 0, deletes: int = 0) -> FileProgress:
        assert self.current is not None
        current = replace(self.current, records=self.current.records + records,
                          deletes=self.current.deletes + deletes)
        return replace(self, current=current)

    def finished(self, *, new_generation: bool, present: frozenset[str], remember: int) -> FileProgress:
        """The current file is done; old entries of files no longer present are forgotten.

        An entry whose file is still in the directory is never forgotten, or it would be
        taken again.
        """
        assert self.current is not None
        taken = (*self.taken, self.current.taken())
        excess = len(taken) - remember
        if excess > 0:
            kept: list[TakenFile] = []
            for file in taken:
                if excess > 0 and file.name not in present and file is not taken[-1]:
                    excess -= 1
                    continue
                kept.append(file)
            taken = tuple(kept)
        generation = self.generation + 1 if new_generation else self.generation
        return FileProgress(taken, None, generation)
