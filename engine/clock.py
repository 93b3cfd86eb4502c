"""The one clock of Loket. Everything that needs "now" asks here; tests freeze it with freezegun."""

from datetime import UTC, datetime


def now() -> datetime:
    """The current moment, timezone-aware UTC."""
    return datetime.now(UTC)
