"""notify: tell the users of a role about a step in the case, through the outbox."""

from __future__ import annotations

from typing import Any

from engine import notifications
from engine.models import Case
from engine.services import ServiceContext, register

TEMPLATES = {
    "tlv_afgewezen": (
        "Besluit TLV: afgewezen (dossier {case_id})",
        "De commissie heeft de aanvraag voor een toelaatbaarheidsverklaring in dossier {case_id} afgewezen.\n"
        "Motivering: {motivering}\n\nBezwaar is mogelijk binnen zes weken na de bekendmaking van het besluit.",
    ),
    "niet_ontvankelijk": (
        "Aanvraag niet-ontvankelijk (dossier {case_id})",
        "De aanvraag in dossier {case_id} is na drie aanvullingsrondes nog niet compleet en daarom "
        "niet-ontvankelijk verklaard. U kunt een nieuwe, complete aanvraag indienen.",
    ),
}
DEFAULT_TEMPLATE = ("Bericht over dossier {case_id}", "Er is een nieuwe stap gezet in dossier {case_id}.")


@register("notify")
def notify(ctx: ServiceContext, to_role: str = "school", template: str = "", **_: Any) -> dict[str, Any]:
    case = ctx.session.get(Case, ctx.case_id)
    to = notifications.recipients(ctx.session, ctx.tenant_id, to_role, case.school_id if case else None)
    subject, body = TEMPLATES.get(template, DEFAULT_TEMPLATE)
    values = {"case_id": ctx.case_id, "motivering": ctx.data.get("motivering", "")}
    notifications.enqueue(ctx.session, ctx.tenant_id, ctx.case_id, to, subject.format(**values),
                          body.format(**values))
    return {"template": template, "to_role": to_role, "recipients": len(to)}
