"""Scenario runs and publishing: what a publish of tlv-vso costs (it runs the route's scenarios), per scenario and
per publish, the way Loket does it and the old way: a new SQLAlchemy engine per scenario world (its compiled
statements made again each time; ``scenario_world.IDLE_DATABASES = 0``) and decision letters written with the
fonts' layout tables still in them (fontTools reads them before dropping them; ``pdf_fonts._LAYOUT_TABLES = ()``).
Rounds alternate the two, so a busy machine weighs on both alike.

Prints median and p95 in milliseconds of wall time and of this process's CPU time (on a shared machine CPU time
is the steadier figure), the share of the decision letters (PDF) in a publish, and the ratio old/new. Never
pass/fail: figures only (tests/test_scenario_runner.py checks that a reused database holds nothing of the world
before).

    .venv/bin/python bench/scenarios.py [--rounds 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import handlers  # noqa: E402, F401  (the decision and register handlers the route calls)
from engine import letters, pdf_fonts, scenario_world, scenarios  # noqa: E402
from engine.config import PROJECT_ROOT  # noqa: E402

KEY = "tlv-vso"
DIRECTORY = PROJECT_ROOT / "processes" / "scenarios"
# name -> (idle databases kept, layout tables dropped before a PDF is written)
MODES = {"oud": (0, ()), "nu": (scenario_world.IDLE_DATABASES, pdf_fonts._LAYOUT_TABLES)}


@contextmanager
def mode(idle: int, layout_tables: tuple[str, ...]) -> Iterator[None]:
    scenario_world.IDLE_DATABASES = idle
    pdf_fonts._LAYOUT_TABLES = layout_tables
    with scenario_world._idle_lock:
        for db in scenario_world._idle:
            db.dispose()
        scenario_world._idle.clear()
    yield


class Letters:
    """Time spent making decision letters, summed while counting."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self._make: Callable[..., bytes] = letters.decision_pdf
        letters.decision_pdf = self._timed

    def _timed(self, *args: Any, **kwargs: Any) -> bytes:
        t0 = time.perf_counter()
        try:
            return self._make(*args, **kwargs)
        finally:
            self.seconds += time.perf_counter() - t0


def timed(work: Callable[[], Any]) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    work()
    return time.perf_counter() - wall, time.process_time() - cpu


def ms(values: list[float]) -> str:
    ordered = sorted(values)
    p95 = ordered[max(0, int(len(ordered) * 0.95 + 0.5) - 1)]
    return f"median {statistics.median(ordered) * 1000:8.0f} ms  p95 {p95 * 1000:8.0f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    bpmn = (PROJECT_ROOT / "processes" / f"{KEY}.bpmn").read_text(encoding="utf-8")
    forms = {p.name: json.loads(p.read_text(encoding="utf-8"))
             for p in (PROJECT_ROOT / "processes" / "forms").glob(f"{KEY}*.json")}
    route = scenarios.route_from_files(KEY, bpmn, forms)
    files = scenarios.find(DIRECTORY, KEY)
    letter_clock = Letters()

    def publish() -> None:
        failures = scenarios.failures_for(KEY, bpmn, forms, DIRECTORY)
        if failures:
            raise SystemExit(f"{KEY}: een scenario faalt: {failures[0]}")

    publish()  # once: the schema template and the letters' fonts are made once per process, in either way
    per_scenario: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    per_publish: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for _ in range(args.rounds):
        for name, settings in MODES.items():
            with mode(*settings):
                for path in files:
                    scenario = scenarios.load(path, DIRECTORY)
                    wall, cpu = timed(lambda s=scenario: scenarios.run(s, route))
                    per_scenario[name][path.stem].append(cpu)
                    per_scenario[name]["(alle, wand)"].append(wall)
                letter_clock.seconds = 0.0
                wall, cpu = timed(publish)
                per_publish[name]["wand"].append(wall)
                per_publish[name]["cpu"].append(cpu)
                per_publish[name]["brieven"].append(letter_clock.seconds)

    print(f"scenario's van {KEY}: {len(files)} per publicatie, {args.rounds} rondes; CPU-tijd per scenario")
    for path in files:
        cells = "   ".join(f"{name}: {ms(per_scenario[name][path.stem])}" for name in MODES)
        print(f"  {path.stem:<20} {cells}")
    cells = "   ".join(f"{name}: {ms(per_scenario[name]['(alle, wand)'])}" for name in MODES)
    print(f"  {'alle, wandtijd':<20} {cells}")
    print("publiceren (valideren + alle scenario's):")
    for name in MODES:
        figures = per_publish[name]
        print(f"  {name:<4} wand {ms(figures['wand'])}   cpu {ms(figures['cpu'])}   "
              f"waarvan besluitbrieven {statistics.median(figures['brieven']) * 1000:.0f} ms")
    old, new = (per_publish[name] for name in MODES)
    for measure in ("wand", "cpu"):
        ratio = statistics.median(old[measure]) / statistics.median(new[measure])
        print(f"  verhouding oud/nieuw ({measure}): {ratio:.2f}x")


if __name__ == "__main__":
    main()
