"""Logging in and out, and who is logged in on every page request.

The session is Flask's signed cookie (HttpOnly, SameSite=Lax, Secure behind TLS): the user's id, a mark of what
the session depends on (``engine.logins.session_mark``: a new password or a deactivation ends it), and the moment
of the last request, for the idle timeout. Nothing in it is secret; the signature keeps it from being forged.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlsplit

from flask import current_app, flash, g, redirect, render_template, request, session, url_for
from werkzeug.wrappers import Response

from engine import clock, logins
from engine.auth import actor_for
from engine.models import User

from .. import ops
from . import PUBLIC, bp, is_htmx, runtime

log = logging.getLogger("loket.web.auth")

EXPIRED = "Uw sessie is verlopen omdat u een tijd niets heeft gedaan. Log opnieuw in."
ENDED = "Uw sessie is beëindigd (wachtwoord gewijzigd of account gedeactiveerd). Log opnieuw in."


def _safe_next(target: str | None) -> str:
    """Only a path of this site to go back to after logging in, never another site."""
    if not target:
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return "/"
    return target


def _to_login(message: str | None = None) -> Response:
    if message:
        flash(message, "warning")
    target = request.full_path if request.method == "GET" else None
    if target and target.endswith("?"):
        target = target[:-1]
    where = url_for("ui.login", volgende=target) if target and target != "/" else url_for("ui.login")
    if is_htmx():
        # htmx would swap the login page into the panel; have it load the whole page instead.
        response = current_app.response_class(status=401)
        response.headers["HX-Redirect"] = where
        return response
    return redirect(where)


@bp.before_app_request
def _who_is_there() -> Response | None:
    """Load the logged-in user for every page; a page that needs one sends the visitor to the login."""
    g.loket_user = g.loket_actor = None
    if request.endpoint == "static" or (request.path.startswith("/api/") and request.endpoint != "ui.api_docs"):
        return None  # the REST API has its own tokens
    uid = session.get("uid")
    if uid is not None:
        now = clock.now().timestamp()
        idle = current_app.config["LOKET_SESSION_IDLE"].total_seconds()
        if now - float(session.get("seen", 0)) > idle:
            session.clear()
            return None if request.endpoint in PUBLIC else _to_login(EXPIRED)
        with runtime().db.read() as db:
            user = db.get(User, uid)
            if user is None or not user.active or logins.session_mark(user) != session.get("mark"):
                session.clear()
                return None if request.endpoint in PUBLIC else _to_login(ENDED)
            _ = user.tenant, user.school, user.roles  # loaded while the session is open
            db.expunge(user)
        g.loket_user, g.loket_actor = user, actor_for(user)
        ops.note_user(user.id)
        session["seen"] = now
    if g.loket_actor is None and request.endpoint not in PUBLIC and request.blueprint == "ui":
        return _to_login()
    return None


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    next_page = _safe_next(request.values.get("volgende"))
    if request.method == "GET":
        if g.loket_actor is not None:
            return redirect(next_page)
        return render_template("login.html", email="", error=None, next_page=next_page)
    email = request.form.get("email", "")
    password = request.form.get("wachtwoord", "")
    with runtime().db.transaction() as db:  # the try is recorded whatever its outcome
        outcome = logins.log_in(db, email, password, request.remote_addr)
        user = outcome.user
        mark = logins.session_mark(user) if user is not None else None
        uid = user.id if user is not None else None
    if uid is None:
        log.info("inloggen mislukt voor %s", email.strip().lower()[:254])
        return render_template("login.html", email=email, error=outcome.message, next_page=next_page), 401
    session.clear()  # a fresh session (and CSRF token) for the new login
    session.update(uid=uid, mark=mark, seen=clock.now().timestamp())
    return redirect(next_page)


@bp.route("/logout", methods=["POST"])
def logout() -> Response:
    session.clear()
    flash("U bent uitgelogd.", "info")
    return redirect(url_for("ui.login"))
