"""Faults from outside: ``kill -9`` of the server in the middle of completions, of the scheduler in the middle of
a sweep, and a PostgreSQL restart while clients work. Afterwards nothing a client was told is lost, nothing is
done twice, and every case verifies and replays (``loket audit verify --all``).

The server and the scheduler run as the operator runs them: the ``loket`` command in processes of their own
(each in its own process group, so a server with worker processes dies whole), spoken to over HTTP.
"""

from __future__ import annotations

import json
import os
import pwd
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.client import HTTPException
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, func, select, text

from engine import routes
from engine.config import PROJECT_ROOT, Settings
from engine.db import Database, upgrade
from engine.models import Deadline, Event
from engine.runtime import build_runtime
from tests.conftest import AANMELDING, KNOOPPUNT, PROCESSES, START_DATA, World, make_world
from tests.helpers import loket

STEPS: list[tuple[str, str, dict[str, Any]]] = [
    ("school", "aanmelding", AANMELDING), ("consulent", "dossiercheck", {"dossier_compleet": True}),
    ("consulent", "knooppuntoverleg", KNOOPPUNT)]
LOKET = [sys.executable, "-c", "import cli; cli.run()"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Down(Exception):
    """The server did not answer (refused, reset, or cut off mid-answer)."""


def http(base: str, method: str, path: str, token: str, body: Any = None) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Authorization": f"Bearer {token}"}
    if data is not None:
        headers["Content-Type"] = "application/json"
    request = urllib.request.Request(base + path, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=20) as answer:
            return answer.status, json.loads(answer.read() or b"null")
    except urllib.error.HTTPError as exc:
        raw = exc.read()
        try:
            return exc.code, json.loads(raw or b"null")
        except ValueError:
            return exc.code, raw.decode(errors="replace")
    except (urllib.error.URLError, ConnectionError, HTTPException, TimeoutError, OSError) as exc:
        raise Down(str(exc)) from exc


class Server:
    """``loket serve`` on a free port, in a process group of its own."""

    def __init__(self, url: str, token: str, logs: Path) -> None:
        self.url, self.token, self.logs = url, token, logs
        self.process: subprocess.Popen[bytes] | None = None
        self.base = ""
        self.starts = 0

    def start(self, *options: str) -> None:
        port = free_port()  # a new port each time: a killed server's socket may linger
        self.starts += 1
        log = (self.logs / f"serve-{self.starts}.log").open("wb")
        self.process = subprocess.Popen([*LOKET, "serve", "--port", str(port), *options], cwd=PROJECT_ROOT,
                                        env=dict(os.environ, LOKET_DATABASE_URL=self.url), stdout=log,
                                        stderr=subprocess.STDOUT, start_new_session=True)
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 90
        try:
            while time.monotonic() < deadline:
                assert self.process.poll() is None, self.log()
                try:
                    if http(base, "GET", "/api/v1/routes", self.token)[0] == 200:
                        self.base = base
                        return
                except Down:
                    pass
                time.sleep(0.1)
            raise AssertionError(f"loket serve kwam niet op:\n{self.log()}")
        except BaseException:
            self.kill()  # a server that did not come up is not left behind
            raise

    def kill(self) -> None:
        """kill -9 of the server (and any worker processes it has)."""
        assert self.process is not None
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait(30)

    def workers(self) -> list[int]:
        """The worker processes serving requests (children of the server that are not its scheduler)."""
        assert self.process is not None
        found = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                command = (entry / "cmdline").read_bytes().replace(b"\0", b" ")
            except (OSError, ValueError, IndexError):
                continue  # gone meanwhile
            if parent == self.process.pid and b"scheduler" not in command:
                found.append(int(entry.name))
        return found

    def log(self) -> str:
        return "\n".join(p.read_text(errors="replace")[-3000:] for p in sorted(self.logs.glob("serve-*.log")))


class Client(threading.Thread):
    """A case worker's loop through the REST API: start a case, complete its aanmelding, dossiercheck and
    knooppuntoverleg. Completions answered 200 are acknowledged; when the server is down it waits and goes on
    with the same case, reading it again (a completion that was done without an answer is then not open)."""

    def __init__(self, server: Server, world: World, allowed: set[int]) -> None:
        super().__init__(daemon=True)
        self.server, self.world, self.allowed = server, world, allowed
        self.acks: list[tuple[int, str]] = []  # (case, task) completions answered 200
        self.statuses: Counter[int] = Counter()
        self.unexpected: list[tuple[int, Any]] = []
        self.stop = threading.Event()
        self.changed = threading.Condition()
        self.error: BaseException | None = None

    def call(self, role: str, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        while not self.stop.is_set():
            try:
                status, answer = http(self.server.base, method, path, self.world.tokens[role], body)
            except Down:
                time.sleep(0.1)  # the server is down or restarting: try again
                continue
            self.statuses[status] += 1
            if status not in self.allowed:
                self.unexpected.append((status, answer))
            if status == 503:
                time.sleep(0.1)
                continue
            return status, answer
        raise Down("gestopt")

    def run(self) -> None:
        try:
            while not self.stop.is_set():
                status, case = self.call("school", "POST", "/api/v1/cases", {"route": "tlv-vso", "data": START_DATA})
                if status != 201:
                    continue
                for role, name, data in STEPS:
                    self.complete(case["id"], role, name, data)
        except Down:
            pass
        except BaseException as exc:  # noqa: BLE001  (the test reports it)
            self.error = exc
        finally:
            with self.changed:
                self.changed.notify_all()

    def complete(self, case_id: int, role: str, name: str, data: dict[str, Any]) -> None:
        while True:
            status, case = self.call(role, "GET", f"/api/v1/cases/{case_id}")
            if status != 200:  # noted in unexpected (the test fails on it); go on to see what else happens
                time.sleep(0.1)
                continue
            task = next((t for t in case["tasks"] if t["name"] == name), None)
            if task is None:
                return  # done already: completed by a request whose answer was lost
            status, _ = self.call(role, "POST", f"/api/v1/tasks/{task['id']}/complete", {"data": data})
            if status == 200:
                with self.changed:
                    self.acks.append((case_id, task["id"]))
                    self.changed.notify_all()
                return
            if status != 409:
                return

    def wait_for(self, count: int, timeout: float = 90) -> None:
        with self.changed:
            self.changed.wait_for(lambda: len(self.acks) >= count or self.error is not None or not self.is_alive(),
                                  timeout=timeout)
        assert self.error is None, self.error
        assert len(self.acks) >= count, f"{len(self.acks)} completions, {count} expected"

    def finish(self) -> None:
        """Stop the loop (no assertion here: it runs in a ``finally`` that must still stop the server)."""
        self.stop.set()
        self.join(60)


def completions(url: str) -> Counter[str]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return Counter(conn.scalars(select(Event.task_id).where(Event.type == "task_completed")))
    finally:
        engine.dispose()


def assert_whole(url: str, acks: list[tuple[int, str]]) -> None:
    """Every acknowledged completion is there once, no completion is recorded twice, and every case verifies."""
    done = completions(url)
    assert all(done[task] == 1 for _, task in acks), [(c, t, done[t]) for c, t in acks if done[t] != 1]
    assert not [task for task, n in done.items() if n > 1]
    check = loket("audit", "verify", "--all", url=url)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "0 met een gebroken keten, 0 wijken af van hun geschiedenis" in check.stdout


# ---------------------------------------------------------------- kill -9 of the server

def test_kill_9_of_the_server_mid_completion_loses_and_doubles_nothing(runtime, world, db_url, tmp_path):
    server = Server(db_url, world.tokens["school"], tmp_path)
    server.start("--workers", "2")  # the whole server: master, workers and scheduler, killed together
    client = Client(server, world, allowed={200, 201, 409})
    client.start()
    try:
        client.wait_for(random.randint(3, 9))
        time.sleep(random.uniform(0, 0.5))  # a random moment: often in the middle of a request
        server.kill()
        killed_at = len(client.acks)
        server.start("--workers", "2")
        client.wait_for(killed_at + 3)  # the restarted server takes completions again
    finally:
        client.finish()
        server.kill()
    assert client.error is None, client.error
    assert not client.unexpected, client.unexpected
    assert_whole(db_url, client.acks)


def test_kill_9_of_a_worker_mid_completion_is_replaced_and_loses_nothing(runtime, world, db_url, tmp_path):
    server = Server(db_url, world.tokens["school"], tmp_path)
    server.start("--workers", "2")
    if not server.workers():
        server.kill()
        pytest.skip("loket serve heeft geen aparte werkprocessen")
    client = Client(server, world, allowed={200, 201, 409})
    client.start()
    try:
        client.wait_for(random.randint(3, 9))
        time.sleep(random.uniform(0, 0.5))
        os.kill(random.choice(server.workers()), signal.SIGKILL)
        killed_at = len(client.acks)
        client.wait_for(killed_at + 5)  # the other worker, and the one started in its place, go on
        assert server.process is not None and server.process.poll() is None  # the server itself stayed up
    finally:
        client.finish()
        server.kill()
    assert client.error is None, client.error
    assert not client.unexpected, client.unexpected
    assert_whole(db_url, client.acks)


# ---------------------------------------------------------------- kill -9 of the scheduler

def fired(url: str) -> int:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return int(conn.scalar(select(func.count()).select_from(Event).where(
                Event.type.in_(("deadline_warned", "deadline_escalated")))) or 0)
    finally:
        engine.dispose()


def test_kill_9_of_the_scheduler_mid_sweep_fires_each_deadline_once(runtime, world, sample, db_url):
    # The scheduler fires in batches of 200, each one transaction: 600 deadlines are three batches, and it is
    # killed after one or two of them committed, in the middle of the next.
    cases = 300
    for _ in range(cases):
        runtime.start_case(world["school"], "tlv-vso", sample["start"])
    later = (datetime.now(UTC) + timedelta(days=60)).isoformat()  # both terms of every aanmelding have passed
    sweep = [*LOKET, "scheduler", "--once", "--now", later]
    env = dict(os.environ, LOKET_DATABASE_URL=db_url)
    process = subprocess.Popen(sweep, cwd=PROJECT_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               start_new_session=True)
    kill_after = 200 * random.randint(1, 2)
    deadline = time.monotonic() + 120
    while fired(db_url) < kill_after and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    os.killpg(process.pid, signal.SIGKILL)
    output = process.communicate(timeout=30)[0]
    assert process.returncode == -signal.SIGKILL, output  # killed in the sweep, not after it
    assert fired(db_url) < 2 * cases

    again = loket("scheduler", "--once", "--now", later, url=db_url)
    assert again.returncode == 0, again.stdout + again.stderr
    with runtime.db.read() as session:
        statuses = Counter(session.scalars(select(Deadline.status)))
        per_deadline = Counter(session.execute(select(Event.task_id, Event.type).where(
            Event.type.in_(("deadline_warned", "deadline_escalated")))).all())
    assert statuses == Counter({"fired": 2 * cases})
    assert len(per_deadline) == 2 * cases and set(per_deadline.values()) == {1}
    assert_whole(db_url, [])


# ---------------------------------------------------------------- PostgreSQL restarted under load

def _pg_binary(name: str) -> str | None:
    for folder in ("/usr/local/bin", "/usr/lib/postgresql/15/bin"):
        if os.access(f"{folder}/{name}", os.X_OK):
            return f"{folder}/{name}"
    return shutil.which(name)


class Cluster:
    """A throwaway PostgreSQL cluster in a temporary folder, trust auth, on a free port."""

    def __init__(self) -> None:
        self.initdb, self.pg_ctl = _pg_binary("initdb"), _pg_binary("pg_ctl")
        if not self.initdb or not self.pg_ctl:
            pytest.skip("initdb en pg_ctl van PostgreSQL zijn niet geïnstalleerd")
        self.as_user: list[str] = []
        if os.geteuid() == 0:  # PostgreSQL refuses to run as root: run it as the postgres user
            runuser = shutil.which("runuser")
            try:
                owner = pwd.getpwnam("postgres")
            except KeyError:
                pytest.skip("als root draait PostgreSQL alleen als een andere gebruiker, en 'postgres' bestaat niet")
            if runuser is None:
                pytest.skip("als root is runuser nodig om PostgreSQL als 'postgres' te starten")
            self.as_user = [runuser, "-u", "postgres", "--"]
        self.folder = Path(tempfile.mkdtemp(prefix="loket-pg-"))
        if self.as_user:
            os.chown(self.folder, owner.pw_uid, owner.pw_gid)
        self.data = self.folder / "data"
        self.port = free_port()
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/loket"

    def run(self, *args: str) -> None:
        result = subprocess.run([*self.as_user, *args], capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stdout + result.stderr

    def start(self) -> None:
        self.run(str(self.initdb), "-D", str(self.data), "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync")
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off"
        self.run(str(self.pg_ctl), "-D", str(self.data), "-l", str(self.folder / "log"), "-o", options, "-w",
                 "-t", "60", "start")
        admin = create_engine(self.url.replace("/loket", "/postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text("CREATE DATABASE loket"))
        admin.dispose()

    def restart(self) -> None:
        # With its log file: a postmaster without one keeps pg_ctl's output open, and run() would wait forever.
        self.run(str(self.pg_ctl), "-D", str(self.data), "-l", str(self.folder / "log"), "-m", "fast", "-w",
                 "-t", "60", "restart")

    def remove(self) -> None:
        subprocess.run([*self.as_user, str(self.pg_ctl), "-D", str(self.data), "-m", "immediate", "-w", "stop"],
                       capture_output=True, timeout=60)
        shutil.rmtree(self.folder, ignore_errors=True)


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    made = Cluster()
    try:
        made.start()
        yield made
    finally:
        made.remove()


def test_postgresql_restarted_under_load_answers_503_then_recovers(cluster, tmp_path):
    upgrade(cluster.url)
    db = Database(cluster.url)
    build_runtime(db, Settings(database_url=cluster.url, processes_dir=PROCESSES))
    with db.transaction() as session:
        routes.deploy_dir(session, PROCESSES)
    world = make_world(db)
    db.dispose()

    server = Server(cluster.url, world.tokens["school"], tmp_path)
    server.start("--workers", "2")
    client = Client(server, world, allowed={200, 201, 409, 503})  # 503 while the database is away, never 500
    client.start()
    try:
        client.wait_for(random.randint(2, 6))
        cluster.restart()
        restarted_at = len(client.acks)
        client.wait_for(restarted_at + 3)  # requests after the restart succeed
    finally:
        client.finish()
        server.kill()
    assert client.error is None, client.error
    assert not client.unexpected, (client.unexpected, server.log())
    assert_whole(cluster.url, client.acks)
