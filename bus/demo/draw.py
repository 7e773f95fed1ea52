"""Fast draws from a seeded ``random.Random`` (one ``random()`` call each).

``Random.choice``/``randint`` cost several microseconds through ``getrandbits``; seeding a
million rows needs cheaper draws. The slight bias of ``int(random() * n)`` is irrelevant
for demo data, and results stay fully determined by the seed.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import TypeVar

__all__ = ["below", "between", "pick"]

T = TypeVar("T")


def below(rng: random.Random, n: int) -> int:
    """An integer in ``[0, n)``."""
    return int(rng.random() * n)


def between(rng: random.Random, low: int, high: int) -> int:
    """An integer in ``[low, high]``."""
    return low + int(rng.random() * (high - low + 1))


def pick(rng: random.Random, items: Sequence[T]) -> T:
    """One element of a non-empty sequence."""
    return items[int(rng.random() * len(items))]
