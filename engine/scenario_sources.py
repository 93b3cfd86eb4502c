"""Scenarios that start from another case (issue 12): a bezwaar from a decided TLV, a herbeoordeling from the case
of an ending TLV. ``start.from: tlv-vso/afgewezen`` names the scenario whose case this one starts from: that
scenario runs first, in the same world (its route deployed beside the route under test), through the same engine,
and the case under test then starts linked to its case (engine.links). The source's route is read from the
processes folder next to the scenarios (``processes/<route>.bpmn`` and its forms), as ``loket processes test``
reads the route under test.
"""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path

from . import clock, renewals
from .cases import Runtime
from .errors import LoketError
from .models import Case
from .scenario_checks import moment, parse_when
from .scenario_format import Scenario, ScenarioInvalid, load_data_sets, parse
from .scenario_steps import StepFailed, Steps, details
from .scenario_world import RouteUnderTest, RouteUnusable, World, route_from_files

DATA_FILE = "_data.yaml"
_routes: dict[str, RouteUnderTest] = {}  # by the sha256 of the files: checked once per process
_lock = threading.Lock()


def source_of(scenario: Scenario, directory: Path) -> tuple[Scenario, RouteUnderTest] | None:
    """The scenario ``start.from`` names and its route, or None; ScenarioInvalid when either cannot be used."""
    name = scenario.start.get("from")
    if not name:
        return None
    path = directory / f"{name}.yaml"
    where = f"{scenario.file}: start.from"
    if not path.is_file():
        raise ScenarioInvalid([f"{where}: scenario '{name}' bestaat niet ({path.as_posix()})"])
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioInvalid([f"{where}: {path}: niet te lezen: {exc}"]) from None
    route_key = name.split("/", 1)[0]
    source = parse(text, f"{directory.name}/{name}.yaml", route_key, load_data_sets(path.parent / DATA_FILE))
    if source.start.get("from") or source.start.get("refused"):
        raise ScenarioInvalid([f"{where}: '{name}' start zelf vanuit een ander dossier of wordt geweigerd; "
                               "kies een scenario dat een zaak start"])
    try:
        return source, route_files(directory.parent, route_key)
    except RouteUnusable as exc:
        raise ScenarioInvalid([f"{where}: route {route_key}: {problem}" for problem in exc.problems]) from None


def route_files(processes: Path, key: str) -> RouteUnderTest:
    """A route as the files in ``processes`` hold it, checked as ``loket processes validate`` does (once per
    content)."""
    path = processes / f"{key}.bpmn"
    if not path.is_file():
        raise RouteUnusable([f"{path.as_posix()} ontbreekt"])
    content = path.read_bytes()
    forms = {p.name: p.read_text(encoding="utf-8") for p in sorted((processes / "forms").glob(f"{key}-*.json"))}
    digest = hashlib.sha256(content + "".join(f"{k}\n{v}" for k, v in forms.items()).encode()).hexdigest()
    with _lock:
        found = _routes.get(digest)
    if found is None:
        found = route_from_files(key, content, forms)
        with _lock:
            _routes[digest] = found
    return found


def run_source(world: World, runtime: Runtime, source: Scenario, route: RouteUnderTest) -> Steps:
    """Run the source scenario in ``world`` and give its steps (its case, its clock). StepFailed when it does not
    go as it says: the scenario that starts from it cannot run then."""
    world.add_route(route)
    steps = Steps(world, runtime, parse_when(source.start["at"]), route.key)
    where = f"bronscenario {source.file}, start"
    try:
        steps.start(source.start.get("as", "school"), source.start["data"])
        for step in source.steps:
            where = f"bronscenario {source.file}, stap {step.number} ({step.text})"
            steps.run(step)
    except StepFailed as exc:
        raise StepFailed(f"{where}: {exc}") from None
    except LoketError as exc:
        raise StepFailed(f"{where}: geweigerd: {exc.message}{details(exc)}") from None
    return steps


def open_by_scheduler(steps: Steps, source: Steps | None) -> None:
    """``start.by: scheduler``: the scheduler opens the case (a herbeoordeling of the source's TLV, engine.renewals)
    at ``start.at``; the scenario goes on with the one case it opened. StepFailed when it opened none or more."""
    if source is None:
        raise StepFailed("start.by: scheduler heeft een brondossier nodig (start.from)")
    if steps.now < source.now:
        raise StepFailed(f"de start ({moment(steps.now)}) ligt vóór het einde van het bronscenario "
                         f"({moment(source.now)})")
    with clock.frozen(steps.now):
        report = renewals.sweep(steps.runtime, steps.now)
    if len(report.opened) != 1:
        why = "; ".join(f"{number}: {reason}" for number, reason in report.skipped)
        raise StepFailed(f"de scheduler opende {len(report.opened)} zaken, niet één" + (f" ({why})" if why else ""))
    with steps.world.db.read() as session:
        case = session.get(Case, report.opened[0][1])
        assert case is not None
        steps.case_id, steps.school_id, steps.source_id = case.id, case.school_id, source.case_id
