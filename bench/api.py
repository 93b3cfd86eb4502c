"""Full TLV cases through the REST API: real server processes (bench/api_server.py: what `loket serve` runs,
with a count of its SQL), N concurrent HTTP clients, one and two servers, SQLite and PostgreSQL.

Each role is a user of its own with its own token. Per case a client starts the case as the school, then
works each step with the task from the previous completion's ``next_tasks``, or, when the step belongs to
another role, from that role's inbox (``GET /tasks?scope=role``); it never reads the case. Prints
completions/s, p50/p95 per completion as the client sees it, requests per case, and per completion the SQL
statements (on SQLite including each transaction's BEGIN), commits and server time; then reads of
``GET /api/v1/cases/{id}`` (each appends to the access log) by two clients against one server and against
two. Never pass/fail: figures only.

    .venv/bin/python bench/api.py [--clients 4] [--cases 40] [--seconds 30] [--postgres URL|''] [--no-scheduler]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


from bench.throwaway import ADMIN_URL, postgres_database  # noqa: E402
from engine import routes  # noqa: E402
from engine.db import Database  # noqa: E402
from tests.conftest import AANMELDING, KNOOPPUNT, PLAATSING, START_DATA, TOEKENNEN, make_world  # noqa: E402

STEPS = [("school", "aanmelding", AANMELDING), ("consulent", "dossiercheck", {"dossier_compleet": True}),
         ("consulent", "knooppuntoverleg", KNOOPPUNT), ("commissie", "besluit", TOEKENNEN),
         ("school", "plaatsing", PLAATSING)]


# ---------------------------------------------------------------- servers


class Server:
    """One bench server process on 127.0.0.1."""

    def __init__(self, url: str, log_dir: Path, scheduler: bool) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.log = log_dir / f"server-{self.port}.log"
        command = [sys.executable, str(ROOT / "bench" / "api_server.py"), "--database", url, "--port", str(self.port)]
        if not scheduler:
            command.append("--no-scheduler")
        with open(self.log, "wb") as out:
            self.process = subprocess.Popen(command, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while True:
            try:
                self.stats()
                for line in self.log.read_text(errors="replace").splitlines():
                    if line.startswith("note:"):
                        print(f"  server {line}")
                return
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"server did not start:\n{self.log.read_text()[-2000:]}") from None
                time.sleep(0.2)

    def stats(self, reset: bool = False) -> dict[str, Any]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            conn.request("POST" if reset else "GET", "/_bench/stats")
            return json.loads(conn.getresponse().read())
        finally:
            conn.close()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


# ---------------------------------------------------------------- clients


@dataclass
class Tally:
    completions: list[float] = field(default_factory=list)  # seconds per POST .../complete
    reads: list[float] = field(default_factory=list)  # seconds per GET /cases/{id}
    requests: int = 0
    cases: int = 0  # cases walked to the end
    case_requests: int = 0  # requests of the cases walked to the end
    case_ids: list[int] = field(default_factory=list)
    problems: Counter = field(default_factory=Counter)

    def merge(self, other: Tally) -> None:
        self.completions += other.completions
        self.reads += other.reads
        self.requests += other.requests
        self.cases += other.cases
        self.case_requests += other.case_requests
        self.case_ids += other.case_ids
        self.problems.update(other.problems)


class Client:
    """One HTTP client with a kept-alive connection to one server."""

    def __init__(self, port: int, tokens: dict[str, str]) -> None:
        self.port = port
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.tokens = tokens
        self.tally = Tally()

    def call(self, role: str, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {self.tokens[role]}"}
        payload = None
        if body is not None:
            payload = json.dumps(body)
            headers["Content-Type"] = "application/json"
        self.conn.request(method, path, body=payload, headers=headers)
        response = self.conn.getresponse()
        self.tally.requests += 1
        return response.status, json.loads(response.read())

    def run_case(self) -> None:
        before = self.tally.requests
        status, case = self.call("school", "POST", "/api/v1/cases", {"route": "tlv-vso", "data": START_DATA})
        if status != 201:
            self.tally.problems[f"start {status}"] += 1
            return
        case_id, offered, previous = case["id"], case["tasks"], "school"
        self.tally.case_ids.append(case_id)
        for role, name, data in STEPS:
            if role != previous:  # another role's step: it is in that role's inbox
                status, offered = self.call(role, "GET", "/api/v1/tasks?scope=role&limit=500")
            task = next((t for t in offered if t["case_id"] == case_id and t["name"] == name), None)
            if task is None:
                self.tally.problems[f"{name} not offered"] += 1
                return
            t0 = time.perf_counter()
            status, done = self.call(role, "POST", f"/api/v1/tasks/{task['id']}/complete", {"data": data})
            self.tally.completions.append(time.perf_counter() - t0)
            if status != 200:
                self.tally.problems[f"{name} {status} {done.get('error', {}).get('code')}"] += 1
                return
            if done["case"]["status"] not in ("open", "closed"):
                self.tally.problems[f"after {name}: case {done['case']['status']}"] += 1
                return
            offered, previous = done["next_tasks"], role
        self.tally.cases += 1
        self.tally.case_requests += self.tally.requests - before

    def run_cases(self, cases: int, until: float) -> None:
        for _ in range(cases):
            if time.monotonic() > until:
                break
            try:
                self.run_case()
            except (OSError, http.client.HTTPException, ValueError) as exc:  # count it, go on with a new connection
                self.tally.problems[type(exc).__name__] += 1
                self.conn.close()
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)

    def run_reads(self, case_ids: list[int], reads: int, until: float, offset: int) -> None:
        for i in range(reads):
            if time.monotonic() > until:
                break
            t0 = time.perf_counter()
            status, _ = self.call("consulent", "GET", f"/api/v1/cases/{case_ids[(offset + i) % len(case_ids)]}")
            self.tally.reads.append(time.perf_counter() - t0)
            if status != 200:
                self.tally.problems[f"read {status}"] += 1

    def close(self) -> None:
        self.conn.close()


def concurrently(servers: list[Server], tokens: dict[str, str], clients: int, work: Any) -> tuple[Tally, float]:
    """Run ``work(client, i)`` in ``clients`` threads, client i against server i % len(servers)."""
    pool = [Client(servers[i % len(servers)].port, tokens) for i in range(clients)]
    threads = [threading.Thread(target=work, args=(c, i)) for i, c in enumerate(pool)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - t0
    total = Tally()
    for c in pool:
        c.close()
        total.merge(c.tally)
    return total, elapsed


def server_stats(servers: list[Server]) -> dict[str, dict[str, float]]:
    """The servers' counts since their last reset, summed per kind, plus their CPU time."""
    out: dict[str, dict[str, float]] = {"cpu": {"seconds": 0.0}}
    for server in servers:
        snap = server.stats()
        out["cpu"]["seconds"] += snap["cpu_seconds"]
        for kind, counts in snap["kinds"].items():
            for key, value in counts.items():
                out.setdefault(kind, {}).setdefault(key, 0)
                out[kind][key] += value
    return out


def show_errors(servers: list[Server]) -> None:
    """The last server error, so a failed request says why."""
    for server in servers:
        lines = server.log.read_text(errors="replace").splitlines()
        starts = [i for i, line in enumerate(lines) if line.startswith(("ERROR", "Traceback"))]
        if starts:
            print("\n".join(f"    {line}" for line in lines[starts[-1]:][:40]))


def p(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, max(0, round(len(ordered) * q) - 1))] * 1000


# ---------------------------------------------------------------- phases


def completions(label: str, servers: list[Server], tokens: dict[str, str], clients: int, cases: int,
                seconds: float) -> list[int]:
    for server in servers:
        server.stats(reset=True)
    until = time.monotonic() + seconds
    cpu = time.process_time()
    tally, elapsed = concurrently(servers, tokens, clients, lambda c, i: c.run_cases(cases, until))
    cpu = time.process_time() - cpu
    stats = server_stats(servers)
    n = len(tally.completions) or 1
    done = stats.get("complete", {})
    per = {key: done.get(key, 0) / max(1, done.get("requests", 0)) for key in ("statements", "commits", "seconds")}
    background = stats.get("background", {}).get("statements", 0) / n
    print(f"{label:<34} {len(tally.completions) / elapsed:7.0f} completions/s  p50 {p(tally.completions, .5):6.1f} ms"
          f"  p95 {p(tally.completions, .95):6.1f} ms  {tally.case_requests / max(1, tally.cases):4.1f} req/case"
          f"  {per['statements']:5.1f} SQL stmts + {per['commits']:.1f} commits/completion"
          f"  server {per['seconds'] * 1000:5.1f} ms/completion")
    print(f"{'':<34} {tally.cases} cases, {len(tally.completions)} completions in {elapsed:.1f} s;"
          f" CPU per completion (all requests): servers {stats['cpu']['seconds'] * 1000 / n:.1f} ms,"
          f" clients {cpu * 1000 / n:.1f} ms;"
          f" scheduler {background:.1f} stmts per completion"
          + (f"; problems: {dict(tally.problems)}" if tally.problems else ""))
    if tally.problems:
        show_errors(servers)
    return tally.case_ids


def reads(label: str, servers: list[Server], tokens: dict[str, str], case_ids: list[int], count: int,
          seconds: float) -> None:
    if not case_ids:
        print(f"{label:<34} no cases to read")
        return
    for server in servers:
        server.stats(reset=True)
    until = time.monotonic() + seconds
    tally, elapsed = concurrently(servers, tokens, 2,
                                  lambda c, i: c.run_reads(case_ids, count, until, offset=i * len(case_ids) // 2))
    stats = server_stats(servers).get("read", {})
    statements = stats.get("statements", 0) / max(1, stats.get("requests", 0))
    print(f"{label:<34} {len(tally.reads) / elapsed:7.0f} reads/s        p50 {p(tally.reads, .5):6.1f} ms"
          f"  p95 {p(tally.reads, .95):6.1f} ms  {statements:5.1f} stmts/read"
          + (f"  problems: {dict(tally.problems)}" if tally.problems else ""))
    if tally.problems:
        show_errors(servers)


def backend(label: str, url: str, args: argparse.Namespace, log_dir: Path) -> None:
    """Every run against one backend: one server (1 and N clients, reads), then two servers."""
    db = Database(url)
    db.upgrade()
    with db.transaction() as session:
        routes.deploy_dir(session, ROOT / "processes")
    world = make_world(db, key=f"bench-api-{os.getpid()}")
    db.dispose()
    servers = [Server(url, log_dir, not args.no_scheduler)]
    try:
        # Warm-up: spec caches, connection pools, and the year's TLV counter row (made once, by one writer).
        completions(f"{label} warm-up", servers, world.tokens, 1, 3, args.seconds)
        completions(f"{label} 1 server, 1 client", servers, world.tokens, 1, args.cases, args.seconds)
        ids = completions(f"{label} 1 server, {args.clients} clients", servers, world.tokens, args.clients,
                          args.cases, args.seconds)
        reads(f"{label} 1 server, 2 clients", servers, world.tokens, ids, args.reads, args.seconds)
        servers.append(Server(url, log_dir, not args.no_scheduler))
        completions(f"{label} warm-up second server", servers[1:], world.tokens, 1, 3, args.seconds)
        ids = completions(f"{label} 2 servers, {args.clients} clients", servers, world.tokens, args.clients,
                          args.cases, args.seconds)
        reads(f"{label} 2 servers, 2 clients", servers, world.tokens, ids, args.reads, args.seconds)
    finally:
        for server in servers:
            server.stop()
    print(f"  (load average now {os.getloadavg()[0]:.1f})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=4, help="concurrent HTTP clients (besides the 1-client run)")
    parser.add_argument("--cases", type=int, default=40, help="cases per client and run")
    parser.add_argument("--reads", type=int, default=1500, help="case reads per client and run")
    parser.add_argument("--seconds", type=float, default=30, help="at most this long per run")
    parser.add_argument("--postgres", default=ADMIN_URL,
                        help="PostgreSQL server to create a scratch database on ('' to skip)")
    parser.add_argument("--sqlite-only", action="store_true")
    parser.add_argument("--no-scheduler", action="store_true", help="servers without the in-process scheduler")
    args = parser.parse_args()

    print(f"REST API, full tlv-vso cases; {os.cpu_count()} CPUs shared by servers, clients and the database;"
          f" scheduler in the server: {'no' if args.no_scheduler else 'yes (as loket serve)'};"
          f" load average {os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory() as tmp:
        backend("SQLite", f"sqlite:///{tmp}/bench.db", args, Path(tmp))
        if args.sqlite_only or not args.postgres:
            return
        with postgres_database(args.postgres, "api") as url:
            if url is not None:
                backend("PostgreSQL", url, args, Path(tmp))


if __name__ == "__main__":
    main()
