"""The task inbox: what a case worker sees, escalated and most urgent first."""

from __future__ import annotations

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.orm import Session

from . import clock, duties, visibility
from .auth import Actor
from .errors import BadRequest
from .models import Task
from .vocabulary import OPEN_TASK, Role

SCOPES = ("mine", "role", "all")
# Escalated first, then by term (none last), then oldest. Escalated as a CASE, not the column: ordered by the
# column itself, SQLite walks ix_tasks_escalated_case for the order and reads every task of the SWV from the
# table; this way it reads the open tasks from ix_tasks_open_inbox and sorts those (the same order).
URGENT_FIRST = (case((Task.escalated, 0), else_=1), Task.due_at.is_(None), Task.due_at, Task.created_at, Task.id)


def inbox(session: Session, actor: Actor, *, scope: str = "role", route: str | None = None,
          overdue: bool | None = None, limit: int = 50, offset: int = 0) -> tuple[list[Task], int]:
    if scope not in SCOPES:
        raise BadRequest(f"Onbekende scope '{scope}'; kies uit {', '.join(SCOPES)}.")
    if not 1 <= limit <= 500 or offset < 0:
        raise BadRequest("limit moet tussen 1 en 500 liggen en offset mag niet negatief zijn.")
    # Need to know first (engine.visibility): 'all' is every open task of a case this user may read.
    where = [Task.tenant_id == actor.tenant_id, Task.status.in_(OPEN_TASK), visibility.task_scope(actor)]
    if Role.SCHOOL in actor.roles:
        where.append(Task.school_id == actor.school_id)
    if scope == "mine":
        where.append(Task.assignee_id == actor.user_id)
    elif scope == "role":
        # Work for any of the user's roles, unclaimed or its own, that separated duties do not keep from it.
        where += [Task.lane.in_(sorted(actor.roles)),
                  or_(Task.assignee_id.is_(None), Task.assignee_id == actor.user_id), ~duties.blocked(session, actor)]
    if route:
        where.append(Task.route_key == route)
    if overdue is not None:
        now = clock.now()
        where.append(and_(Task.due_at.is_not(None), Task.due_at < now) if overdue
                     else or_(Task.due_at.is_(None), Task.due_at >= now))
    total = session.scalar(select(func.count()).select_from(Task).where(*where))
    order = URGENT_FIRST
    # The page's ids from the tasks alone (ix_tasks_open_inbox holds every column this reads), then the page's
    # tasks with their assignee: loaded for the page, not for every open task before the sort.
    page = select(Task.id).where(*where).order_by(*order).limit(limit).offset(offset)
    rows = session.scalars(select(Task).where(Task.id.in_(page.scalar_subquery())).order_by(*order))
    return list(rows), total or 0
