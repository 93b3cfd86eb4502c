"""Dutch error pages for the web app (the REST API keeps its JSON errors).

403, 404 (also for what is out of the user's scope), 409 (someone else changed the case: reload, what was typed is
kept), 400 (a form without its CSRF token), 503 (the database is busy) and 500: no traceback, an incident id that
is in the log too, so a beheerder finds the cause from what the user reads out.
"""

from __future__ import annotations

import logging
import sqlite3
import uuid
from typing import Any

from flask import Flask, Response, render_template, request
from werkzeug.exceptions import HTTPException

from engine.errors import LoketError, ServiceUnavailable

from . import bp, is_htmx

log = logging.getLogger("loket.web")

TITLES = {
    400: "Het verzoek klopt niet",
    401: "Log in",
    403: "Geen toegang",
    404: "Niet gevonden",
    405: "Niet toegestaan",
    409: "Iemand anders was u voor",
    413: "Te groot",
    422: "Niet goed ingevuld",
    500: "Er ging iets mis",
    503: "Even bezet",
}
MESSAGES = {
    400: "Het formulier kon niet worden verwerkt. Laad de pagina opnieuw en probeer het nog eens.",
    403: "U mag dit niet doen met uw rol.",
    404: "Deze pagina bestaat niet, of u heeft er geen toegang toe.",
    405: "Dit kan op deze pagina niet.",
    409: "Iemand anders heeft dit dossier intussen gewijzigd. Laad de pagina opnieuw.",
    413: "Wat u stuurde is te groot.",
    500: "Er ging iets mis aan onze kant. De actie is niet uitgevoerd.",
    503: "De database is even bezet; probeer het over enkele seconden opnieuw. Er is niets gewijzigd.",
}


def page(status: int, message: str | None = None, *, kept: dict[str, Any] | None = None,
         incident: str | None = None, headers: dict[str, str] | None = None) -> Response:
    """The error page (or, for htmx, the fragment that takes the panel's place)."""
    template = "_error.html" if is_htmx() else "error.html"
    body = render_template(template, status=status, title=TITLES.get(status, "Er ging iets mis"),
                           message=message or MESSAGES.get(status, MESSAGES[500]), kept=kept or {},
                           incident=incident, back=request.referrer)
    response = Response(body, status=status, headers=headers or {}, mimetype="text/html")
    return response


def incident_page(exc: BaseException) -> Response:
    incident = uuid.uuid4().hex[:12]
    log.error("incident %s bij %s %s", incident, request.method, request.path, exc_info=exc)
    return page(500, incident=incident)


def _html(status: int, message: str | None = None, headers: dict[str, str] | None = None) -> Response:
    return page(status, message, headers=headers)


@bp.errorhandler(LoketError)
def _loket_error(exc: LoketError) -> Response:
    headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, ServiceUnavailable) else None
    return _html(exc.status, exc.message, headers)


@bp.errorhandler(HTTPException)
def _http_error(exc: HTTPException) -> Response:
    return _html(exc.code or 500, None)


@bp.errorhandler(Exception)
def _unexpected(exc: Exception) -> Response:
    if _busy(exc):
        return _html(503, None, {"Retry-After": "2"})
    return incident_page(exc)


def _busy(exc: BaseException) -> bool:
    """SQLite's write lock held by another process past the busy timeout (the API answers 503 for it too)."""
    original = getattr(exc, "orig", exc)
    return isinstance(original, sqlite3.OperationalError) and any(
        word in str(original).lower() for word in ("database is locked", "database is busy"))


def install(app: Flask) -> None:
    """Outside the pages' own views (an unknown URL, a wrong method) the app's JSON answer stays for the API and
    a page answers everything else."""
    handlers = app.error_handler_spec[None][None]
    api_http = handlers.get(HTTPException)

    def http_error(exc: HTTPException) -> Any:
        if request.path.startswith("/api/") or api_http is None:
            return api_http(exc) if api_http is not None else exc
        return _html(exc.code or 500, None)

    app.register_error_handler(HTTPException, http_error)
