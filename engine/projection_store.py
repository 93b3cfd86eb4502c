"""The projection in the database: load a case's live rows, write back what an event changed with a few Core
statements, and compare a replayed projection with the stored rows field by field."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, insert, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from . import link_check
from .models import Case, Deadline, Task
from .projection import CaseRow, DeadlineRow, Projection, Row, TaskRow
from .vocabulary import OPEN_TASK, DeadlineStatus

TASKS = cast(Table, Task.__table__)
DEADLINES = cast(Table, Deadline.__table__)
_TASK_COLUMNS = list(TASKS.columns)
_DEADLINE_COLUMNS = list(DEADLINES.columns)
_MISSING = object()
CASE_FIELDS = ("status", "outcome", "incident", "due_at", "suspended_at", "suspended_seconds", "extensions_used",
               "opened_at", "closed_at", "school_id", "data", "decision")


def case_row(case: Case) -> CaseRow:
    return CaseRow(**{name: getattr(case, name) for name in CASE_FIELDS})


def _task(row: Any) -> TaskRow:
    return TaskRow(**{c.name: getattr(row, c.name) for c in _TASK_COLUMNS})


def _deadline(row: Any) -> DeadlineRow:
    return DeadlineRow(**{c.name: getattr(row, c.name) for c in _DEADLINE_COLUMNS})


def load(session: Session, case: Case, has_timers: bool) -> Projection:
    """The case's rows that an event can still change: the case, its open tasks, its pending deadlines."""
    return load_many(session, [case], lambda _: has_timers)[case.id]


def load_many(session: Session, cases: list[Case], has_timers: Callable[[Case], bool]) -> dict[int, Projection]:
    """The live rows of several cases in two statements (a scheduler sweep fires deadlines of many cases)."""
    ids = [case.id for case in cases]
    tasks = session.execute(select(*_TASK_COLUMNS).where(Task.case_id.in_(ids), Task.status.in_(OPEN_TASK))
                            .order_by(Task.created_at, Task.id))
    deadlines = session.execute(select(*_DEADLINE_COLUMNS).where(Deadline.case_id.in_(ids),
                                                                 Deadline.status == DeadlineStatus.PENDING)
                                .order_by(Deadline.id))
    out = {case.id: Projection(case.id, case.tenant_id, case.route_version.route.key, has_timers(case),
                               case_row(case)) for case in cases}
    for task in map(_task, tasks):
        out[task.case_id].tasks[task.id] = task
    for deadline in map(_deadline, deadlines):
        out[deadline.case_id].deadlines.append(deadline)
    for projection in out.values():
        remember(projection)
    return out


def remember(projection: Projection) -> None:
    """Note the current values as what the database holds (after loading or writing)."""
    rows: list[Row] = [projection.case, *projection.tasks.values(), *projection.deadlines]
    projection.original = {id(row): row.values() for row in rows}


def case_changes(projection: Projection) -> dict[str, Any]:
    """The fields of the case row that changed since ``load``; the caller writes them with the rest of that
    row, under its optimistic lock, before ``write``."""
    before = projection.original.get(id(projection.case), {})
    return {name: getattr(projection.case, name) for name in CASE_FIELDS
            if before.get(name, _MISSING) != getattr(projection.case, name)}


def show(session: Session, projection: Projection) -> None:
    """Let the Task objects the session holds show what the projection now says, before it is written (a
    notification about an escalated task reads its new lane)."""
    for row in projection.tasks.values():
        before = projection.original.get(id(row))
        loaded = session.identity_map.get(session.identity_key(Task, row.id)) if before is not None else None
        if before is None or loaded is None:
            continue
        for name, value in row.values().items():
            if before.get(name) != value:
                set_committed_value(loaded, name, value)


def write(session: Session, projections: list[Projection]) -> datetime | None:
    """Write what changed since ``load`` in these cases' tasks and deadlines, one statement per kind of change
    for all of them: new rows inserted, changed rows updated (only changed columns). Answers the earliest due
    moment of a deadline it made or moved (for a scheduler to wake at), if any."""
    new_tasks: list[Any] = []
    task_updates: list[tuple[Any, dict[str, Any]]] = []
    new_deadlines: list[Any] = []
    deadline_updates: list[tuple[Any, dict[str, Any]]] = []
    for projection in projections:
        new, changed = _split(projection.tasks.values(), projection.original, "id")
        new_tasks += new
        task_updates += changed
        new, changed = _split(projection.deadlines, projection.original, "id")
        new_deadlines += new
        deadline_updates += changed
    if new_tasks:
        session.connection().execute(insert(TASKS), [t.values() for t in new_tasks])
    _update(session, TASKS, "id", task_updates)
    if new_deadlines:
        values = [{k: v for k, v in d.values().items() if k != "id"} for d in new_deadlines]
        ids = session.connection().execute(insert(DEADLINES).returning(DEADLINES.c.id, sort_by_parameter_order=True),
                                           values)
        for deadline, (new_id,) in zip(new_deadlines, ids, strict=True):
            deadline.id = new_id
    _update(session, DEADLINES, "id", deadline_updates)
    moved = [d.due_at for d in new_deadlines if d.status == DeadlineStatus.PENDING]
    moved += [diff["due_at"] for _, diff in deadline_updates if "due_at" in diff]
    for projection in projections:
        # A finished task or a fired or cancelled deadline never changes again: the live projection lets go.
        projection.tasks = {k: t for k, t in projection.tasks.items() if t.status in OPEN_TASK}
        projection.deadlines = [d for d in projection.deadlines if d.status == DeadlineStatus.PENDING]
        remember(projection)
    return min(moved, default=None)


def _split(rows: Any, original: dict[int, dict[str, Any]], key: str) -> tuple[list[Any], list[tuple[Any, dict]]]:
    new, changed = [], []
    for row in rows:
        before = original.get(id(row))
        if before is None:
            new.append(row)
            continue
        now = row.values()
        diff = {k: v for k, v in now.items() if before.get(k) != v}
        if diff:
            changed.append((now[key], diff))
    return new, changed


def _update(session: Session, table: Any, key: str, changes: list[tuple[Any, dict[str, Any]]]) -> None:
    """One executemany per set of changed columns (usually one: e.g. every cancelled deadline)."""
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = defaultdict(list)
    for row_key, diff in changes:
        columns = tuple(sorted(diff))
        groups[columns].append({"_key": row_key, **{f"_{c}": diff[c] for c in columns}})
    for columns, params in groups.items():
        statement = (update(table).where(table.c[key] == bindparam("_key"))
                     .values({c: bindparam(f"_{c}") for c in columns}))
        session.connection().execute(statement, params)


# ---------------------------------------------------------------- comparing with a replay


def stored(session: Session, case: Case) -> tuple[CaseRow, dict[str, TaskRow], list[DeadlineRow]]:
    """Every projection row the database holds for the case."""
    tasks = session.execute(select(*_TASK_COLUMNS).where(Task.case_id == case.id))
    deadlines = session.execute(select(*_DEADLINE_COLUMNS).where(Deadline.case_id == case.id).order_by(Deadline.id))
    return case_row(case), {t.id: t for t in map(_task, tasks)}, [_deadline(d) for d in deadlines]


def differences(session: Session, case: Case, replayed: Projection, last_seq: int) -> list[dict[str, Any]]:
    """Every row and field where the stored projection differs from the replayed one, each with the event
    after which the replayed value took its form (``seq``)."""
    case_stored, tasks, deadlines = stored(session, case)
    found: list[dict[str, Any]] = []
    for name in CASE_FIELDS:
        if name == "data":  # compared path by path with the engine state (engine.divergence)
            continue
        _field(found, "case", {"id": case.id}, name, getattr(case_stored, name), replayed.case, last_seq)
    for task_id in sorted(tasks.keys() | replayed.tasks.keys()):
        stored_task, replayed_task = tasks.get(task_id), replayed.tasks.get(task_id)
        either = stored_task or replayed_task
        _rows(found, "task", {"id": task_id, "name": either.name if either else None}, stored_task, replayed_task,
              last_seq)
    for (kind, deadline_task), (theirs, mine_list) in _deadline_groups(deadlines, replayed.deadlines).items():
        for n in range(max(len(theirs), len(mine_list))):
            row = theirs[n] if n < len(theirs) else None
            mine_row = mine_list[n] if n < len(mine_list) else None
            ident = {"kind": kind, "task_id": deadline_task, "n": n + 1, "id": row.id if row else None}
            _rows(found, "deadline", ident, row, mine_row, last_seq)
    return found + link_check.differences(session, case)  # the case_links rows its events made (engine.links)


def _deadline_groups(stored_rows: list[DeadlineRow], replayed: list[DeadlineRow]
                     ) -> dict[tuple[str, str | None], tuple[list[DeadlineRow], list[DeadlineRow]]]:
    """Deadlines have no natural id: pair them per (kind, task) in the order they were made."""
    groups: dict[tuple[str, str | None], tuple[list[DeadlineRow], list[DeadlineRow]]] = {}
    for side, rows in ((0, stored_rows), (1, replayed)):
        for row in rows:
            groups.setdefault((row.kind, row.task_id), ([], []))[side].append(row)
    return dict(sorted(groups.items(), key=lambda item: (item[0][0], item[0][1] or "")))


def _rows(found: list[dict[str, Any]], what: str, ident: dict[str, Any], row: Row | None, mine: Row | None,
          last_seq: int) -> None:
    if row is None or mine is None:
        seq = min(mine.changed.values(), default=last_seq) if mine is not None else last_seq
        found.append({"what": what, "row": ident, "field": None, "only": "stored" if mine is None else "replayed",
                      "stored": _plain(row.values()) if row else None,
                      "replayed": _plain(mine.values()) if mine else None,
                      "seq": seq})
        return
    for name, value in row.values().items():
        if what == "deadline" and name == "id":
            continue
        _field(found, what, ident, name, value, mine, last_seq)


def _field(found: list[dict[str, Any]], what: str, ident: dict[str, Any], name: str, value: Any, mine: Row,
           last_seq: int) -> None:
    replayed = getattr(mine, name)
    if value != replayed:
        found.append({"what": what, "row": ident, "field": name, "stored": _plain(value), "replayed": _plain(replayed),
                      "seq": mine.changed.get(name, last_seq)})


def _plain(value: Any) -> Any:
    """A value as JSON shows it (moments in ISO 8601)."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value.isoformat() if isinstance(value, datetime) else value
