"""Completing a besluit task on SQLite: how long the decision takes, and what it costs everyone else, now that
the decision letter (PDF) is made after the decision's transaction (engine.decision_letters) instead of inside
it (the old way, kept reachable here by a handler that renders inside the transaction, as it did).

Three runs per way: the besluit alone; with inbox readers beside it; with a colleague starting cases beside it
(a writer, who waits for SQLite's one write lock). In the new way a "scheduler" thread makes the letters as the
real scheduler does, so the CPU the PDFs take is in the figures. Prints median and p95 per completion (and of the
readers' and the writer's actions), and the ratio old / new, all measured in the same run. Figures only.

    .venv/bin/python bench/decision.py [--cases 40] [--readers 2]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import handlers  # noqa: E402,F401  (registers the decision handler, as the app does)
from engine import decision_letters, inbox, letters, routes, services  # noqa: E402
from engine.config import PROJECT_ROOT, Settings  # noqa: E402
from engine.db import Database  # noqa: E402
from engine.runtime import build_runtime  # noqa: E402
from tests.conftest import AANMELDING, KNOOPPUNT, START_DATA, TOEKENNEN, make_world  # noqa: E402

BEFORE = [("school", "aanmelding", AANMELDING), ("consulent", "dossiercheck", {"dossier_compleet": True}),
          ("consulent", "knooppuntoverleg", KNOOPPUNT)]


def figures(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered) * 1000, ordered[max(0, int(len(ordered) * 0.95) - 1)] * 1000


def line(label: str, samples: list[float], old: tuple[float, float] | None = None) -> tuple[float, float]:
    median, p95 = figures(samples)
    ratio = f"   old/new: median {old[0] / median:5.2f}x  p95 {old[1] / p95:5.2f}x" if old else ""
    print(f"  {label:<44} n={len(samples):<5} median {median:7.1f} ms  p95 {p95:7.1f} ms{ratio}")
    return median, p95


@contextmanager
def old_way() -> Iterator[None]:
    """The decision handler as it was: the record, then the PDF rendered and attached inside the transaction."""
    new = services.get(decision_letters.HANDLER)
    assert new is not None

    def rendering_inside(ctx: services.ServiceContext, **params: Any) -> dict[str, Any]:
        record = new(ctx, **params)
        pdf = letters.decision_pdf(record)
        for message in decision_letters.waiting(ctx.session, ctx.case_id):
            message.attachment = pdf
        return record

    services.register(decision_letters.HANDLER)(rendering_inside)
    try:
        yield
    finally:
        services.register(decision_letters.HANDLER)(new)


def ready(runtime, world, cases: int) -> list[str]:
    """``cases`` cases waiting at the besluit task; their task ids."""
    from sqlalchemy import select

    from engine.models import Task

    ids = []
    for _ in range(cases):
        case = runtime.start_case(world["school"], "tlv-vso", START_DATA)
        for role, name, data in BEFORE:
            with runtime.db.read() as session:
                task_id = session.scalar(select(Task.id).where(Task.case_id == case.id, Task.name == name,
                                                               Task.status == "ready"))
            runtime.complete(world[role], task_id, data)
        with runtime.db.read() as session:
            ids.append(session.scalar(select(Task.id).where(Task.case_id == case.id, Task.name == "besluit")))
    return ids


def beside(work: Callable[[], None], threads: int, stop: threading.Event) -> tuple[list[threading.Thread], list[float]]:
    samples: list[float] = []

    def loop() -> None:
        while not stop.is_set():
            t0 = time.perf_counter()
            work()
            samples.append(time.perf_counter() - t0)

    started = [threading.Thread(target=loop, daemon=True) for _ in range(threads)]
    for thread in started:
        thread.start()
    return started, samples


def run(runtime, world, tasks: list[str], readers: int, writer: bool, letters_made_by_scheduler: bool
        ) -> tuple[list[float], list[float]]:
    """Complete the besluit of every task; the decision latencies and those of the work beside it."""
    stop = threading.Event()
    threads: list[threading.Thread] = []
    others: list[float] = []
    if readers:
        def read() -> None:
            with runtime.db.read() as session:
                inbox.inbox(session, world["consulent"])
        threads, others = beside(read, readers, stop)
    if writer:
        def write() -> None:
            runtime.start_case(world["school"], "tlv-vso", START_DATA)
            time.sleep(0.02)  # a person, not a flood
        threads, others = beside(write, 1, stop)
    if letters_made_by_scheduler:
        def make() -> None:
            decision_letters.make_due(runtime)
            time.sleep(0.05)
        scheduler, _ = beside(make, 1, stop)
        threads += scheduler
    samples = []
    for task_id in tasks:
        t0 = time.perf_counter()
        runtime.complete(world["commissie"], task_id, TOEKENNEN)
        samples.append(time.perf_counter() - t0)
        time.sleep(0.03)  # the commission moves on to the next case
    stop.set()
    for thread in threads:
        thread.join()
    decision_letters.make_due(runtime)  # what the scheduler had not done yet
    return samples, others


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=40, help="besluit tasks per run")
    parser.add_argument("--readers", type=int, default=2, help="inbox readers beside the decisions")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/decision.db"
        db = Database(url)
        db.upgrade()
        runtime = build_runtime(db, Settings(database_url=url))
        with db.transaction() as session:
            routes.deploy_dir(session, PROJECT_ROOT / "processes")
        world = make_world(db, key="bench-decision")
        runs = [("alone", 0, False), (f"with {args.readers} inbox readers", args.readers, False),
                ("with a colleague starting cases", 0, True)]
        results: dict[tuple[str, str], tuple[list[float], list[float]]] = {}
        warm = ready(runtime, world, 3)
        with old_way():
            run(runtime, world, warm[:2], 0, False, False)
        run(runtime, world, warm[2:], 0, False, True)
        for label, readers, writer in runs:
            for way in ("old", "new"):
                tasks = ready(runtime, world, args.cases)
                if way == "old":
                    with old_way():
                        results[(label, way)] = run(runtime, world, tasks, readers, writer, False)
                else:
                    results[(label, way)] = run(runtime, world, tasks, readers, writer, True)
        print(f"SQLite, besluit completed on {args.cases} cases per run (old: letter rendered in the transaction; "
              "new: after commit)")
        for label, readers, writer in runs:
            print(f" {label}")
            old, old_others = results[(label, "old")]
            new, new_others = results[(label, "new")]
            old_figures = line("besluit, old way", old)
            line("besluit, new way", new, old_figures)
            if readers or writer:
                who = "inbox read" if readers else "start of a case"
                old_beside = line(f"{who} beside it, old way", old_others)
                line(f"{who} beside it, new way", new_others, old_beside)
        db.dispose()


if __name__ == "__main__":
    main()
