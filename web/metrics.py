"""Prometheus metrics at ``/metrics``: HTTP requests by route template and status with their latency, what the
engine counted (engine.metrics), and the outbox depth, counted from the database at each scrape.

Under ``loket serve`` every gunicorn worker and the scheduler write their values to files in
PROMETHEUS_MULTIPROC_DIR (set by cli.serve), and a scrape, answered by any worker, adds them all up.

Who may read: with ``LOKET_METRICS_TOKEN`` set, whoever sends ``Authorization: Bearer <that token>``;
without it, only a client on this machine (loopback) that came in directly, not through a proxy (a request
with ``X-Forwarded-For`` or ``Forwarded`` is refused, as a reverse proxy on the same host would otherwise make
every visitor look local).
"""

from __future__ import annotations

import hmac
import ipaddress
import os
from collections.abc import Iterator
from functools import cache

from flask import Flask, Response, jsonify, request
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from sqlalchemy import func, select

from engine import metrics as engine_metrics
from engine.db import Database
from engine.models import OutboxMessage
from engine.vocabulary import OutboxStatus

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1, 2.5, 5, 10, 30)


@cache
def _http() -> tuple[Counter, Histogram]:
    return (Counter("loket_http_requests", "HTTP-verzoeken per methode, route en status.",
                    ["method", "route", "status"]),
            Histogram("loket_http_request_duration_seconds", "Duur van HTTP-verzoeken per methode en route.",
                      ["method", "route"], buckets=LATENCY_BUCKETS))


def observe_request(method: str, route: str, status: int, seconds: float) -> None:
    requests, duration = _http()
    requests.labels(method, route, str(status)).inc()
    duration.labels(method, route).observe(seconds)


class OutboxDepth:
    """Messages waiting in the outbox, by status (pending: to be sent; failed: refused for good)."""

    def __init__(self, database: Database) -> None:
        self.database = database

    def collect(self) -> Iterator[Metric]:
        gauge = GaugeMetricFamily("loket_outbox_depth", "Berichten in de outbox die nog niet verstuurd zijn.",
                                  labels=["status"])
        counts = {str(OutboxStatus.PENDING): 0, str(OutboxStatus.FAILED): 0}
        with self.database.read() as session:
            rows = session.execute(select(OutboxMessage.status, func.count()).where(
                OutboxMessage.status != OutboxStatus.SENT).group_by(OutboxMessage.status))
            counts.update({str(status): count for status, count in rows})
        for status, count in sorted(counts.items()):
            gauge.add_metric([status], count)
        yield gauge


class _ThisProcess:
    """The default registry's metrics (one process: the tests, a development server)."""

    def collect(self) -> Iterator[Metric]:
        yield from REGISTRY.collect()


def exposition(database: Database) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        MultiProcessCollector(registry)
    else:
        registry.register(_ThisProcess())
    registry.register(OutboxDepth(database))
    return generate_latest(registry)


def may_read() -> bool:
    token = os.environ.get("LOKET_METRICS_TOKEN")
    if token:
        scheme, _, given = request.headers.get("Authorization", "").partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())
    if request.headers.get("X-Forwarded-For") or request.headers.get("Forwarded"):
        return False
    try:
        return ipaddress.ip_address(request.remote_addr or "").is_loopback
    except ValueError:
        return False


def install(app: Flask, database: Database) -> None:
    engine_metrics.watch(database.engine)
    _http()  # made now, in the worker, so its files land in the multiprocess directory from the start

    @app.get("/metrics")
    def metrics() -> Response | tuple[Response, int]:
        if not may_read():
            body = {"error": {"code": "forbidden", "message": (
                "De metrics zijn alleen te lezen vanaf deze machine, of met LOKET_METRICS_TOKEN "
                "(Authorization: Bearer <token>)."), "details": {}}}
            return jsonify(body), 403
        return Response(exposition(database), mimetype=CONTENT_TYPE_LATEST)
