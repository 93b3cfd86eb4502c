"""One demo case (``engine.demo``): a scenario's actions run for a real SWV, each at the moment a person would do
it: a while after its task arrived, mostly well within the task's term (or the SWV's promise), now and then close
to it and sometimes past it. The pupil, school and municipality are the case's own; the dates in its forms move
with it. A scenario that ends with its case open (it tried a term or a suspension) carries on along one that
closes, from the step that does an open task: in the demo, people finish their cases.
"""

from __future__ import annotations

import copy
import random
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import select

from . import clock, decision_letters
from .auth import Actor, actor_for
from .calendar import BusinessCalendar
from .cases import Runtime
from .errors import LoketError
from .models import School, Tenant, User
from .scenario_checks import parse_when
from .scenario_format import Scenario, Step
from .scenario_steps import StepFailed, Steps
from .vocabulary import ROLES, CaseStatus, Role

_ISO_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
END_OF_SCHOOL_YEAR = "07-31"  # a TLV ends on 31 July: such a date moves to the 31 July on or after its new date

FIRST_NAMES = ["Sanne", "Daan", "Noah", "Emma", "Liam", "Julia", "Sem", "Tess", "Lucas", "Mila", "Finn", "Zoë",
               "Levi", "Yara", "Mohamed", "Fatima", "Ayoub", "Sara", "Bram", "Lotte", "Jesse", "Nina", "Thijs",
               "Elif", "Youssef", "Amira", "Milan", "Fleur", "Ravi", "Iris", "Stijn", "Noor", "Sven", "Lina",
               "Jayden", "Hiba", "Luuk", "Roos", "Kerem", "Anouk"]
LAST_NAMES = ["de Vries", "Jansen", "van den Berg", "Bakker", "Visser", "Smit", "Meijer", "de Boer", "Mulder",
              "de Groot", "Bos", "Vos", "Peters", "Hendriks", "van Leeuwen", "Dekker", "Brouwer", "de Wit",
              "Dijkstra", "Smits", "el Amrani", "Yılmaz", "Kaya", "Bouzid", "Ramdin", "Nguyen", "van Dijk",
              "Koster", "Willems", "Verhoeven", "Prins", "Kuipers", "Postma", "Tahiri", "Öztürk", "Hoekstra"]
MAX_GAP = timedelta(weeks=6)  # the longest wait between a case and the case that starts from it
SUSPEND_REASONS = ["Wachten op de zienswijze van de ouders", "Wachten op het advies van de jeugdarts",
                   "Wachten op het bijgewerkte OPP van de school", "Wachten op het verslag van het Sociaal Team"]


@dataclass
class RouteFigures:
    """How the demo cases of one SWV on one route ended up at ``now``."""

    cases: int = 0
    open: int = 0
    near_deadline: int = 0  # open with a task due within a week
    escalated: int = 0  # open or closed, an escalation fired at least once
    suspended: int = 0
    closed: int = 0
    skipped: int = 0  # steps refused or failed once shifted
    not_started: int = 0


@dataclass
class DemoReport:
    figures: dict[tuple[str, str], RouteFigures] = field(default_factory=dict)  # (swv key, route) -> figures
    existing: list[tuple[str, str]] = field(default_factory=list)  # (swv, route) that had cases: left alone
    problems: list[str] = field(default_factory=list)  # scenario files that cannot run (Dutch lines)
    reasons: Counter[str] = field(default_factory=Counter)  # why steps were skipped, "route: reason"
    case_ids: list[int] = field(default_factory=list)

    @property
    def cases(self) -> int:
        return len(self.case_ids)


# ---------------------------------------------------------------------------- who acts


class SwvStage:
    """A real SWV as the place scenario steps run (``engine.scenario_steps.Stage``): its users act."""

    def __init__(self, db: Any, tenant: Tenant, users: list[User], route_key: str) -> None:
        self.db, self.tenant_id, self._route = db, tenant.id, route_key
        self.school_ids = {s.code: s.id for s in tenant_schools(db, tenant.id)}
        self.by_role: dict[str, list[Actor]] = {}
        self.by_school: dict[int, Actor] = {}
        actors = [actor_for(user) for user in sorted(users, key=lambda u: u.id)]
        for actor in actors:
            if actor.school_id is not None and actor.role == Role.SCHOOL:
                self.by_school.setdefault(actor.school_id, actor)
        # Those whose first role it is come first; one who holds it besides (the orthopedagoog on the
        # commission) after them, as that role's second user.
        for role in ROLES:
            self.by_role[role] = ([a for a in actors if a.role == role]
                                  + [a for a in actors if a.role != role and role in a.roles])

    @property
    def route_key(self) -> str:
        return self._route

    def for_route(self, route_key: str) -> SwvStage:
        stage = copy.copy(self)
        stage._route = route_key
        return stage

    def actor(self, name: str, school_id: int | None) -> Actor:
        if name == Role.SCHOOL and school_id in self.by_school:
            return self.by_school[school_id]
        if name in ("school", "school2"):
            others = [a for s, a in sorted(self.by_school.items()) if s != school_id or name == "school"]
            if others:
                return others[0]
        role, second = (name[:-1], True) if name.endswith("2") else (name, False)
        actors = self.by_role.get(role) or []
        if not actors:
            raise KeyError(name)
        return actors[1] if second and len(actors) > 1 else actors[0]


def tenant_schools(db: Any, tenant_id: int) -> list[School]:
    with db.read() as session:
        return list(session.scalars(select(School).where(School.tenant_id == tenant_id).order_by(School.id)))


# ---------------------------------------------------------------------------- one case


@dataclass
class Plan:
    swv: str
    route: str
    scenario: Scenario
    shift: timedelta  # whole weeks
    start: datetime
    stop_after: int | None  # the number of actions done before the case is left as it is
    suspend: bool = False  # left waiting, suspended
    source: tuple[str, Scenario] | None = None  # (route, scenario) whose case this one starts from (start.from)


class CaseRun:
    """One demo case: its scenario's actions, each at its moment, with the waiting in between."""

    def __init__(self, plan: Plan, runtime: Runtime, stage: SwvStage, calendar: BusinessCalendar,
                 rng: random.Random, gemeenten: list[str], figures: RouteFigures, report: DemoReport,
                 closers: list[Scenario] | None = None) -> None:
        self.plan, self.stage, self.calendar, self.rng = plan, stage, calendar, rng
        self.closers = closers or []  # the route's scenarios that close a case: to finish one left open
        self.figures, self.report = figures, report
        self.gemeente = rng.choice(gemeenten) if gemeenten else None  # where the pupil lives
        self.steps = Steps(stage, runtime, plan.start, sweep=lambda _: None)  # the demo sweeps for all cases
        self.queue = [s for s in plan.scenario.steps if s.action != "expect" and "refused" not in s.spec]
        self.index = 0
        self.done = 0  # actions done (or skipped)
        self.scenario_now = parse_when(plan.scenario.start["at"])  # the scenario's own clock, unshifted
        self.started = False
        self.pupil = {"voornaam": rng.choice(FIRST_NAMES), "achternaam": rng.choice(LAST_NAMES)}
        self.age_days = rng.randint(12 * 365, 16 * 365)
        # A case that starts from another (a bezwaar from a decided TLV): that case runs first, as its own scenario
        # says, and this one starts after it as long as the scenario says (engine.scenario_sources).
        self.source: CaseRun | None = None
        self.from_source = False  # the moment next_moment gave is the source case's
        if plan.source is not None:
            route, scenario = plan.source
            self.source = CaseRun(Plan(plan.swv, route, scenario, plan.shift, plan.start, None), runtime,
                                  stage.for_route(route), calendar, random.Random(rng.random()),
                                  [self.gemeente] if self.gemeente else [], figures, report)

    @property
    def total(self) -> int:
        own = 1 + sum(1 for s in self.queue if s.action not in ("let", "at"))
        return own + (self.source.total if self.source is not None else 0)

    @property
    def progressed(self) -> int:
        """Actions done (or skipped), the source case's included."""
        return self.done + self.started + (self.source.progressed if self.source is not None else 0)

    def next_moment(self) -> datetime | None:
        """When the next action happens (moving through ``let`` and ``at``); None: the scenario is done."""
        self.from_source = False
        if not self.started and self.source is not None:
            following = self.source.next_moment()
            if following is not None:
                self.from_source = True
                return following
            if self.source.steps.case_id is None:
                return None  # its source case did not start: neither does this one
            # A herbeoordeling comes a year after its TLV: in the demo it comes within weeks, or it would lie
            # beyond today.
            gap = parse_when(self.plan.scenario.start["at"]) - self.source.scenario_now
            gap = min(max(gap, timedelta(hours=1)), MAX_GAP)
            self.plan.start = self._office_hours(self.source.steps.now + gap)
            self.steps.now = self.plan.start
        if not self.started:
            return self.plan.start
        if self.plan.stop_after is not None and self.done >= self.plan.stop_after:
            return None
        while self.index < len(self.queue):
            step = self.queue[self.index]
            if step.action not in ("let", "at"):
                return self._after_waiting(step)
            if step.action == "at":
                # As long after the scenario's previous moment as the scenario says: the waiting before earlier
                # steps moves the rest of the case along (a timer counted from a late step goes later too).
                own = parse_when(step.spec["at"])
                target = self.steps.now + max(own - self.scenario_now, timedelta(0))
                self.scenario_now = max(self.scenario_now, own)
            else:
                target = self.steps.target(step)
                self.scenario_now += target - self.steps.now
            self.steps.now = max(self.steps.now, target)
            self.index += 1
        if self._go_on():
            return self.next_moment()
        return None

    def _go_on(self) -> bool:
        """A scenario that tries one thing (a term, a suspension) ends with its case still open; in the demo
        people carry on: the case follows a scenario that closes, from the step that does an open task.
        Only once, and never for a case left midway on purpose."""
        if not self.closers or self.steps.case_id is None:
            return False
        self.closers, closers = [], self.closers
        case = self.steps.case()
        if case.status != CaseStatus.OPEN:
            return False
        open_names = {t.name for t in self.steps.open_tasks()}
        tails = []
        for scenario in closers:
            clock_at = scenario.start["at"]
            for number, step in enumerate(scenario.steps):
                if step.action == "at":
                    clock_at = step.spec["at"]
                if step.action in ("claim", "complete") and step.spec[step.action] in open_names:
                    tails.append((parse_when(clock_at), [s for s in scenario.steps[number:]
                                                         if s.action != "expect" and "refused" not in s.spec]))
                    break
        if not tails:
            return False
        self.scenario_now, tail = self.rng.choice(tails)
        self.queue = self.queue[:self.index] + tail
        return True

    def act(self, at: datetime) -> None:
        if self.source is not None and self.from_source:
            self.source.act(at)
            return
        self.steps.now = at
        if not self.started:
            self.started = True
            self._start()
            return
        step = self.queue[self.index]
        self.index += 1
        self.done += 1
        days = (clock.local_date(at) - clock.local_date(self.scenario_now)).days
        spec = dict(step.spec)
        if "with" in spec:
            spec["with"] = self._lives_here(shift_dates(spec["with"], days))
        try:
            self.steps.run(Step(step.number, step.action, spec))
        except StepFailed as exc:
            self._skipped(str(exc))
        except LoketError as exc:
            self._skipped(exc.message)
        except Exception as exc:  # noqa: BLE001  (a fault of Loket's own: counted and told, the demo goes on)
            self._skipped(f"fout in Loket zelf: {type(exc).__name__}: {exc}"[:300])
        else:
            if step.action == "complete":
                self._letters(at)

    def _letters(self, at: datetime) -> None:
        """A decision's letter is made right after it, as the scheduler's next delivery round would: made later
        (when `loket serve` starts) it would be made known today, and its objection term run from today."""
        with clock.frozen(at + timedelta(seconds=self.rng.randint(2, 10))):
            decision_letters.make_due(self.steps.runtime)

    def leave(self) -> None:
        """The case stops here; one planned so waits suspended (for the parents, an expert)."""
        if self.steps.case_id is None or not self.plan.suspend:
            return
        self.steps.now += timedelta(minutes=self.rng.randint(10, 120))
        try:
            self.steps.run(Step(0, "suspend", {"suspend": self.rng.choice(SUSPEND_REASONS)}))
        except (StepFailed, LoketError):
            pass  # closed meanwhile, or in incident: it stays as it is

    def _start(self) -> None:
        start = self.plan.scenario.start
        days = (clock.local_date(self.plan.start) - clock.local_date(self.scenario_now)).days
        data = self._personal(self._lives_here(shift_dates(start["data"], days)))
        try:
            self.steps.start(start.get("as", "school"), data, self.source.steps if self.source else None,
                             bool(start.get("confirm_late")))
        except (LoketError, StepFailed) as exc:
            self.figures.not_started += 1
            message = exc.message if isinstance(exc, LoketError) else str(exc)
            self.report.reasons[f"{self.plan.route}: start: {message}"] += 1
            self.plan.stop_after = 0
            return

    def _lives_here(self, data: Any) -> Any:
        """Form data with the pupil's municipality, one of the SWV's (the SWV where the pupil lives decides)."""
        if isinstance(data, dict):
            return {key: self.gemeente if key == "woongemeente" and self.gemeente else self._lives_here(value)
                    for key, value in data.items()}
        if isinstance(data, list):
            return [self._lives_here(item) for item in data]
        return data

    def _personal(self, data: Any) -> Any:
        """The scenario's start form for a pupil of this case, one of the SWV's schools and municipalities."""
        if not isinstance(data, dict):
            return data
        data = dict(data)
        if isinstance(data.get("leerling"), dict):
            pupil = dict(data["leerling"], **self.pupil)
            if "geboortedatum" in pupil:
                pupil["geboortedatum"] = (clock.local_date(self.plan.start) - timedelta(days=self.age_days)).isoformat()
            data["leerling"] = pupil
        schools = sorted(code for code, id_ in self.stage.school_ids.items() if id_ in self.stage.by_school)
        if "school" in data and schools:  # a school with a demo user (its zorgcoördinator works the case)
            data["school"] = self.rng.choice(schools)
        return data

    def _skipped(self, reason: str) -> None:
        self.figures.skipped += 1
        self.report.reasons[f"{self.plan.route}: {reason[:160]}"] += 1

    def _after_waiting(self, step: Step) -> datetime:
        """The moment a person does ``step``: a while after it arrived, mostly well within its term."""
        now = self.steps.now
        if step.action != "complete" or self.rng.random() < 0.15:  # a claim, a suspension: soon after
            wait = timedelta(minutes=self.rng.randint(5, 180))
        else:
            task = next((t for t in self.steps.open_tasks() if t.name == step.spec["complete"]), None)
            dues = [d for d in (task.due if task else None, self.steps.case().due_at) if d is not None]
            # The task's term or the SWV's promise, whichever ends first, to 17:00 of its last day (it ends at
            # 23:59, but people work office hours).
            term = min(dues) - now - timedelta(hours=7) if dues else timedelta(days=3)
            roll = self.rng.random()
            share = (self.rng.uniform(0.05, 0.6) if roll < 0.8 else self.rng.uniform(0.6, 0.95) if roll < 0.96
                     else self.rng.uniform(1.05, 1.4))  # mostly in time; a few close to the term, some late
            wait = min(max(term, timedelta(0)) * share, timedelta(days=35))
        return self._office_hours(now + wait)

    def _office_hours(self, moment: datetime) -> datetime:
        local = moment.astimezone(clock.TZ)
        day = local.date()
        if self.calendar.is_workday(day) and time(8, 30) <= local.time() <= time(17, 0):
            return moment
        if local.time() > time(17, 0) or not self.calendar.is_workday(day):
            day += timedelta(days=1)
        while not self.calendar.is_workday(day):
            day += timedelta(days=1)
        minutes = self.rng.randint(0, 8 * 60)
        return datetime.combine(day, time(8, 30), clock.TZ).astimezone(UTC) + timedelta(minutes=minutes)


def shift_dates(value: Any, days: int) -> Any:
    """Every ``YYYY-MM-DD`` in form data moved by ``days``; a 31 July (a TLV's end) to the 31 July on or after."""
    if isinstance(value, dict):
        return {key: shift_dates(item, days) for key, item in value.items()}
    if isinstance(value, list):
        return [shift_dates(item, days) for item in value]
    if isinstance(value, str) and _ISO_DAY.match(value) and days:
        try:
            day = date.fromisoformat(value)
        except ValueError:
            return value
        moved = day + timedelta(days=days)
        if value[5:] == END_OF_SCHOOL_YEAR:
            moved = date(moved.year if moved.strftime("%m-%d") <= END_OF_SCHOOL_YEAR else moved.year + 1, 7, 31)
        return moved.isoformat()
    return value
