"""Legal hold: a case's data stays while an objection or appeal about it runs, whatever its retention term says.

A beheerder sets the hold with a reason (``loket tlv bewaren CASE --reden ...``, ``POST /cases/{id}/legal-hold``)
and lifts it when the objection or appeal is over (``loket tlv vrijgeven``, ``DELETE``); both are events on the
case (``legal_hold_set``, ``legal_hold_lifted``) with the reason, so the chain shows who held what and why.
``loket retention run`` skips a held case and counts it; once lifted, the case's own term applies again (its
data goes at the next run if the term has passed). The ECLI:NL:RVS:2020:1153 case ran from a decision in
November 2017 to the Raad van State in April 2020: past the three years of a TLV dossier.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from . import clock, permissions
from .auth import Actor, require_role
from .errors import Conflict, InvalidData
from .models import Case, Event
from .vocabulary import EventType, Role

if TYPE_CHECKING:
    from .cases import Runtime

HOLD_EVENTS = (EventType.LEGAL_HOLD_SET, EventType.LEGAL_HOLD_LIFTED)


def current(session: Session, case_id: int) -> dict[str, Any] | None:
    """The hold on a case (since, reason, by), or None when it has none (never set, or lifted since)."""
    last = session.scalar(select(Event).where(Event.case_id == case_id, Event.type.in_(HOLD_EVENTS))
                          .order_by(Event.seq.desc()).limit(1))
    if last is None or last.type != EventType.LEGAL_HOLD_SET:
        return None
    return {"since": last.at.isoformat(), "reason": (last.payload or {}).get("reason"), "by": last.actor}


def held(session: Session, case_ids: Iterable[int]) -> set[int]:
    """Which of these cases are held now (their last hold event sets it)."""
    ids = list(case_ids)
    if not ids:
        return set()
    last = (select(Event.case_id, func.max(Event.seq).label("seq"))
            .where(Event.case_id.in_(ids), Event.type.in_(HOLD_EVENTS)).group_by(Event.case_id).subquery())
    rows = session.execute(select(Event.case_id).join(last, (Event.case_id == last.c.case_id)
                                                      & (Event.seq == last.c.seq))
                           .where(Event.type == EventType.LEGAL_HOLD_SET))
    return {row[0] for row in rows}


def _reason(reason: str | None) -> str:
    text = (reason or "").strip()
    if not text:
        raise InvalidData("Geef een reden op.", {"reason": ["Dit veld is verplicht (bijvoorbeeld: bezwaar van "
                                                            "ouders, ontvangen 12-01-2027)."]})
    if len(text) > 2000:
        raise InvalidData("De reden is te lang.", {"reason": ["Maximaal 2000 tekens."]})
    return text


def set_hold(runtime: Runtime, actor: Actor, case_id: int, reason: str) -> Case:
    require_role(actor, Role.BEHEERDER)
    text = _reason(reason)
    with runtime.action() as session:
        case = permissions.case_for(session, actor, case_id)
        if current(session, case_id) is not None:
            raise Conflict("Dit dossier staat al onder een juridische bewaarplicht.")
        if session.scalar(select(Event.id).where(Event.case_id == case_id, Event.type == EventType.DATA_PURGED)):
            raise Conflict("De gegevens van dit dossier zijn al verwijderd na de bewaartermijn.")
        _record(runtime, session, case, EventType.LEGAL_HOLD_SET, actor, text)
        return case


def lift_hold(runtime: Runtime, actor: Actor, case_id: int, reason: str) -> Case:
    require_role(actor, Role.BEHEERDER)
    text = _reason(reason)
    with runtime.action() as session:
        case = permissions.case_for(session, actor, case_id)
        if current(session, case_id) is None:
            raise Conflict("Dit dossier staat niet onder een juridische bewaarplicht.")
        _record(runtime, session, case, EventType.LEGAL_HOLD_LIFTED, actor, text)
        return case


def _record(runtime: Runtime, session: Session, case: Case, kind: str, actor: Actor, reason: str) -> None:
    recorder = runtime.recorder
    recorder.record(session, recorder.open(session, case), kind, actor.acting_as(Role.BEHEERDER),
                    payload={"reason": reason, "at": clock.now().isoformat()})
