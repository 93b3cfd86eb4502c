"""Reads that grow with the database: a case read, the inbox's first page and the scheduler's next-due lookup,
measured at --small cases and again after the database has grown to --cases (5 SWVs), on SQLite and PostgreSQL.

Each SWV gets real cases at every stage of tlv-vso (made through the runtime); the database grows by copying
their rows as the engine wrote them (cases, tasks, deadlines, events) with INSERT ... SELECT, so half the cases
are open with pending deadlines and half are closed. Prints median, p95 and per second at both sizes and the
ratio big / small; never pass/fail. --explain prints the query plans behind the figures.

    .venv/bin/python bench/growth.py [--cases 100000] [--small 1000] [--reads 300] [--postgres URL]
                                     [--explain] [--no-analyze] [--drop-index NAME ...]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import (  # noqa: E402
    Column,
    Integer,
    MetaData,
    String,
    Table,
    cast,
    func,
    insert,
    literal,
    select,
)

import handlers  # noqa: E402,F401  (composed as the app does: register_tlv numbers the granted cases)
from bench.throwaway import ADMIN_URL, postgres_database  # noqa: E402
from engine import routes, scheduler  # noqa: E402
from engine.cases import Runtime  # noqa: E402
from engine.config import PROJECT_ROOT, Settings  # noqa: E402
from engine.db import Database  # noqa: E402
from engine.models import Case, Deadline, Event, Task  # noqa: E402
from engine.runtime import build_runtime  # noqa: E402
from tests.conftest import (  # noqa: E402
    AANMELDING,
    KNOOPPUNT,
    PLAATSING,
    START_DATA,
    TOEKENNEN,
    World,
    make_world,
)

SWVS = 5
REGIONS = ("noord", "midden", "zuid", "noord", "midden")
# tlv-vso's user tasks in order, with who completes them and with what.
STEPS = [("school", "aanmelding", AANMELDING), ("consulent", "dossiercheck", {"dossier_compleet": True}),
         ("consulent", "knooppuntoverleg", KNOOPPUNT), ("commissie", "besluit", TOEKENNEN),
         ("school", "plaatsing", PLAATSING)]
# Per SWV, one case stopped before each of the first four steps and a closed one, copied in these proportions.
STAGES = (0, 1, 2, 3, 5, 5, 5, 5)

# Which template each new case copies (a scratch table of the bench's own, in the bench database only).
_scratch = MetaData()
COPIES = Table("bench_copies", _scratch, Column("id", Integer, primary_key=True), Column("template", Integer))


def quantiles(samples: list[float]) -> tuple[float, float, float]:
    """median ms, p95 ms, per second."""
    ordered = sorted(samples)
    return (statistics.median(ordered) * 1000, ordered[max(0, int(len(ordered) * 0.95) - 1)] * 1000,
            len(ordered) / sum(ordered))


def sample(call: Callable[[int], Callable[[], None]], reads: int, warm_up: int) -> tuple[float, float, float]:
    """``quantiles`` of ``reads`` timed calls (``call(i)`` makes the i-th), after ``warm_up`` untimed ones."""
    for i in range(warm_up):  # connections, caches
        call(i)()
    samples = []
    for i in range(reads):
        go = call(i)
        t0 = time.perf_counter()
        go()
        samples.append(time.perf_counter() - t0)
    return quantiles(samples)


def add_size_arguments(parser: argparse.ArgumentParser, small_help: str, reads: int, reads_help: str) -> None:
    """The options a growing bench shares: --cases, --small, --reads and --postgres."""
    parser.add_argument("--cases", type=int, default=100_000, help="the big size (default 100,000)")
    parser.add_argument("--small", type=int, default=1000, help=small_help)
    parser.add_argument("--reads", type=int, default=reads, help=reads_help)
    parser.add_argument("--postgres", default=ADMIN_URL,
                        help="also run on PostgreSQL (a scratch database is made next to this one); '' to skip")


def open_database(url: str, drop: list[str] | None = None) -> tuple[Database, Runtime, list[World]]:
    """A bench database at the migration head with tlv-vso's routes deployed and SWVS worlds (SWVs with their users),
    on a runtime as the app composes it; ``drop`` names indexes to drop first."""
    db = Database(url)
    db.upgrade()
    for name in drop or ():  # to see what an index is worth: the same run without it
        with db.engine.begin() as conn:
            conn.exec_driver_sql(f"DROP INDEX {name}")
    runtime = build_runtime(db, Settings(database_url=url, processes_dir=PROJECT_ROOT / "processes"))
    with db.transaction() as session:
        routes.deploy_dir(session, PROJECT_ROOT / "processes")
    return db, runtime, [make_world(db, key=f"swv-{i + 1}", region=REGIONS[i]) for i in range(SWVS)]


class Bench:
    steps = STEPS  # who completes each step of the template cases
    stages = STAGES  # the template cases per SWV: how many steps of each are done

    def __init__(self, url: str, drop: list[str] | None = None) -> None:
        self.db, self.runtime, self.worlds = open_database(url, drop)
        self.made: dict[tuple[int, int], int] = {}
        self.templates = [self.template(world, stage) for world in self.worlds for stage in self.stages]
        _scratch.create_all(self.db.engine)
        from web import create_app

        app = create_app(self.runtime.settings, self.db)
        app.extensions["loket"] = self.runtime
        self.client = app.test_client()

    def template(self, world, stage: int) -> int:
        """A real case of this SWV with the first ``stage`` steps done (5: closed). Stages reuse one case."""
        key = (world.tenant_id, stage)
        if key not in self.made:
            case = self.runtime.start_case(world["school"], "tlv-vso", START_DATA)
            for role, name, data in self.steps[:stage]:
                with self.db.read() as session:
                    task_id = session.scalar(select(Task.id).where(Task.case_id == case.id, Task.name == name,
                                                                   Task.status == "ready"))
                self.runtime.complete(world[role], task_id, data)
            self.made[key] = case.id
        return self.made[key]

    # ------------------------------------------------------------ growing

    def grow(self, total: int, chunk: int = 25_000) -> float:
        t0 = time.perf_counter()
        with self.db.read() as session:
            have = session.scalar(select(func.max(Case.id))) or 0
            count = session.scalar(select(func.count()).select_from(Case)) or 0
        while count < total:
            n = min(chunk, total - count)
            ids = range(have + 1, have + n + 1)
            with self.db.transaction() as session:
                session.execute(COPIES.delete())
                session.execute(insert(COPIES), [{"id": i, "template": self.templates[i % len(self.templates)]}
                                                 for i in ids])
                self.copy(session)
            have, count = have + n, count + n
        if not self.db.is_sqlite:  # explicit ids were given: move the sequence past them
            with self.db.engine.begin() as conn:
                conn.exec_driver_sql("SELECT setval(pg_get_serial_sequence('cases', 'id'), max(id)) FROM cases")
        return time.perf_counter() - t0

    def copy(self, session) -> None:
        """Copy the templates' rows to the cases listed in bench_copies, as INSERT ... SELECT per table."""
        n = COPIES.c

        def new_task_id(column):
            # Unique per copy, 36 characters like SpiffWorkflow's uuids; NULL stays NULL.
            return cast(n.id + 10_000_000, String) + literal("-") + func.substr(column, 10)

        def copy_rows(model, key, overrides: dict) -> None:
            table = model.__table__
            columns = [c for c in table.columns if c.key not in ("id", key) and c.key not in overrides]
            names = [key, *overrides, *(c.key for c in columns)]
            query = (select(n.id, *overrides.values(), *columns)
                     .select_from(COPIES.join(table, table.c[key] == n.template)))
            session.execute(insert(table).from_select(names, query))

        cases = Case.__table__
        columns = [c for c in cases.columns if c.key != "id"]
        session.execute(insert(cases).from_select(
            ["id", *(c.key for c in columns)],
            select(n.id, *columns).select_from(COPIES.join(cases, cases.c.id == n.template))))
        copy_rows(Task, "case_id", {"id": new_task_id(Task.__table__.c.id)})
        copy_rows(Deadline, "case_id", {"task_id": new_task_id(Deadline.__table__.c.task_id)})
        copy_rows(Event, "case_id", {"task_id": new_task_id(Event.__table__.c.task_id)})

    def sizes(self) -> str:
        with self.db.read() as session:
            tasks = session.scalar(select(func.count()).select_from(Task))
            pending = session.scalar(select(func.count()).select_from(Deadline).where(Deadline.status == "pending"))
            events = session.scalar(select(func.count()).select_from(Event))
        return f"{tasks:,} tasks, {pending:,} pending deadlines, {events:,} events"

    # ------------------------------------------------------------ measuring

    def measure(self, reads: int) -> dict[str, tuple[float, float, float]]:
        rng = random.Random(7)
        case_ids = {}
        with self.db.read() as session:
            for world in self.worlds:
                case_ids[world.tenant_id] = list(session.scalars(select(Case.id).where(
                    Case.tenant_id == world.tenant_id)))

        def case_read(i: int) -> Callable[[], None]:
            world = self.worlds[i % SWVS]
            path = f"/api/v1/cases/{rng.choice(case_ids[world.tenant_id])}"
            headers = {"Authorization": f"Bearer {world.tokens['consulent']}"}

            def go() -> None:
                response = self.client.get(path, headers=headers)
                assert response.status_code == 200, response.get_json()
            return go

        def inbox(i: int) -> Callable[[], None]:
            world = self.worlds[i % SWVS]
            headers = {"Authorization": f"Bearer {world.tokens['consulent']}"}

            def go() -> None:
                response = self.client.get("/api/v1/tasks?limit=50", headers=headers)
                assert response.status_code == 200, response.get_json()
            return go

        def next_due(_: int) -> Callable[[], None]:
            return lambda: scheduler.next_due(self.runtime)

        results = {}
        for name, make in (("GET /api/v1/cases/{id}", case_read), ("GET /api/v1/tasks (inbox, page 1)", inbox),
                           ("scheduler next_due", next_due)):
            results[name] = sample(make, reads, warm_up=10)
        return results

    def explain(self) -> None:
        """The plans of the queries behind the figures (the case read's pending deadlines, next_due)."""
        with self.db.read() as session:
            case_id = session.scalar(select(func.max(Case.id)).where(Case.status == "open"))
        queries = {
            "case read: pending deadlines": select(Deadline).where(Deadline.case_id == case_id,
                                                                    Deadline.status == "pending")
                                            .order_by(Deadline.due_at),
            "scheduler next_due": scheduler._pending(Deadline.due_at).limit(1),
        }
        prefix = "EXPLAIN QUERY PLAN " if self.db.is_sqlite else "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) "
        with self.db.engine.connect() as conn:
            for name, query in queries.items():
                sql = str(query.compile(conn, compile_kwargs={"literal_binds": True}))
                print(f"    plan of {name}:")
                for row in conn.exec_driver_sql(prefix + sql):
                    print(f"      {row[-1]}")


def run(url: str, label: str, small: int, big: int, reads: int, analyze: bool, explain: bool,
        drop: list[str]) -> None:
    print(f"\n== {label} ==")
    bench = Bench(url, drop)
    figures = {}
    for size in (small, big):
        grew = bench.grow(size)
        if analyze:  # what SQLite's PRAGMA optimize and PostgreSQL's autovacuum do in time on a live database
            bench.db.analyze()
        print(f"  {size:,} cases ({bench.sizes()}; grown in {grew:.1f} s"
              f"{', statistics gathered' if analyze else ', no statistics gathered'})")
        figures[size] = bench.measure(reads)
        for name, (median, p95, per_second) in figures[size].items():
            print(f"    {name:<36} median {median:7.2f} ms  p95 {p95:7.2f} ms  {per_second:8.0f}/s")
        if explain:
            bench.explain()
    print(f"  {big:,} / {small:,} cases:")
    for name in figures[small]:
        (m0, p0, _), (m1, p1, _) = figures[small][name], figures[big][name]
        print(f"    {name:<36} median {m1 / m0:5.2f}x  p95 {p1 / p0:5.2f}x")
    bench.db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_size_arguments(parser, "the small size (default 1,000)", reads=300, reads_help="samples per figure")
    parser.add_argument("--explain", action="store_true", help="print the query plans at each size")
    parser.add_argument("--no-analyze", dest="analyze", action="store_false",
                        help="do not gather planner statistics after growing")
    parser.add_argument("--drop-index", action="append", default=[], metavar="NAME",
                        help="drop this index first, to see what it is worth")
    args = parser.parse_args()
    options = {"small": args.small, "big": args.cases, "reads": args.reads, "analyze": args.analyze,
               "explain": args.explain, "drop": args.drop_index}

    with tempfile.TemporaryDirectory() as tmp:
        run(f"sqlite:///{tmp}/growth.db", "SQLite", **options)
    if not args.postgres:
        return
    with postgres_database(args.postgres, "growth") as url:
        if url is not None:
            run(url, "PostgreSQL", **options)


if __name__ == "__main__":
    main()
