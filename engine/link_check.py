"""The linked-case rows (``case_links``) checked against the events they project (engine.links), for replay: a
case's ``case_started`` with its ``link`` and its ``case_linked`` events say which rows must exist."""

from __future__ import annotations

from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from .models import Case, Event
from .models_links import CaseLink
from .vocabulary import EventType


def differences(session: Session, case: Case) -> list[dict[str, Any]]:
    """Each link the events hold and the table does not, or the other way round (as engine.divergence describes
    a difference: ``path``, ``stored``, ``replayed``, and the event it stems from in ``seq``)."""
    wanted: dict[tuple[int, int], tuple[str, int]] = {}
    for event in session.scalars(select(Event).where(
            Event.case_id == case.id, Event.type.in_((EventType.CASE_STARTED, EventType.CASE_LINKED)))):
        payload = event.payload or {}
        link = payload.get("link") if event.type == EventType.CASE_STARTED else payload
        if isinstance(link, dict) and link.get("case_id") is not None:
            pair = (link["case_id"], case.id) if event.type == EventType.CASE_STARTED else (case.id, link["case_id"])
            wanted[pair] = (str(link.get("relation")), event.seq)
    stored = {(row.from_case_id, row.to_case_id): row.relation for row in session.scalars(select(CaseLink).where(
        or_(CaseLink.from_case_id == case.id, CaseLink.to_case_id == case.id)))}
    found = []
    for pair in sorted(wanted.keys() | stored.keys()):
        relation, seq = wanted.get(pair, (None, case.event_seq))
        if stored.get(pair) != relation:
            found.append({"what": "link", "path": ["koppeling", f"dossier {pair[0]} -> {pair[1]}"],
                          "stored": stored.get(pair), "replayed": relation, "seq": seq})
    return found
