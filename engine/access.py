"""The access log: who read which case, when, in which role and through which channel.

Entries are hash-chained like the event log: each entry's hash covers the previous entry's hash in its chain
and its own fields, and the chain's head (``access_heads``) holds the number of entries and the last hash,
so an edited, deleted or inserted entry breaks the chain. There is one chain per case, and one per reader for
reads outside a case: appending locks only that chain's head, so readers of different cases never wait on
each other (one chain per SWV made every read of an SWV queue on one row). The chain key follows from the
entry's own hashed fields, so moving an entry to another chain shows too. Entries written before migration
0003 stay in the SWV's single chain they were hashed in (``LEGACY``).

A read is recorded in a short transaction of its own after the read succeeded: a reading transaction on
SQLite cannot safely turn into a writing one, and the head row is then locked for only a moment.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Connection, Table, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from . import clock
from .auth import Actor
from .db import Database
from .events import GENESIS, canonical, sha256
from .models import AccessHead, AccessLog

# Channels through which a case can be read.
CHANNELS = ("api", "cli", "web")

# The chain of the entries written before chains per case existed: one per SWV.
LEGACY = "swv"

# Every kind of read the loggers write (``what``), with how the audit views and the PDF say it in Dutch
# (engine.audit_export.read_label). A kind that takes an argument ends in its separator: "task:" is logged as
# "task:besluit" and reads "taak besluit". A new kind of read belongs here first: tests/test_access_labels.py walks
# every logging call in web/, engine/ and cli/ and fails on a kind that is missing.
READ_KINDS: dict[str, str] = {
    "case": "dossier",
    "cases": "lijst van dossiers",
    "cases?q=": "dossiers gezocht op '{}'",
    "documents": "lijst van documenten",
    "document:": "document {} (inhoud)",
    "task:": "taak {}",
    "events": "geschiedenis",
    "state": "toestand",
    "state@": "toestand op {}",  # a moment (ISO); read_label shows it in Dutch time
    "state#": "toestand na event {}",
    "replay": "opnieuw afgespeeld",
    "verify": "hash-keten gecontroleerd",
    "export:": "export ({})",
    "access-log": "toegangslog",
}


def read_kind(what: str) -> tuple[str, str] | None:
    """The registered kind of a logged read and its argument ("task:besluit" -> ("task:", "besluit")), or None
    for a code no logger writes today (entries are permanent: an old or odd one is shown as it is)."""
    if what in READ_KINDS:
        return what, ""
    for kind in READ_KINDS:
        if kind[-1] in ":@#=" and what.startswith(kind):
            return kind, what[len(kind):]
    return None


def entry_hash(prev_hash: str, *, tenant_id: int, case_id: int | None, user_id: int | None, actor: str, role: str,
               at: datetime, what: str, channel: str) -> str:
    fields = {"tenant_id": tenant_id, "case_id": case_id, "user_id": user_id, "actor": actor, "role": role,
              "at": at.isoformat(), "what": what, "channel": channel}
    return sha256(prev_hash + canonical(fields))


def chain_key(case_id: int | None, user_id: int | None, actor: str) -> str:
    """The chain an entry belongs to: its case; for a read outside a case, its reader."""
    if case_id is not None:
        return f"case:{case_id}"
    if user_id is not None:
        return f"user:{user_id}"
    return f"actor:{actor}"  # the CLI reads as a named operator without a user row


def describe_chain(chain: str) -> str:
    """The chain in words, for reports."""
    kind, _, rest = chain.partition(":")
    if kind == "case":
        return f"de keten van dossier {rest}"
    if kind == "user":
        return f"de keten van gebruiker {rest}"
    if kind == "actor":
        return f"de keten van {rest}"
    if chain == LEGACY:
        return "de keten van het SWV (van vóór de ketens per dossier)"
    return f"keten {chain!r}"


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
    chain = chain_key(case_id, actor.user_id, actor.email)
    head = conn.execute(_locked_head(actor.tenant_id, chain)).one_or_none()
    if head is None:
        # The chain's first entry: its head is created already pointing at it (one statement fewer). Two first
        # readers at once: one inserts, the other waits on that row and then appends after it.
        fields = _fields(actor, what, channel, case_id)
        digest = entry_hash(GENESIS, **fields)
        created = conn.execute(_insert_head(conn).values(tenant_id=actor.tenant_id, chain=chain, entries=1,
                                                         last_hash=digest)
                               .on_conflict_do_nothing().returning(_HEAD.c.chain)).first()
        if created is not None:
            conn.execute(insert(_LOG).values(chain=chain, prev_hash=GENESIS, hash=digest, **fields))
            return
        head = conn.execute(_locked_head(actor.tenant_id, chain)).one()
    fields = _fields(actor, what, channel, case_id)  # the moment it is this reader's turn
    digest = entry_hash(head.last_hash, **fields)
    conn.execute(insert(_LOG).values(chain=chain, prev_hash=head.last_hash, hash=digest, **fields))
    conn.execute(update(_HEAD).where(_HEAD.c.tenant_id == actor.tenant_id, _HEAD.c.chain == chain)
                 .values(entries=head.entries + 1, last_hash=digest))


_HEAD = cast(Table, AccessHead.__table__)
_LOG = cast(Table, AccessLog.__table__)


def _fields(actor: Actor, what: str, channel: str, case_id: int | None) -> dict[str, Any]:
    return {"tenant_id": actor.tenant_id, "case_id": case_id, "user_id": actor.user_id, "actor": actor.email,
            "role": actor.role, "at": clock.now(), "what": what[:200], "channel": channel}


def _locked_head(tenant_id: int, chain: str) -> Any:
    return (select(_HEAD.c.entries, _HEAD.c.last_hash)
            .where(_HEAD.c.tenant_id == tenant_id, _HEAD.c.chain == chain).with_for_update())


def _insert_head(conn: Connection | Session) -> Any:
    bind = conn.get_bind() if isinstance(conn, Session) else conn
    dialect = postgresql if bind.dialect.name == "postgresql" else sqlite
    return dialect.insert(_HEAD)


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
    chain: str | None = None


@dataclass(frozen=True)
class AccessReport:
    tenant_id: int
    entries: int
    breaks: list[AccessBreak]
    chains: int = 0

    @property
    def intact(self) -> bool:
        return not self.breaks


@dataclass
class _Walk:
    """The state of one chain while it is walked."""

    chain: str
    prev: str = GENESIS
    prev_ok: bool = True
    count: int = 0
    breaks: list[AccessBreak] = field(default_factory=list)


def verify(session: Session, tenant_id: int, *, case_id: int | None = None) -> AccessReport:
    """Walk each of one SWV's access-log chains in order and check every link, every entry and the head.
    With ``case_id``: that case's chain alone (its reads since migration 0003; older ones are in the SWV's)."""
    only = [] if case_id is None else [chain_key(case_id, None, "")]
    heads = {chain: (entries, last_hash) for chain, entries, last_hash in session.execute(
        select(_HEAD.c.chain, _HEAD.c.entries, _HEAD.c.last_hash)
        .where(_HEAD.c.tenant_id == tenant_id, *(_HEAD.c.chain == c for c in only)))}
    breaks: list[AccessBreak] = []
    total = chains = 0
    for walk in _walk(session, tenant_id, only):
        chains += 1
        total += walk.count
        breaks.extend(walk.breaks)
        breaks.extend(_check_head(walk, heads.pop(walk.chain, None)))
    for chain in sorted(heads):  # a head whose entries are all gone
        chains += 1
        breaks.extend(_check_head(_Walk(chain), heads[chain]))
    return AccessReport(tenant_id, total, breaks, chains)


def _walk(session: Session, tenant_id: int, only: list[str]) -> Iterator[_Walk]:
    """Each chain of the SWV with the problems found in its entries; rows of one chain come together."""
    rows = session.execute(
        select(_LOG).where(_LOG.c.tenant_id == tenant_id, *(_LOG.c.chain == c for c in only))
        .order_by(_LOG.c.chain, _LOG.c.id).execution_options(yield_per=2000))
    walk: _Walk | None = None
    for entry in rows:
        if walk is None or entry.chain != walk.chain:
            if walk is not None:
                yield walk
            walk = _Walk(entry.chain)
        walk.count += 1
        problems = []
        if entry.chain not in (LEGACY, chain_key(entry.case_id, entry.user_id, entry.actor)):
            problems.append(f"de regel hoort niet in {describe_chain(entry.chain)} (naar een andere keten verplaatst)")
        if entry.prev_hash != walk.prev and walk.prev_ok:
            problems.append("de schakel naar de vorige regel klopt niet (regel verwijderd of ingevoegd)")
        expected = entry_hash(entry.prev_hash, tenant_id=entry.tenant_id, case_id=entry.case_id,
                              user_id=entry.user_id, actor=entry.actor, role=entry.role, at=entry.at,
                              what=entry.what, channel=entry.channel)
        if expected != entry.hash:
            problems.append("de regel is gewijzigd (hash klopt niet)")
        walk.breaks.extend(AccessBreak(entry.id, p, entry.chain) for p in problems)
        walk.prev, walk.prev_ok = entry.hash, not problems
    if walk is not None:
        yield walk


def _check_head(walk: _Walk, head: tuple[int, str] | None) -> list[AccessBreak]:
    head_entries, head_hash = head if head else (0, GENESIS)
    if head_entries == walk.count and (not walk.prev_ok or head_hash == walk.prev):
        return []
    return [AccessBreak(None, f"de kop van {describe_chain(walk.chain)} verwijst naar {head_entries} regels, "
                              f"er zijn er {walk.count} (laatste regel(s) verwijderd of toegevoegd)", walk.chain)]
