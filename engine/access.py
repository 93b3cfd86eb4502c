"""The access log: who read which case, when, in which role and through which channel.

Entries are hash-chained per SWV like the event log: each entry's hash covers the previous entry's hash and
its own fields, and the SWV's chain head (``access_heads``) holds the number of entries and the last hash,
so an edited, deleted or inserted entry breaks the chain. A read is recorded in a short transaction of its
own after the read succeeded: a reading transaction on SQLite cannot safely turn into a writing one, and the
head row is then locked for only a moment.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, insert, select, update
from sqlalchemy.orm import Session

from . import clock
from .auth import Actor
from .db import Database
from .events import GENESIS, canonical, sha256
from .models import AccessHead, AccessLog

# Channels through which a case can be read.
CHANNELS = ("api", "cli", "web")


def entry_hash(prev_hash: str, *, tenant_id: int, case_id: int | None, user_id: int | None, actor: str, role: str,
               at: datetime, what: str, channel: str) -> str:
    fields = {"tenant_id": tenant_id, "case_id": case_id, "user_id": user_id, "actor": actor, "role": role,
              "at": at.isoformat(), "what": what, "channel": channel}
    return sha256(prev_hash + canonical(fields))


def record(db: Database, actor: Actor, what: str, channel: str, case_id: int | None = None) -> None:
    """Log one read. ``what`` says what was read ("case", "events", "export:pdf", ...)."""
    if channel not in CHANNELS:
        raise ValueError(f"onbekend kanaal {channel!r}")
    # A plain connection rather than an ORM session: this runs on every page view, so it stays lean
    # (on SQLite the write lock is taken up front, as in every Loket write).
    with db.engine.connect().execution_options(loket_write=True) as conn, conn.begin():
        append(conn, actor, what, channel, case_id)


def append(conn: Connection | Session, actor: Actor, what: str, channel: str, case_id: int | None = None) -> None:
    """Append one entry inside the caller's (writing) transaction."""
    head = _lock_head(conn, actor.tenant_id)
    at = clock.now()
    fields = {"tenant_id": actor.tenant_id, "case_id": case_id, "user_id": actor.user_id, "actor": actor.email,
              "role": actor.role, "at": at, "what": what[:200], "channel": channel}
    digest = entry_hash(head.last_hash, **fields)
    conn.execute(insert(AccessLog.__table__).values(prev_hash=head.last_hash, hash=digest, **fields))
    conn.execute(update(AccessHead.__table__).where(AccessHead.tenant_id == actor.tenant_id)
                 .values(entries=head.entries + 1, last_hash=digest))


_HEAD = AccessHead.__table__


def _lock_head(conn: Connection | Session, tenant_id: int) -> Any:
    query = select(_HEAD.c.entries, _HEAD.c.last_hash).where(_HEAD.c.tenant_id == tenant_id).with_for_update()
    head = conn.execute(query).one_or_none()
    if head is None:
        # The SWV's first recorded read. Two first readers at once: one inserts, the other waits on it.
        conn.execute(_insert_ignore(conn).values(tenant_id=tenant_id, entries=0, last_hash=GENESIS)
                     .on_conflict_do_nothing())
        head = conn.execute(query).one()
    return head


def _insert_ignore(conn: Connection | Session) -> Any:
    bind = conn.get_bind() if isinstance(conn, Session) else conn
    if bind.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    else:
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    return dialect_insert(_HEAD)


# ---------------------------------------------------------------- reading the log


def entry_json(entry: AccessLog) -> dict[str, Any]:
    return {"id": entry.id, "at": entry.at.isoformat(), "case_id": entry.case_id, "user_id": entry.user_id,
            "actor": entry.actor, "role": entry.role, "what": entry.what, "channel": entry.channel}


def for_case(session: Session, tenant_id: int, case_id: int, limit: int = 100,
             offset: int = 0) -> tuple[list[AccessLog], int]:
    """The reads of one case, newest first, and how many there are in all."""
    return _page(session, AccessLog.tenant_id == tenant_id, AccessLog.case_id == case_id, limit=limit, offset=offset)


def for_user(session: Session, tenant_id: int, user_id: int, limit: int = 100,
             offset: int = 0) -> tuple[list[AccessLog], int]:
    """What one user read, newest first, and how many entries there are in all."""
    return _page(session, AccessLog.tenant_id == tenant_id, AccessLog.user_id == user_id, limit=limit, offset=offset)


def _page(session: Session, *where: Any, limit: int, offset: int) -> tuple[list[AccessLog], int]:
    total = session.scalar(select(func.count()).select_from(AccessLog).where(*where))
    rows = session.scalars(select(AccessLog).where(*where).order_by(AccessLog.id.desc()).limit(limit).offset(offset))
    return list(rows), total or 0


# ---------------------------------------------------------------- verification


@dataclass(frozen=True)
class AccessBreak:
    entry_id: int | None
    message: str


@dataclass(frozen=True)
class AccessReport:
    tenant_id: int
    entries: int
    breaks: list[AccessBreak]

    @property
    def intact(self) -> bool:
        return not self.breaks


def verify(session: Session, tenant_id: int) -> AccessReport:
    """Walk one SWV's access-log chain in order and check every link, every entry and the head."""
    breaks: list[AccessBreak] = []
    prev, prev_ok, count = GENESIS, True, 0
    rows = session.execute(select(AccessLog).where(AccessLog.tenant_id == tenant_id).order_by(AccessLog.id)
                           .execution_options(yield_per=1000)).scalars()
    for entry in rows:
        count += 1
        problems = []
        if entry.prev_hash != prev and prev_ok:
            problems.append("de schakel naar de vorige regel klopt niet (regel verwijderd of ingevoegd)")
        expected = entry_hash(entry.prev_hash, tenant_id=entry.tenant_id, case_id=entry.case_id,
                              user_id=entry.user_id, actor=entry.actor, role=entry.role, at=entry.at,
                              what=entry.what, channel=entry.channel)
        if expected != entry.hash:
            problems.append("de regel is gewijzigd (hash klopt niet)")
        breaks.extend(AccessBreak(entry.id, p) for p in problems)
        prev, prev_ok = entry.hash, not problems
    head = session.get(AccessHead, tenant_id)
    head_entries, head_hash = (head.entries, head.last_hash) if head else (0, GENESIS)
    if head_entries != count or (prev_ok and head_hash != prev):
        breaks.append(AccessBreak(None, f"de kop van de keten verwijst naar {head_entries} regels, "
                                        f"er zijn er {count} (laatste regel(s) verwijderd of toegevoegd)"))
    return AccessReport(tenant_id, count, breaks)
