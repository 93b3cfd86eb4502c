"""decision_extend: a route extends its own decision term, once, by the weeks the law lets it (zorgplicht: the
school, by at most 4 weeks, in writing to the parents). The notice goes as a PDF to the school's users through the
outbox; engine.decision moves the clock from the result (as it does for the Awb 4:14 notice of the SWV)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from engine import clock, letters, notifications
from engine.decision_record import pupil_name
from engine.legal_days import atw_shift
from engine.models import Case
from engine.services import ServiceContext, register
from engine.vocabulary import Role

MAX_WEEKS = 26


@register("decision_extend")
def extend(ctx: ServiceContext, weeks: Any = None, reason: Any = "", grondslag: str = "", **_: Any) -> dict[str, Any]:
    case = ctx.session.get(Case, ctx.case_id)
    if case is None:
        raise LookupError(f"dossier {ctx.case_id} bestaat niet")
    state = case.decision or {}
    today = clock.local_date(ctx.now)
    if isinstance(weeks, bool) or not isinstance(weeks, int) or not 1 <= weeks <= MAX_WEEKS:
        raise ValueError(f"verlenging met '{weeks}' weken: geef 1 tot en met {MAX_WEEKS} weken")
    if not state or state.get("decided"):
        raise ValueError("dit dossier heeft geen lopende beslistermijn om te verlengen")
    if state.get("extension"):
        raise ValueError("de beslistermijn is al eens verlengd")
    if state.get("suspended_since") or today > date.fromisoformat(state["due"]):
        raise ValueError("verlengen kan alleen binnen de lopende beslistermijn")
    days = weeks * 7
    new_due = atw_shift(date.fromisoformat(state["base_end"]) + timedelta(days=days))  # as engine.decision counts
    school = f"{case.school.name} ({case.school.code})" if case.school else case.tenant.name
    notice = {"swv": case.tenant.name, "afzender": school, "kenmerk": f"{case.id}-verlenging",
              "leerling": pupil_name(ctx.data), "verzonden": today.isoformat(), "van": state["due"],
              "tot": new_due.isoformat(), "reden": str(reason or "").strip() or "-", "grondslag": grondslag or None}
    to = notifications.recipients(ctx.session, ctx.tenant_id, Role.SCHOOL, case.school_id)
    body = (f"De beslistermijn van dossier {case.id} ({notice['leerling']}) eindigde op "
            f"{clock.format_date(date.fromisoformat(state['due']))}; de school beslist uiterlijk op "
            f"{clock.format_date(new_due)}.\nReden: {notice['reden']}\n\nDe brief aan de ouders is als PDF bijgevoegd.")
    pdf = letters.extension_pdf(notice)
    for message in notifications.enqueue(ctx.session, ctx.tenant_id, case.id, to,
                                         f"Verlenging beslistermijn (dossier {case.id})", body):
        message.attachment_name, message.attachment = f"verlenging-{case.id}.pdf", pdf
    return {"weeks": weeks, "days": days, "reason": notice["reden"], "from": state["due"], "to": new_due.isoformat(),
            "notice": {"sent": today.isoformat(), "to": len(to)}}
