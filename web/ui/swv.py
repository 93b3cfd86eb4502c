"""The SWV page (``/swv``, procesbeheerder and beheerder; others 403): the SWV's configuration as its file and
later changes made it, its own term per route with a form to change it, and the history of every change.

A change of a term is an event (engine.tenant_events.change, the code path of ``loket tenants term``), checked as
that command checks it (engine.swv_settings.checked_term): a Dutch message per field, what was typed kept. The
form carries the number of the last change the person saw: a change by someone else in between is a 409, with
nothing overwritten."""

from __future__ import annotations

from typing import Any

from flask import flash, g, redirect, render_template, request, url_for
from sqlalchemy import select

from engine import clock, route_drafts, swv_settings, tenant_events
from engine.errors import Conflict, InvalidData, NotFound
from engine.models import Route, Tenant
from engine.tenant_events import Who
from engine.vocabulary import ROLES, Role

from . import bp, current_actor, runtime

CHANNELS = {"bestand": "SWV-bestand", "web": "webpagina", "api": "API", "cli": "commandoregel"}


def _owner() -> Any:
    actor = current_actor()
    route_drafts.require_editor(actor)  # procesbeheerder or beheerder, as the route pages
    return actor.acting_as(Role.PROCESBEHEERDER if actor.has(Role.PROCESBEHEERDER) else Role.BEHEERDER)


def _route_keys(session: Any, tenant: Tenant) -> list[str]:
    """The routes of the page: those the SWV runs (or every deployed one), and any with a term of its own."""
    deployed = list(session.scalars(select(Route.key).order_by(Route.key)))
    settings = tenant.settings or {}
    keys = [k for k in settings.get("routes") or deployed]
    return sorted(set(keys) | set(settings.get("terms") or {}))


def _page(actor: Any, typed: dict[str, Any] | None = None, errors: dict[str, list[str]] | None = None,
          problem: str | None = None, status: int = 200) -> Any:
    with runtime().db.read() as session:
        tenant = session.get(Tenant, actor.tenant_id)
        assert tenant is not None
        settings = dict(tenant.settings or {})
        terms = settings.get("terms") or {}
        rows = []
        titles = {key: title for key, title in session.execute(select(Route.key, Route.title))}
        for key in _route_keys(session, tenant):
            own = terms.get(key)
            values = typed if typed is not None and typed.get("route") == key else (own or {})
            rows.append({"key": key, "own": own, "values": values, "tasks": swv_settings.user_tasks(session, key),
                         "title": titles.get(key, key), "open": typed is not None and typed.get("route") == key,
                         "runs": swv_settings.runs(tenant, key),
                         "errors": errors if typed is not None and typed.get("route") == key else {},
                         "windows": [swv_settings.window_text(w)
                                     for w in (settings.get("intake_windows") or {}).get(key) or []]})
        history = [{"at": clock.format_moment(e.at), "actor": e.actor, "channel": CHANNELS.get(e.channel, e.channel),
                    "path": e.path, "what": tenant_events.what(e.path),
                    "before": tenant_events.short(e.before, e.path), "after": tenant_events.short(e.after, e.path),
                    "reason": e.reason, "version": e.version}
                   for e in tenant_events.history(session, tenant.id, limit=100)]
        marker = tenant_events.loaded_file(session, tenant.id)
        seen = tenant_events.last_seq(session, tenant.id)
        info = {"name": tenant.name, "key": tenant.key, "region": tenant.region,
                "code": (settings.get("tlv") or {}).get("code"), "routes": settings.get("routes"),
                "lwoo": settings.get("lwoo"), "commissions": settings.get("commissions") or [],
                "labels": settings.get("labels") or {}, "herbeoordeling": settings.get("herbeoordeling"),
                "max_extensions": settings.get("max_extensions", 1),
                "file": (marker.after.get("file"), marker.version) if marker is not None else None}
    spoken = swv_settings.spoken
    return render_template("swv.html", info=info, rows=rows, history=history, seen=seen, roles=ROLES,
                           problem=problem, spoken=spoken), status


@bp.route("/swv")
def swv_page() -> Any:
    return _page(_owner())


def _typed(route_key: str) -> dict[str, Any]:
    form = request.form
    extensions = (form.get("extensions") or "").strip()
    return {"route": route_key, "term": (form.get("term") or "").strip(), "from": form.get("from") or None,
            "escalateTo": form.get("escalateTo") or Role.BESTUURDER, "legal": form.get("legal") == "ja",
            "extensions": int(extensions) if extensions.isdigit() and len(extensions) < 4 else extensions or None,
            "reason": (form.get("reason") or "").strip()}


@bp.route("/swv/termijnen/<route_key>", methods=["POST"])
def swv_term(route_key: str) -> Any:
    actor = _owner()
    typed = _typed(route_key)
    remove = request.form.get("actie") == "verwijderen"
    seen_text = request.form.get("seen", "")
    seen = int(seen_text) if seen_text.isdigit() and len(seen_text) < 10 else -1
    try:
        with runtime().db.transaction() as session:
            tenant = session.get(Tenant, actor.tenant_id)
            assert tenant is not None
            if route_key not in _route_keys(session, tenant):
                raise NotFound("Deze route bestaat niet voor uw samenwerkingsverband.")
            problems: dict[str, list[str]] = {}
            if not typed["reason"]:
                problems["reason"] = ["Geef de reden van de wijziging (bijvoorbeeld het besluit van het bestuur)."]
            term = None
            if not remove:
                try:
                    term = swv_settings.checked_term(session, tenant, route_key, typed)
                except InvalidData as exc:
                    problems.update(exc.details or {})
            if problems:
                raise InvalidData("De termijn is niet goed ingevuld.", problems)
            changed = tenant_events.change(session, tenant, f"terms.{route_key}", term, Who.of(actor, "web"),
                                           reason=typed["reason"], seen_seq=seen)
    except InvalidData as exc:
        return _page(actor, typed, exc.details or {}, exc.message, 422)
    except Conflict as exc:
        return _page(actor, typed, {}, exc.message, 409)
    if changed is None:
        flash(f"De termijn van {route_key} was al zo; er is niets gewijzigd.", "info")
    else:
        flash(f"De termijn van {route_key} is {'verwijderd' if remove else 'gewijzigd'}.", "ok")
    return redirect(url_for("ui.swv_page") + f"#termijn-{route_key}", 303)


@bp.app_template_global()
def step_title(name: str | None, title: str | None) -> str | None:
    """The SWV's own name of a step (``settings.labels``, Westelijke Mijnstreek's 'Knooppunt') where pages show a
    task's name: inbox, task page, case page; else its title. A template global, so macros see it too."""
    user = g.get("loket_user")
    settings = (user.tenant.settings or {}) if user is not None else {}
    return swv_settings.label(settings, name, title)
