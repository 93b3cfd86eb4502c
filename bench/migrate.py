"""Zaken overzetten (issue 11, "Benchmark"): preview and migrate --cases open tlv-vso cases from version 1 to a
version 2 with a longer dossiercheck term, on SQLite and PostgreSQL, and the inbox while the migration runs.

The database is grown as bench/growth.py grows it (per SWV a real case at each open stage of tlv-vso, made through
the runtime, copied with INSERT ... SELECT), with each copy's engine state given its own open task's id, so every
copy is a case the engine can move. Then, in this order:
- the inbox's first page (GET /api/v1/tasks, a consulent of each SWV in turn): the baseline, nothing else running;
- the preview of all cases (engine.migration, in this process): cases per second;
- ``loket processes migrate`` in a process of its own (as an operator runs it beside the server), each case in its
  own transaction, while this process keeps asking for the inbox: cases per second (the command's whole run,
  start-up included) and the inbox's median and p95 during it, with the ratio to the baseline.
Prints the figures; never pass/fail.

    .venv/bin/python bench/migrate.py [--cases 10000] [--reads 200] [--postgres URL] [--sqlite-only]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import func, select, text  # noqa: E402

import handlers  # noqa: E402,F401  (composed as the app does)
from bench.growth import Bench, add_size_arguments, quantiles, sample  # noqa: E402
from bench.throwaway import postgres_database  # noqa: E402
from engine import migration  # noqa: E402
from engine.config import PROJECT_ROOT  # noqa: E402
from engine.models import Case, RouteVersion  # noqa: E402
from tests.migration_routes import longer_dossiercheck, publish_variant  # noqa: E402

SWVS = 5
STAGES = (0, 1, 2, 3)  # open at aanmelding, dossiercheck, knooppuntoverleg, besluit


class MigrateBench(Bench):
    """growth.Bench with open cases only, each copy's state pointing at its own open task."""

    stages = STAGES

    def copy(self, session) -> None:
        super().copy(session)
        # The copy's open task has an id of its own; its engine state must name that id, as the engine would.
        session.execute(text(
            "UPDATE cases SET state = replace(cases.state, t0.id, t1.id) "
            "FROM bench_copies c JOIN tasks t0 ON t0.case_id = c.template AND t0.status IN ('ready', 'claimed') "
            "JOIN tasks t1 ON t1.case_id = c.id AND t1.name = t0.name AND t1.status IN ('ready', 'claimed') "
            "WHERE cases.id = c.id"))

    def inbox(self) -> Callable[[int], Callable[[], None]]:
        def make(i: int) -> Callable[[], None]:
            world = self.worlds[i % SWVS]
            headers = {"Authorization": f"Bearer {world.tokens['consulent']}"}

            def go() -> None:
                response = self.client.get("/api/v1/tasks?limit=50", headers=headers)
                assert response.status_code == 200, response.get_json()
            return go
        return make


def _open_on(bench: MigrateBench, number: int) -> int:
    with bench.db.read() as session:
        return session.scalar(select(func.count()).select_from(Case).join(RouteVersion)
                              .where(RouteVersion.number == number, Case.status != "closed")) or 0


def run(url: str, label: str, cases: int, reads: int) -> None:
    print(f"\n== {label} ==")
    bench = MigrateBench(url)
    grew = bench.grow(cases)
    bench.db.analyze()
    to = publish_variant(bench.db, longer_dossiercheck, note="Dossiercheck 7 werkdagen (bench).")
    on_v1 = _open_on(bench, 1)
    print(f"  {on_v1:,} open cases on tlv-vso v1 ({bench.sizes()}; grown in {grew:.1f} s); target v{to}")

    median0, p95_0, _ = sample(bench.inbox(), reads, warm_up=10)
    print(f"    inbox, nothing else running          median {median0:7.2f} ms  p95 {p95_0:7.2f} ms")

    t0 = time.perf_counter()
    preview = migration.Migrator(bench.runtime).preview("tlv-vso", 1, to)
    took = time.perf_counter() - t0
    print(f"    preview                              {len(preview.cases):,} cases ({preview.can:,} can move) in "
          f"{took:.1f} s: {len(preview.cases) / took:,.0f} cases/s")

    env = {**os.environ, "LOKET_DATABASE_URL": url}
    command = [sys.executable, "-c", "import cli; cli.run()", "processes", "migrate", "tlv-vso", "--from", "1",
               "--to", str(to)]
    # Its report (a line per case) goes to a file: a pipe nobody reads while the inbox is sampled would fill up
    # and stop the command mid-run.
    report = tempfile.TemporaryFile(mode="w+")
    t0 = time.perf_counter()
    process = subprocess.Popen(command, cwd=PROJECT_ROOT, env=env, stdout=report, stderr=subprocess.STDOUT,
                               text=True)
    during, i = [], 0
    make = bench.inbox()
    while process.poll() is None:
        go = make(i)
        started = time.perf_counter()
        go()
        during.append(time.perf_counter() - started)
        i += 1
        time.sleep(0.02)  # a user's pace, not a flood: the inbox as people use it while the move runs
    process.wait()
    took = time.perf_counter() - t0
    moved = on_v1 - _open_on(bench, 1)
    report.seek(0)
    last = (report.read().strip().splitlines() or ["(no output)"])[-1]
    report.close()
    print(f"    migrate (loket processes migrate)    {moved:,} cases in {took:.1f} s: {moved / took:,.0f} cases/s "
          f"(exit {process.returncode}: {last})")
    if during:
        median1, p95_1, _ = quantiles(during)
        print(f"    inbox during the migration           median {median1:7.2f} ms  p95 {p95_1:7.2f} ms  "
              f"({len(during)} requests; p95 {p95_1 / p95_0:.2f}x the baseline)")
    bench.db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_size_arguments(parser, "unused here (the migration runs at --cases)", reads=200,
                       reads_help="inbox samples for the baseline")
    parser.set_defaults(cases=10_000)
    parser.add_argument("--sqlite-only", action="store_true", help="skip PostgreSQL")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        run(f"sqlite:///{tmp}/migrate.db", "SQLite", args.cases, args.reads)
    if args.sqlite_only or not args.postgres:
        return
    with postgres_database(args.postgres, "migrate") as url:
        if url is not None:
            run(url, "PostgreSQL", args.cases, args.reads)


if __name__ == "__main__":
    main()
