"""Scenarios: try a route before it runs real cases (issue 11, "Try").

A scenario (``engine.scenario_format``) runs against a route definition — a deployed version, or a draft's BPMN
and forms given as text — in a throwaway in-memory database (``engine.scenario_world``) through the same
Runtime and Recorder as real actions, with the clock frozen and moved per step (``engine.scenario_steps``).
The result says per step what happened and, for the step that failed, what happened instead; it also tells how
long the scenario took.

Scenario files live in ``processes/scenarios/<route>/*.yaml`` (shared form data in ``_data.yaml`` next to them);
``loket processes test`` and ``tests/test_scenarios.py`` run them all.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from . import scenario_sources
from .cases import Runtime
from .errors import LoketError
from .runtime import route_helpers  # the calendar functions route code sees, as in production
from .scenario_checks import TaskView, moment, parse_when
from .scenario_format import Scenario, ScenarioInvalid, load_data_sets, parse
from .scenario_steps import StepFailed, Steps, details
from .scenario_world import RouteUnderTest, RouteUnusable, World, route_from_files, route_from_version

__all__ = ["RouteTrial", "RouteUnderTest", "RouteUnusable", "Scenario", "ScenarioInvalid", "ScenarioResult",
           "StepResult", "as_dict", "failures_for", "find", "load", "parse", "route_from_files", "route_from_version",
           "run", "run_text", "try_route"]

DATA_FILE = "_data.yaml"


@dataclass
class StepResult:
    number: int  # 0: the start
    text: str
    ok: bool
    at: datetime
    happened: list[str] = field(default_factory=list)  # Dutch lines: events, new tasks and terms, moved terms
    open_tasks: list[TaskView] = field(default_factory=list)
    status: str | None = None
    outcome: str | None = None
    message: str | None = None  # why it failed (Dutch)


@dataclass
class ScenarioResult:
    name: str
    file: str
    route: str
    steps: list[StepResult]
    seconds: float  # wall-clock time of the run (world set-up included)

    @property
    def ok(self) -> bool:
        return all(step.ok for step in self.steps)

    @property
    def failed(self) -> StepResult | None:
        return next((step for step in self.steps if not step.ok), None)

    def reason(self) -> str:
        """The failure in one Dutch line: ``stap 4 (expect task: besluit, due: 2026-03-02): ...``."""
        step = self.failed
        if step is None:
            return ""
        where = "start" if step.number == 0 else f"stap {step.number}"
        return f"{where} ({step.text}): {step.message}"


def run(scenario: Scenario, route: RouteUnderTest, helpers: Callable | None = None,
        directory: Path | None = None) -> ScenarioResult:
    """Run one scenario in a world of its own. A problem of the scenario itself (a task the route does not have)
    is a ScenarioInvalid; everything that happens while running is in the result. ``directory``: the scenarios
    folder a ``start.from`` is read from (default: the configured processes folder's)."""
    unknown = _unknown_tasks(scenario, route)
    if unknown:
        raise ScenarioInvalid(unknown)
    source = scenario_sources.source_of(scenario, directory or _default_directory())
    began = time.perf_counter()
    started = parse_when(scenario.start["at"])
    results: list[StepResult] = []
    with World(route, scenario.swv, started) as world:
        runtime = Runtime(world.db, world.settings, helpers=helpers or route_helpers)
        steps = Steps(world, runtime, started)
        first = StepResult(0, f"start {route.key} als {scenario.start.get('as', 'school')}", True, started)
        results.append(first)
        refused = scenario.start.get("refused")
        try:
            before = scenario_sources.run_source(world, runtime, *source) if source is not None else None
            if scenario.start.get("by") == "scheduler":  # opened by the scheduler (a herbeoordeling)
                scenario_sources.open_by_scheduler(steps, before)
            else:
                steps.start(scenario.start.get("as", "school"), scenario.start["data"], before,
                            bool(scenario.start.get("confirm_late")))
        except StepFailed as exc:  # the scenario it starts from did not go as that one says
            first.ok, first.message = False, str(exc)
        except LoketError as exc:
            if refused and refused.lower() in exc.message.lower():
                first.message = f"geweigerd, zoals verwacht: {exc.message}"
            else:
                first.ok, first.message = False, f"de zaak start niet: {exc.message}{details(exc)}" + (
                    f" (verwacht: '{refused}')" if refused else "")
        except Exception as exc:  # a fault of Loket's own: told as the step's failure, never a traceback
            first.ok, first.message = False, f"fout in Loket zelf: {type(exc).__name__}: {exc}"[:2000]
        else:
            if refused:
                first.ok, first.message = False, f"verwacht: de start geweigerd met '{refused}', maar de zaak startte"
        if first.ok and not refused:
            _observe(steps, first)
            for step in scenario.steps:
                result = StepResult(step.number, step.text, True, steps.now)
                results.append(result)
                try:
                    steps.run(step)
                except StepFailed as exc:
                    result.ok, result.message = False, str(exc)
                except LoketError as exc:  # a refusal while moving the clock, or the start of a document
                    result.ok, result.message = False, f"geweigerd: {exc.message}{details(exc)}"
                except Exception as exc:  # a fault of Loket's own (the report says so; the world is thrown away)
                    result.ok, result.message = False, f"fout in Loket zelf: {type(exc).__name__}: {exc}"[:2000]
                result.at = steps.now
                _observe(steps, result)
                if not result.ok:
                    break
    return ScenarioResult(scenario.name, scenario.file, route.key, results, time.perf_counter() - began)


def _observe(steps: Steps, result: StepResult) -> None:
    result.happened = steps.observe()
    result.open_tasks = steps.open_tasks()
    case = steps.case()
    result.status, result.outcome = case.status, case.outcome


def _unknown_tasks(scenario: Scenario, route: RouteUnderTest) -> list[str]:
    """Steps naming a user task the route does not have: told before anything runs."""
    problems = []
    known = ", ".join(sorted(route.user_tasks))
    term_from = (scenario.swv.get("term") or {}).get("from")
    if term_from and term_from not in route.user_tasks:
        problems.append(f"{scenario.file}: swv.term.from: taak '{term_from}' bestaat niet in route {route.key} "
                        f"(user tasks: {known})")
    for step in scenario.steps:
        expect = step.spec.get("expect", {}) if step.action == "expect" else {}
        names = [step.spec[step.action]] if step.action in ("complete", "claim") else []
        names += [expect[k] for k in ("task", "escalation", "warning", "no_escalation", "no_warning") if k in expect
                  and expect[k] not in ("case", "beslistermijn")]
        names += list(expect.get("open_tasks", [])) + list(expect.get("done", []))
        for name in names:
            if name not in route.user_tasks:
                problems.append(f"{scenario.file}: stap {step.number}: taak '{name}' bestaat niet in route "
                                f"{route.key} (user tasks: {known})")
    return problems


# ---------------------------------------------------------------------- files


def find(directory: Path, route: str | None = None) -> list[Path]:
    """The scenario files under ``directory`` (``processes/scenarios``): ``<route>/*.yaml``; files starting with
    ``_`` hold shared data, not scenarios."""
    if not directory.is_dir():
        return []
    found = [p for p in directory.glob("*/*.yaml") if not p.name.startswith("_")]
    if route is not None:
        found = [p for p in found if route_of(directory, p) == route]
    return sorted(found)


def route_of(directory: Path, path: Path) -> str | None:
    """The route a file's place names: its folder under ``directory`` (a file directly in ``directory`` names
    none, and says ``route: ...`` itself)."""
    relative = path.relative_to(directory)
    return relative.parts[0] if len(relative.parts) > 1 else None


def load(path: Path, directory: Path | None = None) -> Scenario:
    """Read one scenario file (with its route's ``_data.yaml``). Raises ScenarioInvalid."""
    route = route_of(directory, path) if directory is not None else None
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioInvalid([f"{path}: niet te lezen: {exc}"]) from None
    # Named as a person finds it: processes/scenarios/tlv-vso/afgewezen.yaml.
    name = str(path.relative_to(directory.parent.parent)) if directory is not None else str(path)
    return parse(text, name, route, load_data_sets(path.parent / DATA_FILE))


def run_text(scenario_yaml: str, route: RouteUnderTest, name: str = "scenario",
             data_sets: dict | None = None) -> ScenarioResult:
    """For the web editor: a scenario as text against a route (a draft: ``route_from_files``)."""
    return run(parse(scenario_yaml, name, route.key, data_sets), route)


def _default_directory() -> Path:
    from .config import Settings

    return Settings().processes_dir / "scenarios"


@dataclass
class RouteTrial:
    """All scenarios of one route: their results, and the files that could not run (Dutch lines)."""

    route: str
    results: list[ScenarioResult] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems and all(result.ok for result in self.results)

    def failures(self) -> list[str]:
        """Every file that could not run and every failed scenario, one Dutch line each."""
        return self.problems + [f"{r.file}: {r.reason()}" for r in self.results if not r.ok]


def try_route(route: RouteUnderTest, directory: Path) -> RouteTrial:
    """Run every scenario of ``route`` in ``directory`` (``processes/scenarios``), each in its own world; what
    ``loket processes test`` and a publish run. A route without scenarios has an empty trial."""
    trial = RouteTrial(route.key)
    for path in find(directory, route.key):
        try:
            trial.results.append(run(load(path, directory), route, directory=directory))
        except ScenarioInvalid as exc:
            trial.problems += exc.problems
    return trial


def failures_for(key: str, bpmn: str | bytes, forms: dict, directory: Path | None = None) -> list[str]:
    """What a publish asks (engine.publish): the route's scenarios run against this content (a draft, or the
    files to deploy); one Dutch line per failure, none when all pass or the route has no scenarios yet."""
    if directory is None:
        from .config import Settings

        directory = Settings().processes_dir / "scenarios"
    try:
        route = route_from_files(key, bpmn, forms)
    except RouteUnusable as exc:
        return exc.problems
    return try_route(route, directory).failures()


def as_dict(result: ScenarioResult) -> dict:
    """The result as JSON (the route editor shows it): Dutch texts, ISO moments."""
    return {
        "name": result.name, "file": result.file, "route": result.route, "ok": result.ok,
        "reason": result.reason() or None, "milliseconds": round(result.seconds * 1000, 1),
        "steps": [{
            "number": step.number, "text": step.text, "ok": step.ok, "at": step.at.isoformat(),
            "happened": step.happened, "status": step.status, "outcome": step.outcome, "message": step.message,
            "open_tasks": [{"name": t.name, "lane": t.lane, "due": t.due.isoformat() if t.due else None,
                            "warn": t.warn.isoformat() if t.warn else None, "escalated": t.escalated,
                            "claimed_by": t.assignee} for t in step.open_tasks],
        } for step in result.steps],
    }


def describe(result: ScenarioResult, verbose: bool = False) -> list[str]:
    """The result as Dutch lines, as ``loket processes test`` prints it."""
    head = f"{'ok' if result.ok else 'MISLUKT'}  {result.file}  ({result.name}; {result.seconds * 1000:.0f} ms)"
    lines = [head]
    if not result.ok:
        lines.append(f"    {result.reason()}")
    if verbose or not result.ok:
        for step in result.steps:
            if verbose or not step.ok:
                mark = "  " if step.ok else "! "
                lines.append(f"  {mark}{step.number:>3}. {step.text}  [{moment(step.at)}]")
                lines += [f"         {line}" for line in step.happened]
                if not step.ok:
                    tasks = ", ".join(str(t) for t in step.open_tasks) or "geen"
                    lines.append(f"         zaak {step.status}; open taken: {tasks}")
    return lines
