"""The one clock of Loket. Everything that needs "now" asks here.

Tests freeze it with freezegun; audit replay and ``loket scheduler --now`` pin it with ``frozen()``,
which holds for the current thread or task only, so a replay never moves anyone else's clock.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime

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
    def now(cls, tz=None):  # type: ignore[override]
        moment = now()
        return moment.astimezone(tz) if tz is not None else moment.astimezone().replace(tzinfo=None)
