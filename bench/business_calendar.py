"""Business calendar: the cost of counting one term, cold (the year's tables built first) and warm.

Prints median and p95 per count for each unit, in microseconds. Every action counts several terms (a task's
deadline and warning, the case's doorlooptijd), so a warm count should cost microseconds, not milliseconds.
Never pass/fail: figures only (tests/test_calendar.py checks that the tables are built once).

    .venv/bin/python bench/business_calendar.py [--counts 20000]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine import calendar as module  # noqa: E402
from engine import legal_days  # noqa: E402
from engine.calendar import BusinessCalendar, CalendarRules  # noqa: E402

START = date(2026, 3, 2)
DAYS_OFF = {date(2026, 3, 13): "Studiedag"}
# An SWV with its own rules, so the per-rules tables are what is measured (5 May a werkdag, adviesweek on).
RULES = CalendarRules(may5_off=False, advisory=frozenset({("meivakantie-week2", True)}))
TABLES = (legal_days.statutory_days, legal_days.equated_days, legal_days.atw_days, module._days_off_by_law,
          module._workdays, module._vacation_days, module._schooldays)
TERMS = [("kalenderdagen", 30, False), ("weken", 6, True), ("werkdagen", 30, True), ("schooldagen", 30, False)]


def cold() -> None:
    """One count per unit, each after emptying every table cache: what the first action of a process pays."""
    for unit, amount, legal in TERMS:
        lags = []
        for _ in range(20):
            for table in TABLES:
                table.cache_clear()
            t0 = time.perf_counter()
            BusinessCalendar("zuid", DAYS_OFF, RULES).add(START, amount, unit, legal=legal)
            lags.append(time.perf_counter() - t0)
        report(f"cold {unit}", lags)


def warm(counts: int) -> None:
    calendar = BusinessCalendar("zuid", DAYS_OFF, RULES)
    for unit, amount, legal in TERMS:
        calendar.add(START, amount, unit, legal=legal)
        lags = []
        for _ in range(counts):
            t0 = time.perf_counter()
            calendar.add(START, amount, unit, legal=legal)
            lags.append(time.perf_counter() - t0)
        report(f"warm {unit}", lags)


def report(label: str, lags: list[float]) -> None:
    lags.sort()
    p95 = lags[max(0, int(len(lags) * 0.95) - 1)]
    print(f"calendar {label:<19}: {len(lags):>6} counts, median {statistics.median(lags) * 1e6:8.1f} µs"
          f"  p95 {p95 * 1e6:8.1f} µs")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--counts", type=int, default=20_000)
    args = parser.parse_args()
    cold()
    warm(args.counts)


if __name__ == "__main__":
    main()
