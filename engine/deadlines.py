"""Terms that know the Dutch school calendar: what route code may call, and when a task or case is due.

A term counted in days ends at the end of its last day, Dutch time (a term of 10 werkdagen from a
Monday ends on the second Friday at 23:59:59 in Amsterdam). A warning period counts back from that day
and starts at the beginning of its first day.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy.orm import Session

from . import clock
from .calendar import UNITS, BusinessCalendar
from .calendar_settings import calendar_for  # noqa: F401  (the SWV's calendar; re-exported)
from .clock import TZ, local_date
from .models import Case, DayOff, School, Tenant
from .sandbox import SandboxEnvironment, unmetered


def end_of_day(day: date) -> datetime:
    return datetime.combine(day, time(23, 59, 59), TZ).astimezone(UTC)


def start_of_day(day: date) -> datetime:
    return datetime.combine(day, time(0, 0), TZ).astimezone(UTC)


def add_day_off(session: Session, tenant: Tenant, day: date, name: str) -> None:
    session.add(DayOff(tenant_id=tenant.id, date=day, name=name))
    settings = dict(tenant.settings or {})
    settings["calendar_version"] = int(settings.get("calendar_version", 0)) + 1
    tenant.settings = settings


class Terms:
    """The calendar functions route code may call, bound to one SWV's calendar, lazily loaded.

    With ``school_id`` (the case's school: the school that applies, where the pupil is) ``schooldagen`` count
    that school's school days: its own region (a school in another vakantieregio than its SWV), its own days
    off and advisory holidays (carnaval in zuid). A term in school days exists so that days the pupil and the
    school's people are not at school do not count, and that is the school's calendar, not the SWV office's.
    ``werkdagen``, ``weken`` and ``kalenderdagen`` stay the SWV's: they are about the SWV's working days."""

    def __init__(self, session: Session, tenant: Tenant, school_id: int | None = None) -> None:
        self._session, self._tenant, self._school_id = session, tenant, school_id
        self._calendar: BusinessCalendar | None = None
        self._school_calendar: BusinessCalendar | None = None

    @property
    def calendar(self) -> BusinessCalendar:
        if self._calendar is None:
            with unmetered():  # read and built once; the counting itself stays on route code's clock
                self._calendar = calendar_for(self._session, self._tenant)
        return self._calendar

    @property
    def school_calendar(self) -> BusinessCalendar:
        """The case's school's calendar (the SWV's when the case has no school, or one of another SWV)."""
        if self._school_calendar is None:
            with unmetered():  # read and built once, like the SWV's
                school = self._session.get(School, self._school_id) if self._school_id is not None else None
                if school is None or school.tenant_id != self._tenant.id:
                    self._school_calendar = self.calendar
                else:
                    self._school_calendar = calendar_for(self._session, self._tenant, school)
        return self._school_calendar

    def for_unit(self, unit: str) -> BusinessCalendar:
        return self.school_calendar if unit == "schooldagen" and self._school_id is not None else self.calendar

    def forward(self, *, legal_default: bool = False, start: date | None = None) -> dict[str, Callable[..., str]]:
        """``werkdagen(10)`` -> the ISO moment the term ends, counted from today (or ``start``)."""

        def make(unit: str) -> Callable[..., str]:
            def term(amount: int, legal: bool = legal_default) -> str:
                begin = start or local_date(clock.now())
                return end_of_day(self.for_unit(unit).add(begin, amount, unit, legal=legal)).isoformat()

            term.__name__ = unit
            return term

        return {unit: make(unit) for unit in UNITS}

    def backward(self, end: datetime) -> dict[str, Callable[..., str]]:
        """``werkdagen(2)`` in a warning -> the ISO moment the warning period before ``end`` starts."""

        def make(unit: str) -> Callable[..., str]:
            def period(amount: int, legal: bool = False) -> str:
                return start_of_day(self.for_unit(unit).subtract(local_date(end), amount, unit)).isoformat()

            period.__name__ = unit
            return period

        return {unit: make(unit) for unit in UNITS}


def parse_moment(value: Any, what: str) -> datetime:
    """A term expression's result (ISO string or datetime) as an aware UTC moment."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        return end_of_day(value)
    elif isinstance(value, str):
        moment = datetime.fromisoformat(value)
    else:
        raise ValueError(f"{what} gaf {value!r}; verwacht een tijdstip, bv. werkdagen(10)")
    return clock.assume_local(moment).astimezone(UTC)


def evaluate_term(expression: str, helpers: dict[str, Any], data: dict[str, Any], what: str) -> datetime:
    value = SandboxEnvironment(helpers).evaluate(expression, dict(data))
    if isinstance(value, str) and len(value) == 10:  # a day from the case data: a term runs to the end of its day
        try:
            value = date.fromisoformat(value)
        except ValueError:
            pass  # parse_moment says what is wrong with it
    return parse_moment(value, what)


def task_deadline(terms: Terms, properties: dict[str, str], data: dict[str, Any]) -> tuple[datetime | None,
                                                                                          datetime | None]:
    """(due, warn) for a user task from its ``deadline`` and ``deadlineWarning`` properties."""
    expression = properties.get("deadline")
    if not expression:
        return None, None
    legal = properties.get("deadlineLegal", "false").lower() == "true"
    due = evaluate_term(expression, terms.forward(legal_default=legal), data, "deadline")
    warning = properties.get("deadlineWarning")
    warn = evaluate_term(warning, terms.backward(due), data, "deadlineWarning") if warning else None
    if warn is not None and warn >= due:
        warn = None
    return due, warn


def case_term(tenant: Tenant, route_key: str) -> dict[str, Any] | None:
    """The SWV's own doorlooptijd for a route, e.g. {"term": "werkdagen(10)", "from": "knooppuntoverleg"}."""
    return ((tenant.settings or {}).get("terms") or {}).get(route_key)


def case_due(terms: Terms, config: dict[str, Any], data: dict[str, Any]) -> datetime:
    return evaluate_term(config["term"], terms.forward(legal_default=bool(config.get("legal"))), data,
                         "doorlooptijd")


def max_extensions(tenant: Tenant, route_key: str | None = None) -> int:
    """How often a case's doorlooptijd may be extended: the route's own term says so (``extensions``), else the
    SWV's ``max_extensions``, else once."""
    own = (case_term(tenant, route_key) or {}).get("extensions") if route_key else None
    return int(own if own is not None else (tenant.settings or {}).get("max_extensions", 1))


def shifted(moment: datetime | None, delta: timedelta) -> datetime | None:
    return moment + delta if moment is not None else None


def route_helpers(session: Session, case: Case) -> dict[str, Any]:
    """What route code (timers, conditions, scripts) sees besides the case data."""
    return Terms(session, case.tenant, case.school_id).forward()
