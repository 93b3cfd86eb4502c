"""The case list (``/cases``: every case this user may see, searched, filtered, paged, from ``engine.case_list`` as
``GET /api/v1/cases``) and a new case (``/cases/new``: the routes this user may start, then the start form)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from flask import flash, redirect, render_template, request
from sqlalchemy import select

from engine import bpmn, case_list, clock, permissions, swv_settings, visibility
from engine.errors import Conflict, Forbidden, InvalidData, NotFound
from engine.models import Route, School, Tenant
from engine.routes import latest_version, start_form
from engine.vocabulary import Role
from engine.workflow import spec_kind

from . import bp, current_actor, record_read, runtime
from .case import STATUS
from .task_form import form_fields, parse

PAGE = 25
FILTERS = ("q", "route", "status", "school")


def _query() -> dict[str, Any]:
    args = request.args
    page = args.get("pagina", "1")
    status = args.get("status", "")
    return {"q": args.get("q", "")[:case_list.MAX_QUERY], "route": args.get("route", "")[:64],
            "status": status if status in case_list.STATUSES else "", "school": args.get("school", "")[:32],
            "pagina": int(page) if page.isdigit() and 0 < len(page) < 7 and int(page) > 0 else 1}


def _link(query: dict[str, Any], **changes: Any) -> str:
    merged = {**query, **changes}
    keep = {k: merged[k] for k in (*FILTERS, "pagina") if merged.get(k) and not (k == "pagina" and merged[k] == 1)}
    return "/cases?" + urlencode(keep) if keep else "/cases"


def _schools(session: Any, actor: Any) -> list[tuple[str, str]]:
    """The schools the filter offers: (code, name); a school user only its own."""
    query = select(School.code, School.name).where(School.tenant_id == actor.tenant_id).order_by(School.name)
    if not visibility.reads_whole_swv(actor):
        query = query.where(School.id == actor.school_id)
    return [(code, name) for code, name in session.execute(query)]


@bp.route("/cases")
def cases() -> Any:
    actor = current_actor()
    query = _query()
    rt = runtime()
    with rt.db.read() as session:
        found = case_list.list_cases(session, actor, q=query["q"] or None, route=query["route"] or None,
                                     status=query["status"] or None, school=query["school"] or None,
                                     offset=(query["pagina"] - 1) * PAGE, limit=PAGE)
        rows = [{**case_list.case_summary(c), "school_name": c.school.name if c.school else None,
                 "status_label": STATUS.get(c.status, c.status), "opened": c.opened_at, "due": c.due_at}
                for c in found.cases]
        routes = [(key, title) for key, title in session.execute(select(Route.key, Route.title).order_by(Route.title))]
        schools = _schools(session, actor)
    if rows:
        record_read("cases")  # the list names pupils: who looked at it is in the access log (reader's chain)
    pages = max(1, -(-found.total // PAGE))
    return render_template("cases.html", rows=rows, total=found.total, query=query, routes=routes, schools=schools,
                           statuses=[(s, STATUS[s]) for s in case_list.STATUSES], page=query["pagina"], pages=pages,
                           link=lambda **changes: _link(query, **changes), format_date=clock.format_date,
                           format_moment=clock.format_moment)


# ---------------------------------------------------------------- a new case


def startable(session: Any, actor: Any) -> list[tuple[str, str]]:
    """The routes this user may start: (key, title). The rule is the engine's (``Runtime.start_case``): a route the
    SWV runs (``settings.routes``), the start event's lane (a school by default), a consulent or a beheerder; the
    engine checks it again on start."""
    out = []
    tenant = session.get(Tenant, actor.tenant_id)
    for key in session.scalars(select(Route.key).order_by(Route.title)):
        if tenant is not None and not swv_settings.runs(tenant, key):
            continue
        version = latest_version(session, key)
        start = next((ts for ts in bpmn.loaded(version).spec.task_specs.values() if spec_kind(ts) == "StartEvent"),
                     None)
        if start is not None and actor.has(start.lane or Role.SCHOOL, Role.CONSULENT, Role.BEHEERDER):
            out.append((key, version.title))
    return out


def _own_school(session: Any, actor: Any) -> School | None:
    return session.get(School, actor.school_id) if actor.school_id and actor.role == Role.SCHOOL else None


def _from_source(rt: Any, actor: Any, source: int | None, schema: dict[str, Any] | None) -> dict[str, Any]:
    """A start from another case (``van``) begins with that case's pupil, when the start form asks for one and
    the user may read the case: a follow-up or bezwaar is about the same pupil (the read is logged)."""
    if source is None or "leerling" not in ((schema or {}).get("properties") or {}):
        return {}
    with rt.db.read() as session:
        try:
            pupil = (permissions.case_for(session, actor, source).data or {}).get("leerling")
        except (NotFound, Forbidden):
            return {}  # the start itself says what is wrong with the source
    if not isinstance(pupil, dict):
        return {}
    record_read("case", source)
    return {"leerling": pupil}


@bp.route("/cases/new", methods=["GET", "POST"])
def new_case() -> Any:
    actor = current_actor()
    rt = runtime()
    chosen = request.values.get("route", "")
    # Started from another case (a bezwaar from a decided case): its number, and the user's confirmation of a late
    # objection once the engine asked for it (engine.links).
    source_text = request.values.get("van", "")
    source = int(source_text) if source_text.isdigit() and len(source_text) < 10 else None
    confirm_late = request.form.get("te_laat_bevestigd") == "ja"
    with rt.db.read() as session:
        routes = startable(session, actor)
        schema = start_form(latest_version(session, chosen)) if chosen in dict(routes) else None
        own = _own_school(session, actor)
        own_school = (own.code, own.name) if own else None
        closed = _closed(session.get(Tenant, actor.tenant_id), chosen) if chosen in dict(routes) else None
    if chosen and chosen not in dict(routes):
        flash("Deze route kunt u niet starten; kies er een uit de lijst.", "warning")
        chosen = ""
    data: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    status = 200
    if request.method == "POST" and chosen:
        data = parse(schema, request.form)
        if own_school is not None and "school" in ((schema or {}).get("properties") or {}):
            data["school"] = own_school[0]  # a school starts cases for itself only
        try:
            case = rt.start_case(actor, chosen, data, linked_from=source, confirm_late=confirm_late)
        except InvalidData as exc:
            errors, status = exc.details or {}, 422
        except Conflict as exc:  # outside the route's intake windows, or such a linked case runs: what was typed stays
            closed, status = exc.message, 409
        else:
            flash(f"Dossier {case.id} is gestart.", "ok")
            return redirect(f"/cases/{case.id}", 303)
    else:
        if own_school is not None:
            data = {"school": own_school[0]}
        data.update(_from_source(rt, actor, source, schema))
    fields = form_fields(schema, data, errors)
    if own_school is not None:
        fields = [f for f in fields if f.path != "school"]  # filled in: the user's own school
    return render_template("cases_new.html", routes=routes, chosen=chosen, title=dict(routes).get(chosen),
                           fields=fields, errors=errors, own_school=own_school, closed=closed, source=source,
                           link_errors=errors.get("linked_case_id"), late=errors.get("confirm_late"),
                           show_form=not closed or request.method == "POST"), status


def _closed(tenant: Tenant | None, route_key: str) -> str | None:
    """Why a case on this route cannot start today (outside every intake window), or None."""
    try:
        if tenant is not None:
            swv_settings.check_start(tenant, route_key)
    except (Conflict, InvalidData) as exc:
        return exc.message
    return None
