"""decision: take the decision of a route that decides (engine.decision): its record, and the mail with the
letter to the applying school's users in the outbox, in the action's transaction. The letter itself (a PDF in
the SWV's name) is made from the record right after, outside the transaction (engine.decision_letters): the
mail waits for it. The result (the record) is logged in the event; replay serves it from the log."""

from __future__ import annotations

from typing import Any

from engine import clock, decision_letters, decision_record, notifications
from engine.models import Case
from engine.services import ServiceContext, register
from engine.vocabulary import Role

SUBJECTS = {"toekenning": "toegekend", "afwijzing": "afgewezen", "buiten_behandeling": "buiten behandeling",
            "toelating": "toegelaten", "weigering": "niet toegelaten", "gegrond": "gegrond", "ongegrond": "ongegrond",
            "niet_ontvankelijk": "niet-ontvankelijk"}


@register("decision")
def decide(ctx: ServiceContext, outcome: str = "", kind: str = decision_record.DEFAULT_KIND,
           **_: Any) -> dict[str, Any]:
    case = ctx.session.get(Case, ctx.case_id)
    if case is None:
        raise LookupError(f"dossier {ctx.case_id} bestaat niet")
    school = f"{case.school.name} ({case.school.code})" if case.school else None
    record = decision_record.build(outcome=outcome, day=clock.local_date(ctx.now), swv=case.tenant.name,
                                   case_id=case.id, school=school, data=ctx.data, clock_state=case.decision,
                                   kind=kind)
    name = decision_letters.file_name(record)
    to = notifications.recipients(ctx.session, ctx.tenant_id, Role.SCHOOL, case.school_id)
    subject = (f"{decision_record.KINDS[kind]['onderwerp']}: {SUBJECTS.get(outcome, outcome)} "
               f"(dossier {case.id})")
    reasons = f"\n\nMotivering: {record['motivering']}" if record["motivering"] else ""
    body = (f"{record['besluit']}{reasons}\n\nHet besluit is als PDF bijgevoegd. Geef het door aan de ouders"
            f"{' en de leerling' if any(r['wie'] == 'leerling' for r in record['ontvangers']) else ''}, als "
            f"het samenwerkingsverband het hun niet zelf heeft gestuurd.\n\n{record['rechtsmiddel']}")
    for message in notifications.enqueue(ctx.session, ctx.tenant_id, case.id, to, subject, body):
        message.attachment_name = name  # no bytes yet: the letter is waiting (engine.decision_letters)
    # Its sha256 comes with the event ``decision_letter_made``; records logged before that event existed have it here.
    record["brief"] = {"bestand": name, "verzonden_aan": len(to)}
    return record
