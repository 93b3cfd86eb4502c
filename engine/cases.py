"""Cases and their actions. One action = one transaction: authorize, validate, run the engine, save the
state, rewrite the projections, append events. Any exception rolls the whole action back."""

from __future__ import annotations

import copy
import json
from collections import Counter as Tally
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.exceptions import WorkflowException
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from . import bpmn, clock, deadlines, events, forms, notifications, services
from .auth import Actor, can_read_case, require_role, system_actor
from .config import Settings
from .db import Database
from .errors import Conflict, Forbidden, InvalidData, NotFound
from .models import Case, Deadline, RouteVersion, School, Task
from .routes import latest_version
from .sandbox import CaseScriptEngine, SandboxError, ServiceCallError

OPEN_TASK = ("ready", "claimed")
# Who may stop, restart and extend a case's clock.
CLOCK_ROLES = ("consulent", "commissie", "bestuurder", "beheerder")


class RunawayLoop(Exception):
    """A task was activated more often than the configured limit: the route loops without bound."""


@dataclass
class Outcome:
    """What running the engine produced within one action."""

    services: list[dict[str, Any]]
    incident: dict[str, Any] | None = None
    # Terms computed for user tasks that became ready: task id -> (due, warn).
    terms: dict[str, tuple[datetime | None, datetime | None]] = field(default_factory=dict)
    case_due: datetime | None = None
    # Ready user tasks before the input: by construction the case's open rows in the task projection.
    before: set[str] = field(default_factory=set)
    # Results of calendar functions that route code called (werkdagen(10) in a timer, ...), so a replay
    # gets the same answers even after the SWV's calendar changed.
    calendar: list[dict[str, Any]] = field(default_factory=list)

    def logged(self) -> dict[str, Any]:
        """What an input event records of its engine run, beside the submitted data."""
        return {"services": self.services, **({"calendar": self.calendar} if self.calendar else {})}


@dataclass(frozen=True)
class Completed:
    """A completed task and its form, so a caller can answer without reading the case again."""

    task: Task
    form: dict[str, Any] | None


class TermError(Exception):
    """A deadline expression could not be computed (e.g. a date outside the shipped school calendar)."""


def jsonable(value: Any) -> Any:
    """A deep copy as plain JSON values (what the database and the event log keep)."""
    return json.loads(json.dumps(value, default=str))


def _spec_kind(task_spec: Any) -> str:
    return type(task_spec).__name__


def new_workflow(spec: Any, subprocess_specs: dict, data: dict[str, Any]) -> BpmnWorkflow:
    """A fresh workflow for a new case, holding the start form's data."""
    workflow = BpmnWorkflow(spec, subprocess_specs)
    workflow.task_tree.data = copy.deepcopy(data)
    for task in workflow.get_tasks(state=TaskState.READY):
        task.data = copy.deepcopy(data)
    return workflow


def find_ready(workflow: BpmnWorkflow, task_name: str, task_index: int) -> Any:
    """A ready task by spec name and index among the ready tasks of that spec (task ids are random,
    so this is how a logged action is matched on replay)."""
    same = workflow.get_tasks(state=TaskState.READY, spec_name=task_name)
    if task_index is None or task_index >= len(same):
        raise LookupError(f"geen open taak '{task_name}' nr. {task_index}")
    return same[task_index]


def input_step(workflow: BpmnWorkflow, type_: str, task_name: str | None = None, task_index: int | None = None,
               payload: dict[str, Any] | None = None) -> Callable[[], None]:
    """What one external input does to the workflow, before the engine steps behind it. Live actions and
    audit replay both go through here, so a replay repeats exactly what the action did."""
    payload = payload or {}
    if type_ == "task_completed":
        task = find_ready(workflow, task_name, task_index)

        def complete() -> None:
            task.data.update(copy.deepcopy(payload.get("data") or {}))
            task.run()

        return complete
    if type_ == "case_retried":
        failed = workflow.get_tasks(state=TaskState.ERROR)

        def retry() -> None:
            for task in failed:
                task._set_state(TaskState.READY)

        return retry
    if type_ == "timer_fired":
        return workflow.refresh_timers
    if type_ == "case_resumed":
        return lambda: shift_timers(workflow, timedelta(seconds=payload.get("shift_seconds") or 0))
    return lambda: None


def shift_timers(workflow: BpmnWorkflow, delta: timedelta) -> None:
    """Move every waiting BPMN timer by ``delta`` (the time a case was suspended)."""
    for task in workflow.event_manager.tasks.values():
        value = task.internal_data.get("event_value")
        if task.state != TaskState.WAITING or value is None:
            continue
        if isinstance(value, dict) and value.get("next"):
            value["next"] = (datetime.fromisoformat(value["next"]) + delta).isoformat()
        elif isinstance(value, str):
            try:
                task.internal_data["event_value"] = (datetime.fromisoformat(value) + delta).isoformat()
            except ValueError:
                continue


def all_tasks(workflow: BpmnWorkflow) -> Iterator[Any]:
    """Every task of the workflow and its subprocesses, unordered: much cheaper than get_tasks()'s
    tree walk where order does not matter."""
    yield from workflow.tasks.values()
    for subprocess in workflow.subprocesses.values():
        yield from subprocess.tasks.values()


def ready_user_tasks(workflow: BpmnWorkflow) -> list[Any]:
    return [t for t in all_tasks(workflow) if t.state == TaskState.READY and t.task_spec.manual]


def timer_due_times(workflow: BpmnWorkflow) -> dict[str, datetime]:
    """Waiting BPMN timers: task id -> the moment the scheduler should wake for it."""
    out = {}
    for task in workflow.event_manager.tasks.values():
        value = task.internal_data.get("event_value")
        if task.state != TaskState.WAITING or value is None:
            continue
        if isinstance(value, dict):  # a cycle: its next occurrence
            value = value.get("next")
        try:
            due = deadlines.parse_moment(value, "timer")
        except (TypeError, ValueError):
            continue
        out[str(task.id)] = due + timedelta(milliseconds=1)
    return out


class Runtime:
    """The engine's entry point for the web app, the CLI and the scheduler."""

    def __init__(self, db: Database, settings: Settings | None = None,
                 helpers: Callable[[Session, Case], dict[str, Any]] | None = None) -> None:
        self.db = db
        self.settings = settings or Settings()
        # Route-code helpers (calendar functions) are provided per case by whoever builds the runtime.
        self.helpers = helpers or (lambda session, case: {})
        # Called after every committed action, so an in-process scheduler can wake for new deadlines.
        self.on_deadline: Callable[[], None] | None = None
        services.load()

    # ---------------------------------------------------------------- reads

    def case_for(self, session: Session, actor: Actor, case_id: int) -> Case:
        case = session.get(Case, case_id)
        if case is None or case.tenant_id != actor.tenant_id:
            raise NotFound(f"Dossier {case_id} bestaat niet.")
        if not can_read_case(actor, case):
            raise Forbidden("U heeft geen toegang tot dit dossier.")
        return case

    def task_for(self, session: Session, actor: Actor, task_id: str) -> Task:
        task = session.get(Task, task_id)
        if task is None or task.tenant_id != actor.tenant_id:
            raise NotFound(f"Taak {task_id} bestaat niet.")
        if actor.role == "school" and task.school_id != actor.school_id:
            raise Forbidden("Deze taak hoort bij een andere school.")
        return task

    def open_tasks(self, session: Session, case: Case) -> list[Task]:
        return list(session.scalars(
            select(Task).where(Task.case_id == case.id, Task.status.in_(OPEN_TASK)).order_by(Task.created_at, Task.id)
        ))

    def form(self, version: RouteVersion, task_name: str) -> dict[str, Any] | None:
        route = bpmn.loaded(version)
        task_spec = route.spec.task_specs.get(task_name)
        return route.form(bpmn.properties(task_spec).get("formJsonSchemaFilename") if task_spec else None)

    # ---------------------------------------------------------------- actions

    @contextmanager
    def action(self) -> Iterator[Session]:
        """A write transaction; a concurrent writer that got there first turns into a 409."""
        try:
            # One moment for the whole action, so what it records (events, timers armed) replays exactly.
            with clock.frozen(clock.now()), self.db.transaction() as session:
                yield session
            if self.on_deadline is not None:
                self.on_deadline()
        except StaleDataError as exc:
            raise Conflict("Dit dossier is intussen door iemand anders gewijzigd; laad het opnieuw.") from exc
        except IntegrityError as exc:
            if "events" in str(exc.orig) or "seq" in str(exc.orig):
                raise Conflict("Dit dossier is intussen door iemand anders gewijzigd; laad het opnieuw.") from exc
            raise

    def start_case(self, actor: Actor, route_key: str, data: Any) -> Case:
        with self.action() as session:
            version = latest_version(session, route_key)
            route = bpmn.loaded(version)
            spec, subs = route.spec, route.subprocess_specs
            start_spec = next(ts for ts in spec.task_specs.values() if _spec_kind(ts) == "StartEvent")
            allowed = {start_spec.lane or "school", "consulent", "beheerder"}
            if actor.role not in allowed:
                who = " of ".join(sorted(allowed))
                raise Forbidden(f"Een dossier op route '{route_key}' wordt gestart door {who}.")
            schema = route.form(bpmn.properties(start_spec).get("formJsonSchemaFilename"))
            data = forms.validate(schema, data)
            school = self._school_for(session, actor, data)
            now = clock.now()
            case = Case(
                tenant_id=actor.tenant_id, school_id=school.id if school else None, route_version_id=version.id,
                status="open", data={}, state="", event_seq=0, last_hash=events.GENESIS, opened_at=now,
                suspended_seconds=0, extensions_used=0,
            )
            session.add(case)
            session.flush()
            workflow = new_workflow(spec, subs, data)
            outcome = self._advance(session, case, workflow, lambda: None)
            events.append(session, case, "case_started", actor, now, payload={
                "route": route_key, "version": version.number, "sha256": version.sha256, "data": data,
                **outcome.logged(),
            })
            self._save(session, case, workflow, outcome, actor, now)
            return case

    def claim(self, actor: Actor, task_id: str) -> Task:
        with self.action() as session:
            task, case = self._workable(session, actor, task_id)
            if task.assignee_id == actor.user_id:
                return task
            if task.assignee_id is not None:
                raise Conflict(f"Deze taak is al geclaimd door {task.assignee.email}.")
            task.assignee_id, task.status = actor.user_id, "claimed"
            events.append(session, case, "task_claimed", actor, clock.now(), task_id=task.id, task_name=task.name,
                          task_index=self._projection_index(session, task))
            session.flush()
            session.refresh(task)
            return task

    def unclaim(self, actor: Actor, task_id: str) -> Task:
        with self.action() as session:
            task = self.task_for(session, actor, task_id)
            case = self._writable_case(session, task)
            if task.status != "claimed":
                raise Conflict("Deze taak is niet geclaimd.")
            if task.assignee_id != actor.user_id and actor.role != "beheerder":
                raise Forbidden("Alleen wie de taak claimde, of een beheerder, kan haar vrijgeven.")
            task.assignee_id, task.status = None, "ready"
            events.append(session, case, "task_unclaimed", actor, clock.now(), task_id=task.id,
                          task_name=task.name, task_index=self._projection_index(session, task))
            session.flush()
            session.refresh(task)
            return task

    def complete(self, actor: Actor, task_id: str, data: Any) -> Completed:
        with self.action() as session:
            task, case = self._workable(session, actor, task_id)
            if task.assignee_id not in (None, actor.user_id):
                raise Conflict(f"Deze taak is geclaimd door {task.assignee.email}.")
            form = self.form(case.route_version, task.name)
            data = forms.validate(form, data)
            workflow = self._load(case)
            spiff_task = workflow.get_task_from_id(UUID(task.id))
            if spiff_task is None or spiff_task.state != TaskState.READY:
                raise Conflict("Deze taak is niet meer open.")
            index = self._ready_index(workflow, spiff_task)
            now = clock.now()
            step = input_step(workflow, "task_completed", task.name, index, {"data": data})
            outcome = self._advance(session, case, workflow, step)
            events.append(session, case, "task_completed", actor, now, task_id=task.id, task_name=task.name,
                          task_index=index, payload={"data": data, **outcome.logged()})
            self._save(session, case, workflow, outcome, actor, now)
            return Completed(task, form)

    def retry(self, actor: Actor, case_id: int) -> Case:
        """Run the failed step of a case in incident again (after the cause was fixed)."""
        require_role(actor, "beheerder")
        with self.action() as session:
            case = self.case_for(session, actor, case_id)
            if case.status != "incident":
                raise Conflict("Dit dossier heeft geen incident.")
            workflow = self._load(case)
            previous = case.incident
            now = clock.now()
            outcome = self._advance(session, case, workflow, input_step(workflow, "case_retried"),
                                    recompute_terms=True)
            events.append(session, case, "case_retried", actor, now,
                          payload={"incident": previous, **outcome.logged()})
            self._save(session, case, workflow, outcome, actor, now)
            return case

    # ---------------------------------------------------------------- the case clock

    def suspend(self, actor: Actor, case_id: int, reason: str) -> Case:
        """Opschorting: stop the case's clock while waiting for others (parents, an expert, the school)."""
        require_role(actor, *CLOCK_ROLES)
        if not (reason or "").strip():
            raise InvalidData("Geef een reden op.", {"reason": ["Dit veld is verplicht."]})
        with self.action() as session:
            case = self.case_for(session, actor, case_id)
            if case.status != "open":
                raise Conflict(f"Alleen een lopend dossier kan worden opgeschort (status: {case.status}).")
            now = clock.now()
            case.suspended_at, case.status = now, "suspended"
            events.append(session, case, "case_suspended", actor, now, payload={"reason": reason})
            session.flush()
            return case

    def resume(self, actor: Actor, case_id: int, reason: str | None = None) -> Case:
        """End an opschorting: every deadline of the case moves by the time it was suspended."""
        require_role(actor, *CLOCK_ROLES)
        with self.action() as session:
            case = self.case_for(session, actor, case_id)
            if case.status != "suspended" or case.suspended_at is None:
                raise Conflict("Dit dossier is niet opgeschort.")
            now = clock.now()
            delta = now - case.suspended_at
            shift = round(delta.total_seconds(), 6)
            workflow = self._load(case)
            step = input_step(workflow, "case_resumed", payload={"shift_seconds": shift})
            outcome = self._advance(session, case, workflow, step)
            for deadline in session.scalars(select(Deadline).where(Deadline.case_id == case.id,
                                                                   Deadline.status == "pending")):
                deadline.due_at += delta
            for task in session.scalars(select(Task).where(Task.case_id == case.id, Task.status.in_(OPEN_TASK))):
                task.due_at = deadlines.shifted(task.due_at, delta)
                task.warn_at = deadlines.shifted(task.warn_at, delta)
            case.due_at = deadlines.shifted(case.due_at, delta)
            case.suspended_seconds += int(delta.total_seconds())
            case.suspended_at = None
            events.append(session, case, "case_resumed", actor, now,
                          payload={"shift_seconds": shift, "reason": reason, **outcome.logged()})
            self._save(session, case, workflow, outcome, actor, now)
            return case

    def extend(self, actor: Actor, case_id: int, weeks: int, reason: str) -> Case:
        """Verlenging: move the case's term, as often as the SWV allows (once, by default)."""
        require_role(actor, *CLOCK_ROLES)
        problems = {}
        if isinstance(weeks, bool) or not isinstance(weeks, int) or not 1 <= weeks <= 52:
            problems["weeks"] = ["Geef een aantal weken van 1 tot en met 52."]
        if not (reason or "").strip():
            problems["reason"] = ["Dit veld is verplicht."]
        if problems:
            raise InvalidData("De verlenging is niet goed ingevuld.", problems)
        with self.action() as session:
            case = self.case_for(session, actor, case_id)
            if case.status == "closed":
                raise Conflict("Dit dossier is gesloten.")
            if case.due_at is None:
                raise Conflict("Dit dossier heeft (nog) geen doorlooptijd om te verlengen.")
            allowed = deadlines.max_extensions(case.tenant)
            if case.extensions_used >= allowed:
                raise Conflict(f"De doorlooptijd van dit dossier is al {case.extensions_used} keer verlengd; "
                               f"het SWV staat {allowed} keer toe.")
            now = clock.now()
            previous = case.due_at
            case.due_at = previous + timedelta(weeks=weeks)
            case.extensions_used += 1
            for deadline in session.scalars(select(Deadline).where(
                    Deadline.case_id == case.id, Deadline.kind == "case", Deadline.status == "pending")):
                deadline.due_at = case.due_at
            events.append(session, case, "case_extended", actor, now, payload={
                "weeks": weeks, "reason": reason, "from": previous.isoformat(), "to": case.due_at.isoformat()})
            session.flush()
            return case

    # ---------------------------------------------------------------- deadlines firing

    def fire(self, session: Session, deadline: Deadline, now: datetime, worker: str) -> bool:
        """Act on one due deadline inside the caller's transaction. False: not yet (leave it pending)."""
        now = max(now, clock.now())  # record when it really fired, not when the sweep began
        with clock.frozen(now):  # and let everything it does happen at that one moment (replay)
            return self._fire(session, deadline, now, worker)

    def _fire(self, session: Session, deadline: Deadline, now: datetime, worker: str) -> bool:
        case = session.get(Case, deadline.case_id)
        actor = system_actor(case.tenant_id)
        if deadline.kind == "timer":
            return self._fire_timer(session, case, deadline, now, worker, actor)
        if deadline.kind == "case":
            config = deadlines.case_term(case.tenant, case.route_version.route.key) or {}
            role = config.get("escalateTo", "bestuurder")
            events.append(session, case, "deadline_escalated", actor, now, payload={
                "deadline_id": deadline.id, "kind": "case", "due_at": deadline.due_at.isoformat(), "to_role": role})
            notifications.case_overdue(session, case, role, deadline.due_at)
        else:
            task = session.get(Task, deadline.task_id)
            if task is None or task.status not in OPEN_TASK:
                deadline.status = "cancelled"
                return True
            index = self._projection_index(session, task)
            if deadline.kind == "warning":
                events.append(session, case, "deadline_warned", actor, now, task_id=task.id, task_name=task.name,
                              task_index=index, payload={"deadline_id": deadline.id,
                                                         "due_at": task.due_at.isoformat() if task.due_at else None})
                notifications.task_warning(session, case, task)
            else:
                task.escalated = True
                spec = self._task_spec(case, task.name)
                reassign = bpmn.properties(spec).get("escalationReassign", "false").lower() == "true"
                payload = {"deadline_id": deadline.id, "kind": "task", "due_at": deadline.due_at.isoformat(),
                           "to_role": task.escalate_to, "reassigned": bool(reassign and task.escalate_to)}
                if payload["reassigned"]:
                    payload["from"] = {"lane": task.lane, "assignee": task.assignee.email if task.assignee else None}
                    task.lane, task.assignee_id, task.status = task.escalate_to, None, "ready"
                events.append(session, case, "deadline_escalated", actor, now, task_id=task.id, task_name=task.name,
                              task_index=index, payload=payload)
                notifications.task_escalated(session, case, task)
        deadline.status, deadline.fired_at, deadline.fired_by = "fired", now, worker
        return True

    def _fire_timer(self, session: Session, case: Case, deadline: Deadline, now: datetime, worker: str,
                    actor: Actor) -> bool:
        if case.status != "open":
            return False  # an incident or opschorting holds the route still; the timer fires after it
        workflow = self._load(case)
        timer = workflow.get_task_from_id(UUID(deadline.task_id))
        if timer is None or timer.state != TaskState.WAITING:
            deadline.status = "cancelled"
            return True
        outcome = self._advance(session, case, workflow, input_step(workflow, "timer_fired"))
        if timer.state == TaskState.WAITING and not outcome.incident:
            return False  # SpiffWorkflow fires only once due < now: try again on the next sweep
        deadline.status, deadline.fired_at, deadline.fired_by = "fired", now, worker
        events.append(session, case, "timer_fired", actor, now, task_id=deadline.task_id,
                      task_name=timer.task_spec.name, payload={"due_at": deadline.due_at.isoformat(),
                                                               **outcome.logged()})
        self._save(session, case, workflow, outcome, actor, now)
        return True

    def _task_spec(self, case: Case, name: str) -> Any:
        return bpmn.loaded(case.route_version).spec.task_specs.get(name)

    # ---------------------------------------------------------------- internals

    def _school_for(self, session: Session, actor: Actor, data: dict[str, Any]) -> School | None:
        code = data.get("school")
        if actor.role == "school":
            own = session.get(School, actor.school_id) if actor.school_id else None
            if own is None:
                raise Forbidden("Uw account hoort bij geen school.")
            if code not in (None, own.code):
                raise Forbidden("Een school start alleen dossiers voor de eigen school.")
            return own
        if code is None:
            return None
        school = session.scalar(select(School).where(School.tenant_id == actor.tenant_id, School.code == code))
        if school is None:
            raise InvalidData("Het formulier is niet goed ingevuld.", {"school": [f"School '{code}' is onbekend."]})
        return school

    def _writable_case(self, session: Session, task: Task) -> Case:
        if task.status not in OPEN_TASK:
            raise Conflict("Deze taak is al afgerond." if task.status == "completed" else "Deze taak is vervallen.")
        case = session.get(Case, task.case_id)
        if case.status == "incident":
            raise Conflict("Dit dossier heeft een incident; een beheerder moet het eerst oplossen.")
        if case.status == "suspended":
            raise Conflict("Dit dossier is opgeschort; hervat het eerst.")
        if case.status == "closed":
            raise Conflict("Dit dossier is gesloten.")
        return case

    def _workable(self, session: Session, actor: Actor, task_id: str) -> tuple[Task, Case]:
        """The open task and its case, if this actor may work on it (lane = role, own school)."""
        task = self.task_for(session, actor, task_id)
        case = self._writable_case(session, task)
        if task.lane and actor.role != task.lane:
            raise Forbidden(f"Deze taak is voor de rol {task.lane}.")
        return task, case

    def _load(self, case: Case) -> BpmnWorkflow:
        route = bpmn.loaded(case.route_version)
        return bpmn.load_workflow(case.state, route.spec, route.subprocess_specs)

    @staticmethod
    def _ready_index(workflow: BpmnWorkflow, task: Any) -> int:
        same = workflow.get_tasks(state=TaskState.READY, spec_name=task.task_spec.name)
        return next(i for i, t in enumerate(same) if t.id == task.id)

    @staticmethod
    def _projection_index(session: Session, task: Task) -> int:
        """The task's index among the open tasks of its name (tree order is not at hand without the workflow)."""
        with session.no_autoflush:
            ids = session.scalars(select(Task.id).where(Task.case_id == task.case_id, Task.name == task.name,
                                                        Task.status.in_(OPEN_TASK)).order_by(Task.created_at, Task.id))
            return list(ids).index(task.id)

    def script_engine(self, session: Session, case: Case, log: list[dict[str, Any]],
                      recorded: list[dict[str, Any]] | None = None, calendar_log: list[dict[str, Any]] | None = None,
                      recorded_calendar: list[dict[str, Any]] | None = None) -> CaseScriptEngine:
        """The sandboxed script engine for one action. With ``recorded`` service results (replay), handlers
        are not called again: their logged results are served in order; likewise calendar results."""
        replayed = iter(recorded or [])
        helpers = self._logged_helpers(self.helpers(session, case), calendar_log, recorded_calendar)

        def call_service(task: Any, name: str, params: dict[str, Any]) -> str:
            values = {key: param.get("value") for key, param in params.items()}
            if recorded is not None:
                entry = next(replayed, None)
                if entry is None or entry["handler"] != name:
                    raise ServiceCallError(name, LookupError("geen vastgelegd resultaat om opnieuw af te spelen"))
                result = entry["result"]
            else:
                handler = services.get(name)
                if handler is None:
                    raise ServiceCallError(name, LookupError(f"geen handler geregistreerd voor '{name}'"))
                context = services.ServiceContext(session, case.tenant_id, case.id, clock.now(),
                                                  task.task_spec.name, data=task.data)
                try:
                    # A savepoint, so a handler that fails halfway leaves none of its writes behind.
                    with session.begin_nested():
                        result = handler(context, **values)
                except Exception as exc:
                    raise ServiceCallError(name, exc) from exc
            result = jsonable(result)
            log.append({"task": task.task_spec.name, "handler": name, "params": jsonable(values), "result": result})
            return json.dumps(result)

        return CaseScriptEngine(helpers, call_service)

    @staticmethod
    def _logged_helpers(helpers: dict[str, Any], log: list[dict[str, Any]] | None,
                        recorded: list[dict[str, Any]] | None) -> dict[str, Any]:
        if log is None:
            return helpers
        served = iter(recorded) if recorded is not None else None

        def wrap(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
            def call(*args: Any, **kwargs: Any) -> Any:
                asked = jsonable([list(args), kwargs])
                entry = next(served, None) if served is not None else None
                if entry is not None and entry.get("fn") == name and entry.get("args") == asked:
                    result = entry["result"]
                else:
                    result = jsonable(func(*args, **kwargs))
                log.append({"fn": name, "args": asked, "result": result})
                return result

            return call

        return {name: wrap(name, func) if callable(func) else func for name, func in helpers.items()}

    def _advance(self, session: Session, case: Case, workflow: BpmnWorkflow, step: Callable[[], None],
                 recorded: list[dict[str, Any]] | None = None, recompute_terms: bool = False,
                 recorded_calendar: list[dict[str, Any]] | None = None) -> Outcome:
        """Run one input and the engine steps behind it, and compute the terms of the user tasks it made
        ready. Route, handler and term failures become an incident; anything else aborts the action."""
        outcome = Outcome(services=[])
        workflow.script_engine = self.script_engine(session, case, outcome.services, recorded, outcome.calendar,
                                                    recorded_calendar)
        activations = Tally(t.task_spec.name for t in all_tasks(workflow) if t.state & TaskState.FINISHED_MASK)
        limit = self.settings.max_activations
        ready_before = {t.id for t in ready_user_tasks(workflow)}
        outcome.before = {str(i) for i in ready_before}
        before = set() if recompute_terms else ready_before

        def guard(task: Any) -> None:
            activations[task.task_spec.name] += 1
            if activations[task.task_spec.name] > limit:
                raise RunawayLoop(f"stap '{task.task_spec.name}' is vaker dan {limit} keer geactiveerd")

        try:
            step()
            workflow.do_engine_steps(will_complete_task=guard)
            fresh = [t for t in ready_user_tasks(workflow) if t.id not in before]
            for task in fresh:
                if activations[task.task_spec.name] + 1 > limit:
                    raise RunawayLoop(f"stap '{task.task_spec.name}' is vaker dan {limit} keer geactiveerd")
            self._compute_terms(session, case, fresh, outcome)
        except (ServiceCallError, SandboxError, RunawayLoop, TermError, WorkflowException) as exc:
            outcome.incident = self._incident(workflow, exc)
        return outcome

    def _compute_terms(self, session: Session, case: Case, fresh: list[Any], outcome: Outcome) -> None:
        terms = deadlines.Terms(session, case.tenant)
        for task in fresh:
            props = bpmn.properties(task.task_spec)
            if props.get("deadline"):
                try:
                    outcome.terms[str(task.id)] = deadlines.task_deadline(terms, props, task.data)
                except Exception as exc:
                    raise TermError(f"termijn van taak '{task.task_spec.name}' kon niet worden berekend: "
                                    f"{exc}") from exc
        config = deadlines.case_term(case.tenant, case.route_version.route.key)
        if config and case.due_at is None and case.status != "closed":
            starts = config.get("from")
            if starts is None or any(t.task_spec.name == starts for t in fresh):
                try:
                    data = fresh[0].data if fresh else {}
                    outcome.case_due = deadlines.case_due(terms, config, data)
                except Exception as exc:
                    raise TermError(f"doorlooptijd kon niet worden berekend: {exc}") from exc

    @staticmethod
    def _incident(workflow: BpmnWorkflow, exc: BaseException) -> dict[str, Any]:
        failed = workflow.get_tasks(state=TaskState.ERROR)
        task = failed[0] if failed else None
        real = exc
        # SpiffWorkflow wraps errors in route code; show the cause a person can act on.
        while isinstance(real, WorkflowException) and (real.__cause__ or real.__context__):
            real = real.__cause__ or real.__context__
        if isinstance(real, ServiceCallError):
            message, kind = str(real), type(real.original).__name__
        else:
            message, kind = f"{type(real).__name__}: {real}", type(real).__name__
        return {
            "task": task.task_spec.name if task else getattr(exc, "task_spec", None) and exc.task_spec.name,
            "task_id": str(task.id) if task else None,
            "error": message,
            "type": kind,
            "at": clock.now().isoformat(),
        }

    def _save(self, session: Session, case: Case, workflow: BpmnWorkflow, outcome: Outcome, actor: Actor,
              now: datetime) -> None:
        case.state = bpmn.dump_workflow(workflow)
        case.data = jsonable(self._current_data(workflow))
        if outcome.incident:
            case.status, case.incident = "incident", outcome.incident
            events.append(session, case, "incident", actor, now, task_name=outcome.incident["task"],
                          payload=outcome.incident)
        elif workflow.is_completed():
            case.status, case.incident, case.closed_at = "closed", None, now
            case.outcome = self._end_outcome(workflow)
            events.append(session, case, "case_completed", actor, now, payload={"outcome": case.outcome})
        else:
            case.status, case.incident = ("suspended" if case.suspended_at else "open"), None
        if outcome.case_due is not None:
            case.due_at = outcome.case_due
            session.add(Deadline(case_id=case.id, tenant_id=case.tenant_id, kind="case", due_at=case.due_at,
                                 status="pending"))
        self._sync_tasks(session, case, workflow, outcome, actor, now)
        if bpmn.loaded(case.route_version).has_timers:
            self._sync_timers(session, case, workflow)
        if case.status == "closed":
            session.execute(update(Deadline).where(Deadline.case_id == case.id, Deadline.status == "pending")
                            .values(status="cancelled").execution_options(synchronize_session=False))
        session.flush()

    @staticmethod
    def _current_data(workflow: BpmnWorkflow) -> dict[str, Any]:
        if workflow.is_completed():
            return workflow.data or (workflow.last_task.data if workflow.last_task else {})
        ready = workflow.get_tasks(state=TaskState.READY | TaskState.ERROR)
        if ready:
            return ready[0].data
        return workflow.last_task.data if workflow.last_task else {}

    @staticmethod
    def _end_outcome(workflow: BpmnWorkflow) -> str | None:
        ends = [t for t in workflow.get_tasks(state=TaskState.COMPLETED) if _spec_kind(t.task_spec) == "EndEvent"]
        ends.sort(key=lambda t: t.last_state_change)
        for task in reversed(ends):
            outcome = bpmn.properties(task.task_spec).get("outcome")
            if outcome:
                return outcome
        return None

    def _sync_tasks(self, session: Session, case: Case, workflow: BpmnWorkflow, outcome: Outcome, actor: Actor,
                    now: datetime) -> None:
        """Rewrite the case's open-task projection from the engine state: new ready user tasks appear with
        their terms, tasks the engine finished or cancelled leave the inboxes (and their deadlines go).
        The open rows are exactly the tasks that were ready before the input, so nothing is read back."""
        ready = {str(t.id): t for t in ready_user_tasks(workflow)}
        for task_id in outcome.before & ready.keys() & outcome.terms.keys():  # terms computed again after an incident
            row = session.get(Task, task_id)
            if row is not None and row.due_at is None:
                self._set_terms(session, case, row, *outcome.terms[task_id])
        gone = outcome.before - ready.keys()
        for task_id in gone:
            spiff_task = workflow.get_task_from_id(UUID(task_id))
            done = spiff_task is not None and spiff_task.state == TaskState.COMPLETED
            values = {"status": "completed" if done else "cancelled", "completed_at": now,
                      "completed_by": actor.user_id if done else None}
            row = session.identity_map.get(session.identity_key(Task, task_id))
            if row is not None:  # the task this action completed is loaded already
                for key, value in values.items():
                    setattr(row, key, value)
            else:
                session.execute(update(Task).where(Task.id == task_id).values(**values)
                                .execution_options(synchronize_session=False))
        if gone:
            session.execute(update(Deadline).where(Deadline.case_id == case.id, Deadline.task_id.in_(gone),
                                                   Deadline.status == "pending").values(status="cancelled")
                            .execution_options(synchronize_session=False))
        route_key = case.route_version.route.key
        for task_id, spiff_task in ready.items():
            if task_id in outcome.before:
                continue
            spec = spiff_task.task_spec
            props = bpmn.properties(spec)
            row = Task(
                id=task_id, case_id=case.id, tenant_id=case.tenant_id, school_id=case.school_id,
                route_key=route_key, name=spec.name, title=spec.bpmn_name or spec.name, lane=spec.lane,
                status="ready", created_at=now, escalated=False, escalate_to=props.get("escalateTo"),
            )
            session.add(row)
            if task_id in outcome.terms:
                self._set_terms(session, case, row, *outcome.terms[task_id])

    @staticmethod
    def _set_terms(session: Session, case: Case, row: Task, due: datetime | None, warn: datetime | None) -> None:
        row.due_at, row.warn_at = due, warn
        for kind, moment in (("warning", warn), ("escalation", due)):
            if moment is not None:
                session.add(Deadline(case_id=case.id, tenant_id=case.tenant_id, task_id=row.id, kind=kind,
                                     due_at=moment, status="pending"))

    @staticmethod
    def _sync_timers(session: Session, case: Case, workflow: BpmnWorkflow) -> None:
        """Keep one pending 'timer' deadline per waiting BPMN timer, due just after the timer's own moment
        (SpiffWorkflow fires only when due < now)."""
        waiting = timer_due_times(workflow)
        pending = {d.task_id: d for d in session.scalars(
            select(Deadline).where(Deadline.case_id == case.id, Deadline.kind == "timer",
                                   Deadline.status == "pending"))}
        for task_id, deadline in pending.items():
            if task_id not in waiting:
                deadline.status = "cancelled"
            elif deadline.due_at != waiting[task_id]:
                deadline.due_at = waiting[task_id]
        for task_id, due in waiting.items():
            if task_id not in pending:
                session.add(Deadline(case_id=case.id, tenant_id=case.tenant_id, task_id=task_id, kind="timer",
                                     due_at=due, status="pending"))
