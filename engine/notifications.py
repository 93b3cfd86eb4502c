"""Notifications go into the outbox in the action's own transaction; delivery happens separately."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from . import clock
from .models import OutboxMessage, User


def recipients(session: Session, tenant_id: int, role: str, school_id: int | None = None) -> list[str]:
    """E-mail addresses of the active users of a role; school users only of the given school."""
    query = select(User.email).where(User.tenant_id == tenant_id, User.role == role, User.active.is_(True))
    if role == "school":
        query = query.where(User.school_id == school_id)
    return list(session.scalars(query.order_by(User.email)))


def enqueue(session: Session, tenant_id: int, case_id: int | None, to: list[str], subject: str,
            body: str) -> list[OutboxMessage]:
    now = clock.now()
    messages = [
        OutboxMessage(tenant_id=tenant_id, case_id=case_id, to_address=address, subject=subject, body=body,
                      status="pending", attempts=0, next_attempt_at=now, created_at=now)
        for address in to
    ]
    session.add_all(messages)
    return messages
