"""Concepts: what a user typed into a task's form and saved without completing it. One per task and user; kept
until the task is completed (or the user saves over it). A draft is no input to the case: it is not an event and
the case's history does not change."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from . import clock
from .auth import Actor
from .models import Task
from .models_web import TaskDraft
from .vocabulary import OPEN_TASK

MAX_DRAFT_CHARS = 200_000  # a concept is what a person typed; the form's own limits are checked at completion


def load(session: Session, actor: Actor, task_id: str) -> TaskDraft | None:
    if actor.user_id is None:
        return None
    return session.get(TaskDraft, (task_id, actor.user_id))


def save(session: Session, actor: Actor, task: Task, data: dict[str, Any]) -> TaskDraft:
    """Keep ``data`` as the actor's concept for the task (the caller checked the actor may work on it)."""
    if actor.user_id is None:
        raise ValueError("alleen een gebruiker bewaart een concept")
    if len(repr(data)) > MAX_DRAFT_CHARS:
        raise ValueError("het concept is te groot")
    draft = session.get(TaskDraft, (task.id, actor.user_id))
    if draft is None:
        draft = TaskDraft(task_id=task.id, user_id=actor.user_id, tenant_id=task.tenant_id, case_id=task.case_id,
                          data=data, saved_at=clock.now())
        session.add(draft)
    else:
        draft.data, draft.saved_at = data, clock.now()
    session.flush()
    return draft


def discard(session: Session, task_id: str, user_id: int | None = None) -> int:
    """Drop the task's concepts (one user's, or everyone's once the task is done); how many were dropped."""
    query = delete(TaskDraft).where(TaskDraft.task_id == task_id)
    if user_id is not None:
        query = query.where(TaskDraft.user_id == user_id)
    return int(session.execute(query).rowcount)  # type: ignore[attr-defined]


def discard_closed(session: Session, case_id: int) -> int:
    """Drop the concepts of the case's tasks that are no longer open (completed, or cancelled by the step that was
    just taken, e.g. a boundary event); how many were dropped."""
    closed = select(Task.id).where(Task.case_id == case_id, Task.status.not_in(OPEN_TASK))
    query = delete(TaskDraft).where(TaskDraft.case_id == case_id, TaskDraft.task_id.in_(closed))
    return int(session.execute(query.execution_options(synchronize_session=False)).rowcount)  # type: ignore[attr-defined]


def forget_case(session: Session, case_id: int) -> int:
    """Retention: drop every concept of the case's tasks (a purged case keeps no typed text); how many."""
    query = delete(TaskDraft).where(TaskDraft.case_id == case_id).execution_options(synchronize_session=False)
    return int(session.execute(query).rowcount)  # type: ignore[attr-defined]


def forget_closed(session: Session, *, dry_run: bool = False) -> int:
    """Retention: drop every concept whose task is no longer open (done, cancelled or gone) in any case; how many.
    Completing a task drops its case's closed concepts already; this catches the rest (a timer that cancelled a
    task, a case closed by a step without a completion, concepts older than that rule)."""
    stale = TaskDraft.task_id.not_in(select(Task.id).where(Task.status.in_(OPEN_TASK)))
    if dry_run:
        return int(session.scalar(select(func.count()).select_from(TaskDraft).where(stale)) or 0)
    return int(session.execute(delete(TaskDraft).where(stale)  # type: ignore[attr-defined]
                               .execution_options(synchronize_session=False)).rowcount)


def saved_for(session: Session, actor: Actor, task_ids: list[str]) -> set[str]:
    """Which of these tasks the actor has a concept of (for the inbox)."""
    if not task_ids or actor.user_id is None:
        return set()
    return set(session.scalars(select(TaskDraft.task_id).where(TaskDraft.user_id == actor.user_id,
                                                                TaskDraft.task_id.in_(task_ids))))
