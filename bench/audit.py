"""Audit throughput: verify and replay on --cases TLV cases of about 20 events each, made through the runtime
(three aanvulling rounds, claims and a toekenning), and the latency that access logging adds to a case read
through the API (median and p95, with and without, interleaved in the same run). Figures only, never
pass/fail.

    .venv/bin/python bench/audit.py [--cases 1000] [--reads 500] [--postgres URL]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import func, select  # noqa: E402

from bench.throwaway import postgres_database  # noqa: E402
from engine import access, audit, routes  # noqa: E402
from engine.config import PROJECT_ROOT, Settings  # noqa: E402
from engine.db import Database  # noqa: E402
from engine.models import Case, Event, Task  # noqa: E402
from engine.runtime import build_runtime  # noqa: E402
from tests.conftest import AANMELDING, KNOOPPUNT, PLAATSING, START_DATA, TOEKENNEN, make_world  # noqa: E402


def open_task(runtime, case_id: int, name: str) -> Task:
    with runtime.db.read() as session:
        return session.scalar(select(Task).where(Task.case_id == case_id, Task.name == name,
                                                 Task.status.in_(("ready", "claimed"))))


def work(runtime, world, case_id: int, role: str, name: str, data: dict, claim: bool = True) -> None:
    task = open_task(runtime, case_id, name)
    if claim:
        runtime.claim(world[role], task.id)
    runtime.complete(world[role], task.id, data)


def one_case(runtime, world) -> int:
    """20 events: start, aanmelding, three rounds of (claim, incomplete check, aanvulling), then a claimed
    check, knooppuntoverleg, besluit and plaatsing, and case_completed."""
    case = runtime.start_case(world["school"], "tlv-vso", START_DATA)
    work(runtime, world, case.id, "school", "aanmelding", AANMELDING, claim=False)
    for round_ in range(3):
        work(runtime, world, case.id, "consulent", "dossiercheck",
             {"dossier_compleet": False, "ontbrekend": f"Tweede advies (ronde {round_ + 1})."})
        work(runtime, world, case.id, "school", "aanvulling", {"aanvulling": "Nagestuurd."}, claim=False)
    work(runtime, world, case.id, "consulent", "dossiercheck", {"dossier_compleet": True})
    work(runtime, world, case.id, "consulent", "knooppuntoverleg", KNOOPPUNT)
    work(runtime, world, case.id, "commissie", "besluit", TOEKENNEN)
    work(runtime, world, case.id, "school", "plaatsing", PLAATSING)
    return case.id


def quantiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered) * 1000, ordered[max(0, int(len(ordered) * 0.95) - 1)] * 1000


def bench(url: str, label: str, cases: int, reads: int) -> None:
    print(f"\n== {label} ==")
    db = Database(url)
    db.upgrade()
    runtime = build_runtime(db, Settings(database_url=url, processes_dir=PROJECT_ROOT / "processes"))
    with db.transaction() as session:
        routes.deploy_dir(session, PROJECT_ROOT / "processes")
    world = make_world(db)

    t0 = time.perf_counter()
    ids = [one_case(runtime, world) for _ in range(cases)]
    made = time.perf_counter() - t0
    with db.read() as session:
        events = session.scalar(select(func.count()).select_from(Event))
    print(f"made {cases} cases, {events} events ({events / cases:.1f} per case) through the runtime in {made:.1f} s")

    with db.read() as session:
        t0 = time.perf_counter()
        reports = list(audit.verify_all(session))
        verify_s = time.perf_counter() - t0
    assert all(r.intact for r in reports) and len(reports) == cases
    print(f"verify (hash chains, all cases)      {cases / verify_s:8.0f} cases/s  ({events / verify_s:8.0f} events/s)")

    with db.read() as session:
        replayer = audit.Replayer(runtime, session)
        samples, consistent = [], 0
        t0 = time.perf_counter()
        for case_id in ids:
            s0 = time.perf_counter()
            case = session.get(Case, case_id)
            rows = replayer.events(case)
            chain = audit.check_chain(case.id, case.event_seq, case.last_hash, rows)
            result = replayer.run(case, rows=rows)
            consistent += chain.intact and result.consistent
            samples.append(time.perf_counter() - s0)
        both_s = time.perf_counter() - t0
    median, p95 = quantiles(samples)
    print(f"replay + verify, case by case        {cases / both_s:8.0f} cases/s  median {median:6.2f} ms"
          f"  p95 {p95:6.2f} ms  consistent: {consistent}/{cases}")

    parallel(url, ids, workers=os.cpu_count() or 2)

    # One replay fresh, as the API does it (definition loaded and its BPMN checked for this request alone).
    with db.read() as session:
        fresh = []
        for case_id in ids[:50]:
            s0 = time.perf_counter()
            audit.replay(runtime, session, session.get(Case, case_id))
            fresh.append(time.perf_counter() - s0)
    median, p95 = quantiles(fresh)
    print(f"one replay as the API runs it        median {median:6.2f} ms  p95 {p95:6.2f} ms")

    access_latency(runtime, db, world, ids, reads)
    db.dispose()


def _replay_chunk(job: tuple[str, list[int]]) -> tuple[int, float]:
    """One worker process: verify and replay its share of the cases; returns (consistent, seconds)."""
    url, ids = job
    db = Database(url)
    runtime = build_runtime(db, Settings(database_url=url, processes_dir=PROJECT_ROOT / "processes"))
    consistent = 0
    with db.read() as session:
        replayer = audit.Replayer(runtime, session)
        t0 = time.perf_counter()
        for case_id in ids:
            case = session.get(Case, case_id)
            rows = replayer.events(case)
            intact = audit.check_chain(case.id, case.event_seq, case.last_hash, rows).intact
            consistent += intact and replayer.run(case, rows=rows).consistent
        elapsed = time.perf_counter() - t0
    db.dispose()
    return consistent, elapsed


def parallel(url: str, ids: list[int], workers: int) -> None:
    """The same work spread over one process per core (an audit of all cases can be split like this)."""
    import multiprocessing

    chunks = [(url, ids[i::workers]) for i in range(workers)]
    with multiprocessing.get_context("spawn").Pool(workers) as pool:
        results = pool.map(_replay_chunk, chunks)
    consistent = sum(r[0] for r in results)
    slowest = max(r[1] for r in results)
    print(f"replay + verify, {workers} processes          {len(ids) / slowest:8.0f} cases/s  "
          f"(process start not counted)  consistent: {consistent}/{len(ids)}")


def access_latency(runtime, db, world, ids: list[int], reads: int) -> None:
    from web import create_app

    app = create_app(runtime.settings, db)
    app.extensions["loket"] = runtime
    client = app.test_client()
    headers = {"Authorization": f"Bearer {world.tokens['consulent']}"}
    real = access.record
    with_log, without_log, alone = [], [], []
    for i in range(reads):
        case_id = ids[i % len(ids)]
        for logging in (True, False) if i % 2 else (False, True):  # interleaved, alternating order
            access.record = real if logging else (lambda *a, **k: None)
            s0 = time.perf_counter()
            response = client.get(f"/api/v1/cases/{case_id}", headers=headers)
            (with_log if logging else without_log).append(time.perf_counter() - s0)
            assert response.status_code == 200
    access.record = real
    for i in range(reads):
        s0 = time.perf_counter()
        access.record(db, world["consulent"], "case", "api", ids[i % len(ids)])
        alone.append(time.perf_counter() - s0)
    (m1, p1), (m0, p0), (ma, pa) = quantiles(with_log), quantiles(without_log), quantiles(alone)
    print(f"GET /api/v1/cases/{{id}} without log   median {m0:6.2f} ms  p95 {p0:6.2f} ms")
    print(f"GET /api/v1/cases/{{id}} with log      median {m1:6.2f} ms  p95 {p1:6.2f} ms"
          f"  added: median {m1 - m0:+.2f} ms, p95 {p1 - p0:+.2f} ms")
    print(f"access.record alone                  median {ma:6.2f} ms  p95 {pa:6.2f} ms")
    with db.read() as session:
        report = access.verify(session, world.tenant_id)
    print(f"access log: {report.entries} entries, chain {'intact' if report.intact else 'BROKEN'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=1000)
    parser.add_argument("--reads", type=int, default=500)
    parser.add_argument("--postgres", default=os.environ.get("LOKET_BENCH_POSTGRES_URL"),
                        help="also run on PostgreSQL (a scratch database is created next to this URL's)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        bench(f"sqlite:///{tmp}/bench.db", "SQLite", args.cases, args.reads)
    if args.postgres:
        with postgres_database(args.postgres, "audit") as url:
            if url is not None:
                bench(url, "PostgreSQL", args.cases, args.reads)


if __name__ == "__main__":
    main()
