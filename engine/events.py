"""The append-only, hash-chained event log of a case.

Each event's hash covers the previous event's hash, its own header and the sha256 of its payload, so an
edited, deleted or inserted row breaks the chain, while a payload may be purged after its retention
period without breaking it.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from .auth import Actor
from .models import Case, Event

GENESIS = "0" * 64


def canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def header(event: Event) -> dict[str, Any]:
    """The fields the chain protects (everything but the payload itself and the row id)."""
    return {
        "case_id": event.case_id,
        "tenant_id": event.tenant_id,
        "seq": event.seq,
        "type": event.type,
        "at": event.at.isoformat(),
        "actor_id": event.actor_id,
        "actor": event.actor,
        "role": event.role,
        "task_id": event.task_id,
        "task_name": event.task_name,
        "task_index": event.task_index,
        "payload_hash": event.payload_hash,
    }


def chain_hash(prev_hash: str, event: Event) -> str:
    return sha256(prev_hash + canonical(header(event)))


def chained(case_id: int, tenant_id: int, seq: int, prev_hash: str, type_: str, actor: Actor, at: datetime, *,
            task_id: str | None = None, task_name: str | None = None, task_index: int | None = None,
            payload: dict[str, Any] | None = None) -> Event:
    """The event that follows ``prev_hash`` as number ``seq`` of a case's chain (not yet stored)."""
    payload = payload or {}
    at = at.astimezone(UTC)  # hashed as it will read back from the database
    event = Event(
        case_id=case_id, tenant_id=tenant_id, seq=seq, type=type_, at=at, actor_id=actor.user_id, actor=actor.email,
        role=actor.role, task_id=task_id, task_name=task_name, task_index=task_index, payload=payload,
        payload_hash=sha256(canonical(payload)), prev_hash=prev_hash,
    )
    event.hash = chain_hash(prev_hash, event)
    return event


def append(session: Session, case: Case, type_: str, actor: Actor, at: datetime, *, task_id: str | None = None,
           task_name: str | None = None, task_index: int | None = None,
           payload: dict[str, Any] | None = None) -> Event:
    """Append one event to the case's chain through the ORM. The case row carries the chain head, so appending
    needs no extra read, and the case's optimistic lock also guards the chain against two concurrent writers."""
    event = chained(case.id, case.tenant_id, case.event_seq + 1, case.last_hash, type_, actor, at, task_id=task_id,
                    task_name=task_name, task_index=task_index, payload=payload)
    case.event_seq = event.seq
    case.last_hash = event.hash
    session.add(event)
    return event
