"""Loket's web app: the REST API (and, later, the case worker's screens)."""

from __future__ import annotations

import logging
import os
import re
import sqlite3
from http import HTTPStatus
from typing import Any

import marshmallow as ma
from apispec import BasePlugin
from flask import Flask, Response, g, jsonify
from flask_smorest import Api
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from werkzeug.exceptions import HTTPException

import handlers  # noqa: F401  (the app factory is an edge of Loket: importing the handlers registers them)
from engine.config import Settings
from engine.db import Database
from engine.errors import LoketError, ServiceUnavailable
from engine.runtime import build_runtime

log = logging.getLogger("loket.web")


class ErrorDetail(ma.Schema):
    code = ma.fields.String(required=True, metadata={"description": "bad_request, unauthorized, forbidden, ..."})
    message = ma.fields.String(required=True, metadata={"description": "Wat er mis is, in het Nederlands."})
    details = ma.fields.Dict(required=True, metadata={"description": "Per veld de meldingen (422), anders leeg."})


class ErrorBody(ma.Schema):
    """Every error Loket answers: ``{"error": {"code", "message", "details"}}`` (README)."""

    error = ma.fields.Nested(ErrorDetail, required=True)


class LoketApi(Api):
    ERROR_SCHEMA = ErrorBody  # what the document declares for every error answer


def error_statuses(method: str, path: str) -> list[int]:
    """The error answers an operation can give besides 500 (``default``): every operation 401 (no or a bad token),
    422 (an unknown or invalid query parameter) and 503 (the database is busy); 403 (role, school) and 404 (an
    unknown id or route) all but the two lists that any user reads; a POST also 400 (malformed JSON, no body),
    409 (a conflict with the case's state or another writer), 413 (too large) and 415 (not JSON)."""
    statuses = {401, 422, 503}
    if (method, path) not in {("get", "/api/v1/routes"), ("get", "/api/v1/tasks")}:
        statuses |= {403, 404}
    if method in ("post", "put"):  # PUT: a route draft's save (409: a stale version)
        statuses |= {400, 409, 413, 415}
    return sorted(statuses)


class ErrorResponses(BasePlugin):
    """Declares Loket's error answers on every operation (as references to flask-smorest's responses named after
    the status, whose schema is ErrorBody), so a client and schemathesis know each one."""

    def operation_helper(self, path: str | None = None, operations: dict | None = None, **kwargs: Any) -> None:
        for method, operation in (operations or {}).items():
            responses = operation.setdefault("responses", {})
            for status in error_statuses(method, path or ""):
                responses.setdefault(str(status), HTTPStatus(status).name)


# A request body past this many bytes is refused (413) before it is read: one upload must not take the memory
# that every other user needs. LOKET_MAX_REQUEST_BYTES changes it.
MAX_REQUEST_BYTES = 1_000_000


def create_app(settings: Settings | None = None, database: Database | None = None) -> Flask:
    settings = settings or Settings()
    app = Flask(__name__)
    app.config.update(
        MAX_CONTENT_LENGTH=int(os.environ.get("LOKET_MAX_REQUEST_BYTES") or MAX_REQUEST_BYTES),
        SECRET_KEY=settings.secret_key,
        API_TITLE="Loket",
        API_VERSION="v1",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/api/v1",
        OPENAPI_JSON_PATH="openapi.json",
        JSON_SORT_KEYS=False,
    )
    database = database or Database(settings.database_url, busy_timeout=settings.sqlite_busy_timeout)
    app.extensions["loket"] = build_runtime(database, settings)
    from . import ops

    ops.install(app, database)  # request ids, JSON access log, /healthz, /readyz, /metrics

    from .api import ID_SCHEMA, IdConverter, audit, cases, documents, drafts, intake, migration, routes, swv, tasks

    app.url_map.converters["id"] = IdConverter
    api = LoketApi(app, spec_kwargs={"components": {"securitySchemes": {
        "bearer": {"type": "http", "scheme": "bearer"}}}, "security": [{"bearer": []}],
        "extra_plugins": [ErrorResponses()]})
    api.register_converter(IdConverter, lambda converter: dict(ID_SCHEMA))
    for blueprint in (routes.blp, cases.blp, tasks.blp, audit.blp, documents.blp, drafts.blp, migration.blp,
                      swv.blp):
        api.register_blueprint(blueprint, url_prefix="/api/v1")
    intake.install(app)
    _register_errors(app)

    from . import ui  # the case worker's pages (login, inbox, task forms, ...): web/ui

    ui.install(app, settings)

    return app


def _error(status: int, code: str, message: str, details: Any = None,
           headers: dict[str, str] | None = None) -> Response:
    response = jsonify({"error": {"code": code, "message": message, "details": details or {}}})
    response.status_code = status
    response.headers.update(headers or {})
    return response


# marshmallow's and webargs' messages, in Dutch: (English pattern, Dutch replacement). Whatever is not listed gets
# the generic Dutch message, so no English reaches a user.
_DUTCH = [(re.compile(pattern), dutch) for pattern, dutch in [
    (r"Missing data for required field\.", "Dit veld is verplicht."),
    (r"Unknown field\.", "Onbekend veld."),
    (r"Field may not be null\.", "Mag niet leeg (null) zijn."),
    (r"Not a valid string\.", "Moet tekst zijn."),
    (r"Not a valid integer\.", "Moet een geheel getal zijn."),
    (r"Not a valid number\.", "Moet een getal zijn."),
    (r"Number too large\.", "Dit getal is te groot."),
    (r"Not a valid boolean\.", "Moet true of false zijn."),
    (r"Not a valid mapping type\.", "Moet een object zijn."),
    (r"Not a valid list\.", "Moet een lijst zijn."),
    (r"Not a valid (aware |naive )?datetime\.|Not a valid (date|time)\.",
     "Moet een tijdstip zijn in ISO 8601 met tijdzone, bv. 2026-09-01T12:00:00+02:00."),
    (r"Invalid input type\.", "Het verzoek moet een JSON-object zijn."),
    (r"Must be greater than or equal to (\S+) and less than or equal to (\S+)\.", r"Moet tussen \1 en \2 liggen."),
    (r"Must be greater than or equal to (\S+)\.", r"Moet minstens \1 zijn."),
    (r"Must be less than or equal to (\S+)\.", r"Mag hoogstens \1 zijn."),
    (r"Length must be between (\S+) and (\S+)\.", r"Moet \1 tot \2 tekens zijn."),
    (r"Shorter than minimum length (\S+)\.", r"Moet minstens \1 tekens zijn."),
    (r"Longer than maximum length (\S+)\.", r"Mag hoogstens \1 tekens zijn."),
    (r"Must be one of: (.*)\.", r"Moet een van deze waarden zijn: \1."),
]]


def dutch(message: str) -> str:
    """A validation message in Dutch (the schemas' own messages already are)."""
    for pattern, replacement in _DUTCH:
        if pattern.fullmatch(message):
            return pattern.sub(replacement, message)
    if message.startswith(("Moet ", "Mag ", "Dit ", "Onbekend", "Bevat ")):
        return message
    return "Ongeldige waarde."


def _flatten(messages: Any, prefix: str = "") -> dict[str, list[str]]:
    """webargs' nested messages -> {"field.path": [Dutch messages]}; a schema-wide one (``_schema``) belongs to
    the object it is about."""
    out: dict[str, list[str]] = {}
    if isinstance(messages, dict):
        for key, value in messages.items():
            path = prefix if key == "_schema" else (f"{prefix}.{key}" if prefix else str(key))
            for field, texts in _flatten(value, path).items():
                out.setdefault(field, []).extend(texts)
    else:
        texts = messages if isinstance(messages, list) else [messages]
        out[prefix or "(verzoek)"] = [dutch(str(m)) for m in texts]
    return out


def _size(limit: int) -> str:
    if limit % 1_000_000 == 0:
        return f"{limit // 1_000_000} MB"
    return f"{limit // 1000} kB" if limit % 1000 == 0 else f"{limit} bytes"


def _busy(exc: BaseException) -> bool:
    """SQLite's write lock held by another process for longer than the busy timeout, or a PostgreSQL row or
    table lock held past lock_timeout (lock_not_available, SQLSTATE 55P03; LOKET_PG_LOCK_TIMEOUT)."""
    original = exc.orig if isinstance(exc, OperationalError) else exc
    if getattr(original, "sqlstate", None) == "55P03":
        return True
    return isinstance(original, sqlite3.OperationalError) and any(
        word in str(original).lower() for word in ("database is locked", "database is busy"))


def _unreachable(exc: BaseException) -> bool:
    """PostgreSQL away for a moment (restarted, failed over, a connection cut): the request may be tried again.
    The pool checks a connection before lending it (pre_ping), so the first request after the database is back
    gets a fresh one. The causes are followed too: cleaning up after a cut connection can raise an error of its
    own (SQLAlchemy's PendingRollbackError from a rollback listener), which is still the cut connection."""
    cause: BaseException | None = exc
    for _ in range(8):
        if cause is None:
            break
        if isinstance(cause, DBAPIError) and cause.connection_invalidated:
            return True
        if isinstance(cause, OperationalError | InterfaceError) and not isinstance(cause.orig, sqlite3.Error):
            return True
        cause = cause.__cause__ or cause.__context__
    return False


def _register_errors(app: Flask) -> None:
    @app.errorhandler(LoketError)
    def loket_error(exc: LoketError) -> Response:
        headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, ServiceUnavailable) else None
        return _error(exc.status, exc.code, exc.message, exc.details, headers)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Response:
        data = getattr(exc, "data", None) or {}
        status = exc.code or 500
        if status == 422 and "messages" in data:
            details: dict[str, list[str]] = {}
            for location in data["messages"].values():  # webargs: {"json": {...}, "query": {...}}
                details.update(_flatten(location))
            return _error(422, "invalid_data", "Het verzoek bevat ongeldige velden.", details)
        if status == 413:
            limit = _size(g.get("loket_upload_limit") or app.config["MAX_CONTENT_LENGTH"])  # an upload has its own
            return _error(413, "payload_too_large", f"Het verzoek is groter dan {limit}; stuur minder gegevens.")
        known = {
            400: ("bad_request", "Het verzoek is niet geldig."),
            401: ("unauthorized", "Geef een geldig API-token mee: Authorization: Bearer <token>."),
            403: ("forbidden", "U mag dit niet."),
            404: ("not_found", "Deze URL bestaat niet."),
            405: ("method_not_allowed", "Deze methode is hier niet toegestaan."),
            409: ("conflict", "Het verzoek botst met de huidige stand van zaken."),
            415: ("unsupported_media_type", "Stuur de body als JSON, met Content-Type: application/json."),
        }
        code, message = known.get(status, ("http_error", f"Het verzoek kan niet worden verwerkt (HTTP {status})."))
        return _error(status, code, message)

    @app.errorhandler(Exception)
    def unexpected(exc: Exception) -> Response:
        if _busy(exc):
            log.warning("database bezet: %s", exc)
            busy = ServiceUnavailable("De database is even bezet; probeer het over enkele seconden opnieuw. "
                                      "Er is niets gewijzigd.")
            return loket_error(busy)
        if _unreachable(exc):
            log.warning("database niet bereikbaar: %s", exc)
            return loket_error(ServiceUnavailable("De database is even niet bereikbaar; probeer het over enkele "
                                                  "seconden opnieuw.", retry_after=2))
        log.exception("onverwachte fout")
        from .ops import request_id

        incident = request_id() or ""  # the request id: in the log line above and in the X-Request-ID header
        return _error(500, "internal_error", "Er ging iets mis aan onze kant. De actie is niet uitgevoerd. "
                      f"Noem bij een melding incident {incident}.", {"incident": incident})
