"""The auditor's pages (auditor, beheerder). ``/audit``: cases with a search, and per user what they read (the
access log). ``/audit/<case>``: the timeline with actor, role, time and what changed (before -> after); the
diagram as it was after a chosen event (a replay up to it); *Herspelen* with its result and the first divergence;
the hash-chain check; the case's access log; the PDF and JSON export as downloads. Every read is logged."""

from __future__ import annotations

import json
from typing import Any

from flask import Response, render_template, request
from sqlalchemy import select

from engine import access, audit, audit_export, case_list, clock
from engine.errors import Conflict, Forbidden
from engine.models import Event, User

from . import bp, current_actor, hidden_if_forbidden, record_read, runtime
from .case import EVENTS, STATUS, live_states, pupil, steps

PAGE = 100
LOG_PAGE = 50


def _auditor() -> Any:
    actor = current_actor()
    if not actor.has(*audit.AUDIT_ROLES):
        raise Forbidden("De auditpagina's zijn voor de rollen auditor en beheerder.")
    return actor


def _page_number(name: str = "pagina") -> int:
    text = request.args.get(name, "1")
    return int(text) if text.isdigit() and 0 < len(text) < 7 and int(text) > 0 else 1


@bp.route("/audit")
def audit_index() -> Any:
    actor = _auditor()
    q = request.args.get("q", "")[:case_list.MAX_QUERY]
    chosen = request.args.get("gebruiker", "")
    page = _page_number()
    rt = runtime()
    with rt.db.read() as session:
        found = case_list.list_cases(session, actor, q=q or None, offset=(page - 1) * PAGE, limit=PAGE)
        rows = [{**case_list.case_summary(c), "status_label": STATUS.get(c.status, c.status)} for c in found.cases]
        users = [(u.id, u.email, sorted(u.roles)) for u in session.scalars(
            select(User).where(User.tenant_id == actor.tenant_id).order_by(User.email))]
        reads, reads_total, reader = [], 0, None
        if chosen.isdigit() and int(chosen) in {uid for uid, _, _ in users}:
            reader = next(email for uid, email, _ in users if uid == int(chosen))
            entries, reads_total = access.for_user(session, actor.tenant_id, int(chosen), LOG_PAGE,
                                                   (_page_number("lees") - 1) * LOG_PAGE)
            reads = [access.entry_json(e) for e in entries]
    if rows:
        record_read("cases")
    return render_template("audit.html", rows=rows, total=found.total, q=q, users=users, chosen=chosen,
                           reader=reader, reads=reads, reads_total=reads_total, page=page,
                           pages=max(1, -(-found.total // PAGE)), format_moment=clock.format_moment,
                           read_label=audit_export.read_label)


def _describe(event: dict[str, Any]) -> str:
    label = EVENTS.get(event["type"], event["type"])
    task = event.get("task")
    return f"{label}: {task['title']}" if task else label


def _value(value: Any) -> str:
    if value is None:
        return "(leeg)"
    if isinstance(value, bool):
        return "ja" if value else "nee"
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def audit_context(case_id: int, seq: int | None, replayed: dict[str, Any] | None) -> dict[str, Any]:
    actor = _auditor()
    rt = runtime()
    with rt.db.read() as session, hidden_if_forbidden():
        case = rt.case_for(session, actor, case_id)
        page = _page_number()
        history = audit.timeline(rt, session, case, offset=(page - 1) * PAGE, limit=PAGE)
        # Every event for the moment chooser, from the rows alone (the timeline holds one page).
        titles = {step["id"]: step["title"] for step in steps(case.route_version, {})}
        choices = []
        for seq_, type_, at, task_name in session.execute(
                select(Event.seq, Event.type, Event.at, Event.task_name).where(Event.case_id == case.id)
                .order_by(Event.seq)):
            label = EVENTS.get(type_, type_) + (f": {titles.get(task_name, task_name)}" if task_name else "")
            choices.append((seq_, f"{seq_}. {label} ({clock.format_moment(at)})"))
        chain = audit.verify_case(session, case).to_json()
        states, at_event, state_problem = None, None, None
        if seq is not None:
            try:
                state = audit.state_at(rt, session, case, seq=seq).state or {}
                states, at_event = state.get("elements") or {}, (state.get("after_event") or {}).get("seq")
            except Conflict as exc:
                state_problem = exc.message
        if states is None:
            states = live_states(case)
        diagram_steps = steps(case.route_version, states)
        log_page = _page_number("lees")
        entries, log_total = access.for_case(session, actor.tenant_id, case.id, LOG_PAGE, (log_page - 1) * LOG_PAGE)
        context = {"case": case, "pupil": pupil(case), "route": case.route_version.title,
                   "version": case.route_version.number, "status": STATUS.get(case.status, case.status),
                   "steps": diagram_steps, "chain": chain, "access": [access.entry_json(e) for e in entries],
                   "access_total": log_total, "log_page": log_page}
    total = history["total"]
    context.update(
        events=history["events"], events_total=total, page=page, pages=max(1, -(-total // PAGE)),
        intact=history["intact"], divergence=history["divergence"], seq=seq, at_event=at_event,
        state_problem=state_problem, replayed=replayed, describe=_describe, show=_value,
        format_moment=clock.format_moment, read_label=audit_export.read_label, choices=choices)
    return context


def _seq() -> int | None:
    text = request.args.get("event", "")
    return int(text) if text.isdigit() and 0 < len(text) < 10 else None


@bp.route("/audit/<int:case_id>")
def audit_case(case_id: int) -> Any:
    seq = _seq()
    context = audit_context(case_id, seq, None)
    record_read(f"state#{seq}" if seq else "events", case_id)
    return render_template("audit_case.html", **context)


@bp.route("/audit/<int:case_id>/herspelen", methods=["POST"])
def audit_replay(case_id: int) -> Any:
    """Herspelen: rebuild the case from its definition and events and compare with what is stored."""
    actor = _auditor()
    rt = runtime()
    with rt.db.read() as session, hidden_if_forbidden():
        case = rt.case_for(session, actor, case_id)
        try:
            result = audit.replay(rt, session, case).to_json()
        except Conflict as exc:  # personal data purged after the retention period: no replay possible
            result = {"consistent": None, "events": 0, "divergence": None, "message": exc.message}
    record_read("replay", case_id)
    return render_template("audit_case.html", **audit_context(case_id, None, result))


@bp.route("/audit/<int:case_id>/export.<any(pdf, json):fmt>")
def audit_export_file(case_id: int, fmt: str) -> Response:
    actor = _auditor()
    rt = runtime()
    with rt.db.read() as session, hidden_if_forbidden():
        document = audit_export.export(rt, session, rt.case_for(session, actor, case_id))
    record_read(f"export:{fmt}", case_id)
    if fmt == "pdf":
        body, mimetype = audit_export.render_pdf(document), "application/pdf"
    else:
        body, mimetype = json.dumps(document, ensure_ascii=False, indent=2).encode(), "application/json"
    return Response(body, mimetype=mimetype, headers={
        "Content-Disposition": f'attachment; filename="dossier-{case_id}-audit.{fmt}"', "Cache-Control": "no-store"})
