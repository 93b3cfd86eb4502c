"""The days the law knows: Loket's own, versioned list in ``engine/data/feestdagen.json``.

Two lists, for two different questions:

- ``atw_days(year)``: the days that end no legal term (Algemene termijnenwet art. 1 and 3): the algemeen
  erkende feestdagen of art. 3 lid 1 (5 May every year), Goede Vrijdag (lid 2) and the days a *besluit
  gelijkstelling* equates with them (lid 3). Used only by ``atw_shift``, for ``legal=True`` terms. No SWV
  setting changes it.
- ``statutory_days(year)``: lid 1 and 2 without the equated days, named. The business calendar starts its
  werkdagen from it and then applies the SWV's own rules (5 May, Goede Vrijdag); an equated day stays a werkdag.

Neither comes from the ``holidays`` package: a library upgrade must never move a legal date. The file names
the years it covers; a question outside them raises ``CalendarRangeError`` rather than guessing, because a
besluit gelijkstelling for a later year may exist that Loket has not been told about.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache, lru_cache
from importlib import resources
from types import MappingProxyType

DATA_FILE = "engine/data/feestdagen.json"
GOEDE_VRIJDAG = "Goede Vrijdag"
BEVRIJDINGSDAG = "Bevrijdingsdag"


class CalendarRangeError(ValueError):
    """A question about a date outside the years whose calendar data Loket ships."""


@dataclass(frozen=True)
class LegalDay:
    date: date
    name: str
    basis: str  # the article or besluit that makes it a day the law knows


@dataclass(frozen=True)
class LegalDays:
    """The contents of feestdagen.json."""

    versie: str
    checked: str
    statutory: Mapping[date, LegalDay]  # art. 3 lid 1 and 2 (and the two Sundays art. 1 covers anyway)
    statutory_years: tuple[int, int]
    equated: Mapping[date, LegalDay]  # art. 3 lid 3
    equated_years: tuple[int, int]
    decrees: tuple[str, ...]


def _days(rows: list[dict[str, str]]) -> dict[date, LegalDay]:
    days = {}
    for row in rows:
        day = date.fromisoformat(row["datum"])
        if day in days:
            raise ValueError(f"feestdagen.json: {day} staat er twee keer in")
        days[day] = LegalDay(day, row["naam"], row["grondslag"])
    return days


@cache
def load_legal_days() -> LegalDays:
    """Read and check engine/data/feestdagen.json once per process."""
    raw = json.loads((resources.files("engine") / "data" / "feestdagen.json").read_text("utf-8"))
    statutory, equated = raw["wettelijke_feestdagen"], raw["gelijkgestelde_dagen"]
    years = (int(statutory["eerste_jaar"]), int(statutory["laatste_jaar"]))
    equated_years = (int(equated["eerste_jaar"]), int(equated["laatste_jaar"]))
    lid12, lid3 = _days(statutory["dagen"]), _days(equated["dagen"])
    for day in lid3:
        if day in lid12 or day.weekday() >= 5:
            raise ValueError(f"feestdagen.json: gelijkgestelde dag {day} is al een feestdag of weekenddag")
    for year in range(years[0], years[1] + 1):
        if sum(1 for d in lid12 if d.year == year) != 11:
            raise ValueError(f"feestdagen.json: {year} heeft niet de elf dagen van art. 3 (met de zondagen)")
    return LegalDays(
        versie=raw["versie"],
        checked=raw["gecontroleerd"],
        statutory=MappingProxyType(lid12),
        statutory_years=years,
        equated=MappingProxyType(lid3),
        equated_years=equated_years,
        decrees=tuple(d["titel"] for d in equated["besluiten"]),
    )


def _range_error(what: str, first: int, last: int, which: str) -> CalendarRangeError:
    return CalendarRangeError(
        f"Geen {which} bekend voor {what}: Loket kent {first} t/m {last} ({DATA_FILE})."
    )


@lru_cache(maxsize=64)
def statutory_days(year: int) -> Mapping[date, str]:
    """Atw art. 3 lid 1 and 2 in ``year``, by date, with their names (no equated days)."""
    data = load_legal_days()
    first, last = data.statutory_years
    if not first <= year <= last:
        raise _range_error(str(year), first, last, "feestdagen")
    return MappingProxyType({d: day.name for d, day in data.statutory.items() if d.year == year})


@lru_cache(maxsize=64)
def equated_days(year: int) -> Mapping[date, str]:
    """The days a besluit gelijkstelling (Atw art. 3 lid 3) equates with a feestdag in ``year``."""
    data = load_legal_days()
    first, last = data.equated_years
    if not first <= year <= last:
        raise _range_error(f"gelijkgestelde dagen (Atw art. 3 lid 3) in {year}", first, last, "besluiten")
    return MappingProxyType({d: day.name for d, day in data.equated.items() if d.year == year})


@lru_cache(maxsize=64)
def atw_days(year: int) -> frozenset[date]:
    """Every day in ``year`` on which no legal term ends, besides Saturdays and Sundays."""
    return frozenset(statutory_days(year)) | frozenset(equated_days(year))


def atw_shift(day: date) -> date:
    """Atw art. 1 lid 1: a legal term that ends on a Saturday, Sunday, algemeen erkende feestdag or equated
    day runs on to the next day that is none of these."""
    while day.weekday() >= 5 or day in atw_days(day.year):
        day += timedelta(days=1)
    return day


def atw_end(start: date, end: date, length: int | None = None) -> date:
    """The last day of a legal term that runs from the day after ``start`` through ``end`` (``length``: the term
    as the law sets it, in days; default the days from ``start`` to ``end``), by the Algemene termijnenwet:

    - art. 2: a term of at least three days is extended so far that it includes at least two days that are not
      a Saturday, Sunday, feestdag or equated day (a three-day term from Thursday 2 April 2026 would hold only
      Goede Vrijdag, a weekend and Tweede paasdag: it ends on Wednesday 8 April, not Tuesday 7 April);
    - art. 1: a term ending on such a day runs on to the next day that is none of these (``atw_shift``).
    """
    last = atw_shift(end)
    if ((end - start).days if length is None else length) < 3:
        return last
    while _ordinary_days(start, last) < 2:
        last = atw_shift(last + timedelta(days=1))
    return last


def _ordinary_days(start: date, last: date) -> int:
    """Days after ``start`` up to and including ``last`` that are no Saturday, Sunday, feestdag or equated day;
    counts to two at most (all art. 2 needs)."""
    found, day = 0, start + timedelta(days=1)
    while day <= last and found < 2:
        if day.weekday() < 5 and day not in atw_days(day.year):
            found += 1
        day += timedelta(days=1)
    return found


def covered_until() -> dict[str, tuple[str, int]]:
    """What each list covers, for the renewal check: name -> (file, last year covered)."""
    data = load_legal_days()
    return {
        "wettelijke feestdagen (Atw art. 3 lid 1 en 2)": (DATA_FILE, data.statutory_years[1]),
        "gelijkgestelde dagen (Atw art. 3 lid 3)": (DATA_FILE, data.equated_years[1]),
    }
