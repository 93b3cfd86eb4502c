"""Engine throughput: full TLV cases with persistence (SQLite, PostgreSQL) against bare SpiffWorkflow.

Prints task completions per second, median and p95 per completion, and the ratio persisted / bare,
all measured in the same run; then the per-step cost at 1k cases and again after the database has
grown to --grow cases. Never pass/fail: figures only.

    .venv/bin/python bench/engine.py [--cases 200] [--grow 100000] [--postgres URL]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from SpiffWorkflow.bpmn import BpmnWorkflow  # noqa: E402
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine, TaskDataEnvironment  # noqa: E402
from SpiffWorkflow.util.task import TaskState  # noqa: E402
from sqlalchemy import event, insert, select, text  # noqa: E402

from bench.throwaway import ADMIN_URL, postgres_database  # noqa: E402
from engine import routes  # noqa: E402
from engine.config import PROJECT_ROOT, Settings  # noqa: E402
from engine.db import Database  # noqa: E402
from engine.models import Case, Event, Task  # noqa: E402
from engine.runtime import build_runtime  # noqa: E402
from engine.validate import check  # noqa: E402
from tests.conftest import AANMELDING, KNOOPPUNT, PLAATSING, START_DATA, TOEKENNEN, make_world  # noqa: E402

ROUTE = PROJECT_ROOT / "processes" / "tlv-vso.bpmn"
STEPS = [("school", "aanmelding", AANMELDING), ("consulent", "dossiercheck", {"dossier_compleet": True}),
         ("consulent", "knooppuntoverleg", KNOOPPUNT), ("commissie", "besluit", TOEKENNEN),
         ("school", "plaatsing", PLAATSING)]


def summary(label: str, samples: list[float], baseline: float | None = None) -> float:
    per_second = len(samples) / sum(samples)
    ordered = sorted(samples)
    p95 = ordered[int(len(ordered) * 0.95) - 1]
    ratio = f"  ratio to bare: {per_second / baseline:.2f}" if baseline else ""
    print(f"{label:<34} {per_second:8.0f} completions/s  median {statistics.median(samples) * 1000:6.2f} ms"
          f"  p95 {p95 * 1000:6.2f} ms{ratio}")
    return per_second


class BareEnvironment(TaskDataEnvironment):
    def call_service(self, context, operation_name, operation_params, **kwargs):
        return json.dumps({"nummer": "TLV-2026-0001"})


def bare(cases: int) -> list[float]:
    parsed = check(ROUTE).parsed
    engine = PythonScriptEngine(environment=BareEnvironment())
    samples = []
    for _ in range(cases):
        wf = BpmnWorkflow(parsed.spec, parsed.subprocess_specs, script_engine=engine)
        wf.task_tree.data = dict(START_DATA)
        wf.do_engine_steps()
        for _role, name, data in STEPS:
            t0 = time.perf_counter()
            task = wf.get_tasks(state=TaskState.READY, manual=True, spec_name=name)[0]
            task.data.update(data)
            task.run()
            wf.do_engine_steps()
            samples.append(time.perf_counter() - t0)
        assert wf.is_completed()
    return samples


def ready_task(runtime, case_id: int, name: str) -> str:
    with runtime.db.read() as session:
        return session.scalar(select(Task.id).where(Task.case_id == case_id, Task.name == name,
                                                    Task.status == "ready"))


class StatementCounter:
    """Counts the SQL statements the engine sends (each one round trip, an executemany included), and the
    commits, between ``mark`` calls."""

    def __init__(self, db: Database) -> None:
        self.statements = self.commits = 0
        event.listen(db.engine, "before_cursor_execute", self._statement)
        event.listen(db.engine, "commit", self._commit)

    def _statement(self, *args) -> None:
        self.statements += 1

    def _commit(self, *args) -> None:
        self.commits += 1

    def mark(self) -> tuple[int, int]:
        return self.statements, self.commits


def persisted(runtime, world, cases: int, counts: list[tuple[int, int]] | None = None) -> list[float]:
    counter = StatementCounter(runtime.db) if counts is not None else None
    samples = []
    for _ in range(cases):
        case = runtime.start_case(world["school"], "tlv-vso", START_DATA)
        for role, name, data in STEPS:
            task_id = ready_task(runtime, case.id, name)
            before = counter.mark() if counter else (0, 0)
            t0 = time.perf_counter()
            runtime.complete(world[role], task_id, data)
            samples.append(time.perf_counter() - t0)
            if counter is not None:
                after = counter.mark()
                counts.append((after[0] - before[0], after[1] - before[1]))
    return samples


def statements(label: str, counts: list[tuple[int, int]]) -> None:
    per = sorted(s for s, _ in counts)
    commits = statistics.median(c for _, c in counts)
    print(f"{label:<34} SQL per completion: median {statistics.median(per):.0f} statements (BEGIN included; "
          f"min {per[0]}, max {per[-1]}) + {commits:.0f} commit")


def through_api(runtime, world, cases: int) -> list[float]:
    """Server time of POST /api/v1/tasks/{id}/complete (Flask in-process: routing, auth, JSON, engine)."""
    from web import create_app

    app = create_app(runtime.settings, runtime.db)
    app.extensions["loket"] = runtime
    client = app.test_client()
    samples = []
    for _ in range(cases):
        case = runtime.start_case(world["school"], "tlv-vso", START_DATA)
        for role, name, data in STEPS:
            task_id = ready_task(runtime, case.id, name)
            headers = {"Authorization": f"Bearer {world.tokens[role]}"}
            t0 = time.perf_counter()
            response = client.post(f"/api/v1/tasks/{task_id}/complete", json={"data": data}, headers=headers)
            samples.append(time.perf_counter() - t0)
            assert response.status_code == 200, response.get_json()
    return samples


def grow(db: Database, total: int) -> None:
    """Fill the database with copies of a finished case (rows as the engine writes them) up to ``total``."""
    with db.transaction() as session:
        template = session.scalars(select(Case).where(Case.status == "closed").limit(1)).one()
        events = session.scalars(select(Event).where(Event.case_id == template.id)).all()
        have = session.scalar(select(text("count(*)")).select_from(Case))
        columns = [c.key for c in Case.__table__.columns if c.key != "id"]
        event_columns = [c.key for c in Event.__table__.columns if c.key not in ("id", "case_id")]
        row = {c: getattr(template, c) for c in columns}
        event_rows = [{c: getattr(e, c) for c in event_columns} for e in events]
    batch = 2000
    while have < total:
        n = min(batch, total - have)
        with db.transaction() as session:
            ids = session.scalars(insert(Case).returning(Case.id), [dict(row) for _ in range(n)]).all()
            session.execute(insert(Event), [dict(e, case_id=i) for i in ids for e in event_rows])
        have += n


def backend(label: str, url: str, cases: int, grow_to: int, baseline: float) -> None:
    db = Database(url)
    db.upgrade()
    runtime = build_runtime(db, Settings(database_url=url))
    with db.transaction() as session:
        routes.deploy_dir(session, PROJECT_ROOT / "processes")
    world = make_world(db, key=f"bench-{os.getpid()}")
    persisted(runtime, world, 5)  # warm-up: spec cache, connections
    counts: list[tuple[int, int]] = []
    summary(f"{label} persisted ({cases} cases)", persisted(runtime, world, cases, counts), baseline)
    statements(label, counts)
    summary(f"{label} REST API complete", through_api(runtime, world, max(20, cases // 5)), baseline)
    if grow_to:
        grow(db, 1000)
        at_1k = summary(f"{label} at 1,000 cases", persisted(runtime, world, max(20, cases // 5)), baseline)
        t0 = time.perf_counter()
        grow(db, grow_to)
        print(f"  (grew to {grow_to:,} cases in {time.perf_counter() - t0:.0f} s)")
        at_big = summary(f"{label} at {grow_to:,} cases", persisted(runtime, world, max(20, cases // 5)), baseline)
        print(f"  step cost at {grow_to:,} / at 1,000: {at_1k / at_big:.2f}x")
    db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=200)
    parser.add_argument("--grow", type=int, default=100_000, help="grow the database to this many cases (0: skip)")
    parser.add_argument("--postgres", default=ADMIN_URL)
    args = parser.parse_args()

    bare(5)
    baseline = summary(f"bare SpiffWorkflow ({args.cases} cases)", bare(args.cases))
    with tempfile.TemporaryDirectory() as tmp:
        backend("SQLite", f"sqlite:///{tmp}/bench.db", args.cases, args.grow, baseline)
    if args.postgres:
        with postgres_database(args.postgres, "engine") as url:
            if url is not None:
                backend("PostgreSQL", url, args.cases, args.grow, baseline)


if __name__ == "__main__":
    main()
