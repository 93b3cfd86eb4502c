"""Loket's business calendar: counting kalenderdagen, werkdagen, schooldagen and weken, Dutch style.

Pure: no database, no Flask. Which list each answer uses:

- ``legal=True`` (the end of a legal term): ``legal_days.atw_end``, the Algemene termijnenwet's own list
  (art. 3 lid 1 and 2, 5 May and Goede Vrijdag every year, plus the equated days of lid 3), art. 1 (an end on
  such a day, or a weekend day, moves on) and art. 2 (a term of three days or more holds two ordinary days).
  No SWV rule changes it.
- ``werkdagen``: Monday to Friday minus the feestdagen of Atw art. 3 lid 1 and 2 (``legal_days.statutory_days``)
  as the SWV's ``CalendarRules`` say: 5 May and Goede Vrijdag are days off unless the SWV makes them werkdagen.
  An equated day (lid 3) is a werkdag.
- ``schooldagen``: werkdagen outside the region's school holidays (``engine/data/schoolvakanties.json``; the
  advisory periods as the rules switch them on or off) and outside the SWV's or school's extra days off.

Nothing here comes from the ``holidays`` package: a library upgrade must never move a date.
"""

from __future__ import annotations

import json
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import cache, lru_cache
from importlib import resources
from types import MappingProxyType

from .legal_days import (
    BEVRIJDINGSDAG,
    GOEDE_VRIJDAG,
    CalendarRangeError,
    atw_end,
    atw_shift,
    equated_days,
    statutory_days,
)

__all__ = ["CalendarRangeError", "atw_end", "atw_shift", "BusinessCalendar", "CalendarRules", "load_school_holidays"]

UNITS = ("kalenderdagen", "werkdagen", "schooldagen", "weken")
REGIONS = ("noord", "midden", "zuid")
VACATIONS = ("herfstvakantie", "kerstvakantie", "voorjaarsvakantie", "meivakantie", "meivakantie-week2",
             "zomervakantie")
DATA_FILE = "engine/data/schoolvakanties.json"

FEESTDAG = "feestdag"
SCHOOLVAKANTIE = "schoolvakantie"
VRIJE_DAG = "vrije dag"
_KIND_ORDER = {FEESTDAG: 0, SCHOOLVAKANTIE: 1, VRIJE_DAG: 2}
_NAMES = {"meivakantie-week2": "Meivakantie (adviesweek)"}


@dataclass(frozen=True)
class CalendarRules:
    """An SWV's (or a school's) own rules on top of the shipped data. The defaults are what Loket assumes
    for education when nobody has said otherwise: 5 May and Goede Vrijdag are days off (no werkdag, no
    schooldag), and each advisory school holiday counts as the data file's ``standaard`` says.

    ``advisory`` holds (key, on) pairs; a key is a period (``meivakantie-week2``) or a period in one school
    year (``voorjaarsvakantie:2026-2027``), which wins over the period alone."""

    may5_off: bool = True
    good_friday_off: bool = True
    advisory: frozenset[tuple[str, bool]] = field(default_factory=frozenset)

    def counts(self, key: str, schooljaar: str, default: bool) -> bool:
        """Whether the advisory period ``key`` of ``schooljaar`` is a holiday under these rules."""
        chosen = dict(self.advisory)
        return chosen.get(f"{key}:{schooljaar}", chosen.get(key, default))


DEFAULT_RULES = CalendarRules()


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
    key: str = ""  # the data file's key: "kerstvakantie", "meivakantie-week2"
    advisory: bool = False  # an advisory period an SWV or school may switch on or off
    default: bool = True  # whether it counts as a holiday when nobody has said otherwise


@dataclass(frozen=True)
class SchoolHolidays:
    """The contents of schoolvakanties.json."""

    bron: str
    versie: str
    controle: str
    schooljaren: tuple[str, ...]
    periods: tuple[SchoolHoliday, ...]
    covered: Mapping[str, tuple[date, date]]  # region -> first and last day whose school holidays are known
    advisory: Mapping[str, bool]  # advisory period -> counted by default

    def range_error(self, what: str) -> CalendarRangeError:
        return CalendarRangeError(
            f"Geen schoolvakanties bekend voor {what}: "
            f"Loket kent de schooljaren {self.schooljaren[0]} t/m {self.schooljaren[-1]}."
        )


@cache
def load_school_holidays() -> SchoolHolidays:
    """Read and check engine/data/schoolvakanties.json once per process."""
    raw = json.loads((resources.files("engine") / "data" / "schoolvakanties.json").read_text("utf-8"))
    advisory = {k: v["standaard"] == "aan" for k, v in raw["adviesvakanties"].items() if k in VACATIONS}
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
                name = _NAMES.get(vacation, vacation.capitalize())
                periods.append(SchoolHoliday(schooljaar, name, region, first, last, vacation,
                                             vacation in advisory, advisory.get(vacation, True)))
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
        controle=raw["controle"],
        schooljaren=tuple(raw["schooljaren"]),
        periods=tuple(sorted(periods, key=lambda p: (p.first, p.region))),
        covered=MappingProxyType(covered),
        advisory=MappingProxyType(advisory),
    )


@lru_cache(maxsize=256)
def _days_off_by_law(year: int, may5_off: bool, good_friday_off: bool) -> Mapping[date, str]:
    """The feestdagen that are no werkdag under the SWV's rules (Atw art. 3 lid 1 and 2, less its choices)."""
    days = dict(statutory_days(year))
    for day, name in list(days.items()):
        if (name == BEVRIJDINGSDAG and not may5_off) or (name == GOEDE_VRIJDAG and not good_friday_off):
            del days[day]
    return MappingProxyType(days)


@lru_cache(maxsize=256)
def _workdays(year: int, may5_off: bool = True, good_friday_off: bool = True) -> tuple[int, ...]:
    """Ordinals of the werkdagen in ``year``, ascending (for bisecting)."""
    off = _days_off_by_law(year, may5_off, good_friday_off)
    return tuple(d.toordinal() for d in _days_of(year) if d.weekday() < 5 and d not in off)


@lru_cache(maxsize=64)
def _vacation_days(region: str, rules: CalendarRules = DEFAULT_RULES) -> Mapping[date, str]:
    days: dict[date, str] = {}
    for period in load_school_holidays().periods:
        if period.region != region:
            continue
        if period.advisory and not rules.counts(period.key, period.schooljaar, period.default):
            continue
        for n in range((period.last - period.first).days + 1):
            days.setdefault(period.first + timedelta(days=n), period.name)
    return MappingProxyType(days)


@lru_cache(maxsize=1024)
def _schooldays(region: str, extra: frozenset[date], year: int,
                rules: CalendarRules = DEFAULT_RULES) -> tuple[int, ...]:
    """Ordinals of the schooldagen in ``year`` that fall inside the covered range, ascending."""
    first, last = load_school_holidays().covered[region]
    off = _vacation_days(region, rules).keys() | extra
    days = (date.fromordinal(o) for o in _workdays(year, rules.may5_off, rules.good_friday_off))
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


class BusinessCalendar:
    """The calendar of one SWV or school: its school-holiday region, its rules and its extra days off."""

    def __init__(self, region: str, extra_days_off: Mapping[date, str] | None = None,
                 rules: CalendarRules | None = None) -> None:
        if region not in REGIONS:
            raise ValueError(f"Onbekende regio {region!r}: kies uit {', '.join(REGIONS)}.")
        extra = dict(extra_days_off or {})
        for day in extra:
            if not isinstance(day, date) or isinstance(day, datetime):
                raise ValueError(f"Een vrije dag moet een datum zijn, geen {day!r}.")
        self.region = region
        self.rules = rules or DEFAULT_RULES
        self.extra_days_off: Mapping[date, str] = MappingProxyType(extra)
        self._extra = frozenset(extra)
        self._school = load_school_holidays()
        self._covered = self._school.covered[region]

    def __repr__(self) -> str:
        return f"BusinessCalendar({self.region!r}, {len(self._extra)} vrije dagen, {self.rules})"

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
            end = _nth_after(start, amount, self._workdays) if amount else start
        else:
            self._check_covered(start)
            end = _nth_after(start, amount, self._schooldays) if amount else start
        if not legal:
            return end
        # Atw art. 2 reads the term as the law sets it: n days (werkdagen, schooldagen, kalenderdagen) or 7n.
        return atw_end(start, end, amount * 7 if unit == "weken" else amount)

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
        """Monday to Friday and not a feestdag that is a day off under this calendar's rules."""
        return day.weekday() < 5 and day not in self._law_off(day.year)

    def is_schoolday(self, day: date) -> bool:
        """A werkdag outside the region's school holidays and the extra days off."""
        self._check_covered(day)
        ordinals = self._schooldays(day.year)
        i = bisect_left(ordinals, day.toordinal())
        return i < len(ordinals) and ordinals[i] == day.toordinal()

    def days_off(self, year: int) -> list[DayOffEntry]:
        """Every feestdag, school-holiday day and extra day off in calendar year ``year`` under this
        calendar's rules, by date."""
        first, last = self._covered
        if first > date(year, 1, 1) or last < date(year, 12, 31):
            raise self._school.range_error(f"heel {year}")
        result = [DayOffEntry(d, name, FEESTDAG) for d, name in self._law_off(year).items()]
        vacation = _vacation_days(self.region, self.rules)
        result += [DayOffEntry(d, vacation[d], SCHOOLVAKANTIE) for d in _days_of(year) if d in vacation]
        result += [DayOffEntry(d, name, VRIJE_DAG) for d, name in self.extra_days_off.items() if d.year == year]
        return sorted(result, key=lambda off: (off.date, _KIND_ORDER[off.kind], off.name))

    def legal_only(self, year: int) -> list[tuple[date, str]]:
        """The days in ``year`` that end no legal term but are werkdagen here: equated days (Atw art. 3 lid 3)
        and the feestdagen this calendar's rules make werkdagen (5 May, Goede Vrijdag)."""
        law_off = self._law_off(year)
        days = dict(equated_days(year))
        days.update({d: name for d, name in statutory_days(year).items() if d not in law_off and d.weekday() < 5})
        return sorted(days.items())

    def _law_off(self, year: int) -> Mapping[date, str]:
        return _days_off_by_law(year, self.rules.may5_off, self.rules.good_friday_off)

    def _workdays(self, year: int) -> tuple[int, ...]:
        return _workdays(year, self.rules.may5_off, self.rules.good_friday_off)

    def _check_covered(self, day: date) -> None:
        first, last = self._covered
        if not first <= day <= last:
            raise self._school.range_error(day.isoformat())

    def _schooldays(self, year: int) -> tuple[int, ...]:
        # Reached when a count runs on past the last known school holiday: name the first unknown day.
        if year > self._covered[1].year:
            raise self._school.range_error((self._covered[1] + timedelta(days=1)).isoformat())
        return _schooldays(self.region, self._extra, year, self.rules)


def covered_until() -> dict[str, tuple[str, date]]:
    """What the school-holiday data covers, per region, for the renewal check: name -> (file, last day)."""
    data = load_school_holidays()
    return {f"schoolvakanties regio {r}": (DATA_FILE, data.covered[r][1]) for r in REGIONS}
