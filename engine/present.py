"""The JSON shapes of cases and tasks, shared by the REST API and the CLI."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from . import clock, decision, legal_hold, links, tlv_rules
from .models import Case, Deadline, Task
from .projection import TaskRow
from .vocabulary import OPEN_TASK, DeadlineStatus


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def task_json(task: Task | TaskRow, form: dict[str, Any] | None = None, *, with_form: bool = True,
              assignee: str | None = None) -> dict[str, Any]:
    """A task as the API shows it; ``assignee`` gives the e-mail address where ``task`` is a projection row
    (which knows only the user id)."""
    now = clock.now()
    out = {
        "id": task.id,
        "case_id": task.case_id,
        "route": task.route_key,
        "name": task.name,
        "title": task.title,
        "lane": task.lane,
        "status": task.status,
        "assignee": assignee or _assignee(task),
        "due_at": _iso(task.due_at),
        "overdue": bool(task.due_at and task.due_at < now and task.status in OPEN_TASK),
        "escalated": task.escalated,
        "created_at": _iso(task.created_at),
        "completed_at": _iso(task.completed_at),
    }
    if with_form:
        out["form"] = form
    return out


def _assignee(task: Task | TaskRow) -> str | None:
    user = getattr(task, "assignee", None) if task.assignee_id else None
    return user.email if user is not None else None


def deadline_json(deadline: Deadline) -> dict[str, Any]:
    return {
        "id": deadline.id,
        "kind": deadline.kind,
        "task_id": deadline.task_id,
        "due_at": _iso(deadline.due_at),
        "status": deadline.status,
        "fired_at": _iso(deadline.fired_at),
    }


def case_json(session: Session, case: Case, tasks: list[Task]) -> dict[str, Any]:
    deadlines = session.scalars(
        select(Deadline).where(Deadline.case_id == case.id, Deadline.status == DeadlineStatus.PENDING)
        .order_by(Deadline.due_at)
    )
    version = case.route_version
    return {
        "id": case.id,
        "route": version.route.key,
        "version": version.number,
        "tenant": case.tenant.key,
        "school": case.school.code if case.school else None,
        "status": case.status,
        "outcome": case.outcome,
        "data": case.data,
        "incident": case.incident,
        "tasks": [task_json(t, with_form=False) for t in tasks],
        "deadlines": [deadline_json(d) for d in deadlines],
        "due_at": _iso(case.due_at),
        "opened_at": _iso(case.opened_at),
        "closed_at": _iso(case.closed_at),
        "decision": decision.view(case.decision, clock.local_date(clock.now())),
        "zorgplicht": tlv_rules.zorgplicht_view(case.data or {}, decision_due(case)),
        "legal_hold": legal_hold.current(session, case.id),
        "links": links.of_case(session, case.id),
    }


def decision_due(case: Case) -> date | None:
    """The TLV clock's day: the decision taken, else the legal decision term (engine.decision, Awb 4:13), else
    the case's own doorlooptijd."""
    state = getattr(case, "decision", None)
    if isinstance(state, dict):
        for key in ("decided", "due"):
            if isinstance(state.get(key), str):
                return date.fromisoformat(state[key])
    return clock.local_date(case.due_at) if case.due_at is not None else None
