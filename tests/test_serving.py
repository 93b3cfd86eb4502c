"""Loket as it runs in production: `loket serve` with two gunicorn workers and its scheduler process, as a real
subprocess on a free port; health and readiness, request ids in the answer and the JSON log, metrics summed over
the workers; a 500 that names its incident; a PostgreSQL row lock answered with 503 and Retry-After."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from engine.config import PROJECT_ROOT, Settings
from engine.db import Database
from tests.helpers import call
from tests.test_setup import free_port

WAIT = 60.0  # seconds a test waits for the server at most (a bound, not a timing assertion)


class Server:
    """`loket serve --workers 2` on a free port; its stderr (JSON log lines) in a file."""

    def __init__(self, db_url: str, log: Path) -> None:
        self.port = free_port()
        self.log = log
        env = {k: v for k, v in os.environ.items() if k not in ("LOKET_LOG_FORMAT", "PROMETHEUS_MULTIPROC_DIR")}
        env.update(LOKET_DATABASE_URL=db_url, LOKET_PORT=str(self.port))
        with open(log, "wb") as err:
            self.process = subprocess.Popen([sys.executable, "-c", "import cli; cli.run()", "serve", "--workers", "2"],
                                            stdout=subprocess.PIPE, stderr=err, text=True, env=env, cwd=PROJECT_ROOT)
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        assert f"Loket luistert op http://127.0.0.1:{self.port}/" in line, log.read_text()
        deadline = time.monotonic() + WAIT
        while self.get("/healthz")[0] != 200:  # the socket listens; the workers answer once they booted
            assert time.monotonic() < deadline and self.process.poll() is None, log.read_text()
            time.sleep(0.1)

    def request(self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None,
                token: str | None = None) -> tuple[int, dict[str, str], bytes]:
        headers = dict(headers or {})
        if token:
            headers["Authorization"] = f"Bearer {token}"
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", data=data, method=method,
                                         headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:
                return answer.status, dict(answer.headers), answer.read()
        except urllib.error.HTTPError as answer:
            return answer.code, dict(answer.headers), answer.read()
        except OSError:
            return 0, {}, b""

    def get(self, path: str, **kwargs: Any) -> tuple[int, dict[str, str], bytes]:
        return self.request("GET", path, **kwargs)

    def lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.log.read_text().splitlines() if line.startswith("{")]

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=WAIT)
        except subprocess.TimeoutExpired:
            self.process.kill()
            raise


@pytest.fixture
def server(runtime, world, db_url, tmp_path):
    serving = Server(db_url, tmp_path / "serve.log")
    yield serving
    serving.stop()


def test_two_workers_serve_health_readiness_metrics_and_json_logs(server, world, sample):
    status, _, body = server.get("/readyz")
    assert status == 200 and json.loads(body) == {"status": "ok"}

    status, headers, _ = server.get("/api/v1/routes", token=world.tokens["school"],
                                    headers={"X-Request-ID": "verzoek-van-test-1"})
    assert status == 200 and headers["X-Request-ID"] == "verzoek-van-test-1"
    status, headers, _ = server.get("/api/v1/routes", token=world.tokens["school"],
                                    headers={"X-Request-ID": "niet goed\u00e9"})
    assert status == 200 and len(headers["X-Request-ID"]) == 32  # not sane: Loket makes one

    # A case started and a task completed, each request on a new connection to whichever worker takes it.
    status, _, body = server.request("POST", "/api/v1/cases", {"route": "tlv-vso", "data": sample["start"]},
                                     token=world.tokens["school"])
    assert status == 201, body
    task = next(t for t in json.loads(body)["tasks"] if t["name"] == "aanmelding")
    status, _, body = server.request("POST", f"/api/v1/tasks/{task['id']}/complete", {"data": sample["aanmelding"]},
                                     token=world.tokens["school"])
    assert status == 200, body

    # Both workers answer (the kernel hands each new connection to one of them).
    workers = set()
    for _ in range(400):
        status, _, _ = server.get("/api/v1/routes", token=world.tokens["consulent"])
        assert status == 200
        workers = {line["worker"] for line in server.lines() if line.get("path") == "/api/v1/routes"}
        if len(workers) == 2:
            break
    assert len(workers) == 2

    # The metrics of both workers, added up in one scrape.
    status, _, body = server.get("/metrics")
    assert status == 200
    metrics = body.decode()
    assert "loket_cases_started_total 1.0" in metrics
    assert 'loket_tasks_completed_total{task="aanmelding"} 1.0' in metrics
    assert 'loket_http_requests_total{method="POST",route="/api/v1/cases",status="201"} 1.0' in metrics
    assert 'loket_outbox_depth{status="pending"}' in metrics

    # A worker that ends is replaced, and what it counted stays counted.
    os.kill(min(workers), signal.SIGTERM)
    deadline = time.monotonic() + WAIT
    while sum(line["message"].startswith("Booting worker") for line in server.lines()) < 3:
        assert time.monotonic() < deadline, "no worker came in place of the one that ended"
        time.sleep(0.1)
    status, _, body = server.get("/metrics")
    assert status == 200 and "loket_cases_started_total 1.0" in body.decode()

    lines = server.lines()
    mine = [line for line in lines if line.get("request_id") == "verzoek-van-test-1"]
    assert len(mine) == 1
    assert mine[0]["logger"] == "loket.http" and mine[0]["level"] == "info"
    assert {"time", "message", "method", "path", "status", "duration_ms", "worker"} <= set(mine[0])
    assert (mine[0]["method"], mine[0]["path"], mine[0]["status"]) == ("GET", "/api/v1/routes", 200)
    assert mine[0]["user_id"] == world["school"].user_id  # who asked, by id only
    log = server.log.read_text()
    assert not any(token in log for token in world.tokens.values())  # never a token in the log
    assert sample["start"]["leerling"]["achternaam"] not in log  # nor pupil data

    assert server.stop() == 0  # SIGTERM: the workers and the scheduler stop, the master exits cleanly
    messages = [line["message"] for line in server.lines()]
    started = [message for message in messages if message.startswith("scheduler gestart (pid ")]
    assert len(started) == 1 and f"scheduler (pid {started[0][23:-1]}) gestopt" in messages
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:  # and it is gone, not left behind
        try:
            os.kill(int(started[0][23:-1]), 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    else:
        raise AssertionError("the scheduler process outlived loket serve")


def test_readyz_says_why_a_database_is_not_ready(tmp_path):
    from web import create_app

    app = create_app(Settings(database_url=f"sqlite:///{tmp_path / 'leeg.db'}"))
    client = app.test_client()
    assert client.get("/healthz").status_code == 200  # the process is alive; no database needed
    answer = client.get("/readyz")
    assert answer.status_code == 503 and answer.headers["Retry-After"] == "5"
    assert answer.get_json()["error"]["message"] == "De database is nog niet aangemaakt; draai 'loket init'."

    gone = create_app(Settings(database_url="postgresql+psycopg://loket@127.0.0.1:1/loket")).test_client()
    answer = gone.get("/readyz")
    assert answer.status_code == 503 and answer.get_json()["error"]["message"] == "De database is niet bereikbaar."


def test_a_server_error_names_its_incident(client, world, sample, monkeypatch):
    import io
    import logging

    from web.logs import JsonFormatter, RequestFields

    runtime = client.application.extensions["loket"]
    stream = io.StringIO()  # the log as `loket serve` writes it
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RequestFields())
    monkeypatch.setattr(logging.getLogger("loket.web"), "handlers", [handler])

    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("stuk")

    monkeypatch.setattr(runtime, "start_case", broken)
    answer = call(client, world, "school", "POST", "/api/v1/cases", {"route": "tlv-vso", "data": sample["start"]})
    assert answer.status_code == 500
    incident = answer.headers["X-Request-ID"]
    error = answer.get_json()["error"]
    assert error["code"] == "internal_error" and error["details"] == {"incident": incident}
    assert f"incident {incident}" in error["message"]
    logged = [json.loads(line) for line in stream.getvalue().splitlines()]
    failure = next(line for line in logged if line["message"] == "onverwachte fout")
    assert failure["request_id"] == incident and failure["level"] == "error"
    assert failure["path"] == "/api/v1/cases" and "RuntimeError: stuk" in failure["exception"]


def test_a_row_lock_past_the_lock_timeout_is_503_with_retry_after(db_url, runtime, world, sample, settings,
                                                                  monkeypatch):
    if db_url.startswith("sqlite"):
        pytest.skip("PostgreSQL's lock_timeout (SQLite's busy timeout has its own test)")
    from web import create_app

    monkeypatch.setenv("LOKET_PG_LOCK_TIMEOUT", "0.5")
    database = Database(db_url)
    app = create_app(settings, database)
    client = app.test_client()
    case = runtime.start_case(world["school"], "tlv-vso", sample["start"])
    task = next(t for t in call(client, world, "school", "GET", "/api/v1/tasks").get_json()
                if t["case_id"] == case.id)
    holder = create_engine(db_url)
    try:
        with holder.connect() as conn:  # another transaction holds the case's row
            conn.execute(text("SELECT id FROM cases WHERE id = :id FOR UPDATE"), {"id": case.id})
            started = time.monotonic()
            answer = call(client, world, "school", "POST", f"/api/v1/tasks/{task['id']}/complete",
                          {"data": sample["aanmelding"]})
            waited = time.monotonic() - started
            assert answer.status_code == 503, answer.get_json()
            assert answer.headers["Retry-After"] == "5"
            assert answer.get_json()["error"]["code"] == "service_unavailable"
            assert waited < 30  # it gave up: it did not wait for the other transaction to end
            conn.rollback()
        again = call(client, world, "school", "POST", f"/api/v1/tasks/{task['id']}/complete",
                     {"data": sample["aanmelding"]})
        assert again.status_code == 200  # nothing was changed by the refused attempt
    finally:
        holder.dispose()
        database.dispose()
