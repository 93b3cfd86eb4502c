"""Loket's web app: the REST API (and, later, the case worker's screens)."""

from __future__ import annotations

import logging

import marshmallow as ma
from flask import Flask, jsonify
from flask_smorest import Api
from werkzeug.exceptions import HTTPException

import handlers  # noqa: F401  (the app factory is an edge of Loket: importing the handlers registers them)
from engine.config import Settings
from engine.db import Database
from engine.errors import LoketError
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


def create_app(settings: Settings | None = None, database: Database | None = None) -> Flask:
    settings = settings or Settings()
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=settings.secret_key,
        API_TITLE="Loket",
        API_VERSION="v1",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/api/v1",
        OPENAPI_JSON_PATH="openapi.json",
        JSON_SORT_KEYS=False,
    )
    database = database or Database(settings.database_url)
    app.extensions["loket"] = build_runtime(database, settings)

    api = LoketApi(app, spec_kwargs={"components": {"securitySchemes": {
        "bearer": {"type": "http", "scheme": "bearer"}}}, "security": [{"bearer": []}]})
    from .api import audit, cases, routes, tasks

    for blueprint in (routes.blp, cases.blp, tasks.blp, audit.blp):
        api.register_blueprint(blueprint, url_prefix="/api/v1")
    _register_errors(app)

    @app.get("/")
    def index():
        # The case worker's screens come with the inbox; until then, point people to the API.
        return (
            "<!doctype html><html lang=nl><meta charset=utf-8><title>Loket</title>"
            "<h1>Loket</h1><p>Loket draait. De API staat op <a href=/api/v1/openapi.json>/api/v1</a> "
            "(OpenAPI); gebruik een API-token: <code>Authorization: Bearer &lt;token&gt;</code>.</p></html>"
        )

    return app


def _error(status: int, code: str, message: str, details=None):
    response = jsonify({"error": {"code": code, "message": message, "details": details or {}}})
    response.status_code = status
    return response


def _flatten(messages, prefix: str = "") -> dict[str, list[str]]:
    """webargs' nested messages -> {"field.path": [messages]}."""
    out: dict[str, list[str]] = {}
    if isinstance(messages, dict):
        for key, value in messages.items():
            path = f"{prefix}.{key}" if prefix else str(key)
            out.update(_flatten(value, path))
    else:
        out[prefix or "(verzoek)"] = [str(m) for m in (messages if isinstance(messages, list) else [messages])]
    return out


def _register_errors(app: Flask) -> None:
    @app.errorhandler(LoketError)
    def loket_error(exc: LoketError):
        return _error(exc.status, exc.code, exc.message, exc.details)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        data = getattr(exc, "data", None) or {}
        if exc.code == 422 and "messages" in data:
            messages = data["messages"]
            messages = messages.get("json", messages.get("query", messages))
            return _error(422, "invalid_request", "Het verzoek bevat ongeldige velden.", _flatten(messages))
        if exc.code == 400:
            return _error(400, "bad_request", "Het verzoek is geen geldige JSON of mist een body.")
        status = exc.code or 500
        names = {401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
                 409: "conflict"}
        dutch = {404: "Deze URL bestaat niet.", 405: "Deze methode is hier niet toegestaan."}
        return _error(status, names.get(status, "http_error"), dutch.get(status) or exc.description or exc.name)

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):
        log.exception("onverwachte fout")
        return _error(500, "internal_error", "Er ging iets mis aan onze kant. De actie is niet uitgevoerd.")
