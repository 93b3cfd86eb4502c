"""The projection: a case's rows that people and the scheduler act on, derived from its events.

``apply(projection, event, after)`` turns one event, and for an input the engine state after it, into the
rows: the case's status, outcome, incident, due date and clock counters, its tasks (lane, assignee, status,
terms, escalation) and its deadlines. It is the only code that decides those rows: live actions and fired
deadlines apply their event to the rows loaded from the database and write back what changed
(``engine.projection_store``); replay applies every event to an empty projection and compares the result
with what is stored, row by row and field by field.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol
from uuid import UUID

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState

from . import bpmn, decision
from .stepping import StepResult
from .vocabulary import (
    INPUT_EVENTS,
    OPEN_TASK,
    CaseStatus,
    DeadlineKind,
    DeadlineStatus,
    EventType,
    TaskStatus,
)
from .workflow import current_data, end_outcome, jsonable, ready_user_tasks, timer_due_times


class EventLike(Protocol):
    """What the projection reads of an event (an ``Event`` row, before or after it is stored)."""

    seq: int
    type: str
    at: datetime
    actor_id: int | None
    task_id: str | None
    payload: dict[str, Any] | None


class NotInProjection(LookupError):
    """An event names a task or deadline that is not open or pending in the projection."""


@dataclass(eq=False)
class Row:
    # Event number of the last change per field (replay uses it to name where stored and replayed part).
    changed: dict[str, int] = field(default_factory=dict, init=False, repr=False)

    def values(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "changed"}


@dataclass(eq=False)
class CaseRow(Row):
    status: str
    outcome: str | None
    incident: dict[str, Any] | None
    due_at: datetime | None
    suspended_at: datetime | None
    suspended_seconds: int
    extensions_used: int
    opened_at: datetime | None
    closed_at: datetime | None
    school_id: int | None
    data: dict[str, Any]
    decision: dict[str, Any] | None = None  # the legal decision clock and record (engine.decision)


@dataclass(eq=False)
class TaskRow(Row):
    id: str
    case_id: int
    tenant_id: int
    school_id: int | None
    route_key: str
    name: str
    title: str
    lane: str | None
    status: str
    assignee_id: int | None
    due_at: datetime | None
    warn_at: datetime | None
    escalate_to: str | None
    escalated: bool
    created_at: datetime
    completed_at: datetime | None
    completed_by: int | None


@dataclass(eq=False)
class DeadlineRow(Row):
    case_id: int
    tenant_id: int
    task_id: str | None
    kind: str
    due_at: datetime
    status: str
    fired_at: datetime | None
    fired_by: str | None
    id: int | None = None  # the database's; None until written


@dataclass
class After:
    """The engine state after an input: the workflow and what the step produced."""

    workflow: BpmnWorkflow
    result: StepResult


@dataclass
class Projection:
    """One case's rows. Live: its open tasks and pending deadlines (the rest never changes again);
    replay: every row it ever had."""

    case_id: int
    tenant_id: int
    route_key: str
    has_timers: bool
    case: CaseRow
    tasks: dict[str, TaskRow] = field(default_factory=dict)
    deadlines: list[DeadlineRow] = field(default_factory=list)
    seq: int = 0  # the event being applied
    # Live: each row's values as the database holds them (engine.projection_store writes the difference).
    original: dict[int, dict[str, Any]] = field(default_factory=dict, repr=False)

    def set(self, row: Row, name: str, value: Any) -> None:
        if getattr(row, name) != value:
            setattr(row, name, value)
            row.changed[name] = self.seq

    def open_tasks(self) -> list[TaskRow]:
        return [t for t in self.tasks.values() if t.status in OPEN_TASK]

    def open_task(self, task_id: str | None) -> TaskRow:
        row = self.tasks.get(task_id or "")
        if row is None or row.status not in OPEN_TASK:
            raise NotInProjection(f"taak {task_id} staat niet open")
        return row

    def pending(self, kind: str | None = None) -> Iterator[DeadlineRow]:
        return (d for d in self.deadlines if d.status == DeadlineStatus.PENDING and (kind is None or d.kind == kind))

    def add_deadline(self, kind: str, due_at: datetime, task_id: str | None = None) -> DeadlineRow:
        row = DeadlineRow(case_id=self.case_id, tenant_id=self.tenant_id, task_id=task_id, kind=kind, due_at=due_at,
                          status=DeadlineStatus.PENDING, fired_at=None, fired_by=None)
        row.changed.update(dict.fromkeys(row.values(), self.seq))
        self.deadlines.append(row)
        return row


def new_case(case_id: int, tenant_id: int, route_key: str, has_timers: bool, school_id: int | None) -> Projection:
    """The projection of a case before its first event."""
    row = CaseRow(status=CaseStatus.OPEN, outcome=None, incident=None, due_at=None, suspended_at=None,
                  suspended_seconds=0, extensions_used=0, opened_at=None, closed_at=None, school_id=school_id,
                  data={})
    return Projection(case_id, tenant_id, route_key, has_timers, row)


# ---------------------------------------------------------------- applying one event


def apply(projection: Projection, event: EventLike, after: After | None = None) -> None:
    """Bring the projection up to date with one event (and, for an input, the engine state after it)."""
    p, kind, payload = projection, event.type, event.payload or {}
    p.seq = event.seq
    case = p.case
    if kind in (EventType.DEADLINE_WARNED, EventType.DEADLINE_ESCALATED) and decision.apply_fired(p, event):
        return
    if kind == EventType.DECISION_TERM_EXTENDED:
        decision.extended(p, event)
    elif kind == EventType.DECISION_LETTER_MADE:
        decision.letter_made(p, event)
    elif kind == EventType.CASE_STARTED:
        p.set(case, "opened_at", event.at)
        if "school_id" in payload:
            p.set(case, "school_id", payload["school_id"])
    elif kind == EventType.TASK_CLAIMED:
        task = p.open_task(event.task_id)
        p.set(task, "assignee_id", event.actor_id)
        p.set(task, "status", TaskStatus.CLAIMED)
    elif kind == EventType.TASK_UNCLAIMED:
        task = p.open_task(event.task_id)
        p.set(task, "assignee_id", None)
        p.set(task, "status", TaskStatus.READY)
    elif kind == EventType.TASK_DELEGATED:
        task = p.open_task(event.task_id)
        p.set(task, "assignee_id", payload["to"])
        p.set(task, "status", TaskStatus.CLAIMED)
    elif kind == EventType.DEADLINE_WARNED:
        p.open_task(event.task_id)
        _fire(p, event, DeadlineKind.WARNING, event.task_id)
    elif kind == EventType.DEADLINE_ESCALATED and event.task_id:
        task = p.open_task(event.task_id)
        _fire(p, event, DeadlineKind.ESCALATION, event.task_id)
        p.set(task, "escalated", True)
        if payload.get("reassigned"):
            p.set(task, "lane", payload.get("to_role"))
            p.set(task, "assignee_id", None)
            p.set(task, "status", TaskStatus.READY)
    elif kind == EventType.DEADLINE_ESCALATED:
        _fire(p, event, DeadlineKind.CASE, None)
    elif kind == EventType.CASE_SUSPENDED:
        p.set(case, "suspended_at", event.at)
        p.set(case, "status", CaseStatus.SUSPENDED)
    elif kind == EventType.CASE_EXTENDED:
        due = datetime.fromisoformat(payload["to"])
        p.set(case, "due_at", due)
        p.set(case, "extensions_used", case.extensions_used + 1)
        for deadline in p.pending(DeadlineKind.CASE):
            p.set(deadline, "due_at", due)
    elif kind == EventType.TIMER_FIRED:
        _fire(p, event, DeadlineKind.TIMER, event.task_id)
    elif kind == EventType.INCIDENT:
        # What the log says went wrong (a replay, which calls no handler, cannot say it better).
        p.set(case, "status", CaseStatus.INCIDENT)
        p.set(case, "incident", payload)
    elif kind == EventType.CASE_RESUMED:
        _resume(p, timedelta(seconds=payload.get("shift_seconds") or 0))
    elif kind == EventType.CASE_MIGRATED:
        _migrated(p, payload, after)
    if kind in INPUT_EVENTS:
        if after is None:
            raise ValueError(f"{kind} needs the engine state after it")
        _after_engine(p, event, after)
        decision.after_input(p, event, after)


def _fire(p: Projection, event: EventLike, kind: str, task_id: str | None) -> None:
    found = next((d for d in p.pending(kind) if d.task_id == task_id), None)
    if found is None:
        raise NotInProjection(f"geen openstaande termijn ({kind}) voor {task_id or 'het dossier'}")
    p.set(found, "status", DeadlineStatus.FIRED)
    p.set(found, "fired_at", event.at)
    p.set(found, "fired_by", (event.payload or {}).get("worker"))


def _resume(p: Projection, shift: timedelta) -> None:
    """End an opschorting: every term of the case moves by the time it was suspended."""
    for deadline in p.pending():
        p.set(deadline, "due_at", deadline.due_at + shift)
    for task in p.open_tasks():
        if task.due_at is not None:
            p.set(task, "due_at", task.due_at + shift)
        if task.warn_at is not None:
            p.set(task, "warn_at", task.warn_at + shift)
    case = p.case
    if case.due_at is not None:
        p.set(case, "due_at", case.due_at + shift)
    p.set(case, "suspended_seconds", case.suspended_seconds + int(shift.total_seconds()))
    p.set(case, "suspended_at", None)


def _migrated(p: Projection, payload: dict[str, Any], after: After | None) -> None:
    """The case moved to another route version (engine.migration): its open tasks take their new name, lane and
    terms from the event; a term that moved moves its pending deadlines, one that is new gets them, one that is
    gone cancels them (a warning or escalation that already fired stays as it was); timers follow the payload."""
    p.has_timers = bool(payload.get("has_timers", p.has_timers))
    for moved in payload.get("tasks") or []:
        row, before, to = p.open_task(moved["id"]), moved["from"], moved["to"]
        for name in ("name", "title", "lane", "escalate_to"):
            p.set(row, name, to[name])
        due, warn = _moment(to["due_at"]), _moment(to["warn_at"])
        p.set(row, "due_at", due)
        p.set(row, "warn_at", warn)
        for kind, moment, was in ((DeadlineKind.WARNING, warn, before["warn_at"]),
                                  (DeadlineKind.ESCALATION, due, before["due_at"])):
            pending = next((d for d in p.pending(kind) if d.task_id == row.id), None)
            if moment is None and pending is not None:
                p.set(pending, "status", DeadlineStatus.CANCELLED)
            elif moment is not None and pending is not None:
                p.set(pending, "due_at", moment)
            elif moment is not None and was is None:
                p.add_deadline(kind, moment, row.id)
    timers = payload.get("timers") or {}
    for deadline in list(p.pending(DeadlineKind.TIMER)):
        if deadline.task_id not in timers:
            p.set(deadline, "status", DeadlineStatus.CANCELLED)
    if after is not None:
        if p.has_timers:
            _sync_timers(p, after.workflow)
        p.set(p.case, "data", jsonable(current_data(after.workflow)))


def _moment(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _after_engine(p: Projection, event: EventLike, after: After) -> None:
    """New ready user tasks appear with their terms; tasks the engine finished or cancelled leave the
    inboxes with their deadlines; timers, the case term, status and data follow the engine."""
    workflow, result, case = after.workflow, after.result, p.case
    ready = {str(t.id): t for t in ready_user_tasks(workflow)}
    open_ids = {t.id for t in p.open_tasks()}
    for task_id in sorted(open_ids & ready.keys() & result.terms.keys()):  # terms computed again after a retry
        if p.tasks[task_id].due_at is None:
            _set_terms(p, p.tasks[task_id], *result.terms[task_id])
    gone = open_ids - ready.keys()
    for task_id in sorted(gone):
        spiff_task = workflow.get_task_from_id(UUID(task_id))
        done = spiff_task is not None and spiff_task.state == TaskState.COMPLETED
        row = p.tasks[task_id]
        p.set(row, "status", TaskStatus.COMPLETED if done else TaskStatus.CANCELLED)
        p.set(row, "completed_at", event.at)
        p.set(row, "completed_by", event.actor_id if done else None)
    for deadline in list(p.pending()):
        if deadline.task_id in gone:
            p.set(deadline, "status", DeadlineStatus.CANCELLED)
    for task_id, spiff_task in ready.items():
        if task_id not in open_ids:
            _new_task(p, event, task_id, spiff_task, result.terms.get(task_id))
    if result.case_due is not None:
        p.set(case, "due_at", result.case_due)
        p.add_deadline(DeadlineKind.CASE, result.case_due)
    if p.has_timers:
        _sync_timers(p, workflow)
    if result.incident:
        p.set(case, "status", CaseStatus.INCIDENT)
        p.set(case, "incident", result.incident)
    elif workflow.is_completed():
        p.set(case, "status", CaseStatus.CLOSED)
        p.set(case, "incident", None)
        p.set(case, "closed_at", event.at)
        p.set(case, "outcome", end_outcome(workflow))
        for deadline in list(p.pending()):
            p.set(deadline, "status", DeadlineStatus.CANCELLED)
    else:
        p.set(case, "status", CaseStatus.SUSPENDED if case.suspended_at else CaseStatus.OPEN)
        p.set(case, "incident", None)
    p.set(case, "data", jsonable(current_data(workflow)))


def _new_task(p: Projection, event: EventLike, task_id: str, spiff_task: Any,
              terms: tuple[datetime | None, datetime | None] | None) -> None:
    spec = spiff_task.task_spec
    row = TaskRow(id=task_id, case_id=p.case_id, tenant_id=p.tenant_id, school_id=p.case.school_id,
                  route_key=p.route_key, name=spec.name, title=spec.bpmn_name or spec.name, lane=spec.lane,
                  status=TaskStatus.READY, assignee_id=None, due_at=None, warn_at=None,
                  escalate_to=bpmn.properties(spec).get("escalateTo"), escalated=False, created_at=event.at,
                  completed_at=None, completed_by=None)
    row.changed.update(dict.fromkeys(row.values(), p.seq))
    p.tasks[task_id] = row
    if terms is not None:
        _set_terms(p, row, *terms)


def _set_terms(p: Projection, row: TaskRow, due: datetime | None, warn: datetime | None) -> None:
    p.set(row, "due_at", due)
    p.set(row, "warn_at", warn)
    for kind, moment in ((DeadlineKind.WARNING, warn), (DeadlineKind.ESCALATION, due)):
        if moment is not None:
            p.add_deadline(kind, moment, row.id)


def _sync_timers(p: Projection, workflow: BpmnWorkflow) -> None:
    """One pending 'timer' deadline per waiting BPMN timer, due when the timer is."""
    waiting = timer_due_times(workflow)
    pending = {d.task_id: d for d in p.pending(DeadlineKind.TIMER)}
    for task_id, deadline in pending.items():
        if task_id not in waiting:
            p.set(deadline, "status", DeadlineStatus.CANCELLED)
        else:
            p.set(deadline, "due_at", waiting[task_id])
    for task_id, due in waiting.items():
        if task_id not in pending:
            p.add_deadline(DeadlineKind.TIMER, due, task_id)
