"""The outbox as people see it: which messages of an SWV wait, were sent or were refused, and putting
refused ones back in the queue. Messages are written by ``engine.notifications`` and sent by ``engine.mail``."""

from __future__ import annotations

from sqlalchemy import CursorResult, select, update

from . import clock
from .db import Database
from .models import OutboxMessage
from .vocabulary import OutboxStatus

STATUSES = tuple(status.value for status in OutboxStatus)


def messages(db: Database, tenant_id: int, status: str | None = None) -> list[OutboxMessage]:
    """The outbox of one tenant, oldest first; optionally only ``pending``, ``sent`` or ``failed``."""
    if status is not None and status not in STATUSES:
        raise ValueError(f"onbekende status '{status}'; kies uit {', '.join(STATUSES)}")
    query = select(OutboxMessage).where(OutboxMessage.tenant_id == tenant_id)
    if status is not None:
        query = query.where(OutboxMessage.status == status)
    with db.read() as session:
        return list(session.scalars(query.order_by(OutboxMessage.id)))


def requeue(db: Database, tenant_id: int, message_ids: list[int] | None = None) -> int:
    """Put failed messages of a tenant back in the queue (after the address or the server was fixed)."""
    query = update(OutboxMessage).where(OutboxMessage.tenant_id == tenant_id,
                                        OutboxMessage.status == OutboxStatus.FAILED)
    if message_ids:
        query = query.where(OutboxMessage.id.in_(message_ids))
    with db.transaction() as session:
        result = session.execute(query.values(status=OutboxStatus.PENDING, next_attempt_at=clock.now())
                                 .execution_options(synchronize_session=False))
        return (result.rowcount or 0) if isinstance(result, CursorResult) else 0
