"""Leader election: of all the scheduler processes on one database, one leads (sweeps, delivers mail, applies
retention); the others wait, and one of them takes over within a few seconds when the leader dies.

Firing already claims rows, so two leaders at once would still fire each deadline once; election keeps the
work (and the polling) in one process, and makes 'is the scheduler running?' a question with one answer.

- PostgreSQL: a session-level ``pg_try_advisory_lock`` on a connection of its own, held while leading. When the
  leader process dies its connection closes and PostgreSQL frees the lock at once; when its host vanishes, the
  server-side TCP keepalives set on that connection free it within about 15 seconds. The leader checks its
  connection on every beat and stops leading the moment it fails.
- SQLite (one host by nature): an exclusive ``flock`` on a file next to the database, freed by the kernel when
  the process dies.
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import IO, Protocol

from sqlalchemy import Connection, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

log = logging.getLogger("loket.leader")

# The advisory lock's key: one per database, the same in every Loket process ("LOKET" in ASCII).
LOCK_KEY = 0x4C4F4B4554
# Seconds between beats: a follower tries to take the lead, the leader checks it still holds it.
BEAT_SECONDS = 2.0


class Leadership(Protocol):
    def hold(self) -> bool:
        """Lead now: take the lead if it is free, or confirm this process still holds it. Never blocks long."""

    def release(self) -> None:
        """Give the lead up (and any connection or file held for it)."""


class PostgresLeadership:
    """The lead is a session-level advisory lock on a connection that is no pool's (closing it frees the lock)."""

    def __init__(self, url: str, key: int = LOCK_KEY) -> None:
        self.key = key
        self._engine = create_engine(url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
        self._conn: Connection | None = None
        self._leading = False

    def hold(self) -> bool:
        try:
            if self._conn is None:
                self._conn = self._engine.connect()
                # The server notices a vanished host after idle + interval * count seconds and ends the session,
                # which frees the lock for a follower; the default (two hours) would stall every deadline.
                for setting, value in (("tcp_keepalives_idle", 5), ("tcp_keepalives_interval", 2),
                                       ("tcp_keepalives_count", 3)):
                    self._conn.exec_driver_sql(f"SET {setting} = {value}")
            if self._leading:
                self._conn.exec_driver_sql("SELECT 1")  # still connected, so still holding the lock
            else:
                self._leading = bool(self._conn.execute(text("SELECT pg_try_advisory_lock(:key)"),
                                                        {"key": self.key}).scalar())
        except SQLAlchemyError as exc:
            if self._leading:
                log.warning("verbinding van de leider verbroken: %s", (str(exc).splitlines() or [""])[0])
            self._drop()
        return self._leading

    def release(self) -> None:
        if self._conn is not None and self._leading:
            try:
                self._conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": self.key})
            except SQLAlchemyError:
                pass  # the connection is gone, and the lock with it
        self._drop()
        self._engine.dispose()

    def _drop(self) -> None:
        self._leading = False
        if self._conn is not None:
            try:
                self._conn.close()
            except SQLAlchemyError:
                pass
            self._conn = None


class FileLeadership:
    """The lead is an exclusive flock on ``path``; the kernel frees it when the holding process ends."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file: IO[bytes] | None = None

    def hold(self) -> bool:
        if self._file is not None:
            return True
        handle = open(self.path, "ab")  # noqa: SIM115 (held open for as long as this process leads)
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            return False
        self._file = handle
        return True

    def release(self) -> None:
        if self._file is not None:
            fcntl.flock(self._file.fileno(), fcntl.LOCK_UN)
            self._file.close()
            self._file = None


class Always:
    """An in-memory database has one process: it leads."""

    def hold(self) -> bool:
        return True

    def release(self) -> None:
        pass


def leadership_for(url: str) -> Leadership:
    """The election that fits the database: an advisory lock on PostgreSQL, a lock file beside a SQLite file."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return PostgresLeadership(url)
    if not parsed.database or parsed.database == ":memory:":
        return Always()
    return FileLeadership(Path(f"{parsed.database}.scheduler.lock"))


class Running(Protocol):
    def shutdown(self) -> None: ...


def lead(leadership: Leadership, start: Callable[[], Running], stop: threading.Event,
         beat: float = BEAT_SECONDS, alive: Callable[[], bool] = lambda: True) -> None:
    """Until ``stop`` is set (or ``alive()`` turns false): on every beat take or confirm the lead; ``start()``
    the work on becoming leader and shut it down on losing the lead. Gives the lead up on the way out."""
    running: Running | None = None
    waiting_said = False
    try:
        while not stop.is_set() and alive():
            leading = leadership.hold()
            if leading and running is None:
                log.info("scheduler leidt (pid %s)", os.getpid())
                running = start()
            elif not leading and running is not None:
                log.warning("scheduler leidt niet meer (pid %s); wacht op de leiding", os.getpid())
                running.shutdown()
                running = None
            elif not leading and not waiting_said:
                log.info("scheduler wacht: een ander proces leidt (pid %s)", os.getpid())
                waiting_said = True
            stop.wait(beat)
    finally:
        if running is not None:
            running.shutdown()
        leadership.release()
