"""Starting Loket: another port (`make run PORT=`, LOKET_PORT), a busy port and a database that is not there yet
each give one clear `fout:` line before anything claims that Loket listens."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from contextlib import closing

import pytest
from sqlalchemy import create_engine

from engine.config import PROJECT_ROOT
from engine.db import Database, alembic_config, schema_state
from tests.helpers import loket

NOT_CREATED = "fout: de database is nog niet aangemaakt; draai eerst 'loket init'"


def serve(url: str, *args: str, env: dict[str, str] | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
    inherited = {k: v for k, v in os.environ.items() if k != "LOKET_PORT"}
    environment = {**inherited, "LOKET_DATABASE_URL": url, **(env or {})}
    return subprocess.run([sys.executable, "-c", "import cli; cli.run()", "serve", *args], capture_output=True,
                          text=True, env=environment, cwd=PROJECT_ROOT, timeout=timeout)


@pytest.fixture
def busy_port():
    with closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(1)
        yield sock.getsockname()[1]


def free_port() -> int:
    with closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def sqlite_only(db_url: str) -> None:
    if not db_url.startswith("sqlite"):
        pytest.skip("the loket process is started once; schema_state is checked on PostgreSQL below")


def test_a_busy_port_is_one_fout_line_and_loket_never_says_it_listens(db_url, busy_port):
    sqlite_only(db_url)
    result = serve(db_url, "--port", str(busy_port))
    assert result.returncode != 0
    assert "luistert" not in result.stdout
    assert result.stderr.splitlines() == [
        f"fout: poort {busy_port} op 127.0.0.1 is al in gebruik; kies een andere met --port of LOKET_PORT "
        f"(make run PORT=...)."]


def test_an_unknown_host_is_one_fout_line(db_url):
    sqlite_only(db_url)
    port = free_port()
    result = serve(db_url, "--host", "geen-host.invalid", "--port", str(port))
    assert result.returncode == 1 and "luistert" not in result.stdout
    assert result.stderr.splitlines() == [f"fout: kan niet luisteren op geen-host.invalid:{port}: onbekend adres."]


def test_loket_port_chooses_the_port(db_url, busy_port):
    sqlite_only(db_url)
    result = serve(db_url, env={"LOKET_PORT": str(busy_port)})
    assert result.returncode != 0 and f"poort {busy_port} " in result.stderr
    bad = serve(db_url, env={"LOKET_PORT": "achtduizend"})
    assert bad.returncode == 2 and bad.stderr.startswith("fout: ongeldige waarde voor '--port'")


def test_serve_says_it_listens_only_once_it_does(db_url):
    sqlite_only(db_url)
    port = free_port()
    env = {**os.environ, "LOKET_DATABASE_URL": db_url, "LOKET_PORT": str(port)}  # the port from the environment
    process = subprocess.Popen([sys.executable, "-c", "import cli; cli.run()", "serve"], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, env=env, cwd=PROJECT_ROOT)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert f"Loket luistert op http://127.0.0.1:{port}/" in line, process.stderr.read() if not line else line
        deadline = time.monotonic() + 30
        while True:  # the socket is bound before the line: a connection is accepted (and answered) from now on
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/routes", timeout=10)
            except urllib.error.HTTPError as answer:
                assert answer.code == 401
                break
            except OSError:
                assert time.monotonic() < deadline
                time.sleep(0.1)
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_serve_on_a_database_that_is_not_there_yet_refuses_to_start(tmp_path):
    result = serve(f"sqlite:///{tmp_path / 'leeg.db'}", "--port", str(free_port()))
    assert result.returncode != 0 and "luistert" not in result.stdout
    assert result.stderr.splitlines() == [NOT_CREATED]


def test_serve_on_an_older_schema_asks_for_loket_init(tmp_path):
    from alembic import command

    url = f"sqlite:///{tmp_path / 'oud.db'}"
    command.upgrade(alembic_config(url), "0003")
    result = serve(url, "--port", str(free_port()))
    assert result.returncode != 0 and "luistert" not in result.stdout
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("fout: de database heeft een oudere versie")
    assert "draai eerst 'loket init'" in lines[0]


def test_schema_state_on_every_backend(db_url, tmp_path):
    from alembic import command

    db = Database(db_url)
    try:
        assert schema_state(db.engine) == "current"
    finally:
        db.dispose()
    command.upgrade(alembic_config(f"sqlite:///{tmp_path / 'oud.db'}"), "0003")
    for name, state in (("leeg.db", "missing"), ("oud.db", "behind")):
        engine = create_engine(f"sqlite:///{tmp_path / name}")
        assert schema_state(engine) == state
        engine.dispose()


def test_make_run_passes_port_to_serve():
    env = {k: v for k, v in os.environ.items() if k not in ("PORT", "MAKEFLAGS")}
    chosen = subprocess.run(["make", "-n", "run", "PORT=8080"], capture_output=True, text=True, cwd=PROJECT_ROOT,
                            env=env)
    assert chosen.returncode == 0, chosen.stderr
    assert ".venv/bin/loket serve --port 8080" in chosen.stdout
    default = subprocess.run(["make", "-n", "run"], capture_output=True, text=True, cwd=PROJECT_ROOT, env=env)
    serve_line = [line for line in default.stdout.splitlines() if "loket serve" in line]
    assert serve_line == [".venv/bin/loket serve"]  # so LOKET_PORT (or the default 8000) decides


def test_the_scheduler_also_refuses_a_database_that_is_not_there(tmp_path):
    result = loket("scheduler", "--once", url=f"sqlite:///{tmp_path / 'leeg.db'}")
    assert result.returncode != 0 and result.stderr.splitlines() == [NOT_CREATED]
