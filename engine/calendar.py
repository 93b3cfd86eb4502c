"""Loket's business calendar: counting kalenderdagen, werkdagen, schooldagen and weken, Dutch style.

Pure: no database, no Flask. Public holidays come from the ``holidays`` package; school holidays come
from ``engine/data/schoolvakanties.json`` (Rijksoverheid's published dates, per school year and region).
"""

from __future__ import annotations

import json
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import cache, lru_cache
from importlib import resources
from types import MappingProxyType

import holidays

UNITS = ("kalenderdagen", "werkdagen", "schooldagen", "weken")
REGIONS = ("noord", "midden", "zuid")
VACATIONS = ("herfstvakantie", "kerstvakantie", "voorjaarsvakantie", "meivakantie", "zomervakantie")

FEESTDAG = "feestdag"
SCHOOLVAKANTIE = "schoolvakantie"
VRIJE_DAG = "vrije dag"
_KIND_ORDER = {FEESTDAG: 0, SCHOOLVAKANTIE: 1, VRIJE_DAG: 2}


class CalendarRangeError(ValueError):
    """A school-day question about a date outside the school years Loket ships."""


@dataclass(frozen=True)
class DayOffEntry:
    """One line of ``days_off()``. (``engine.models.DayOff`` is something else: an SWV's own extra day off.)"""

    date: date
    name: str
    kind: str  # FEESTDAG, SCHOOLVAKANTIE or VRIJE_DAG


@dataclass(frozen=True)
class SchoolHoliday:
    schooljaar: str  # "2025-2026"
    name: str  # "Kerstvakantie"
    region: str
    first: date  # inclusive (a Saturday)
    last: date  # inclusive (a Sunday)


@dataclass(frozen=True)
class SchoolHolidays:
    """The contents of schoolvakanties.json."""

    bron: str
    versie: str
    schooljaren: tuple[str, ...]
    periods: tuple[SchoolHoliday, ...]
    covered: Mapping[str, tuple[date, date]]  # region -> first and last day whose school holidays are known

    def range_error(self, what: str) -> CalendarRangeError:
        return CalendarRangeError(
            f"Geen schoolvakanties bekend voor {what}: "
            f"Loket kent de schooljaren {self.schooljaren[0]} t/m {self.schooljaren[-1]}."
        )


@cache
def load_school_holidays() -> SchoolHolidays:
    """Read and check engine/data/schoolvakanties.json once per process."""
    raw = json.loads((resources.files("engine") / "data" / "schoolvakanties.json").read_text("utf-8"))
    periods = []
    for schooljaar, vacations in raw["schooljaren"].items():
        for vacation, per_region in vacations.items():
            if vacation not in VACATIONS or set(per_region) != set(REGIONS):
                raise ValueError(f"schoolvakanties.json: onverwacht {schooljaar}/{vacation}")
            for region in REGIONS:
                first = date.fromisoformat(per_region[region]["eerste_dag"])
                last = date.fromisoformat(per_region[region]["laatste_dag"])
                if last < first:
                    where = f"{schooljaar}/{vacation}/{region}"
                    raise ValueError(f"schoolvakanties.json: {where} eindigt voor het begint")
                periods.append(SchoolHoliday(schooljaar, vacation.capitalize(), region, first, last))
    # Known from the day after the summer before the first school year up to the end of the last summer:
    # beyond that a school day could be a holiday we have not been told about.
    covered = {
        region: (
            date.fromisoformat(raw["dekking_vanaf"][region]),
            max(p.last for p in periods if p.region == region),
        )
        for region in REGIONS
    }
    return SchoolHolidays(
        bron=raw["bron"],
        versie=raw["versie"],
        schooljaren=tuple(raw["schooljaren"]),
        periods=tuple(sorted(periods, key=lambda p: (p.first, p.region))),
        covered=MappingProxyType(covered),
    )


@lru_cache(maxsize=256)
def _public_holidays(year: int) -> Mapping[date, str]:
    # language="nl" explicitly: without it `holidays` picks the name language from the process locale.
    return MappingProxyType(dict(holidays.NL(years=year, language="nl")))


@lru_cache(maxsize=256)
def _atw_holidays(year: int) -> frozenset[date]:
    # Art. 3 Atw names 5 May every year; `holidays` makes it public only in lustrum years, so add it here.
    return frozenset(_public_holidays(year)) | {date(year, 5, 5)}


@lru_cache(maxsize=256)
def _workdays(year: int) -> tuple[int, ...]:
    """Ordinals of the werkdagen in ``year``, ascending (for bisecting)."""
    off = _public_holidays(year)
    return tuple(d.toordinal() for d in _days_of(year) if d.weekday() < 5 and d not in off)


@cache
def _vacation_days(region: str) -> Mapping[date, str]:
    days = {}
    for period in load_school_holidays().periods:
        if period.region == region:
            for n in range((period.last - period.first).days + 1):
                days[period.first + timedelta(days=n)] = period.name
    return MappingProxyType(days)


@lru_cache(maxsize=1024)
def _schooldays(region: str, extra: frozenset[date], year: int) -> tuple[int, ...]:
    """Ordinals of the schooldagen in ``year`` that fall inside the covered range, ascending."""
    first, last = load_school_holidays().covered[region]
    off = _vacation_days(region).keys() | extra
    days = (date.fromordinal(o) for o in _workdays(year))
    return tuple(d.toordinal() for d in days if first <= d <= last and d not in off)


def _days_of(year: int) -> list[date]:
    start = date(year, 1, 1)
    return [start + timedelta(days=n) for n in range((date(year + 1, 1, 1) - start).days)]


def _nth_after(start: date, amount: int, days_in_year: Callable[[int], Sequence[int]]) -> date:
    """The ``amount``-th day after ``start`` (not counting start) in the ascending per-year ordinals."""
    year = start.year
    ordinals = days_in_year(year)
    i = bisect_right(ordinals, start.toordinal())
    while i + amount > len(ordinals):
        amount -= len(ordinals) - i
        year += 1
        ordinals = days_in_year(year)
        i = 0
    return date.fromordinal(ordinals[i + amount - 1])


def atw_shift(day: date) -> date:
    """Atw art. 1: an end on a Saturday, Sunday or Atw holiday moves to the next day that is none of those."""
    while day.weekday() >= 5 or day in _atw_holidays(day.year):
        day += timedelta(days=1)
    return day


class BusinessCalendar:
    """The calendar of one SWV: its school-holiday region plus the extra days off it has set."""

    def __init__(self, region: str, extra_days_off: Mapping[date, str] | None = None) -> None:
        if region not in REGIONS:
            raise ValueError(f"Onbekende regio {region!r}: kies uit {', '.join(REGIONS)}.")
        extra = dict(extra_days_off or {})
        for day in extra:
            if not isinstance(day, date) or isinstance(day, datetime):
                raise ValueError(f"Een vrije dag moet een datum zijn, geen {day!r}.")
        self.region = region
        self.extra_days_off: Mapping[date, str] = MappingProxyType(extra)
        self._extra = frozenset(extra)
        self._school = load_school_holidays()
        self._covered = self._school.covered[region]

    def __repr__(self) -> str:
        return f"BusinessCalendar({self.region!r}, {len(self._extra)} vrije dagen)"

    def add(self, start: date, amount: int, unit: str, legal: bool = False) -> date:
        """The end of a term of ``amount`` ``unit`` starting on ``start``; ``legal`` applies the Atw."""
        if unit not in UNITS:
            raise ValueError(f"Onbekende eenheid {unit!r}: kies uit {', '.join(UNITS)}.")
        if isinstance(amount, bool) or not isinstance(amount, int) or amount < 0:
            raise ValueError(f"Een termijn is een geheel aantal van 0 of meer, niet {amount!r}.")
        if isinstance(start, datetime) or not isinstance(start, date):
            raise ValueError(f"Een termijn begint op een datum, niet op {start!r}.")
        if unit == "kalenderdagen":
            end = start + timedelta(days=amount)
        elif unit == "weken":
            end = start + timedelta(weeks=amount)
        elif unit == "werkdagen":
            end = _nth_after(start, amount, _workdays) if amount else start
        else:
            self._check_covered(start)
            end = _nth_after(start, amount, self._schooldays) if amount else start
        return atw_shift(end) if legal else end

    def subtract(self, end: date, amount: int, unit: str) -> date:
        """The day ``amount`` units before ``end`` (not counting ``end``): where a warning period before a
        deadline begins. Never shifted: the Atw applies to the end of a term, not to a warning."""
        self.add(end, 0, unit)  # the same checks of unit and end as add()
        if isinstance(amount, bool) or not isinstance(amount, int) or amount < 0:
            raise ValueError(f"Een termijn is een geheel aantal van 0 of meer, niet {amount!r}.")
        if unit == "kalenderdagen":
            return end - timedelta(days=amount)
        if unit == "weken":
            return end - timedelta(weeks=amount)
        counts = self.is_workday if unit == "werkdagen" else self.is_schoolday
        day = end
        while amount:
            day -= timedelta(days=1)
            if counts(day):
                amount -= 1
        return day

    def is_workday(self, day: date) -> bool:
        """Monday to Friday and not a public holiday."""
        return day.weekday() < 5 and day not in _public_holidays(day.year)

    def is_schoolday(self, day: date) -> bool:
        """A werkdag outside the region's school holidays and the SWV's extra days off."""
        self._check_covered(day)
        ordinals = self._schooldays(day.year)
        i = bisect_left(ordinals, day.toordinal())
        return i < len(ordinals) and ordinals[i] == day.toordinal()

    def days_off(self, year: int) -> list[DayOffEntry]:
        """Every public holiday, school-holiday day and extra day off in calendar year ``year``, by date."""
        first, last = self._covered
        if first > date(year, 1, 1) or last < date(year, 12, 31):
            raise self._school.range_error(f"heel {year}")
        result = [DayOffEntry(d, name, FEESTDAG) for d, name in _public_holidays(year).items()]
        vacation = _vacation_days(self.region)
        result += [DayOffEntry(d, vacation[d], SCHOOLVAKANTIE) for d in _days_of(year) if d in vacation]
        result += [DayOffEntry(d, name, VRIJE_DAG) for d, name in self.extra_days_off.items() if d.year == year]
        return sorted(result, key=lambda off: (off.date, _KIND_ORDER[off.kind], off.name))

    def _check_covered(self, day: date) -> None:
        first, last = self._covered
        if not first <= day <= last:
            raise self._school.range_error(day.isoformat())

    def _schooldays(self, year: int) -> tuple[int, ...]:
        # Reached when a count runs on past the last known school holiday: name the first unknown day.
        if year > self._covered[1].year:
            raise self._school.range_error((self._covered[1] + timedelta(days=1)).isoformat())
        return _schooldays(self.region, self._extra, year)
