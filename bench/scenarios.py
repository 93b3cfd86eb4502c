"""Scenario runs and publishing: what a publish of tlv-vso costs (it runs the route's scenarios), per scenario and
per publish, the way Loket does it and the old way, a new SQLAlchemy engine per scenario world whose compiled
statements are made again each time (``scenario_world.IDLE_DATABASES = 0``). Rounds alternate the two, so a busy
machine weighs on both alike. Also a decision letter (PDF), written as now and the old way, with the fonts' layout
tables left for fontTools to read before it drops them (``pdf_fonts._LAYOUT_TABLES = ()``).

Prints median and p95 in milliseconds of wall time and of this process's CPU time (on a shared machine CPU time
is the steadier figure) and the ratio old/now. Never pass/fail: figures only (tests/test_scenario_runner.py checks
that a reused database holds nothing of the world before, tests/test_letters.py that a letter is the same bytes).

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

import handlers  # noqa: E402, F401  (the handlers tlv-vso's service tasks name)
from engine import letters, pdf_fonts, scenario_world, scenarios  # noqa: E402
from engine.config import PROJECT_ROOT  # noqa: E402

KEY = "tlv-vso"
DIRECTORY = PROJECT_ROOT / "processes" / "scenarios"
MODES = {"oud": 0, "nu": scenario_world.IDLE_DATABASES}  # name -> idle databases kept
LETTER = {"swv": "Sterk VO Utrecht", "titel": "Besluit toelaatbaarheidsverklaring VSO", "besluitdatum": "2026-03-20",
          "kenmerk": "12-besluit", "leerling": "Amira el Hassan", "ontvangers": [{"naam": "De ouders"}],
          "besluit": "Het samenwerkingsverband kent een TLV VSO toe, categorie laag. " * 3, "uitkomst": "toekenning",
          "motivering": "Beide deskundigen adviseren VSO. " * 6,
          "rechtsmiddel": "U kunt binnen zes weken bezwaar maken bij het bestuur van het samenwerkingsverband. " * 2}


@contextmanager
def mode(idle: int) -> Iterator[None]:
    scenario_world.IDLE_DATABASES = idle
    with scenario_world._idle_lock:
        for db in scenario_world._idle:
            db.dispose()
        scenario_world._idle.clear()
    yield


def timed(work: Callable[[], Any]) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    work()
    return time.perf_counter() - wall, time.process_time() - cpu


def ms(values: list[float]) -> str:
    ordered = sorted(values)
    p95 = ordered[max(0, int(len(ordered) * 0.95 + 0.5) - 1)]
    return f"median {statistics.median(ordered) * 1000:7.0f} ms  p95 {p95 * 1000:7.0f} ms"


def publishing(rounds: int) -> None:
    bpmn = (PROJECT_ROOT / "processes" / f"{KEY}.bpmn").read_text(encoding="utf-8")
    forms = {p.name: json.loads(p.read_text(encoding="utf-8"))
             for p in (PROJECT_ROOT / "processes" / "forms").glob(f"{KEY}*.json")}
    route = scenarios.route_from_files(KEY, bpmn, forms)
    files = scenarios.find(DIRECTORY, KEY)

    def publish() -> None:
        failures = scenarios.failures_for(KEY, bpmn, forms, DIRECTORY)
        if failures:
            raise SystemExit(f"{KEY}: een scenario faalt: {failures[0]}")

    publish()  # once: the schema template is migrated once per process, in either way
    per_scenario: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    per_publish: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for _ in range(rounds):
        for name, idle in MODES.items():
            with mode(idle):
                for path in files:
                    scenario = scenarios.load(path, DIRECTORY)
                    wall, cpu = timed(lambda s=scenario: scenarios.run(s, route))
                    per_scenario[name][path.stem].append(cpu)
                    per_scenario[name]["(alle, wandtijd)"].append(wall)
                wall, cpu = timed(publish)
                per_publish[name]["wand"].append(wall)
                per_publish[name]["cpu"].append(cpu)

    print(f"scenario's van {KEY}: {len(files)} per publicatie, {rounds} rondes; CPU-tijd per scenario")
    for stem in [path.stem for path in files] + ["(alle, wandtijd)"]:
        cells = "   ".join(f"{name}: {ms(per_scenario[name][stem])}" for name in MODES)
        print(f"  {stem:<20} {cells}")
    print("publiceren (valideren + alle scenario's):")
    for name in MODES:
        print(f"  {name:<4} wand {ms(per_publish[name]['wand'])}   cpu {ms(per_publish[name]['cpu'])}")
    old, new = (per_publish[name] for name in MODES)
    for measure in ("wand", "cpu"):
        print(f"  verhouding oud/nu ({measure}): "
              f"{statistics.median(old[measure]) / statistics.median(new[measure]):.2f}x")


def letter(count: int) -> None:
    """A decision letter as now and with the layout tables left in (alternating), CPU time per letter."""
    kept = pdf_fonts._LAYOUT_TABLES
    letters.decision_pdf(LETTER)  # the fonts are instanced once per process
    seconds: dict[str, list[float]] = defaultdict(list)
    for _ in range(count):
        for name, tables in (("oud", ()), ("nu", kept)):
            pdf_fonts._LAYOUT_TABLES = tables
            seconds[name].append(timed(lambda: letters.decision_pdf(LETTER))[1])
    pdf_fonts._LAYOUT_TABLES = kept
    print(f"besluitbrief (PDF), {count} per manier, CPU-tijd:")
    for name in ("oud", "nu"):
        print(f"  {name:<4} {ms(seconds[name])}")
    print(f"  verhouding oud/nu: {statistics.median(seconds['oud']) / statistics.median(seconds['nu']):.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    publishing(args.rounds)
    letter(args.rounds * 4)


if __name__ == "__main__":
    main()
