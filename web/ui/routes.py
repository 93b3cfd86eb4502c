"""The process owner's pages (procesbeheerder, beheerder; issue 11). ``/routes``: every route with its versions (who
published each, when, the note, the SWV's open cases on it) and the SWV's drafts. ``/routes/<key>/drafts/<id>``:
the bpmn-js modeler with a side panel for Loket's own properties, the forms beside it with a live preview rendered
by the task page's own renderer, validation on every save (listed and marked on the diagram), and publishing.

The editor's script speaks JSON to the page endpoints below (session cookie and CSRF token, like every page);
the token-authenticated REST API offers the same under /api/v1/routes/{key}/drafts.
"""

from __future__ import annotations

import json
from typing import Any

from flask import Response, flash, jsonify, redirect, render_template, request, url_for

from engine import clock, migration, route_diff, route_drafts, services
from engine.errors import InvalidData, LoketError
from engine.models import RouteVersion
from engine.vocabulary import ROLES

from . import bp, current_actor, is_htmx, runtime
from .task_form import form_fields


def _editor() -> Any:
    actor = current_actor()
    route_drafts.require_editor(actor)
    return actor


def _json_error(exc: LoketError) -> Response:
    response = jsonify(exc.to_dict())
    response.status_code = exc.status
    return response


@bp.route("/routes")
def routes_index() -> Any:
    actor = _editor()
    with runtime().db.read() as session:
        rows = []
        for key in route_drafts.route_keys(session, actor.tenant_id):
            versions = route_drafts.versions(session, actor.tenant_id, key)
            drafts = [route_drafts.draft_dict(session, d, with_content=False)
                      for d in route_drafts.drafts(session, actor.tenant_id, key)]
            title = versions[0].title if versions else (drafts[0]["title"] if drafts else key)
            rows.append({"key": key, "title": title, "versions": versions, "drafts": drafts})
    return render_template("routes.html", rows=rows, format_moment=_moment)


def _moment(text: str | None) -> str:
    if not text:
        return ""
    from datetime import datetime

    return clock.format_moment(datetime.fromisoformat(text))


@bp.route("/routes/nieuw", methods=["POST"])
def routes_new() -> Any:
    actor = _editor()
    key = (request.form.get("key") or "").strip()
    try:
        with runtime().db.transaction() as session:
            draft = route_drafts.create(session, actor, key)
            draft_id = draft.id
    except InvalidData as exc:
        flash(exc.message, "warning")
        return redirect(url_for("ui.routes_index"))
    return redirect(url_for("ui.draft_editor", key=key, draft_id=draft_id))


@bp.route("/routes/<key>/drafts", methods=["POST"])
def draft_new(key: str) -> Any:
    actor = _editor()
    text = request.form.get("from_version", "")
    with runtime().db.transaction() as session:
        draft = route_drafts.create(session, actor, key, int(text) if text.isdigit() and len(text) < 7 else None)
        draft_id = draft.id
    flash(f"Nieuw concept van {key} gemaakt.", "ok")
    return redirect(url_for("ui.draft_editor", key=key, draft_id=draft_id))


@bp.route("/routes/<key>/drafts/<int:draft_id>")
def draft_editor(key: str, draft_id: int) -> Any:
    actor = _editor()
    with runtime().db.read() as session:
        draft = route_drafts.get(session, actor, key, draft_id)
        info = route_drafts.draft_dict(session, draft)
        problems = route_drafts.problem_list(route_drafts.validate(session, draft))
        changes = _changes(session, draft)
    choices = {"roles": list(ROLES), "handlers": services.names(), "forms": sorted(info["forms"])}
    return render_template("routes_editor.html", draft=info, problems=problems, choices=choices, changes=changes,
                           forms_json=json.dumps(info["forms"], ensure_ascii=False, indent=2),
                           format_moment=_moment)


@bp.route("/routes/<key>/drafts/<int:draft_id>/bpmn")
def draft_bpmn(key: str, draft_id: int) -> Any:
    actor = _editor()
    with runtime().db.read() as session:
        text = route_drafts.get(session, actor, key, draft_id).bpmn
    return Response(text, mimetype="application/xml", headers={"Cache-Control": "no-store"})


@bp.route("/routes/<key>/drafts/<int:draft_id>/opslaan", methods=["POST"])
def draft_save(key: str, draft_id: int) -> Any:
    """Save (optimistically locked) and validate: the editor's every save. JSON in, JSON out."""
    actor = _editor()
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not isinstance(body.get("bpmn"), str) or not isinstance(body.get("version"), int):
        return _json_error(InvalidData("Stuur bpmn, forms en version als JSON."))
    try:
        with runtime().db.transaction() as session:
            draft = route_drafts.save(session, actor, key, draft_id, body["version"], body["bpmn"],
                                      body.get("forms") or {})
            version = draft.version
        with runtime().db.read() as session:
            draft = route_drafts.get(session, actor, key, draft_id)
            problems = route_drafts.problem_list(route_drafts.validate(session, draft))
            changes = _changes(session, draft)
    except LoketError as exc:
        return _json_error(exc)
    return jsonify({"version": version, "problems": problems, "changes": changes})


def _changes(session: Any, draft: Any) -> dict[str, list[str]]:
    """The ids the editor colours: elements added or changed since the version the draft came from."""
    base = session.get(RouteVersion, draft.base_version_id) if draft.base_version_id else None
    if base is None:
        return {"added": [], "changed": []}
    try:
        result = route_diff.diff(base.bpmn, base.forms, draft.bpmn, draft.forms)
    except ValueError:  # a draft that does not parse: its problem is listed already
        return {"added": [], "changed": []}
    return {"added": result.added, "changed": sorted(result.changed)}


@bp.route("/routes/<key>/drafts/<int:draft_id>/publiceren", methods=["POST"])
def draft_publish(key: str, draft_id: int) -> Any:
    actor = _editor()
    body = request.get_json(silent=True) or {}
    try:
        with runtime().db.transaction() as session:
            done = route_drafts.publish_draft(session, actor, key, draft_id, str(body.get("note") or ""),
                                              body.get("version") if isinstance(body.get("version"), int) else None)
    except LoketError as exc:
        return _json_error(exc)
    flash(f"Route {done.key} versie {done.number} is gepubliceerd. Lopende dossiers blijven op hun eigen versie.",
          "ok")
    return jsonify({"route": done.key, "version": done.number, "sha256": done.sha256,
                    "location": url_for("ui.routes_index")})


@bp.route("/routes/<key>/drafts/<int:draft_id>/voorbeeld", methods=["POST"])
def draft_preview(key: str, draft_id: int) -> Any:
    """The form as the task page renders it (htmx): the same renderer and field templates."""
    _editor()
    text = request.form.get("schema", "")
    try:
        schema = json.loads(text)
    except json.JSONDecodeError as exc:
        return render_template("routes_preview.html", error=f"Geen geldige JSON (regel {exc.lineno}): {exc.msg}")
    if not isinstance(schema, dict):
        return render_template("routes_preview.html", error="Een formulier is een JSON-object (een JSON Schema).")
    try:
        fields = form_fields(schema, {})
    except Exception as exc:  # a schema the renderer cannot read: say so, do not fail the page
        return render_template("routes_preview.html", error=f"Dit schema kan niet worden getoond: {exc}")
    return render_template("routes_preview.html", fields=fields, title=schema.get("title"))


# ---------------------------------------------------------------- what changed (issue 11's diff: drawn and in words)


def _version(session: Any, key: str, number: int) -> Any:
    from sqlalchemy import select

    from engine.errors import NotFound
    from engine.models import Route

    found = session.scalar(select(RouteVersion).join(Route).where(Route.key == key, RouteVersion.number == number))
    if found is None:
        raise NotFound(f"Route '{key}' heeft geen versie {number}.")
    return found


def _number(name: str) -> int:
    text = request.args.get(name, "")
    if not (text.isdigit() and 0 < len(text) < 7):
        raise InvalidData(f"Geef met ?{name}= een versienummer.")
    return int(text)


@bp.route("/routes/<key>/verschil")
def versions_diff(key: str) -> Any:
    """Two published versions compared: ``?van=1&naar=2``."""
    _editor()
    old_n, new_n = _number("van"), _number("naar")
    with runtime().db.read() as session:
        old, new = _version(session, key, old_n), _version(session, key, new_n)
        result = route_diff.diff(old.bpmn, old.forms, new.bpmn, new.forms)
    drawings = {"old": url_for("ui.version_bpmn", key=key, number=old_n),
                "new": url_for("ui.version_bpmn", key=key, number=new_n)} if old_n != new_n else None
    return render_template("routes_diff.html", key=key, before=f"versie {old_n}", after=f"versie {new_n}",
                           diff=result, drawings=drawings, back=url_for("ui.routes_index"))


@bp.route("/routes/<key>/versies/<int:number>/bpmn")
def version_bpmn(key: str, number: int) -> Any:
    """A published version's BPMN, for the diagrams of the diff page (a version never changes)."""
    _editor()
    with runtime().db.read() as session:
        text = _version(session, key, number).bpmn
    return Response(text, mimetype="application/xml", headers={"Cache-Control": "private, max-age=3600"})


@bp.route("/routes/<key>/drafts/<int:draft_id>/verschil")
def draft_diff(key: str, draft_id: int) -> Any:
    """The draft as saved, against the version it was made from."""
    actor = _editor()
    with runtime().db.read() as session:
        draft = route_drafts.get(session, actor, key, draft_id)
        base = session.get(RouteVersion, draft.base_version_id) if draft.base_version_id else None
        try:
            result = route_diff.diff(base.bpmn if base else "<x/>", base.forms if base else {}, draft.bpmn,
                                     draft.forms)
        except ValueError as exc:
            raise InvalidData(f"Het concept is niet te vergelijken: {exc}") from exc
        before = f"versie {base.number}" if base else "niets (nieuwe route)"
        # A new route has nothing to draw beside it: the listing says it is all new.
        drawings = {"old": url_for("ui.version_bpmn", key=key, number=base.number),
                    "new": url_for("ui.draft_bpmn", key=key, draft_id=draft_id)} if base else None
    return render_template("routes_diff.html", key=key, before=before, after=f"concept {draft_id}", diff=result,
                           drawings=drawings, back=url_for("ui.draft_editor", key=key, draft_id=draft_id))


# ---------------------------------------------------------------- zaken overzetten (issue 11's migrate)


@bp.route("/routes/<key>/overzetten", methods=["GET", "POST"])
def migrate_cases(key: str) -> Any:
    """``?van=1&naar=2``: which of the SWV's open cases on version 1 can move to 2 and why not; the form moves
    those that can (each in its own transaction) and shows what happened (htmx: just that section)."""
    actor = _editor()
    migration.authorize(actor)
    owner = actor.acting_as(next(r for r in migration.MIGRATE_ROLES if actor.has(r)))
    migrator = migration.Migrator(runtime())
    if request.method == "POST":
        old_n, new_n = _form_number("van"), _form_number("naar")
        outcome = migrator.migrate(key, old_n, new_n, lambda case: owner, tenant_id=actor.tenant_id)
    else:
        old_n, new_n = _number("van"), _number("naar")
        outcome = migrator.preview(key, old_n, new_n, tenant_id=actor.tenant_id)
    with runtime().db.read() as session:
        title = _version(session, key, new_n).title
    if is_htmx():
        return render_template("_routes_migrate.html", key=key, outcome=outcome)
    return render_template("routes_migrate.html", key=key, title=title, outcome=outcome)


def _form_number(name: str) -> int:
    text = request.form.get(name, "")
    if not (text.isdigit() and 0 < len(text) < 7):
        raise InvalidData(f"Geef in het veld {name} een versienummer.")
    return int(text)
