"""The decision letter (beschikking) made after the decision, not inside it; the Awb 4:14 notice (verdaging) too.

Rendering the PDF takes 0.1 to 0.3 s; inside the besluit transaction it held SQLite's one write lock that long
(the load test's p95 went from 120 ms to a second). So the decision handler (handlers/decision.py) only records
the decision record and puts the mail in the outbox with the letter's file name and no bytes yet: a letter that
is *waiting*. ``make_due`` (the scheduler, before every delivery round) renders each waiting letter from the
record on the case, outside any transaction, and then, in one short transaction, attaches it to its mails and
logs ``decision_letter_made`` on the case with the letter's sha256. Delivery (engine.mail) skips a mail whose
letter is still waiting.

The verdaging notice (engine.decision_actions.extend) goes the same way: its mail waits, the notice is rendered
from the ``decision_term_extended`` event (which holds all of it) and ``decision_letter_made`` names its file.

Guarantees:
- the mail row is committed with the decision, so a crash after that commit loses no letter: the next round
  finds it waiting and makes it; a failed rendering is logged and tried again next round;
- the same record gives the same bytes (the PDF's creation date is the decision date, not the moment of
  rendering), so a letter made twice by a race is the same letter; only one ``decision_letter_made`` is logged,
  because the attaching transaction takes only mails that still wait;
- bekendmaking is the day the letter is sent (Awb 3:41). That is the decision day unless the letter could only be
  made later (a crash, a scheduler that was down) or its mails could not go out that day (the mail server was
  down: with a mail server configured, an unsent letter of an earlier day is made again for the day it goes out,
  as long as none of its mails went out). Then the event records the later day and the objection term counted
  from it, the letter says so ("Verzonden"), and the case's decision record follows the event.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import date
from typing import TYPE_CHECKING, Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from . import clock, decision, letters
from .auth import system_actor
from .decision_record import DEFAULT_KIND, objection_until, remedy_clause
from .errors import Conflict
from .models import Case, Event, OutboxMessage
from .vocabulary import EventType, OutboxStatus

if TYPE_CHECKING:
    from .cases import Runtime

log = logging.getLogger("loket.letters")

HANDLER = "decision"
PREFIX = "besluit-"
NOTICE_PREFIX = "verdaging-"  # the Awb 4:14 notice (engine.decision_actions.extend), made the same way


def file_name(record: dict[str, Any]) -> str:
    return decision.letter_name(record)


def notice_name(case_id: int) -> str:
    return f"{NOTICE_PREFIX}{case_id}.pdf"


def waiting(session: Session, case_id: int | None = None, made: bool = False) -> list[OutboxMessage]:
    """Mails whose decision letter is not made yet (of one case, or of all); ``made``: unsent mails whose letter
    is made."""
    # Only a decision letter is made again for a later day; a notice states the day it was decided to extend.
    names = OutboxMessage.attachment_name.like(f"{PREFIX}%")
    query = select(OutboxMessage).where(OutboxMessage.status == OutboxStatus.PENDING,
                                        names if made else or_(names, OutboxMessage.attachment_name.like(
                                            f"{NOTICE_PREFIX}%")),
                                        OutboxMessage.attachment.is_not(None) if made
                                        else OutboxMessage.attachment.is_(None))
    if case_id is not None:
        query = query.where(OutboxMessage.case_id == case_id)
    return list(session.scalars(query.order_by(OutboxMessage.id)))


def _sent(session: Session, case_id: int, name: str) -> bool:
    """Whether a mail with this letter went out (then its day is the bekendmaking, and the letter stays)."""
    query = select(OutboxMessage.id).where(OutboxMessage.case_id == case_id, OutboxMessage.attachment_name == name,
                                           OutboxMessage.status == OutboxStatus.SENT)
    return session.scalar(query.limit(1)) is not None


def as_made_known(record: dict[str, Any], day: date) -> dict[str, Any]:
    """The record as the letter states it when it is made known on ``day``: the same record on the decision day;
    a later day moves the bekendmaking and the objection term that runs from it."""
    if day.isoformat() <= record["bekendmaking"]:
        return record
    until = objection_until(day)
    return {**record, "bekendmaking": day.isoformat(), "bezwaar_tot": until.isoformat(),
            "rechtsmiddel": remedy_clause(record["swv"], until, record["kenmerk"], record.get("soort") or DEFAULT_KIND,
                                          record.get("afzender"))}


def make_due(runtime: Runtime, limit: int = 50, sending: bool | None = None) -> int:
    """Make the waiting decision letters (at most ``limit`` letters); how many were made.

    ``sending`` (default: an SMTP server is configured): a letter made on an earlier day whose mails have not gone
    out yet (the mail server was down) is made again for today, the day it is sent and so made known. Without a
    mail server nothing is sent and a letter keeps the day it was made."""
    if sending is None:
        sending = bool((runtime.settings.smtp_url or "").strip())
    with runtime.db.read() as session:
        pending = list(dict.fromkeys((m.case_id, m.attachment_name) for m in waiting(session)))[:limit]
        unsent = list(dict.fromkeys((m.case_id, m.attachment_name) for m in waiting(session, made=True))) \
            if sending else []
    made = 0
    for redate, case_id, name in [(False, c, n) for c, n in pending] + [(True, c, n) for c, n in unsent]:
        if case_id is None or name is None:
            continue
        try:
            made += make(runtime, case_id, name, redate=redate)
        except Exception:  # logged and tried again in the next round; the mail keeps waiting meanwhile
            log.exception("besluitbrief %s van dossier %s niet gemaakt; volgende ronde opnieuw", name, case_id)
    return made


def make(runtime: Runtime, case_id: int, name: str, redate: bool = False) -> bool:
    """Render one case's waiting letter and attach it; False when someone else did it first. ``redate``: make an
    unsent letter of an earlier day again for today (nothing to do when it is today's, or one mail went out)."""
    if name.startswith(NOTICE_PREFIX):
        return _make_notice(runtime, case_id, name)
    today = clock.local_date(clock.now())
    with runtime.db.read() as session:
        case = session.get(Case, case_id)
        record = (decision.record_of(case.decision, name) if case is not None else None) or {}
        if redate and (not record or record.get("bekendmaking", "") >= today.isoformat()
                       or _sent(session, case_id, name)):
            return False
    if not record or file_name(record) != name:
        _refuse(runtime, case_id, name, "het besluitrecord bij deze brief ontbreekt in het dossier")
        return False
    stated = as_made_known(record, today)
    pdf = letters.decision_pdf(stated)  # outside any transaction: this is the slow part
    try:
        with runtime.action() as session:
            mails = [m for m in waiting(session, case_id, made=redate) if m.attachment_name == name]
            case = session.get(Case, case_id)
            if not mails or case is None:
                return False
            known = (decision.record_of(case.decision, name) or {}).get("bekendmaking", "")
            if redate and (known >= today.isoformat() or _sent(session, case_id, name)):
                return False  # another round did it, or a mail went out meanwhile
            for mail in mails:
                mail.attachment = pdf
            payload = {"bestand": name, "sha256": hashlib.sha256(pdf).hexdigest(), "bytes": len(pdf),
                       "aan": len(mails), "bekendmaking": stated["bekendmaking"], "bezwaar_tot": stated["bezwaar_tot"]}
            if stated is not record:
                payload["rechtsmiddel"] = stated["rechtsmiddel"]
            runtime.recorder.record(session, runtime.recorder.open(session, case), EventType.DECISION_LETTER_MADE,
                                    system_actor(case.tenant_id), payload=payload)
    except Conflict:  # the case moved on meanwhile: the next round makes the letter again
        return False
    return True


def _make_notice(runtime: Runtime, case_id: int, name: str) -> bool:
    """The verdaging notice, from the case's ``decision_term_extended`` event (it holds the whole notice)."""
    with runtime.db.read() as session:
        event = session.scalar(select(Event).where(Event.case_id == case_id,
                                                   Event.type == EventType.DECISION_TERM_EXTENDED)
                               .order_by(Event.seq.desc()).limit(1))
        payload = (event.payload if event is not None else None) or {}
    sent = payload.get("notice") or {}
    if "kenmerk" not in sent:
        _refuse(runtime, case_id, name, "de verdaging bij deze brief ontbreekt in het dossier")
        return False
    pdf = letters.extension_pdf({"swv": sent["swv"], "kenmerk": sent["kenmerk"], "leerling": sent["leerling"],
                                 "verzonden": sent["sent"], "van": payload["from"], "tot": payload["to"],
                                 "reden": payload["reason"]})
    try:
        with runtime.action() as session:
            mails = [m for m in waiting(session, case_id) if m.attachment_name == name]
            case = session.get(Case, case_id)
            if not mails or case is None:
                return False
            for mail in mails:
                mail.attachment = pdf
            runtime.recorder.record(session, runtime.recorder.open(session, case), EventType.DECISION_LETTER_MADE,
                                    system_actor(case.tenant_id), payload={
                                        "bestand": name, "sha256": hashlib.sha256(pdf).hexdigest(),
                                        "bytes": len(pdf), "aan": len(mails)})
    except Conflict:
        return False
    return True


def _refuse(runtime: Runtime, case_id: int, name: str, reason: str) -> None:
    """A letter that can never be made (its record is gone): its mails fail visibly instead of waiting forever."""
    with runtime.db.transaction() as session:
        for mail in waiting(session, case_id):
            if mail.attachment_name == name:
                mail.status = OutboxStatus.FAILED
                mail.last_error = f"brief niet te maken: {reason}"
    log.warning("besluitbrief %s van dossier %s: %s", name, case_id, reason)

