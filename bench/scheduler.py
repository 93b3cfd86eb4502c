"""Scheduler throughput and latency: 10,000 deadlines falling due at once, on SQLite and PostgreSQL.

Prints escalations per second with one scheduler process and with two (PostgreSQL; SQLite has one
writer), and the firing latency (due -> fired) p50/p95 with the real clock and APScheduler running.
The baseline in the same run is the bare cost of the claim query alone (rows selected per second).

    .venv/bin/python bench/scheduler.py [--deadlines 10000] [--latency 200] [--postgres URL]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import insert, select, text, update  # noqa: E402

from bench.throwaway import ADMIN_URL, postgres_database  # noqa: E402
from engine import routes  # noqa: E402
from engine.config import PROJECT_ROOT, Settings  # noqa: E402
from engine.db import Database  # noqa: E402
from engine.models import Case, Deadline, Task  # noqa: E402
from engine.runtime import build_runtime  # noqa: E402
from engine.scheduler import Scheduler, fire_due  # noqa: E402
from tests.conftest import START_DATA, make_world  # noqa: E402

FAR = datetime(2030, 1, 1, tzinfo=UTC)


def setup(url: str) -> tuple[Database, object, object]:
    db = Database(url)
    db.upgrade()
    runtime = build_runtime(db, Settings(database_url=url))
    with db.transaction() as session:
        routes.deploy_dir(session, PROJECT_ROOT / "processes")
    return db, runtime, make_world(db, key=f"bench-{os.getpid()}")


def clone_due(db: Database, runtime, world, deadlines: int, due_at) -> None:
    """``deadlines`` escalation deadlines on as many open aanmelding tasks, copied from one real case."""
    case = runtime.start_case(world["school"], "tlv-vso", START_DATA)
    with db.transaction() as session:
        template = session.get(Case, case.id)
        task = session.scalars(select(Task).where(Task.case_id == case.id)).one()
        case_row = {c.key: getattr(template, c.key) for c in Case.__table__.columns if c.key != "id"}
        task_row = {c.key: getattr(task, c.key) for c in Task.__table__.columns}
        session.execute(update(Deadline).where(Deadline.case_id == case.id).values(status="cancelled"))
    made = 0
    while made < deadlines:
        n = min(1000, deadlines - made)
        with db.transaction() as session:
            ids = session.scalars(insert(Case).returning(Case.id), [dict(case_row) for _ in range(n)]).all()
            tasks = [dict(task_row, id=f"{i:08d}-bench-{made + k:012d}"[:36], case_id=i) for k, i in enumerate(ids)]
            session.execute(insert(Task), tasks)
            due = [due_at(k + made) for k in range(n)]
            session.execute(insert(Deadline), [
                {"case_id": t["case_id"], "tenant_id": world.tenant_id, "task_id": t["id"], "kind": "escalation",
                 "due_at": due[k], "status": "pending"} for k, t in enumerate(tasks)])
        made += n


def claim_baseline(db: Database, count: int) -> float:
    t0 = time.perf_counter()
    with db.read() as session:
        rows = session.scalars(select(Deadline.id).where(Deadline.status == "pending", Deadline.due_at <= FAR)).all()
    assert len(rows) >= count
    return len(rows) / (time.perf_counter() - t0)


def one_process(label: str, url: str, count: int) -> None:
    db, runtime, world = setup(url)
    clone_due(db, runtime, world, count, lambda k: datetime.now(UTC) - timedelta(minutes=1))
    baseline = claim_baseline(db, count)
    t0 = time.perf_counter()
    report = fire_due(runtime, FAR)
    elapsed = time.perf_counter() - t0
    rate = report.fired / elapsed
    print(f"{label:<11} 1 process : {report.fired:>6} escalations in {elapsed:5.1f} s = {rate:6.0f}/s"
          f"   (claim query alone: {baseline:8.0f} rows/s; ratio {rate / baseline:.3f})")
    db.dispose()


def worker(url: str, start_at: float) -> None:
    """Run in a child process: wait for the common start moment, fire, print the elapsed time."""
    db = Database(url)
    runtime = build_runtime(db, Settings(database_url=url))
    time.sleep(max(0.0, start_at - time.time()))
    t0 = time.time()
    report = fire_due(runtime, FAR)
    print(f"{report.fired} {t0} {time.time()}")


def two_processes(label: str, url: str, count: int) -> None:
    db, runtime, world = setup(url)
    clone_due(db, runtime, world, count, lambda k: datetime.now(UTC) - timedelta(minutes=1))
    start_at = time.time() + 4  # both children are imported and connected by then
    procs = [subprocess.Popen([sys.executable, __file__, "--worker", url, str(start_at)], stdout=subprocess.PIPE,
                              text=True) for _ in range(2)]
    results = [p.communicate()[0].split() for p in procs]
    fired = [int(r[0]) for r in results]
    elapsed = max(float(r[2]) for r in results) - min(float(r[1]) for r in results)
    with db.read() as session:
        pending = session.scalar(select(text("count(*)")).select_from(Deadline).where(Deadline.status == "pending"))
    print(f"{label:<11} 2 processes: {sum(fired):>6} escalations in {elapsed:5.1f} s = {sum(fired) / elapsed:6.0f}/s"
          f"   (split {fired[0]}/{fired[1]}, left pending: {pending})")
    db.dispose()


def latency(label: str, url: str, count: int) -> None:
    """Deadlines due over the next ~10 s, APScheduler running as in `loket serve`: due -> fired."""
    db, runtime, world = setup(url)
    start = datetime.now(UTC) + timedelta(seconds=3)
    clone_due(db, runtime, world, count, lambda k: start + timedelta(milliseconds=(k * 7919) % 10_000))
    scheduler = Scheduler(runtime, sweep_seconds=30)
    scheduler.start()
    try:
        deadline = time.monotonic() + 40
        while time.monotonic() < deadline:
            with db.read() as session:
                left = session.scalar(select(text("count(*)")).select_from(Deadline).where(
                    Deadline.status == "pending", Deadline.kind == "escalation"))
            if not left:
                break
            time.sleep(0.2)
    finally:
        scheduler.shutdown()
    with db.read() as session:
        rows = session.execute(select(Deadline.due_at, Deadline.fired_at).where(Deadline.status == "fired")).all()
    lags = sorted((fired - due).total_seconds() for due, fired in rows)
    p95 = lags[int(len(lags) * 0.95) - 1]
    print(f"{label:<11} latency   : {len(lags)} deadlines, due -> fired p50 {statistics.median(lags) * 1000:6.0f} ms"
          f"  p95 {p95 * 1000:6.0f} ms  max {lags[-1] * 1000:6.0f} ms")
    db.dispose()


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--worker":
        worker(sys.argv[2], float(sys.argv[3]))
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--deadlines", type=int, default=10_000)
    parser.add_argument("--latency", type=int, default=200)
    parser.add_argument("--postgres", default=ADMIN_URL)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        one_process("SQLite", f"sqlite:///{tmp}/a.db", args.deadlines)
        latency("SQLite", f"sqlite:///{tmp}/c.db", args.latency)
    if not args.postgres:
        return
    for run in (one_process, two_processes, latency):
        with postgres_database(args.postgres, "sched") as url:
            if url is None:
                return
            run("PostgreSQL", url, args.latency if run is latency else args.deadlines)


if __name__ == "__main__":
    main()
