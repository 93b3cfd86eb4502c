"""One case (``/cases/<id>``): a header with the pupil, route, status and the case clock; the route diagram with
done, current and open steps (bpmn-js viewer, with a text legend); tabs Gegevens · Documenten · Termijnen ·
Geschiedenis; opschorten, hervatten and verlengen for the roles that may stop or move the case's clock.

Also what the other case pages share: status and event words, the steps of a route in the state of a workflow.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from flask import Response, flash, redirect, render_template, request
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import (
    bpmn,
    case_list,
    clock,
    deadlines,
    decision,
    decision_actions,
    documents,
    legal_hold,
    links,
    tlv_rules,
)
from engine.errors import InvalidData, LoketError
from engine.models import Case, Deadline, Event, RouteVersion, Task
from engine.permissions import CLOCK_ROLES
from engine.present import decision_due
from engine.replay_state import element_states
from engine.vocabulary import CaseStatus, DeadlineKind, DeadlineStatus, TaskStatus
from engine.workflow import spec_kind

from . import bp, current_actor, hidden_if_forbidden, record_read, runtime

TABS = [("gegevens", "Gegevens"), ("documenten", "Documenten"), ("termijnen", "Termijnen"),
        ("geschiedenis", "Geschiedenis")]
# What the access log calls each tab's read (the codes the API's reads use, engine.audit_export.read_label).
READS = {"gegevens": "case", "documenten": "documents", "termijnen": "case", "geschiedenis": "events"}
STATUS: dict[str, str] = {CaseStatus.OPEN: "Lopend", CaseStatus.SUSPENDED: "Opgeschort",
                          CaseStatus.INCIDENT: "Incident", CaseStatus.CLOSED: "Afgesloten"}
TASK_STATUS: dict[str, str] = {TaskStatus.READY: "open", TaskStatus.CLAIMED: "geclaimd",
                               TaskStatus.COMPLETED: "afgerond", TaskStatus.CANCELLED: "vervallen"}
EVENTS = {
    "case_started": "Dossier gestart", "task_claimed": "Taak geclaimd", "task_unclaimed": "Taak vrijgegeven",
    "task_completed": "Taak afgerond", "task_delegated": "Taak overgedragen", "timer_fired": "Timer afgegaan",
    "deadline_warned": "Termijn bijna om (waarschuwing)", "deadline_escalated": "Termijn verstreken (geëscaleerd)",
    "case_suspended": "Opgeschort", "case_resumed": "Hervat", "case_extended": "Verlengd",
    "case_retried": "Opnieuw geprobeerd na incident", "incident": "Incident", "case_completed": "Dossier afgerond",
    "data_purged": "Persoonsgegevens verwijderd (bewaartermijn)", "document_added": "Document toegevoegd",
    "case_migrated": "Naar een nieuwe routeversie",
    "decision_term_extended": "Beslistermijn verdaagd (Awb 4:14)",
    "decision_letter_made": "Brief opgemaakt (PDF; de hash staat in het event)",
    "case_linked": "Gekoppeld dossier gestart", "linked_case_closed": "Gekoppeld dossier afgesloten",
    "legal_hold_set": "Juridische bewaarplicht ingesteld", "legal_hold_lifted": "Juridische bewaarplicht opgeheven",
}
DEADLINES: dict[str, str] = {DeadlineKind.WARNING: "waarschuwing", DeadlineKind.ESCALATION: "termijn van een taak",
             DeadlineKind.CASE: "doorlooptijd van het dossier", DeadlineKind.TIMER: "timer van de route",
             DeadlineKind.DECISION_WARNING: "beslistermijn bijna om", DeadlineKind.DECISION: "beslistermijn (Awb 4:13)"}
DEADLINE_STATUS: dict[str, str] = {DeadlineStatus.PENDING: "loopt", DeadlineStatus.FIRED: "verstreken",
                   DeadlineStatus.CANCELLED: "vervallen"}
# How a step of the route stands, in words (the diagram repeats it with a marker and a label, never colour alone).
STEP_STATES = {"done": "afgerond", "open": "nu aan de beurt", "waiting": "wacht (timer)", "error": "fout",
               "future": "nog niet aan de beurt"}
# The kinds of document people add; the upload form offers them (any other lower-case word is fine for the API).
DOCUMENT_KINDS = [("opp", "OPP (ontwikkelingsperspectiefplan)"), ("advies", "Advies van een deskundige"),
                  ("groeidocument", "Groeidocument"), ("zienswijze", "Zienswijze ouders"),
                  ("besluit", "Besluit"), ("overig", "Overig")]


def pupil(case: Case) -> str:
    return case_list.pupil_name(case.data) or "(geen naam)"


def steps(version: RouteVersion, states: dict[str, str]) -> list[dict[str, str]]:
    """The route's user tasks and events in the order of the route, each with how it stands."""
    route = bpmn.loaded(version)
    out = []
    for spec in [route.spec, *route.subprocess_specs.values()]:
        for task_spec in spec.task_specs.values():
            bpmn_id = getattr(task_spec, "bpmn_id", None)
            kind = spec_kind(task_spec)
            if not bpmn_id or kind not in ("UserTask", "StartEvent", "EndEvent", "ServiceTask", "ScriptTask",
                                           "IntermediateCatchEvent", "BoundaryEvent"):
                continue
            state = states.get(bpmn_id, "future")
            out.append({"id": bpmn_id, "title": getattr(task_spec, "bpmn_name", None) or bpmn_id, "kind": kind,
                        "state": state, "label": STEP_STATES.get(state, state)})
    return out


def live_states(case: Case) -> dict[str, str]:
    """Per BPMN element how it stands now, from the case's stored engine state."""
    route = bpmn.loaded(case.route_version)
    return element_states(bpmn.load_workflow(case.state, route.spec, route.subprocess_specs))


def days(seconds: float) -> str:
    whole = int(seconds // 86400)
    return "1 dag" if whole == 1 else f"{whole} dagen"


def case_clock(case: Case, now: datetime) -> dict[str, Any]:
    """The case clock as people read it: the term, the time used (without opschorting), suspended, extended."""
    suspended = case.suspended_seconds + ((now - case.suspended_at).total_seconds() if case.suspended_at else 0)
    end = case.closed_at or now
    used = max(0.0, (end - case.opened_at).total_seconds() - suspended)
    return {
        "due_at": case.due_at, "overdue": bool(case.due_at and case.due_at < now and case.status != CaseStatus.CLOSED),
        "used": days(used), "suspended": days(suspended), "suspended_at": case.suspended_at,
        "extensions": case.extensions_used, "max_extensions": deadlines.max_extensions(case.tenant),
    }


def _days_of(view: dict[str, Any] | None) -> dict[str, Any] | None:
    """The zorgplicht view with its ISO days as dates, for format_date."""
    if view is None:
        return None
    return {k: date.fromisoformat(v) if k in ("aanmelding", "termijn", "verlengd_tot", "vergeleken_met") and v
            else v for k, v in view.items()}


def case_context(session: Session, case: Case, tab: str) -> dict[str, Any]:
    """Everything the case page shows (each tab's rows only when that tab is open)."""
    actor = current_actor()
    now = clock.now()
    version = case.route_version
    context: dict[str, Any] = {
        "case": case, "pupil": pupil(case), "route": version.title, "version": version.number,
        "status": STATUS.get(case.status, case.status), "school": case.school.name if case.school else None,
        "clock": case_clock(case, now), "tab": tab, "tabs": TABS,
        "decision": decision.view(case.decision, clock.local_date(now)), "as_date": date.fromisoformat,
        "letter_name": decision.letter_name, "term_words": decision.term_words,
        # The school's zorgplicht beside the TLV clock, and a legal hold (the same as the API's case JSON).
        "zorgplicht": _days_of(tlv_rules.zorgplicht_view(case.data or {}, decision_due(case))),
        "legal_hold": legal_hold.current(session, case.id),
        "links": links.of_case(session, case.id), "objection": links.objection_route(session, actor, case),
        "follow_up": links.follow_up_route(session, actor, case),
        "steps": steps(version, live_states(case)), "open_tasks": [],
        "may_clock": actor.has(*CLOCK_ROLES) and case.status != CaseStatus.CLOSED,
        "may_upload": actor.has(*documents.UPLOAD_ROLES) and case.status != CaseStatus.CLOSED,
        "format_moment": clock.format_moment, "format_date": clock.format_date,
        "document_kinds": DOCUMENT_KINDS, "upload_limit": documents.in_words(runtime().settings.max_document_bytes),
        "allowed_types": documents.ALLOWED_IN_WORDS, "TYPES": documents.TYPES, "size": documents.in_words,
    }
    tasks = list(session.scalars(select(Task).where(Task.case_id == case.id).order_by(Task.created_at, Task.id)))
    context["open_tasks"] = [t for t in tasks if t.status in (TaskStatus.READY, TaskStatus.CLAIMED)]
    if tab == "gegevens":
        context["data"] = case.data or {}
    elif tab == "documenten":
        context["documents"] = documents.of_case(session, case.id)
    elif tab == "termijnen":
        context["tasks"] = [(t, TASK_STATUS.get(t.status, t.status)) for t in tasks]
        context["deadlines"] = [(d, DEADLINES.get(d.kind, d.kind), DEADLINE_STATUS.get(d.status, d.status))
                                for d in session.scalars(select(Deadline).where(Deadline.case_id == case.id)
                                                         .order_by(Deadline.due_at, Deadline.id))]
    elif tab == "geschiedenis":
        context["events"] = [(e, EVENTS.get(e.type, e.type)) for e in session.scalars(
            select(Event).where(Event.case_id == case.id).order_by(Event.seq))]
    return context


def render_case(case_id: int, tab: str, status: int = 200, **extra: Any) -> tuple[str, int]:
    actor = current_actor()
    rt = runtime()
    with rt.db.read() as session, hidden_if_forbidden():
        case = rt.case_for(session, actor, case_id)
        context = case_context(session, case, tab)
    record_read(READS.get(tab, "case"), case_id)
    return render_template("case.html", **context, **extra), status


@bp.route("/cases/<int:case_id>")
def case_page(case_id: int) -> Any:
    tab = request.args.get("tab", "gegevens")
    return render_case(case_id, tab if tab in dict(TABS) else "gegevens")


@bp.route("/cases/<int:case_id>/route.bpmn")
def case_diagram(case_id: int) -> Response:
    """The BPMN of the case's route version, for the viewer (the route, not the case's data: no logged read)."""
    actor = current_actor()
    rt = runtime()
    with rt.db.read() as session, hidden_if_forbidden():
        case = rt.case_for(session, actor, case_id)
        xml = session.scalar(select(RouteVersion.bpmn).where(RouteVersion.id == case.route_version_id))
    response = Response(xml, mimetype="application/xml")
    response.headers["Cache-Control"] = "private, max-age=3600"
    return response


def in_scope(case_id: int) -> None:
    """404 for a case this user may not read (before any action: a refused role is then a plain 403)."""
    rt = runtime()
    with rt.db.read() as session, hidden_if_forbidden():
        rt.case_for(session, current_actor(), case_id)


def _clock_action(case_id: int, act: Any, done: str) -> Any:
    in_scope(case_id)
    try:
        act()
    except InvalidData as exc:
        problems = "; ".join(m for messages in (exc.details or {}).values() for m in messages)
        flash(f"{exc.message} {problems}".strip(), "warning")
        return redirect(f"/cases/{case_id}?tab=termijnen", 303)
    except LoketError as exc:
        if exc.status in (403, 404):
            raise
        flash(exc.message, "warning")
        return redirect(f"/cases/{case_id}?tab=termijnen", 303)
    flash(done, "ok")
    return redirect(f"/cases/{case_id}?tab=termijnen", 303)


@bp.route("/cases/<int:case_id>/opschorten", methods=["POST"])
def suspend(case_id: int) -> Any:
    reason = request.form.get("reden", "")[:2000]
    return _clock_action(case_id, lambda: runtime().suspend(current_actor(), case_id, reason),
                         "Het dossier is opgeschort: de klok staat stil tot het wordt hervat.")


@bp.route("/cases/<int:case_id>/hervatten", methods=["POST"])
def resume(case_id: int) -> Any:
    reason = request.form.get("reden", "")[:2000] or None
    return _clock_action(case_id, lambda: runtime().resume(current_actor(), case_id, reason),
                         "Het dossier is hervat; de termijnen zijn opgeschoven met de opgeschorte tijd.")


def _extension_form() -> tuple[Any, str]:
    """Weeks and reason of an extension form; weeks that are not a small whole number go to the engine as typed,
    so its Dutch message names them."""
    text = request.form.get("weken", "")
    weeks: Any = int(text) if text.isdigit() and len(text) < 4 else text
    return weeks, request.form.get("reden", "")[:2000]


@bp.route("/cases/<int:case_id>/beslistermijn-verdagen", methods=["POST"])
def extend_decision_term(case_id: int) -> Any:
    weeks, reason = _extension_form()
    return _clock_action(case_id, lambda: decision_actions.extend(runtime(), current_actor(), case_id, weeks, reason),
                         "De beslistermijn is verdaagd; de brief aan de aanvrager staat in de outbox.")


@bp.route("/cases/<int:case_id>/verlengen", methods=["POST"])
def extend(case_id: int) -> Any:
    weeks, reason = _extension_form()
    return _clock_action(case_id, lambda: runtime().extend(current_actor(), case_id, weeks, reason),
                         "De doorlooptijd van het dossier is verlengd.")
