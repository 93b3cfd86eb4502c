"""One scenario's steps, run against its world through the same Runtime a real action uses, with the clock frozen
at the scenario's moment and moved only by ``let`` and ``at`` (each move followed by a scheduler sweep, as
``loket scheduler --once --now`` does). The world is a :class:`Stage`: the throwaway one of
``engine.scenario_world``, or a real SWV in the real database (``engine.demo``, which moves the clock itself).
After every step it observes, in Dutch, what happened: the events the step caused, the tasks that came and their
terms, terms that moved, escalations and warnings that fired.
A failed expectation or an unexpected refusal stops the scenario with a message naming what happened instead.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import select

from . import clock, documents, links
from .auth import Actor
from .cases import Runtime
from .db import Database
from .deadlines import Terms
from .errors import LoketError
from .models import Case, Event, Task, Tenant
from .scenario_checks import (
    TaskView,
    data_problems,
    decision_problems,
    moment,
    moment_problem,
    parse_when,
    task_problems,
)
from .scenario_format import LET, Step
from .scheduler import fire_due
from .vocabulary import OPEN_TASK, EventType, TaskStatus

# The smallest file Loket keeps as a PDF (its type is read from the content): what ``upload`` adds.
PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


class Stage(Protocol):
    """Where the steps run: a database with one SWV, its schools and a user for each name a step can give."""

    @property
    def db(self) -> Database: ...

    @property
    def tenant_id(self) -> int: ...

    @property
    def school_ids(self) -> dict[str, int]:
        """School code -> id."""
        ...

    @property
    def route_key(self) -> str: ...

    def actor(self, name: str, school_id: int | None) -> Actor:
        """``school`` is the user of the case's school; every other name a role (or its second user)."""
        ...


class StepFailed(Exception):
    """The step did not go as the scenario says; the message is Dutch and says what happened instead."""


class Steps:
    """The state of one running scenario: its world, runtime, clock and case."""

    def __init__(self, world: Stage, runtime: Runtime, now: datetime, route_key: str | None = None,
                 sweep: Callable[[datetime], None] | None = None) -> None:
        self.world, self.runtime, self.now = world, runtime, now
        self.route_key = route_key or world.route_key  # another route's: the case a linked scenario starts from
        self.source_id: int | None = None  # the case this one was started from (start.from)
        # What moving the clock does: a scheduler sweep at the new moment (the demo sweeps for all its cases).
        self.sweep = sweep or self._fire_due
        self.case_id: int | None = None
        self.school_id: int | None = None
        self._seq = 0
        self._seen: dict[str, TaskView] = {}
        self._case_due: datetime | None = None

    # ------------------------------------------------------------------ actions

    def start(self, role: str, data: dict[str, Any], source: Steps | None = None, confirm_late: bool = False) -> None:
        """Start the case; ``source``: the steps of the scenario whose case it starts from (start.from)."""
        # A school starts for the school its start form names (its own), if the world has it; a linked start for
        # the source case's school.
        school = self.world.school_ids.get(str(data.get("school"))) if isinstance(data, dict) else None
        if source is not None:
            if self.now < source.now:
                raise StepFailed(f"de start ({moment(self.now)}) ligt vóór het einde van het bronscenario "
                                 f"({moment(source.now)})")
            school, self.source_id = school or source.school_id, source.case_id
        with clock.frozen(self.now):
            case = self.runtime.start_case(self.world.actor(role, school), self.route_key, data,
                                           linked_from=self.source_id, confirm_late=confirm_late)
        self.case_id, self.school_id = case.id, case.school_id

    def run(self, step: Step) -> None:
        spec, action = step.spec, step.action
        if action == "expect":
            self.expect(spec["expect"])
            return
        if action in ("let", "at"):
            self._move(self.target(step))
            return
        refused = spec.get("refused")
        try:
            with clock.frozen(self.now):
                self._act(action, spec)
        except LoketError as exc:
            # The words may be in the message or in a field's message (a form rule's reason is there).
            if refused and refused.lower() in (exc.message + details(exc)).lower():
                return
            raise StepFailed(f"geweigerd: {exc.message}{details(exc)}"
                             + (f" (verwacht: '{refused}')" if refused else "")) from None
        if refused:
            raise StepFailed(f"verwacht: geweigerd met '{refused}', maar de stap lukte")

    def _act(self, action: str, spec: dict[str, Any]) -> None:
        assert self.case_id is not None
        who = spec.get("as")
        if action in ("complete", "claim"):
            task = self._open_task(spec[action])
            actor = self._actor(who or task.lane or "beheerder")
            if action == "claim":
                self.runtime.claim(actor, task.id)
            else:
                self.runtime.complete(actor, task.id, spec.get("with") or {})
        elif action == "suspend":
            self.runtime.suspend(self._actor(who or "consulent"), self.case_id, spec["suspend"])
        elif action == "resume":
            self.runtime.resume(self._actor(who or "consulent"), self.case_id, spec["resume"])
        elif action == "extend":
            extend = spec["extend"]
            self.runtime.extend(self._actor(who or "consulent"), self.case_id, extend["weeks"], extend["reason"])
        elif action == "upload":
            name = spec.get("name") or f"{spec['upload']}.pdf"
            documents.add(self.runtime, self._actor(who or "school"), self.case_id, name=name, data=PDF,
                          kind=spec["upload"])

    def _actor(self, name: str) -> Actor:
        try:
            return self.world.actor(name, self.school_id)
        except KeyError:  # a lane that is no role of Loket: the validator refuses it, a draft may still have it
            raise StepFailed(f"er is geen gebruiker met de rol '{name}'") from None

    def _open_task(self, name: str) -> Task:
        with self.world.db.read() as session:
            tasks = list(session.scalars(select(Task).where(Task.case_id == self.case_id, Task.name == name,
                                                            Task.status.in_(OPEN_TASK))))
        if not tasks:
            raise StepFailed(f"taak {name} staat niet open; open zijn: {self._open_names() or 'geen taken'}")
        return tasks[0]

    def target(self, step: Step) -> datetime:
        """Where a ``let`` or ``at`` step moves the clock to (from ``now``)."""
        return self._let(step.spec["let"]) if step.action == "let" else parse_when(step.spec["at"])

    def _let(self, text: str) -> datetime:
        match = LET.match(text)
        assert match is not None  # the schema checked it
        amount, unit = int(match.group(1)), match.group(2)
        if unit == "uren":
            return self.now + timedelta(hours=amount)
        # To the first moment after the last of those days, as a term of that length started now would end (at
        # 23:59:59 of its last day) and be over: its warnings, escalations and timers (which fire only after
        # their moment) all go. Counted from the day that is running; at 00:00 that is the day that just ended,
        # so "let 2 werkdagen" then "let 1 werkdagen" is "let 3 werkdagen".
        day = clock.local_date(self.now - timedelta(seconds=1))
        with self.world.db.read() as session:
            tenant = session.get(Tenant, self.world.tenant_id)
            assert tenant is not None
            end = Terms(session, tenant).forward(start=day)["kalenderdagen" if unit == "dagen" else unit](amount)
        return datetime.fromisoformat(end).astimezone(UTC) + timedelta(seconds=1)

    def _move(self, to: datetime) -> None:
        if to < self.now:
            raise StepFailed(f"de klok kan niet terug: het is al {moment(self.now)}, niet {moment(to)}")
        self.now = to
        self.sweep(to)

    def _fire_due(self, to: datetime) -> None:
        with clock.frozen(to):
            fire_due(self.runtime, to, measured=False)  # the throwaway world is not this process's work

    # ------------------------------------------------------------------ observing

    def case(self) -> Case:
        with self.world.db.read() as session:
            case = session.get(Case, self.case_id)
        assert case is not None
        return case

    def open_tasks(self) -> list[TaskView]:
        with self.world.db.read() as session:
            rows = session.scalars(select(Task).where(Task.case_id == self.case_id, Task.status.in_(OPEN_TASK))
                                   .order_by(Task.created_at, Task.id)).all()
            return [TaskView(t.name, t.lane, t.due_at, t.warn_at, t.escalated,
                             t.assignee.email.split("@")[0] if t.assignee else None) for t in rows]

    def _open_names(self) -> str:
        return ", ".join(str(t) for t in self.open_tasks())

    def observe(self) -> list[str]:
        """What the last step did, in Dutch lines: its events, new tasks and their terms, terms that moved."""
        lines = []
        with self.world.db.read() as session:
            events = session.scalars(select(Event).where(Event.case_id == self.case_id, Event.seq > self._seq)
                                     .order_by(Event.seq)).all()
            lines += [_event_line(e) for e in events]
            self._seq = events[-1].seq if events else self._seq
        tasks = {t.name: t for t in self.open_tasks()}
        for name, task in tasks.items():
            before = self._seen.get(name)
            if before is None:
                warn = f", waarschuwing vanaf {moment(task.warn)}" if task.warn else ""
                due = f"termijn tot {moment(task.due)}{warn}" if task.due else "geen termijn"
                lines.append(f"taak {name} klaar voor {task.lane or '-'}: {due}")
            elif before.due != task.due:
                lines.append(f"termijn van {name} verschoven: {moment(before.due)} -> {moment(task.due)}")
        self._seen = tasks
        case_due = self.case().due_at
        if case_due != self._case_due:
            lines.append(f"doorlooptijd van de zaak tot {moment(case_due)}" if case_due
                         else "de zaak heeft geen doorlooptijd")
            self._case_due = case_due
        return [line for line in lines if line]

    # ------------------------------------------------------------------ expectations

    def expect(self, wanted: dict[str, Any]) -> None:
        problems = []
        case = self.case()
        tasks = self.open_tasks()
        if "task" in wanted:
            problems += task_problems(wanted, [t for t in tasks if t.name == wanted["task"]], tasks)
        if "open_tasks" in wanted and sorted(wanted["open_tasks"]) != sorted(t.name for t in tasks):
            problems.append(f"open taken: verwacht {', '.join(wanted['open_tasks']) or 'geen'}, "
                            f"maar het zijn {', '.join(t.name for t in tasks) or 'geen'}")
        if "status" in wanted and case.status != wanted["status"]:
            problems.append(f"status: verwacht {wanted['status']}, maar de zaak is {case.status}"
                            + (f" ({(case.incident or {}).get('message', '')})" if case.incident else ""))
        if "outcome" in wanted and case.outcome != wanted["outcome"]:
            problems.append(f"uitkomst: verwacht {wanted['outcome'] or 'geen'}, maar het is {case.outcome or 'geen'}"
                            f" (status {case.status})")
        if "case_due" in wanted:
            problems += moment_problem("doorlooptijd van de zaak", wanted["case_due"], case.due_at)
        fired = self._fired()
        for key, kind, word in (("escalation", EventType.DEADLINE_ESCALATED, "escalatie"),
                                ("warning", EventType.DEADLINE_WARNED, "waarschuwing")):
            if key in wanted and wanted[key] not in fired[kind]:
                problems.append(f"{word} voor {wanted[key]} verwacht, maar die is er niet"
                                + (f" (wel voor: {', '.join(sorted(fired[kind]))})" if fired[kind] else ""))
            if f"no_{key}" in wanted and wanted[f"no_{key}"] in fired[kind]:
                problems.append(f"geen {word} voor {wanted[f'no_{key}']} verwacht, maar die is er wel")
        if "done" in wanted:
            done = self._done()
            missing = [name for name in wanted["done"] if name not in done]
            if missing:
                problems.append(f"niet afgerond: {', '.join(missing)} (afgerond: {', '.join(done) or 'niets'})")
        if "data" in wanted:
            problems += data_problems(wanted["data"], case.data or {}, "")
        if any(key in wanted for key in ("decision_due", "decision", "objection_due")):
            problems += decision_problems(wanted, case.decision, clock.local_date(self.now))
        if "source" in wanted:
            problems += self._source_problems(wanted["source"])
        if problems:
            raise StepFailed("; ".join(problems))

    def _source_problems(self, wanted: dict[str, Any]) -> list[str]:
        """The case this one started from (start.from): its outcome, legal hold, and what it recorded of this one."""
        if self.source_id is None:
            return ["source: deze zaak startte niet vanuit een ander dossier (start.from)"]
        with self.world.db.read() as session:
            found = links.source_state(session, self.source_id, self.case_id)
        return [f"brondossier: {key} is {found[key]!r}, verwacht {value!r}" for key, value in wanted.items()
                if found[key] != value]

    def _fired(self) -> dict[str, set[str]]:
        kinds = (EventType.DEADLINE_ESCALATED, EventType.DEADLINE_WARNED)
        fired: dict[str, set[str]] = {kind: set() for kind in kinds}
        with self.world.db.read() as session:
            for event in session.scalars(select(Event).where(Event.case_id == self.case_id, Event.type.in_(kinds))):
                kind = (event.payload or {}).get("kind")
                # The case's doorlooptijd is "case", the legal decision term (engine.decision) "beslistermijn".
                fired[event.type].add("case" if kind == "case" else "beslistermijn" if kind in (
                    "decision", "decision_warning") else str(event.task_name))
        return fired

    def _done(self) -> list[str]:
        with self.world.db.read() as session:
            return list(session.scalars(select(Task.name).where(Task.case_id == self.case_id,
                                                                Task.status == TaskStatus.COMPLETED)
                                        .order_by(Task.completed_at)))


def details(exc: LoketError) -> str:
    """A refusal's details (a form's fields and what is wrong with each) in one parenthesis."""
    found = exc.details
    if isinstance(found, dict) and found:
        return " (" + "; ".join(f"{k}: {' '.join(map(str, v)) if isinstance(v, list) else v}"
                                for k, v in found.items()) + ")"
    return ""


def _event_line(event: Event) -> str:
    payload, task = event.payload or {}, event.task_name
    who = event.role
    lines = {
        EventType.CASE_STARTED: f"zaak gestart door {who} (route {payload.get('route')}, "
                                f"versie {payload.get('version')})",
        EventType.TASK_CLAIMED: f"{task} geclaimd door {who}",
        EventType.TASK_UNCLAIMED: f"{task} vrijgegeven",
        EventType.TASK_DELEGATED: f"{task} overgedragen",
        EventType.TASK_COMPLETED: f"{task} afgerond door {who}",
        EventType.TIMER_FIRED: f"timer {task or ''} afgegaan".replace("  ", " "),
        EventType.DEADLINE_WARNED: f"waarschuwing: {task} bijna te laat",
        EventType.DEADLINE_ESCALATED: (f"escalatie: doorlooptijd van de zaak verstreken, melding aan "
                                       f"{payload.get('to_role')}" if payload.get("kind") == "case" else
                                       f"escalatie: {task} te laat, melding aan {payload.get('to_role')}"),
        EventType.CASE_SUSPENDED: f"zaak opgeschort: {payload.get('reason')}",
        EventType.CASE_RESUMED: "zaak hervat na "
                                f"{round(float(payload.get('shift_seconds') or 0) / 86400, 1)} dagen opschorting",
        EventType.CASE_EXTENDED: f"doorlooptijd verlengd met {payload.get('weeks')} weken",
        EventType.CASE_RETRIED: "incident opnieuw geprobeerd",
        EventType.INCIDENT: f"incident: {payload.get('message') or payload}",
        EventType.CASE_COMPLETED: f"zaak gesloten, uitkomst {payload.get('outcome')}",
        EventType.DOCUMENT_ADDED: f"document toegevoegd ({payload.get('kind')})",
        EventType.CASE_LINKED: f"dossier {payload.get('case_id')} ({payload.get('route')}) gestart vanuit deze zaak",
        EventType.LINKED_CASE_CLOSED: f"gekoppeld dossier {payload.get('case_id')} gesloten, uitkomst "
                                      f"{payload.get('outcome')}",
        EventType.LEGAL_HOLD_SET: f"juridische bewaarplicht: {payload.get('reason')}",
    }
    return lines.get(EventType(event.type), event.type) if event.type in EventType._value2member_map_ else event.type
