"""Load test: 200 simulated case workers (locust) against `loket serve` on 127.0.0.1, on PostgreSQL with several
gunicorn workers and on SQLite with one; prints throughput, p50, p95 and the error rate per backend.

The users are spread over --teams SWVs (20: ten case workers per SWV, one user per role per SWV, as
tests/conftest.make_world makes them). Each simulated worker walks TLV cases through the REST API as the roles
do: start a case as the school, and per step take the task from the previous answer (or, for another role's
step, from the case as that role opens it), claim it and complete it; in between it reads its inbox and opens
cases (each case read is an access-log write). A think time of 3 to 10 seconds between one person's actions
(--think) keeps it a crowd of people rather than a flood; --think 1,3 finds where the server saturates.
Aim: 0 errors and p95 under 200 ms. Figures only, never pass/fail; bounded by --warmup plus --seconds per
backend; loopback only.

    .venv/bin/python bench/load.py [--users 200] [--seconds 60] [--think 3,10] [--workers N] [--postgres URL|'']
"""

from __future__ import annotations

# locust patches the standard library for gevent; it must come before anything that uses sockets or threads.
from locust import HttpUser, between, task  # isort: skip
from locust.env import Environment  # isort: skip

import argparse  # noqa: E402
import itertools  # noqa: E402
import os  # noqa: E402
import random  # noqa: E402
import signal  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import urllib.request  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import gevent  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.throwaway import ADMIN_URL, postgres_database  # noqa: E402
from engine import routes  # noqa: E402
from engine.db import Database  # noqa: E402
from tests.conftest import AANMELDING, KNOOPPUNT, PLAATSING, START_DATA, TOEKENNEN, make_world  # noqa: E402

STEPS = [("school", "aanmelding", AANMELDING), ("consulent", "dossiercheck", {"dossier_compleet": True}),
         ("consulent", "knooppuntoverleg", KNOOPPUNT), ("commissie", "besluit", TOEKENNEN),
         ("school", "plaatsing", PLAATSING)]
READERS = ("consulent", "commissie")
TEAMS: list[dict[str, str]] = []  # per SWV: role -> API token, set before the users start


_numbers = itertools.count()


class CaseWorker(HttpUser):
    """One person at work: moves a case along, looks at the inbox, opens cases."""

    wait_time = between(3, 10)  # main() sets --think

    def on_start(self) -> None:
        self.tokens = TEAMS[next(_numbers) % len(TEAMS)]
        self.case_id: int | None = None
        self.step = 0
        self.offered: list[dict[str, Any]] = []
        self.seen: list[int] = []

    def _call(self, role: str, method: str, path: str, name: str, body: Any = None) -> Any:
        headers = {"Authorization": f"Bearer {self.tokens[role]}"}
        with self.client.request(method, path, json=body, headers=headers, name=name,
                                 catch_response=True) as answer:
            if not 200 <= answer.status_code < 400:  # 0: no answer at all (refused, reset, timed out)
                answer.failure(f"{answer.status_code} {answer.text[:120] or answer.error}")
                return None
            try:
                return answer.json()
            except ValueError:
                answer.failure(f"{answer.status_code}: geen JSON")
                return None

    @task(3)
    def work_on_my_case(self) -> None:
        if self.case_id is None:
            case = self._call("school", "POST", "/api/v1/cases", "POST /cases",
                              {"route": "tlv-vso", "data": START_DATA})
            if case is None:
                return
            self.case_id, self.step, self.offered = case["id"], 0, case["tasks"]
            self.seen.append(case["id"])
            return
        role, name, data = STEPS[self.step]
        found = next((t for t in self.offered if t["case_id"] == self.case_id and t["name"] == name), None)
        if found is None:  # another role's step: that role opens the case (as from its notification)
            case = self._call(role, "GET", f"/api/v1/cases/{self.case_id}", "GET /cases/{id}") or {}
            found = next((t for t in case.get("tasks", []) if t["name"] == name), None)
            if found is None:
                self.case_id = None  # lost track of it: start another
                return
        if self._call(role, "POST", f"/api/v1/tasks/{found['id']}/claim", "POST /tasks/{id}/claim") is None:
            self.case_id = None
            return
        done = self._call(role, "POST", f"/api/v1/tasks/{found['id']}/complete", "POST /tasks/{id}/complete",
                          {"data": data})
        if done is None:
            self.case_id = None
            return
        self.offered, self.step = done["next_tasks"], self.step + 1
        if self.step == len(STEPS):
            self.case_id = None

    @task(2)
    def read_inbox(self) -> None:
        self._call(random.choice(READERS), "GET", "/api/v1/tasks?limit=50", "GET /tasks")

    @task(2)
    def read_a_case(self) -> None:
        if self.seen:
            self._call("consulent", "GET", f"/api/v1/cases/{random.choice(self.seen[-20:])}", "GET /cases/{id}")


def serve(url: str, workers: int, log: Path) -> tuple[subprocess.Popen, int]:
    """`loket serve` on a free loopback port; answers once /readyz says ready."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "LOKET_DATABASE_URL": url, "LOKET_LOG_FORMAT": "json"}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    with open(log, "wb") as err:
        process = subprocess.Popen([sys.executable, "-c", "import cli; cli.run()", "serve", "--host", "127.0.0.1",
                                    "--port", str(port), "--workers", str(workers)],
                                   cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=err)
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=5):
                return process, port
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise RuntimeError(f"server did not start:\n{log.read_text()[-2000:]}") from None
            time.sleep(0.2)


def run(label: str, url: str, workers: int, args: argparse.Namespace, log_dir: Path) -> None:
    db = Database(url)
    db.upgrade()
    with db.transaction() as session:
        routes.deploy_dir(session, ROOT / "processes")
    TEAMS[:] = [make_world(db, key=f"load-{os.getpid()}-{team}").tokens for team in range(args.teams)]
    db.dispose()
    process, port = serve(url, workers, log_dir / f"{label}.log")
    try:
        env = Environment(user_classes=[CaseWorker], host=f"http://127.0.0.1:{port}")
        runner = env.create_local_runner()
        runner.start(args.users, spawn_rate=args.spawn_rate)
        # Warm-up (every user spawned, each worker's caches of routes and forms filled), then measure afresh.
        gevent.sleep(args.warmup + args.users / args.spawn_rate)
        env.stats.reset_all()
        gevent.spawn_later(args.seconds, runner.quit)
        runner.greenlet.join()
        report(label, workers, args.users, args.teams, env, args.seconds)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()


def report(label: str, workers: int, users: int, teams: int, env: Environment, seconds: float) -> None:
    stats = env.stats
    total = stats.total
    errors = total.num_failures / total.num_requests if total.num_requests else 0.0
    print(f"\n{label}: {workers} werkproces(sen), {users} gebruikers in {teams} SWV's, {seconds:.0f} s")
    print(f"  {'verzoek':<28} {'aantal':>7} {'fout':>5} {'p50 ms':>7} {'p95 ms':>7}")
    for name, entry in sorted(stats.entries.items()):
        print(f"  {name[0]:<28} {entry.num_requests:>7} {entry.num_failures:>5} "
              f"{entry.get_response_time_percentile(0.5):>7.0f} {entry.get_response_time_percentile(0.95):>7.0f}")
    p50, p95 = total.get_response_time_percentile(0.5), total.get_response_time_percentile(0.95)
    print(f"  totaal: {total.num_requests} verzoeken, {total.num_requests / seconds:.1f}/s, p50 {p50:.0f} ms, "
          f"p95 {p95:.0f} ms, fouten {total.num_failures} ({errors:.2%})")
    for error in list(stats.errors.values())[:5]:
        print(f"  fout: {error.method} {error.name}: {error.occurrences}x {error.error}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--spawn-rate", type=float, default=50)
    parser.add_argument("--seconds", type=float, default=60, help="measured, after the warm-up")
    parser.add_argument("--warmup", type=float, default=10)
    parser.add_argument("--teams", type=int, default=20, help="SWVs the users are spread over")
    parser.add_argument("--think", default="3,10", help="seconds between one user's actions: MIN,MAX")
    parser.add_argument("--workers", type=int, default=None, help="PostgreSQL workers (default: 2 per core)")
    parser.add_argument("--postgres", default=ADMIN_URL, help="admin URL; '' skips PostgreSQL")
    parser.add_argument("--no-sqlite", action="store_true")
    args = parser.parse_args()
    low, high = (float(part) for part in args.think.split(","))
    CaseWorker.wait_time = between(low, high)
    from cli.serve import default_workers

    with tempfile.TemporaryDirectory(prefix="loket-load-") as scratch:
        log_dir = Path(scratch)
        if args.postgres:
            with postgres_database(args.postgres, "load") as url:
                if url:
                    run("PostgreSQL", url, args.workers or default_workers(False), args, log_dir)
        if not args.no_sqlite:
            run("SQLite", f"sqlite:///{log_dir / 'load.db'}", 1, args, log_dir)


if __name__ == "__main__":
    main()
