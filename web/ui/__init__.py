"""The case worker's screens: Jinja templates with htmx, NL Design System (Utrecht) CSS built from npm.

One blueprint, ``ui``, for every page. Each module of this package adds its views to it (``from . import bp``);
``install`` imports them all, so a new page module needs no registration line. What a page module uses:

- ``current_actor()`` / ``current_user()``: who is logged in (every view but the public ones requires a login);
- ``runtime()``: the engine, as the API uses it; reads and writes go through it and ``engine.permissions``;
- ``record_read(what, case_id)``: a read in the access log, channel ``web``, like the API's reads;
- ``hidden_if_forbidden()``: a case or task out of the user's scope answers 404, like a missing one;
- ``is_htmx()``: the request came from htmx (answer with the fragment, not the page).
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

from flask import Blueprint, Flask, current_app, g, request
from flask_wtf.csrf import CSRFProtect

from engine import access
from engine.auth import Actor
from engine.cases import Runtime
from engine.config import Settings
from engine.errors import Forbidden, NotFound
from engine.models import User

bp = Blueprint("ui", __name__, template_folder="templates")
csrf = CSRFProtect()

# Views anyone may open without logging in.
PUBLIC = {"ui.login", "ui.api_docs", "static"}
# Methods that change something: they need the CSRF token (form field ``csrf_token`` or header ``X-CSRFToken``).
WRITES = {"POST", "PUT", "PATCH", "DELETE"}


def install(app: Flask, settings: Settings) -> None:
    """The web pages on ``app``: session cookie, CSRF on every form outside the token-authenticated API, the
    page modules, and Dutch error pages for everything that is not the API."""
    app.config.update(
        SESSION_COOKIE_NAME="loket_sessie",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.secure_cookies,
        LOKET_SESSION_IDLE=timedelta(minutes=settings.session_idle_minutes),
        # The token lives as long as the session (which ends after the idle timeout), not an hour of its own.
        WTF_CSRF_TIME_LIMIT=None,
        # Checked below for the pages only: the REST API authenticates every request with a token, not a cookie.
        WTF_CSRF_CHECK_DEFAULT=False,
    )
    csrf.init_app(app)

    @app.before_request
    def _csrf() -> None:
        if request.method in WRITES and not request.path.startswith("/api/"):
            csrf.protect()

    # Imported by name, not by an import statement: the page modules import this package (bp, the helpers).
    pages = {info.name: importlib.import_module(f"{__name__}.{info.name}") for info in pkgutil.iter_modules(__path__)}
    app.register_blueprint(bp)
    pages["errors"].install(app)


def runtime() -> Runtime:
    return current_app.extensions["loket"]


def current_actor() -> Actor:
    return g.loket_actor


def current_user() -> User:
    return g.loket_user


def roles(actor: Actor) -> list[str]:
    """Every role the actor holds, primary first."""
    held = getattr(actor, "roles", None) or {actor.role}
    return [actor.role, *sorted(r for r in held if r != actor.role)]


def record_read(what: str, case_id: int | None = None) -> None:
    """Note a read in the access log (channel ``web``), after the read succeeded, as the API does."""
    access.record(runtime().db, current_actor(), what, "web", case_id)


@contextmanager
def hidden_if_forbidden() -> Iterator[None]:
    """Something outside the user's scope is answered like something missing: 404, never a hint it exists."""
    try:
        yield
    except Forbidden as exc:
        raise NotFound("Deze pagina bestaat niet, of u heeft er geen toegang toe.") from exc


def is_htmx() -> bool:
    return request.headers.get("HX-Request") == "true"


@bp.app_context_processor
def _page_context() -> dict[str, Any]:
    user = g.get("loket_user")
    actor = g.get("loket_actor")
    if user is None or actor is None:
        return {"me": None, "nav": []}
    me = {"email": user.email, "roles": roles(actor), "tenant": user.tenant.name,
          "school": user.school.name if user.school else None}
    nav = [("/", "Inbox"), ("/cases", "Dossiers"), ("/cases/new", "Nieuw dossier")]
    if any(r in ("auditor", "beheerder") for r in me["roles"]):
        nav.append(("/audit", "Audit"))
    nav.append(("/api/v1/docs", "API-documentatie"))
    return {"me": me, "nav": nav}


@bp.route("/api/v1/docs")
def api_docs() -> str:
    """Swagger UI on the app's own OpenAPI document, from the local build (swagger-ui-dist): no CDN."""
    from flask import render_template, url_for

    return render_template("api_docs.html", spec=url_for("api-docs.openapi_json"))
