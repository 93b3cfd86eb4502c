"""The one clock of Loket, and the one time zone people read it in. Everything that needs "now" asks here.

Tests freeze it with freezegun; audit replay and ``loket scheduler --now`` pin it with ``frozen()``,
which holds for the current thread or task only, so a replay never moves anyone else's clock.

Moments are stored and computed in UTC; people read them, and terms count days, in Dutch time (``TZ``).
The ``format_*`` functions below are how a moment is written for a Dutch reader everywhere (CLI, e-mails,
the audit report), so one case never shows one moment in two ways.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, date, datetime, tzinfo
from zoneinfo import ZoneInfo

TZ = ZoneInfo("Europe/Amsterdam")

_pinned: ContextVar[datetime | None] = ContextVar("loket_clock", default=None)


def now() -> datetime:
    """The current moment, timezone-aware UTC."""
    pinned = _pinned.get()
    return pinned if pinned is not None else datetime.now(UTC)


@contextmanager
def frozen(at: datetime) -> Iterator[datetime]:
    """Let ``now()`` (and SpiffWorkflow's timers) return ``at`` inside the block."""
    if at.tzinfo is None:
        raise ValueError("frozen() needs a timezone-aware moment")
    token = _pinned.set(at.astimezone(UTC))
    try:
        yield at
    finally:
        _pinned.reset(token)


class ClockDatetime(datetime):
    """Stands in for ``datetime`` inside SpiffWorkflow's timer module, which calls ``datetime.now``
    directly and has no clock hook of its own."""

    @classmethod
    def now(cls, tz: tzinfo | None = None) -> datetime:  # type: ignore[override]
        moment = now()
        return moment.astimezone(tz) if tz is not None else moment.astimezone().replace(tzinfo=None)


# --- Dutch time -----------------------------------------------------------------------------------

WEEKDAYS = ("ma", "di", "wo", "do", "vr", "za", "zo")


def local_date(moment: datetime) -> date:
    """The day it is in the Netherlands at ``moment``."""
    return moment.astimezone(TZ).date()


def assume_local(moment: datetime) -> datetime:
    """A moment typed without a zone (``2026-11-02T14:00``) is Dutch time; one with a zone stays as it is."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=TZ)


def parse_local(text: str) -> datetime:
    """An ISO moment as a user types it; without a zone it is Dutch time. Raises ValueError."""
    return assume_local(datetime.fromisoformat(text))


def format_date(value: date | datetime | None, missing: str = "-") -> str:
    """``02-11-2026``; a moment is first taken to its Dutch day."""
    if value is None:
        return missing
    day = local_date(value) if isinstance(value, datetime) else value
    return day.strftime("%d-%m-%Y")


def format_moment(value: datetime | str | None, missing: str = "-", *, seconds: bool = False) -> str:
    """``02-11-2026 14:00`` in Dutch time (with ``:05`` seconds when asked); an ISO string is read first."""
    if value is None or value == "":
        return missing
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.astimezone(TZ).strftime("%d-%m-%Y %H:%M:%S" if seconds else "%d-%m-%Y %H:%M")


def weekday(day: date) -> str:
    """The Dutch short name of the day of the week (``ma`` .. ``zo``), independent of the OS locale."""
    return WEEKDAYS[day.weekday()]
