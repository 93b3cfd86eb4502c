"""What an operator needs from a running Loket: a request id on every request and in every log line, one access
log line per request, ``/healthz`` (the process answers) and ``/readyz`` (the database answers and its schema
is at this code's migration head), and ``/metrics`` (web.metrics).

The three are for load balancers, orchestrators and Prometheus, not for users: no token, no access-log entry
(nobody's case is read), and not in the OpenAPI document, which describes the API under /api/v1 only.
"""

from __future__ import annotations

import logging
import os
import re
import time
import uuid
from functools import cache

from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import Flask, Response, g, jsonify, request

from engine.db import Database, alembic_config

from . import metrics

log = logging.getLogger("loket.web")
access = logging.getLogger("loket.http")

# A request id a client or proxy sends is kept when it is short and plain (so it cannot forge log lines or
# carry data); otherwise Loket makes one.
SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")
# Probes and scrapes come every few seconds: their access lines are debug, so they do not drown the rest.
QUIET = frozenset({"/healthz", "/readyz", "/metrics"})


def request_id() -> str | None:
    """The current request's id (also the incident id of a 500)."""
    return g.get("loket_request_id")


def note_user(user_id: int | None) -> None:
    """Name the signed-in user in this request's access log line (by id only: never the token or the e-mail).
    Called where the request's user is known (the API's and the pages' authentication)."""
    g.loket_user_id = user_id


def install(app: Flask, database: Database) -> None:
    """Request ids, access log lines, metrics and the health endpoints on ``app``."""

    @app.before_request
    def _begin() -> None:
        given = request.headers.get("X-Request-ID", "")
        g.loket_request_id = given if SANE_REQUEST_ID.fullmatch(given) else uuid.uuid4().hex
        g.loket_started = time.perf_counter()

    @app.after_request
    def _end(response: Response) -> Response:
        rid = g.get("loket_request_id")
        if rid:
            response.headers["X-Request-ID"] = rid
        started = g.get("loket_started")
        seconds = time.perf_counter() - started if started is not None else 0.0
        route = request.url_rule.rule if request.url_rule is not None else "(geen route)"
        metrics.observe_request(request.method, route, response.status_code, seconds)
        access.log(logging.DEBUG if request.path in QUIET else logging.INFO,
                   "%s %s %s", request.method, request.path, response.status_code,
                   extra={"status": response.status_code, "duration_ms": round(seconds * 1000, 1),
                          "user_id": g.get("loket_user_id"), "worker": os.getpid()})
        return response

    @app.get("/healthz")
    def healthz() -> Response:
        return jsonify({"status": "ok"})

    @app.get("/readyz")
    def readyz() -> Response | tuple[Response, int, dict[str, str]]:
        reason = not_ready(database)
        if reason is None:
            return jsonify({"status": "ok"})
        body = {"error": {"code": "service_unavailable", "message": reason, "details": {}}}
        return jsonify(body), 503, {"Retry-After": "5"}

    metrics.install(app, database)


@cache
def _heads() -> frozenset[str]:
    """This code's migration heads (read from the migration scripts once per process)."""
    return frozenset(ScriptDirectory.from_config(alembic_config("sqlite://")).get_heads())


def not_ready(database: Database) -> str | None:
    """Why this process cannot serve users now, in Dutch; None when it can."""
    try:
        with database.engine.connect() as conn:
            current = set(MigrationContext.configure(conn).get_current_heads())
    except Exception as exc:  # whatever the driver says: not reachable
        log.warning("readyz: database niet bereikbaar: %s", str(exc).splitlines()[0] if str(exc) else exc)
        return "De database is niet bereikbaar."
    if not current:
        return "De database is nog niet aangemaakt; draai 'loket init'."
    if current != _heads():
        return "Het databaseschema past niet bij deze versie van Loket; draai 'loket init' met de juiste versie."
    return None
