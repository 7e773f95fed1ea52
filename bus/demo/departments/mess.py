"""Mess shared by the department seeds: identity numbers as typed, update stamps."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import datetime, timedelta

from bus.demo.draw import between, pick
from bus.demo.noise import to_full_width_digits
from bus.demo.people import Person

__all__ = ["messy_id", "update_stamps"]

_CHECK_CHARS = "0123456789X"


def messy_id(
    rng: random.Random, person: Person, *, old: float, bad_check: float, full_width: float
) -> tuple[str, list[str]]:
    """The identity number as a department typed it: old 15-digit form, broken check, width."""
    roll = rng.random()
    if roll < old and person.id15 is not None:
        text, tags = person.id15, ["id15"]
    elif roll < old + bad_check:
        wrong = pick(rng, [c for c in _CHECK_CHARS if c != person.id18[17]])
        text, tags = person.id18[:17] + wrong, ["bad_check_char"]
    else:
        text, tags = person.id18, []
    if text.endswith("X") and rng.random() < 0.3:
        text, tags = text[:-1] + "x", [*tags, "lowercase_x"]
    if rng.random() < full_width:
        text, tags = to_full_width_digits(text), [*tags, "full_width"]
    return text, tags


def update_stamps(
    rng: random.Random, start: datetime, *, out_of_order: float = 0.02
) -> Iterator[tuple[datetime, list[str]]]:
    """Update times in bursts (same-second saves); a few stamped earlier than their neighbours."""
    moment = start
    while True:
        burst = 1 if rng.random() < 0.6 else between(rng, 2, 8)
        for _ in range(burst):
            if rng.random() < out_of_order:
                yield moment - timedelta(minutes=between(rng, 5, 600)), ["out_of_order"]
            else:
                yield moment, ["same_second"] if burst > 1 else []
        moment += timedelta(seconds=between(rng, 1, 90))
