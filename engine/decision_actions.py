"""What happens to the decision clock outside the route's own steps: the Awb 4:14 extension (a notice, sent to
the applicant, and an event on the case) and the warning and escalation of the term (engine.decision)."""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from . import clock, decision, decision_letters, notifications, permissions
from .auth import Actor, require_role, system_actor
from .decision_record import pupil_name
from .errors import Conflict, InvalidData
from .models import Case, Deadline
from .permissions import CLOCK_ROLES
from .vocabulary import CaseStatus, DeadlineKind, EventType, Role

if TYPE_CHECKING:
    from .cases import Runtime
    from .recording import Recorder

MAX_WEEKS = 26


def extend(runtime: Runtime, actor: Actor, case_id: int, weeks: Any, reason: str) -> Case:
    """Verdaging (Awb 4:14 lid 3): once, before the term ends, with a reason and the new term; the notice
    goes to the applying school as a PDF (made after the transaction, engine.decision_letters) and is logged as the
    event ``decision_term_extended``."""
    require_role(actor, *CLOCK_ROLES)
    problems = {}
    if isinstance(weeks, bool) or not isinstance(weeks, int) or not 1 <= weeks <= MAX_WEEKS:
        problems["weeks"] = [f"Geef een aantal weken van 1 tot en met {MAX_WEEKS}."]
    if not (reason or "").strip():
        problems["reason"] = ["Dit veld is verplicht: de brief aan de aanvrager noemt de reden."]
    if problems:
        raise InvalidData("De verdaging is niet goed ingevuld.", problems)
    with runtime.action() as session:
        case = permissions.case_for(session, actor, case_id)
        state = case.decision or {}
        today = clock.local_date(clock.now())
        if case.status == CaseStatus.CLOSED or not state or state.get("decided"):
            raise Conflict("Dit dossier heeft geen lopende beslistermijn.")
        if state.get("extension_by") == "route":
            raise Conflict(f"Deze termijn ({state.get('law') or 'de wet'}) verlengt de route zelf, in een stap van "
                           "wie beslist; een verdaging door het samenwerkingsverband (Awb 4:14) hoort er niet bij.")
        if state.get("extension"):
            raise Conflict("De beslistermijn is al eens verdaagd; de wet (Awb 4:14) staat één verdaging toe.")
        if state.get("suspended_since"):
            raise Conflict("De beslistermijn is opgeschort zolang de aanvraag wordt aangevuld; verdaag hem daarna.")
        if today > date.fromisoformat(state["due"]):
            raise Conflict(f"De beslistermijn is op {clock.format_date(date.fromisoformat(state['due']))} "
                           "verstreken; verdagen kan alleen binnen de termijn (Awb 4:14 lid 3).")
        days = weeks * 7
        new_due = decision.legal_end(date.fromisoformat(state["base_end"]), days)
        notice = {"swv": case.tenant.name, "kenmerk": f"{case.id}-verdaging", "leerling": pupil_name(case.data or {}),
                  "verzonden": today.isoformat(), "van": state["due"], "tot": new_due.isoformat(),
                  "reden": reason.strip()}
        to = notifications.recipients(session, case.tenant_id, Role.SCHOOL, case.school_id)
        body = (f"De beslistermijn van de aanvraag in dossier {case.id} ({notice['leerling']}) eindigde op "
                f"{clock.format_date(date.fromisoformat(state['due']))}. Het samenwerkingsverband beslist "
                f"uiterlijk op {clock.format_date(new_due)} (Awb 4:14).\nReden: {notice['reden']}\n\n"
                "De brief is als PDF bijgevoegd; geef hem door aan de ouders.")
        for message in notifications.enqueue(session, case.tenant_id, case.id, to,
                                             f"Verdaging beslistermijn (dossier {case.id})", body):
            # No bytes yet: the letter is made from this event after the transaction (engine.decision_letters).
            message.attachment_name = decision_letters.notice_name(case.id)
        runtime.recorder.record(session, runtime.recorder.open(session, case), EventType.DECISION_TERM_EXTENDED,
                                actor, payload={"weeks": weeks, "days": days, "reason": notice["reden"],
                                                "from": state["due"], "to": new_due.isoformat(),
                                                "notice": {"sent": today.isoformat(), "to": len(to),
                                                           "swv": notice["swv"], "kenmerk": notice["kenmerk"],
                                                           "leerling": notice["leerling"]}})
        return case


def fire(recorder: Recorder, session: Session, case: Case, deadline: Deadline, now: datetime, worker: str) -> bool:
    """The decision term is nearly over (warning) or over (escalation): an event and a mail."""
    actor = system_actor(case.tenant_id)
    work = recorder.open(session, case, cached=False)
    state = work.rows.case.decision or {}
    warning = deadline.kind == DeadlineKind.DECISION_WARNING
    event = EventType.DEADLINE_WARNED if warning else EventType.DEADLINE_ESCALATED
    decides = state.get("warn_to") or Role.COMMISSIE  # who decides hears first (zorgplicht: the school)
    role = decides if warning else (state.get("escalate_to") or Role.BESTUURDER)
    recorder.record(session, work, event, actor, payload={
        "deadline_id": deadline.id, "kind": deadline.kind, "due_at": deadline.due_at.isoformat(),
        "term_ends": state.get("due"), "to_role": role, "worker": worker})
    due = clock.format_date(date.fromisoformat(state["due"])) if state.get("due") else "-"
    law = state.get("law")  # a term of another law than the Awb (zorgplicht): no Awb 4:14 or 4:17 advice
    if warning:
        subject = f"Beslistermijn bijna verstreken (dossier {case.id})"
        body = f"De wettelijke beslistermijn ({law or 'Awb 4:13'}) van dossier {case.id} eindigt op {due}. "
        body += ("Neem het besluit op tijd, of verdaag de termijn vóór die dag met een brief aan de aanvrager "
                 "(Awb 4:14)." if not law else "Neem het besluit op tijd, of verleng de termijn vóór die dag als de "
                 "wet dat toestaat, met een brief aan de ouders.")
    else:
        subject = f"Beslistermijn verstreken (dossier {case.id})"
        body = (f"De wettelijke beslistermijn ({law or 'Awb 4:13'}) van dossier {case.id} is op {due} verstreken "
                "zonder besluit. ")
        body += "De aanvrager kan het SWV in gebreke stellen (Awb 4:17). " if not law else ""
        body += "Beslis zo snel mogelijk."
    to = sorted(set(notifications.recipients(session, case.tenant_id, role, case.school_id))
                | set(notifications.recipients(session, case.tenant_id, decides, case.school_id)))
    notifications.enqueue(session, case.tenant_id, case.id, to, subject, body)
    return True
