"""A citizen_profile read store of N persons for the query benchmark, built once and cached.

Each person's document is what the projection derives from a Public Security ``std.person``
event (``from_event`` + ``derive``), written straight into the store's tables (``profile``,
``profile_version``, ``projection_position``) — the projection itself would take hours for a
million persons, and the reads do not care how the rows got there.
"""

from __future__ import annotations

import hashlib
import json
import random
import sqlite3
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from bus.standards.idcard import compute_check_char
from projections.citizen_profile.extract import authority, from_event
from projections.profiles.model import derive
from projections.profiles.store import InputPosition, ProfileStore

__all__ = ["build_store", "identity_numbers"]

_SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
_GIVEN = ["伟", "芳", "娜", "秀英", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟"]
_DIVISIONS = ["330102", "330105", "330106", "330108", "330110", "350102", "350104", "110101"]
T0 = 1_700_000_000_000


def identity_numbers(count: int, seed: int = 2026) -> list[str]:
    """``count`` distinct valid 18-digit numbers, the same for the same seed."""
    rng = random.Random(seed)
    numbers: set[str] = set()
    while len(numbers) < count:
        born = date(1940, 1, 1).toordinal() + rng.randrange(365 * 65)
        day = date.fromordinal(born)
        body = f"{rng.choice(_DIVISIONS)}{day:%Y%m%d}{rng.randrange(1000):03d}"
        numbers.add(body + compute_check_char(body))
    return sorted(numbers)


def _person(number: str, rng: random.Random) -> dict[str, Any]:
    sex = int(number[16]) % 2
    return {"identity_number": number, "name": rng.choice(_SURNAMES) + rng.choice(_GIVEN),
            "sex_code": "1" if sex else "2",
            "birth_date": date(int(number[6:10]), int(number[10:12]), int(number[12:14])),
            "division_code": number[:6],
            "household_address": f"浙江省杭州市某区某路{rng.randrange(1, 999)}号",
            "source": {"department": "gongan", "table": "hj_ryxx", "record_key": f"R{number[-8:]}",
                       "event_id": hashlib.sha1(number.encode()).hexdigest(), "op": "r",
                       "updated_at": datetime(2024, 3, 7, 0, 30, tzinfo=UTC)}}


def _rows(numbers: list[str]) -> Iterator[tuple[str, str, str, int]]:
    rng = random.Random(7)
    rules = authority()
    for offset, number in enumerate(numbers):
        at = InputPosition("std.person", 0, offset, T0 + offset)
        _, contributions = from_event(at, {"identity_number": number}, _person(number, rng))
        profile, _ = derive(number, contributions or [], rules)
        text = json.dumps(profile.document(), ensure_ascii=False, sort_keys=True, separators=(",", ":"))
        yield number, text, hashlib.sha256(text.encode()).hexdigest(), offset


def build_store(path: Path, count: int, progress: Callable[[int], None] | None = None) -> Path:
    """The store of ``count`` persons at ``path`` (reused when it is already complete)."""
    done = path.with_suffix(".complete")
    if path.exists() and done.exists() and done.read_text() == str(count):
        return path
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    ProfileStore(path, authority()).close()  # the tables, in the store's own layout
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA synchronous=OFF")
    db.execute("BEGIN")
    batch: list[tuple[str, str, str, int]] = []
    written = 0

    def flush() -> None:
        db.executemany("INSERT INTO profile VALUES (?, 1, ?, ?, ?)",
                       [(n, T0 + o, text, checksum) for n, text, checksum, o in batch])
        db.executemany("INSERT INTO profile_version VALUES (?, 1, ?, ?, 'std.person', 0, ?)",
                       [(n, T0 + o, text, o) for n, text, _, o in batch])

    for row in _rows(identity_numbers(count)):
        batch.append(row)
        if len(batch) == 5000:
            flush()
            written += len(batch)
            batch.clear()
            if progress:
                progress(written)
    flush()
    written += len(batch)
    db.execute("INSERT INTO projection_position VALUES ('std.person', 0, ?)", (count,))
    db.execute("COMMIT")
    db.close()
    if progress:
        progress(written)
    done.write_text(str(count))
    return path
