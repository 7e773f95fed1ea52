"""One population for every department: the 公安 seed's residents, their couples, enterprises.

The persons are exactly those of ``bus.demo.seed.seed_gongan`` for the same ``(persons, seed)``:
the 公安 seed draws each resident and its noise from one ``random.Random``, so the residents are
recovered here by replaying the same draws in the same order (the noise is drawn and thrown
away). A test compares the result with the 公安 ground truth, so a drift in either is caught.
Couples and enterprises come from their own generators seeded from ``seed``, which leaves
the persons untouched.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta

from bus.demo.departments.enterprises import Enterprise, make_enterprises
from bus.demo.draw import between
from bus.demo.noise import messy_birth_date, messy_identity_number, messy_name, messy_sex
from bus.demo.people import Person, make_address, make_person
from bus.demo.seed import BASE_TIME

__all__ = ["Couple", "Population", "age_on", "build_population", "years_after"]


@dataclass(frozen=True, slots=True)
class Couple:
    """A married couple as the truth has it (a divorce date when it ended)."""

    husband: Person
    wife: Person
    married: date
    divorced: date | None


@dataclass(frozen=True, slots=True)
class Population:
    """Residents (index ``i`` is the 公安 row ``R{i+1:07d}``), couples and enterprises."""

    seed: int
    today: date
    persons: tuple[Person, ...]
    addresses: tuple[str, ...]
    couples: tuple[Couple, ...]
    enterprises: tuple[Enterprise, ...]


def age_on(person: Person, day: date) -> int:
    born = person.birth_date
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


def years_after(day: date, years: int) -> date:
    """The same day ``years`` later (29 February becomes 28 February)."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


def build_population(persons: int, seed: int) -> Population:
    """The same ``(persons, seed)`` always gives the same population."""
    if persons < 0:
        raise ValueError(f"persons must be >= 0, not {persons}")
    today = BASE_TIME.date()
    residents = list(_gongan_residents(random.Random(seed), persons, today))
    people = tuple(person for person, _ in residents)
    couples = _couples(random.Random(f"{seed}:couples"), people, today)
    adults = [person for person in people if 22 <= age_on(person, today) <= 70] or list(people)
    enterprises = make_enterprises(
        random.Random(f"{seed}:enterprises"), adults, max(10, persons // 10), today
    )
    return Population(seed, today, people, tuple(address for _, address in residents), couples, enterprises)


def _gongan_residents(rng: random.Random, count: int, today: date) -> Iterator[tuple[Person, str]]:
    """Replay of ``bus.demo.seed._generate``: the same draws, keeping only the clean values."""
    stamps = _update_time_draws(rng)
    latest_birth = today - timedelta(days=1)
    for _ in range(count):
        next(stamps)
        person = make_person(rng, latest_birth=latest_birth)
        messy_identity_number(rng, person.id18, person.id15)
        messy_sex(rng, person.male)
        messy_birth_date(rng, person.birth_date)
        messy_name(rng, person.name)
        yield person, make_address(rng, person.county)


def _update_time_draws(rng: random.Random) -> Iterator[None]:
    """The draws of ``bus.demo.seed._update_times`` (bursts of same-second stamps)."""
    while True:
        burst = 1 if rng.random() < 0.6 else between(rng, 2, 8)
        for _ in range(burst):
            yield None
        between(rng, 1, 90)


def _couples(rng: random.Random, people: tuple[Person, ...], today: date) -> tuple[Couple, ...]:
    """About 60% of adults of similar age paired man–woman; one in ten later divorced."""
    men = sorted((p for p in people if p.male and age_on(p, today) >= 22), key=lambda p: p.birth_date)
    women = sorted((p for p in people if not p.male and age_on(p, today) >= 20), key=lambda p: p.birth_date)
    couples: list[Couple] = []
    for husband, wife in zip(men, women, strict=False):
        if abs((husband.birth_date - wife.birth_date).days) > 8 * 365 or rng.random() >= 0.6:
            continue
        earliest = max(years_after(husband.birth_date, 22), years_after(wife.birth_date, 20))
        span = (today - earliest).days
        if span <= 30:
            continue
        married = earliest + timedelta(days=between(rng, 0, min(span - 30, 15 * 365)))
        divorced = None
        if rng.random() < 0.1:
            divorced = married + timedelta(days=between(rng, 1, (today - married).days - 1))
        couples.append(Couple(husband, wife, married, divorced))
    return tuple(couples)
