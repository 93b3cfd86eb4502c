"""The scheduler: the deadlines table is the truth; APScheduler only decides when to look at it.

Firing claims rows (``FOR UPDATE SKIP LOCKED`` on PostgreSQL; SQLite's write lock serialises), so any
number of scheduler processes on one PostgreSQL fire each deadline exactly once. A deadline is marked
fired in the same transaction as its effects (event, notification, task change), so a crash either
leaves it pending or fired-with-effects, never half.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import Select, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from . import clock, leader, metrics
from .cases import Runtime
from .models import Case, Deadline, Task
from .vocabulary import CaseStatus, DeadlineStatus

log = logging.getLogger("loket.scheduler")

# Another writer changed the case first: its version moved on, or it took the next event number.
CONCURRENT_WRITE = (StaleDataError, IntegrityError)

WORKER = f"{socket.gethostname()}:{os.getpid()}"
# Timers need the route to run; warnings and escalations fire on a case in incident too (its clock runs).
FIRES_ON = (CaseStatus.OPEN, CaseStatus.INCIDENT)


@dataclass
class SweepReport:
    fired: int = 0
    postponed: int = 0
    conflicts: int = 0
    # Per deadline fired: its kind and how many seconds after its due moment (for engine.metrics).
    late: list[tuple[str, float]] = field(default_factory=list, repr=False)

    def __str__(self) -> str:
        return f"{self.fired} termijnen afgehandeld, {self.postponed} uitgesteld, {self.conflicts} conflicten"


def _pending(*columns: Any) -> Select:
    """Pending deadlines of cases they fire on, earliest first. Written so that ix_deadlines_due
    (status, due_at) drives it: the database walks pending deadlines in due order and looks each case up by
    its key, and a LIMIT stops the walk early, however many cases there are."""
    return (
        select(*columns)
        .join(Case, Case.id == Deadline.case_id)
        .where(Deadline.status == DeadlineStatus.PENDING, Case.status.in_(FIRES_ON))
        .order_by(Deadline.due_at)
    )


def _due(now: datetime) -> Select:
    return _pending(Deadline).where(Deadline.due_at <= now).order_by(Deadline.id)


def fire_due(runtime: Runtime, now: datetime | None = None, batch: int = 200, worker: str = WORKER, *,
             measured: bool = True) -> SweepReport:
    """Fire every deadline due at ``now`` (default: the clock). Safe to run in several processes at once.

    A batch is fired in one transaction and one flush. If a user changed one of its cases meanwhile, the
    batch is rolled back whole and done again one deadline at a time, each in a savepoint. ``measured=False``:
    a sweep in a scenario's throwaway world, which is no work of this process and stays out of its metrics."""
    now = now or clock.now()
    report = SweepReport()
    skip: set[int] = set()
    careful = False
    while True:
        done = SweepReport()
        try:
            with runtime.db.transaction() as session:
                rows = _claim(runtime, session, now, batch, skip)
                if not rows:
                    break
                # Load the batch's cases and tasks in two queries instead of two per deadline (and keep them
                # referenced: the session's identity map alone would let them be garbage-collected).
                cases = list(session.scalars(select(Case).where(Case.id.in_({d.case_id for d in rows}))))
                task_ids = {d.task_id for d in rows if d.task_id and d.kind != "timer"}
                tasks = session.scalars(select(Task).where(Task.id.in_(task_ids))).all() if task_ids else []
                if careful:  # each deadline alone, in a savepoint, written at once
                    for deadline in rows:
                        _fire_alone(runtime, session, deadline, now, worker, done, skip)
                else:  # the whole batch's events and rows written together at its end
                    with runtime.recorder.batch(session, cases):
                        for deadline in rows:
                            _fire_one(runtime, session, deadline, now, worker, done, skip)
                del tasks
        except CONCURRENT_WRITE:
            # A user acted on one of these cases at this very moment: redo the batch one by one.
            careful = True
            continue
        careful = False
        if measured:
            metrics.deadlines_fired(done.late)  # committed: now they count
        report.fired += done.fired
        report.postponed += done.postponed
        report.conflicts += done.conflicts
    return report


def _claim(runtime: Runtime, session, now: datetime, batch: int, skip: set[int]) -> list[Deadline]:
    query = _due(now).limit(batch)
    if skip:
        query = query.where(Deadline.id.not_in(skip))
    if not runtime.db.is_sqlite:
        query = query.with_for_update(of=Deadline, skip_locked=True)
    return list(session.scalars(query))


def _fire_one(runtime: Runtime, session, deadline: Deadline, now: datetime, worker: str, done: SweepReport,
              skip: set[int]) -> None:
    if runtime.fire(session, deadline, now, worker):
        done.fired += 1
        done.late.append((deadline.kind, (clock.now() - deadline.due_at).total_seconds()))
    else:  # not yet (a timer SpiffWorkflow does not see as due): leave it for the next sweep
        done.postponed += 1
        skip.add(deadline.id)


def _fire_alone(runtime: Runtime, session, deadline: Deadline, now: datetime, worker: str, done: SweepReport,
                skip: set[int]) -> None:
    """One deadline in a savepoint of its own, so a concurrent write costs only this one."""
    counted = len(done.late)
    try:
        with session.begin_nested():
            _fire_one(runtime, session, deadline, now, worker, done, skip)
    except CONCURRENT_WRITE:
        del done.late[counted:]  # its flush failed after it counted: the savepoint undid it
        done.conflicts += 1
        skip.add(deadline.id)
        session.expire_all()


def next_due(runtime: Runtime) -> datetime | None:
    """The earliest moment a deadline falls due. ORDER BY ... LIMIT 1 rather than min(): min() over a join
    made PostgreSQL read the whole cases table on every sweep and after every action."""
    with runtime.db.read() as session:
        return session.scalar(_pending(Deadline.due_at).limit(1))


class Scheduler:
    """APScheduler in the background: a periodic sweep (which also catches up after downtime), a wake-up
    at the exact next due time, and outbox delivery."""

    def __init__(self, runtime: Runtime, sweep_seconds: float = 2.0, mail_seconds: float = 10.0) -> None:
        self.runtime = runtime
        self.sweep_seconds = sweep_seconds
        self.mail_seconds = mail_seconds
        self._lock = threading.Lock()
        self._planned: datetime | None = None  # the moment the 'wake' job is set for
        self._plan_lock = threading.Lock()
        self.aps = BackgroundScheduler(timezone=UTC, job_defaults={
            "coalesce": True, "max_instances": 1, "misfire_grace_time": None})

    def start(self) -> None:
        now = datetime.now(UTC)
        self.aps.add_job(self.sweep, "interval", seconds=self.sweep_seconds, id="sweep", next_run_time=now)
        self.aps.add_job(self.deliver, "interval", seconds=self.mail_seconds, id="mail", next_run_time=now)
        self.aps.add_job(self.retention, "cron", hour=2, minute=30, id="retention")
        # Herbeoordelingen of ending TLVs (engine.renewals): at start (catching up) and every hour after.
        self.aps.add_job(self.renewals, "interval", hours=1, id="herbeoordeling", next_run_time=now)
        self.runtime.on_deadline = self.nudge
        self.aps.start()

    def shutdown(self) -> None:
        self.runtime.on_deadline = None
        self.aps.shutdown(wait=True)

    def sweep(self) -> SweepReport | None:
        with self._lock:
            try:
                report = fire_due(self.runtime)
            except Exception:
                log.exception("sweep mislukt; volgende poging bij de volgende sweep")
                return None
        if report.fired or report.conflicts:
            log.info("sweep: %s", report)
        self.plan()
        return report

    def nudge(self, due: datetime) -> None:
        """After an action that made or moved a deadline: wake for it if it comes before the planned wake-up.
        No database read: the action said when."""
        self._wake(due, only_earlier=True)

    def plan(self) -> None:
        """Wake at the next due moment in the database (after every sweep)."""
        try:
            due = next_due(self.runtime)
        except Exception:
            log.exception("volgende termijn niet te bepalen")
            return
        if due is None:
            with self._plan_lock:
                self._planned = None
        else:
            self._wake(due, only_earlier=False)

    def _wake(self, due: datetime, only_earlier: bool) -> None:
        with self._plan_lock:
            planned = self._planned
            if not self.aps.running or (only_earlier and planned is not None
                                        and datetime.now(UTC) < planned <= due):
                return
            self._planned = due
            # Wake a hair after the due time: SpiffWorkflow fires timers only once due < now.
            self.aps.add_job(self.sweep, "date", run_date=max(due, datetime.now(UTC)) + timedelta(
                milliseconds=5), id="wake", replace_existing=True)

    def deliver(self) -> None:
        try:
            from .decision_letters import make_due
            from .mail import deliver_due

            make_due(self.runtime)  # decision letters made after their decision, before their mail can go
            deliver_due(self.runtime.db, self.runtime.settings.smtp_url)
        except Exception:
            log.exception("bezorgen van berichten mislukt")

    def renewals(self) -> None:
        try:
            from .renewals import sweep

            sweep(self.runtime)
        except Exception:
            log.exception("herbeoordelingen openen mislukt; volgende poging over een uur")

    def retention(self) -> None:
        try:
            from .retention import run_retention

            run_retention(self.runtime.db, clock.now(), settings=self.runtime.settings)
        except Exception:
            log.exception("bewaartermijnen toepassen mislukt")


def run_led(runtime: Runtime, stop: threading.Event, beat: float = leader.BEAT_SECONDS,
            alive: Callable[[], bool] = lambda: True) -> None:
    """The scheduler in a process that may be one of several on this database: it runs only while this process
    leads (engine.leader), and another takes over when it dies. Returns when ``stop`` is set."""

    def start() -> Scheduler:
        scheduler = Scheduler(runtime)
        scheduler.start()
        return scheduler

    leader.lead(leader.leadership_for(runtime.db.url), start, stop, beat, alive)
