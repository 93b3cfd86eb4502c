"""What the engine did, counted for Prometheus: cases started, tasks completed, deadlines fired and how late.

The web app serves them at ``/metrics`` (web.metrics). Cases and tasks are counted from the events an action
writes (an ``INSERT`` into ``events``), and only once its transaction commits: a rolled-back action or savepoint
counts nothing. Deadlines are counted by the scheduler's sweep after its batch committed (``deadlines_fired``).
Scenario runs count nothing: their worlds' engines are never watched, and their sweeps are not ``measured``.
Counting at the connection's commit (rather than in the Recorder) also covers the sweep's savepoints and every
transaction that writes events, whoever opened it.

The metric objects are made on first use, not at import: under ``loket serve`` the gunicorn workers write them
to files in PROMETHEUS_MULTIPROC_DIR, and prometheus_client decides that when a value is made, so the directory
must be set by then (cli.serve does so before any worker starts).
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from typing import Any

from prometheus_client import Counter, Histogram
from sqlalchemy import Engine, event
from sqlalchemy.sql.dml import Insert

from .vocabulary import EventType

# How late a deadline fires after its due moment, in seconds: the sweep runs every 2 s and wakes for the
# next due moment, so nearly all land in the first buckets; the last ones show a scheduler that was down.
LATENESS_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 900, 3600, 6 * 3600, 24 * 3600)

_PENDING = "loket_metrics_pending"  # events written in the connection's open transaction, not yet counted
_MARKS = "loket_metrics_savepoints"  # per open savepoint: how many were pending when it began


@dataclass(frozen=True)
class EngineMetrics:
    cases_started: Counter
    tasks_completed: Counter
    deadlines_fired: Counter
    deadline_lateness: Histogram


@cache
def engine_metrics() -> EngineMetrics:
    return EngineMetrics(
        cases_started=Counter("loket_cases_started", "Gestarte dossiers."),
        tasks_completed=Counter("loket_tasks_completed", "Afgeronde taken, per taak van de route.", ["task"]),
        deadlines_fired=Counter("loket_deadlines_fired", "Afgehandelde termijnen en timers, per soort.", ["kind"]),
        deadline_lateness=Histogram("loket_deadline_lateness_seconds",
                                    "Hoe laat een termijn afging na het vervalmoment (fired_at - due_at).",
                                    ["kind"], buckets=LATENESS_BUCKETS),
    )


def deadlines_fired(fired: Iterable[tuple[str, float]]) -> None:
    """Count deadlines a committed sweep fired: (kind, seconds after due)."""
    metrics = engine_metrics()
    for kind, late in fired:
        metrics.deadlines_fired.labels(kind).inc()
        metrics.deadline_lateness.labels(kind).observe(max(late, 0.0))


# ---------------------------------------------------------------- counting the events an action commits

_watched: weakref.WeakSet[Engine] = weakref.WeakSet()
_watch_lock = threading.Lock()


def watch(engine: Engine) -> None:
    """Count the cases started and tasks completed that transactions on ``engine`` commit (once per engine)."""
    with _watch_lock:
        if engine in _watched:
            return
        _watched.add(engine)
    event.listen(engine, "before_execute", _before_execute)
    event.listen(engine, "begin", _clear)
    event.listen(engine, "rollback", _clear)
    event.listen(engine, "commit", _commit)
    event.listen(engine, "savepoint", _savepoint)
    event.listen(engine, "rollback_savepoint", _rollback_savepoint)
    event.listen(engine, "release_savepoint", _release_savepoint)


def _before_execute(conn: Any, clauseelement: Any, multiparams: Any, params: Any, execution_options: Any) -> None:
    if not (isinstance(clauseelement, Insert) and getattr(clauseelement.table, "name", None) == "events"):
        return
    rows = multiparams if multiparams else [params]
    if len(rows) == 1 and isinstance(rows[0], list | tuple):  # execute(insert, [row, row, ...])
        rows = rows[0]
    pending = conn.info.setdefault(_PENDING, [])
    for row in rows:
        if isinstance(row, dict) and row.get("type") in (EventType.CASE_STARTED, EventType.TASK_COMPLETED):
            pending.append((row["type"], row.get("task_name") or ""))


def _clear(conn: Any) -> None:
    if conn.invalidated:  # a cut connection (database restarted) has no info to clear, and must not raise here
        return
    conn.info.pop(_PENDING, None)
    conn.info.pop(_MARKS, None)


def _commit(conn: Any) -> None:
    pending = conn.info.pop(_PENDING, None) or []
    conn.info.pop(_MARKS, None)
    if not pending:
        return
    metrics = engine_metrics()
    for type_, task in pending:
        if type_ == EventType.CASE_STARTED:
            metrics.cases_started.inc()
        else:
            metrics.tasks_completed.labels(task).inc()


def _savepoint(conn: Any, name: str) -> None:
    conn.info.setdefault(_MARKS, []).append(len(conn.info.get(_PENDING, [])))


def _rollback_savepoint(conn: Any, name: str, context: Any) -> None:
    marks = conn.info.get(_MARKS) or [0]
    del conn.info.setdefault(_PENDING, [])[marks.pop():]


def _release_savepoint(conn: Any, name: str, context: Any) -> None:
    marks = conn.info.get(_MARKS)
    if marks:
        marks.pop()
