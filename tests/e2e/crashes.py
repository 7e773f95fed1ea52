"""What the crash tests share: SIGKILLs at seeded random moments, counts of committed
messages, the version history of a profile store, and the killed processes' logs on failure."""

from __future__ import annotations

import random
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from aiokafka import AIOKafkaConsumer, TopicPartition

from projections.profiles.store import open_reader
from tests.e2e.harness import BusProcess, _run_outside_loop

K = TypeVar("K")

#: ``BUS_E2E_KILL_SEED`` changes where the kills land; the default keeps runs comparable.
DEFAULT_KILL_SEED = 20261127


@dataclass(frozen=True)
class Work:
    """How far a process has got: ``done()`` against ``total`` (messages, versions …)."""

    process: BusProcess
    done: Callable[[], int]
    total: int


@dataclass(frozen=True)
class Kill:
    victim: str
    at_seconds: float
    progress: int
    total: int

    def __str__(self) -> str:
        return f"{self.victim}@{self.at_seconds}s ({self.progress}/{self.total})"


def kill_repeatedly(work: Sequence[Work], *, kills_each: int, rng: random.Random,
                    pause: tuple[float, float], timeout: float = 300) -> list[Kill]:
    """SIGKILL each process ``kills_each`` times while it works, and restart it at once.

    After each random pause (seeded) the victim is, among the processes that have moved on since
    their previous start (so a kill lands mid-work rather than during a start-up), the one with
    the smallest share of its work left — it would be the first to finish, and a process whose
    work is complete is not killed any more (a kill then proves nothing about a crash during the
    load). Returns the kills made, with the progress each interrupted.
    """
    started, kills = time.monotonic(), []
    left = [kills_each] * len(work)
    last = [w.done() for w in work]
    while any(left) and time.monotonic() - started < timeout:
        time.sleep(rng.uniform(*pause))  # lets the processes work; the kill lands mid-batch
        running(*(w.process for w in work))
        progress = [w.done() for w in work]
        left = [0 if progress[i] >= w.total else left[i] for i, w in enumerate(work)]
        ready = [i for i in range(len(work)) if left[i] and progress[i] > last[i]]
        if not ready:
            continue
        i = min(ready, key=lambda r: (work[r].total - progress[r]) / max(1, work[r].total))
        work[i].process.kill()
        kills.append(Kill(work[i].process.name, round(time.monotonic() - started, 1), progress[i],
                          work[i].total))
        left[i] -= 1
        last[i] = work[i].done()
        work[i].process.start()
    return kills


def running(*processes: BusProcess) -> bool:
    """True while every process runs; one that exited by itself fails the test at once."""
    for process in processes:
        if not process.alive():
            code = process.process.returncode if process.process else None
            raise AssertionError(f"{process.name} exited by itself (code {code}); see {process.log_path}")
    return True


def committed_counts(bootstrap: str, topics: Iterable[str]) -> dict[str, tuple[int, int]]:
    """Per topic: (committed messages, of which tombstones), read_committed, without decoding."""
    wanted = sorted(set(topics))

    async def count() -> dict[str, tuple[int, int]]:
        consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, isolation_level="read_committed",
                                    enable_auto_commit=False, max_partition_fetch_bytes=8 << 20)
        await consumer.start()
        totals = {topic: [0, 0] for topic in wanted}
        try:
            await consumer._client.force_metadata_update()
            tps = [TopicPartition(t, p) for t in wanted for p in sorted(consumer.partitions_for_topic(t)
                                                                        or ())]
            if not tps:
                return {t: (0, 0) for t in wanted}
            consumer.assign(tps)
            await consumer.seek_to_beginning(*tps)
            end = await consumer.end_offsets(tps)
            pending = {tp for tp in tps if end[tp] > 0}
            while pending:
                batch = await consumer.getmany(*pending, timeout_ms=1000, max_records=20_000)
                for tp, messages in batch.items():
                    totals[tp.topic][0] += len(messages)
                    totals[tp.topic][1] += sum(m.value is None for m in messages)
                pending = {tp for tp in pending if await consumer.position(tp) < end[tp]}
        finally:
            await consumer.stop()
        return {t: (n, tombstones) for t, (n, tombstones) in totals.items()}

    result: dict[str, tuple[int, int]] = _run_outside_loop(count)
    return result


@dataclass(frozen=True)
class VersionHistory:
    """Every version a profile store wrote: per subject, (version, cause topic, partition, offset)."""

    versions: dict[str, list[tuple[int, str, int, int]]]
    current: dict[str, int]

    def applied_twice(self) -> dict[str, list[tuple[str, int, int]]]:
        """Subjects with an input event that caused two of their versions."""
        found = {}
        for subject, rows in self.versions.items():
            twice = [c for c, n in Counter(r[1:] for r in rows).items() if n > 1]
            if twice:
                found[subject] = twice
        return found

    def out_of_order(self) -> dict[str, list[tuple[str, int]]]:
        """Subjects whose versions went back in an input partition (an old event applied again)."""
        found: dict[str, list[tuple[str, int]]] = {}
        for subject, rows in self.versions.items():
            last: dict[tuple[str, int], int] = {}
            for _, topic, partition, offset in rows:
                if offset <= last.get((topic, partition), -1):
                    found.setdefault(subject, []).append((topic, partition))
                last[(topic, partition)] = offset
        return found

    def gaps(self) -> dict[str, list[int]]:
        """Subjects whose versions are not exactly 1..N, or whose current version is not N."""
        found = {}
        for subject, rows in self.versions.items():
            numbers = [r[0] for r in rows]
            if numbers != list(range(1, len(numbers) + 1)) or (
                    subject in self.current and self.current[subject] != len(numbers)):
                found[subject] = numbers
        return found

    def counts(self, *, excluding_topics: Iterable[str] = ()) -> Counter[str]:
        """How many versions each subject has, not counting those caused by ``excluding_topics``."""
        skip = set(excluding_topics)
        return Counter({s: n for s, rows in self.versions.items()
                        if (n := sum(r[1] not in skip for r in rows))})


def version_history(store: Path) -> VersionHistory:
    db = open_reader(store)
    assert db is not None, f"no read store at {store}"
    versions: dict[str, list[tuple[int, str, int, int]]] = defaultdict(list)
    try:
        for row in db.execute("SELECT subject, version, cause_topic, cause_partition, cause_offset "
                              "FROM profile_version ORDER BY subject, version"):
            versions[str(row[0])].append((int(row[1]), str(row[2]), int(row[3]), int(row[4])))
        current = {str(r[0]): int(r[1]) for r in db.execute("SELECT subject, version FROM profile")}
    finally:
        db.close()
    return VersionHistory(dict(versions), current)


def store_counts(store: Path) -> tuple[int, int]:
    """(current profiles, versions written) of a profile store; zeros before it exists."""
    db = open_reader(store)
    if db is None:
        return 0, 0
    try:
        return (int(db.execute("SELECT COUNT(*) FROM profile").fetchone()[0]),
                int(db.execute("SELECT COUNT(*) FROM profile_version").fetchone()[0]))
    except db.not_ready:
        return 0, 0
    finally:
        db.close()


@contextmanager
def logs_on_failure(*processes: BusProcess, lines: int = 150) -> Iterator[None]:
    """Print the tail of each process's log (all its runs) when the block fails."""
    try:
        yield
    except BaseException:
        for process in processes:
            tail = process.log().splitlines()[-lines:]
            print(f"\n===== {process.name} ({process.starts} starts), last {len(tail)} lines of "
                  f"{process.log_path} =====")
            print("\n".join(tail))
        raise


def diff_counters(expected: Counter[K], actual: Counter[K], limit: int = 10) -> str:
    """A short, readable difference of two multisets (what is missing, what is extra)."""
    missing, extra = expected - actual, actual - expected
    return (f"missing {sum(missing.values())} (e.g. {list(missing.items())[:limit]}), "
            f"extra {sum(extra.values())} (e.g. {list(extra.items())[:limit]})")
