"""Demo cases: every route's own scenarios (``processes/scenarios/<route>/*.yaml``) driven through the engine
against the real database, for a real SWV and its users, with the clock moved (issue 12, "Demo").

Each demo case is one scenario, shifted by a whole number of weeks (weekdays stay) so that it starts somewhere in
the past school year, with a pupil of its own, one of the SWV's schools and municipalities, and the dates in its
forms moved along. People do not act the moment a task arrives: before each step the case waits a while, most
often well within the task's term, now and then close to it and sometimes past it (then the escalation fires).
Some cases are left midway (open, or suspended), and a case whose next step lies after now stays open there.
``expect`` steps are skipped (they check a scenario, not a demo); a step the engine refuses once shifted (a
window, a task that is no longer open) is skipped for that case and counted.

All cases run on one clock, in the order of their moments, with the scheduler's sweep run at every due moment
in between: the escalations, warnings and timers of every case fire when they fall due, as ``loket scheduler``
would have fired them. Nothing is written into a table directly, so every case's history is real and replays.
The same seed gives the same demo; a route an SWV already has cases on gets none added (a second run adds none).
"""

from __future__ import annotations

import heapq
import math
import random
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from pathlib import Path

from sqlalchemy import func, select

from . import clock, renewals, scenario_sources, scenarios
from .calendar import BusinessCalendar
from .calendar_settings import setting_row
from .cases import Runtime
from .deadlines import Terms
from .demo_case import CaseRun, DemoReport, Plan, RouteFigures, SwvStage, shift_dates
from .models import Case, Event, Route, RouteVersion, Task, Tenant, User
from .scenario_checks import parse_when
from .scenario_format import Scenario, ScenarioInvalid
from .scheduler import fire_due, next_due
from .swv_settings import in_window, intake_windows
from .vocabulary import OPEN_TASK, CaseStatus, EventType

__all__ = ["CASES", "SCHOOL_YEAR_START", "DemoReport", "RouteFigures", "build", "shift_dates"]

SCHOOL_YEAR_START = date(2025, 8, 18)  # the first school day of 2025-2026 (regio midden)
CASES = 300  # demo cases in all, spread over the SWVs, their routes and those routes' scenarios
SEED = 2026
# Of every 12 cases of an SWV on a route: 3 start in the last RECENT weeks (most are still open now, some near a
# term; the first of those is left midway and waits suspended), 1 of the others is left midway (overdue,
# escalated), the rest runs its course. Counted, not drawn, so a small demo (4 per route) has each kind too.
EVERY, RECENT_OF, LEFT_OF = 12, (0, 3, 7), (2,)
RECENT = timedelta(weeks=8)
# ---------------------------------------------------------------------------- the whole demo


def build(runtime: Runtime, directory: Path, swv_keys: list[str], now: datetime | None = None, cases: int = CASES,
          seed: int = SEED, progress: Callable[[int, int], None] | None = None) -> DemoReport:
    """Make the demo cases for these SWVs (tenant keys) from the scenarios in ``directory``; ``progress`` is told
    (done, total) actions as they go."""
    now = now or clock.now()
    rng = random.Random(seed)
    report = DemoReport()
    runs = _plan(runtime, directory, swv_keys, now, cases, rng, report)
    with runtime.db.read() as session:
        tenant_ids = list(session.scalars(select(Tenant.id).where(Tenant.key.in_(swv_keys))))
        last = session.scalar(select(func.max(Case.id))) or 0
    total = sum(run.total for run in runs)
    done = 0
    heap: list[tuple[datetime, int, CaseRun]] = []
    for number, run in enumerate(runs):
        first = run.next_moment()
        if first is not None:
            heap.append((first, number, run))
    heapq.heapify(heap)
    sweeper = _Sweeper(runtime)
    while heap:
        moment, number, run = heapq.heappop(heap)
        sweeper.to(moment)
        before, planned = run.progressed, run.total
        run.act(moment)
        following = run.next_moment()
        total += run.total - planned  # a case that carries on after its scenario
        if following is None or following > now:
            run.leave()
            done += run.total - before
        else:
            done += run.progressed - before
            heapq.heappush(heap, (following, number, run))
        if progress is not None:
            progress(done, total)
    sweeper.to(now)
    with runtime.db.read() as session:  # the scheduler's cases (herbeoordelingen) too
        report.case_ids = list(session.scalars(select(Case.id).where(Case.id > last, Case.tenant_id.in_(tenant_ids))
                                               .order_by(Case.id)))
    _figures(runtime, report, now)
    return report


class _Sweeper:
    """The scheduler on the demo's clock: every deadline fires at its own due moment, up to where the demo is, and
    the herbeoordelingen of ending TLVs open on the first moment of each day (engine.renewals; hourly in
    ``loket serve``)."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.day: date | None = None

    def to(self, moment: datetime) -> None:
        self._deadlines(moment)
        if clock.local_date(moment) != self.day:
            self.day = clock.local_date(moment)
            with clock.frozen(moment):
                renewals.sweep(self.runtime, moment)

    def _deadlines(self, moment: datetime) -> None:
        while True:
            due = next_due(self.runtime)
            if due is None or due > moment:
                return
            with clock.frozen(due):
                report = fire_due(self.runtime, due)
            if not report.fired:  # a timer not yet due for its engine: leave it to the moment itself
                with clock.frozen(moment):
                    fire_due(self.runtime, moment)
                return


def _plan(runtime: Runtime, directory: Path, swv_keys: list[str], now: datetime, cases: int, rng: random.Random,
          report: DemoReport) -> list[CaseRun]:
    db = runtime.db
    with db.read() as session:
        tenants = [t for key in swv_keys if (t := session.scalar(select(Tenant).where(Tenant.key == key)))]
        deployed = sorted(session.scalars(select(Route.key)))
        present = set(session.execute(select(Tenant.key, Route.key).join(Case, Case.tenant_id == Tenant.id)
                                      .join(RouteVersion, RouteVersion.id == Case.route_version_id)
                                      .join(Route, Route.id == RouteVersion.route_id).distinct()).all())
        users = {t.id: list(session.scalars(select(User).where(User.tenant_id == t.id, User.active.is_(True))))
                 for t in tenants}
        gemeenten = {t.id: list(getattr(setting_row(session, t), "gemeenten", None) or []) for t in tenants}
        calendars = {t.id: Terms(session, t).calendar for t in tenants}
    loaded: dict[str, list[Scenario]] = {}
    sources: dict[str, tuple[str, Scenario]] = {}  # scenario file -> the (route, scenario) it starts from
    for route in deployed:
        for path in scenarios.find(directory, route):
            try:
                scenario = scenarios.load(path, directory)
                found = scenario_sources.source_of(scenario, directory)
            except ScenarioInvalid as exc:
                report.problems += exc.problems
                continue
            if scenario.start.get("refused"):  # one that shows a refused start makes no case
                continue
            if found is not None:
                sources[scenario.file] = (found[1].key, found[0])
            loaded.setdefault(route, []).append(scenario)
    closers = {route: [s for s in found if _closes(s)] for route, found in loaded.items()}
    runs: list[CaseRun] = []
    per_swv = max(1, cases // max(1, len(tenants)))
    for place, tenant in enumerate(tenants):
        runs_routes = tenant.settings.get("routes") if isinstance(tenant.settings, dict) else None
        routes = [r for r in deployed if r in loaded and (runs_routes is None or r in runs_routes)]
        stage = SwvStage(db, tenant, users[tenant.id], "")
        todo = [r for r in routes if (tenant.key, r) not in present]
        report.existing += [(tenant.key, r) for r in routes if (tenant.key, r) in present]
        if not todo:
            continue
        per_route = max(1, per_swv // len(routes))
        for route in todo:
            figures = report.figures.setdefault((tenant.key, route), RouteFigures())
            files = loaded[route]
            for number in range(per_route):
                scenario = files[(number + place * per_route) % len(files)]  # the next SWV goes on where it ended
                source = sources.get(scenario.file)
                if source is not None and runs_routes is not None and source[0] not in runs_routes:
                    continue  # a bezwaar against a decision on a route this SWV does not run
                first = source[0] if source else route  # the case that starts first: its route's windows
                windows = intake_windows(tenant, first)
                plan = _plan_one(tenant.key, route, scenario, number, now, rng, calendars[tenant.id], windows,
                                 source[1] if source else scenario)
                plan.source = source
                runs.append(CaseRun(plan, runtime, stage.for_route(route), calendars[tenant.id],
                                    random.Random(rng.random()), gemeenten[tenant.id], figures, report,
                                    closers[route]))
    return runs


def _closes(scenario: Scenario) -> bool:
    """Does the scenario end with its case closed (it says so in an ``expect``)?"""
    return any(s.action == "expect" and s.spec["expect"].get("status") == "closed" for s in scenario.steps)


def _plan_one(swv: str, route: str, scenario: Scenario, number: int, now: datetime, rng: random.Random,
              calendar: BusinessCalendar, windows: list[dict[str, str]], first: Scenario) -> Plan:
    """Case ``number`` of this SWV on this route: when it starts (a whole number of weeks from its scenario's
    start, on a school day of the past school year, inside the route's intake windows if the SWV has them) and
    whether it is left midway. ``first``: the scenario whose case starts first (this one, or its source)."""
    own = parse_when(first.start["at"])
    recent = number % EVERY in RECENT_OF

    def fits(weeks: int) -> bool:  # a school submits on a school day, and when the SWV takes requests
        day = clock.local_date(own + timedelta(weeks=weeks))
        return calendar.is_schoolday(day) and (not windows or any(in_window(day, w) for w in windows))

    def candidates(first: datetime, last: datetime) -> list[int]:
        lowest = math.ceil((first - own) / timedelta(weeks=1))
        return [w for w in range(lowest, math.floor((last - own) / timedelta(weeks=1)) + 1) if fits(w)]

    year = datetime.combine(SCHOOL_YEAR_START, time(0), clock.TZ)
    found = candidates(now - RECENT, now - timedelta(days=1)) if recent else []
    # An intake window that is closed now: the case starts earlier in the year, in the window.
    found = found or candidates(year, now - RECENT) or candidates(year, now - timedelta(days=1))
    weeks = rng.choice(found) if found else 0
    shift = timedelta(weeks=weeks)
    start = own + shift + timedelta(minutes=rng.randint(0, 6 * 60))
    actions = sum(1 for s in scenario.steps if s.action not in ("expect", "let", "at") and "refused" not in s.spec)
    suspend = number % EVERY == RECENT_OF[0]
    left = suspend or number % EVERY in LEFT_OF
    stop = rng.randint(1, actions - 1) if left and actions > 1 else None
    return Plan(swv, route, scenario, shift, start, stop, suspend)


def _figures(runtime: Runtime, report: DemoReport, now: datetime) -> None:
    """Where every demo case stands at ``now``, per SWV and route."""
    if not report.case_ids:
        return
    soon = now + timedelta(weeks=1)
    with runtime.db.read() as session:
        ids = report.case_ids
        escalated = set(session.scalars(select(Event.case_id).where(Event.case_id.in_(ids), Event.type ==
                                                                    EventType.DEADLINE_ESCALATED).distinct()))
        near = set(session.scalars(select(Task.case_id).where(Task.case_id.in_(ids), Task.status.in_(OPEN_TASK),
                                                              Task.due_at > now, Task.due_at <= soon).distinct()))
        rows = session.execute(select(Case.id, Case.status, Tenant.key, Route.key).join(Tenant)
                               .join(RouteVersion, RouteVersion.id == Case.route_version_id)
                               .join(Route, Route.id == RouteVersion.route_id).where(Case.id.in_(ids))).all()
    for case_id, status, swv, route in rows:
        figures = report.figures.setdefault((swv, route), RouteFigures())
        figures.cases += 1
        figures.escalated += case_id in escalated
        if status == CaseStatus.CLOSED:
            figures.closed += 1
        elif status == CaseStatus.SUSPENDED:
            figures.suspended += 1
        else:
            figures.open += 1
            figures.near_deadline += case_id in near

