"""Notifications go into the outbox in the action's own transaction; delivery happens separately."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from . import clock
from .models import Case, OutboxMessage, Task, User, UserRole
from .vocabulary import OutboxStatus, Role


def recipients(session: Session, tenant_id: int, role: str, school_id: int | None = None) -> list[str]:
    """E-mail addresses of the active users of a role; school users only of the given school.
    Cached for the transaction: a sweep that escalates thousands of tasks asks once per role."""
    cache = session.info.setdefault("loket_recipients", {})
    key = (tenant_id, role, school_id if role == Role.SCHOOL else None)
    if key not in cache:
        cache[key] = _recipients(session, tenant_id, role, school_id)
    return cache[key]


def _recipients(session: Session, tenant_id: int, role: str, school_id: int | None) -> list[str]:
    holds = select(UserRole.user_id).where(UserRole.role == role)  # any of the user's roles (migration 0005)
    query = select(User.email).where(User.tenant_id == tenant_id, User.id.in_(holds), User.active.is_(True))
    if role == Role.SCHOOL:
        query = query.where(User.school_id == school_id)
    with session.no_autoflush:
        return list(session.scalars(query.order_by(User.email)))


def enqueue(session: Session, tenant_id: int, case_id: int | None, to: list[str], subject: str,
            body: str) -> list[OutboxMessage]:
    now = clock.now()
    messages = [
        OutboxMessage(tenant_id=tenant_id, case_id=case_id, to_address=address, subject=subject, body=body,
                      status=OutboxStatus.PENDING, attempts=0, next_attempt_at=now, created_at=now)
        for address in to
    ]
    session.add_all(messages)
    return messages


def _when(moment: datetime | None) -> str:
    return clock.format_moment(moment, "onbekend")


def _task_audience(session: Session, case: Case, task: Task) -> list[str]:
    if task.assignee is not None:
        return [task.assignee.email]
    return recipients(session, case.tenant_id, task.lane or Role.CONSULENT, case.school_id)


def task_warning(session: Session, case: Case, task: Task) -> None:
    subject = f"Termijn bijna verstreken: {task.title} (dossier {case.id})"
    body = (f"De taak '{task.title}' in dossier {case.id} moet uiterlijk {_when(task.due_at)} zijn afgerond.\n"
            "Pak de taak op in Loket, of schort het dossier op als u op anderen wacht.")
    enqueue(session, case.tenant_id, case.id, _task_audience(session, case, task), subject, body)


def task_escalated(session: Session, case: Case, task: Task) -> None:
    to = set(_task_audience(session, case, task))
    if task.escalate_to:
        to.update(recipients(session, case.tenant_id, task.escalate_to, case.school_id))
    subject = f"Termijn verstreken: {task.title} (dossier {case.id})"
    body = (f"De termijn van de taak '{task.title}' in dossier {case.id} is op {_when(task.due_at)} verstreken.\n"
            + (f"De taak is geëscaleerd naar de rol {task.escalate_to}.\n" if task.escalate_to else "")
            + "Zorg dat de leerling niet langer hoeft te wachten dan nodig.")
    enqueue(session, case.tenant_id, case.id, sorted(to), subject, body)


def case_overdue(session: Session, case: Case, role: str, due: datetime | None) -> None:
    subject = f"Doorlooptijd verstreken (dossier {case.id})"
    body = (f"De doorlooptijd van dossier {case.id} is op {_when(due)} verstreken zonder dat het dossier is "
            "afgerond. Bekijk het dossier in Loket.")
    enqueue(session, case.tenant_id, case.id, recipients(session, case.tenant_id, role, case.school_id), subject, body)
