"""The Runtime: the engine's entry point for the web app, the CLI and the scheduler.

One action = one transaction: authorize, validate, run the engine, append the events, and let the projection
(``engine.projection``) turn each event into the case's rows. Any exception rolls the whole action back.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from . import bpmn, clock, deadlines, events, forms, permissions, projection, projection_store
from .auth import Actor, require_role
from .config import Settings
from .db import Database
from .errors import Conflict, Forbidden, InvalidData
from .models import Case, Deadline, RouteVersion, School, Task
from .permissions import CLOCK_ROLES
from .projection import After, Projection
from .routes import latest_version
from .stepping import Helpers, StepCase, Stepper, StepResult
from .vocabulary import OPEN_TASK, CaseStatus, EventType, Role, TaskStatus
from .workflow import input_step, new_workflow, ready_index, spec_kind, task_ids

_STALE = "Dit dossier is intussen door iemand anders gewijzigd; laad het opnieuw."


@dataclass(frozen=True)
class Completed:
    """A completed task and its form, so a caller can answer without reading the case again."""

    task: Task
    form: dict[str, Any] | None


class WorkflowCache:
    """Restored workflows of recently changed cases, keyed by case id and lock version: any write to a case
    moves its version on, so an entry for an older version is never used. Taken out while an action runs,
    put back only after its commit."""

    def __init__(self, size: int = 256) -> None:
        self.size = size
        self._entries: OrderedDict[int, tuple[int, BpmnWorkflow]] = OrderedDict()

    def take(self, case_id: int, version: int) -> BpmnWorkflow | None:
        entry = self._entries.pop(case_id, None)
        return entry[1] if entry is not None and entry[0] == version else None

    def put(self, case_id: int, version: int, workflow: BpmnWorkflow) -> None:
        self._entries[case_id] = (version, workflow)
        while len(self._entries) > self.size:
            self._entries.popitem(last=False)


class Runtime:
    """Cases and their actions, for one database."""

    def __init__(self, db: Database, settings: Settings | None = None, helpers: Helpers | None = None) -> None:
        self.db = db
        self.settings = settings or Settings()
        self.stepper = Stepper(helpers or (lambda session, tenant: {}), lambda: self.settings.max_activations)
        self.workflows = WorkflowCache()
        # Called after every committed action, so an in-process scheduler can wake for new deadlines.
        self.on_deadline: Callable[[], None] | None = None

    # ---------------------------------------------------------------- reads

    def case_for(self, session: Session, actor: Actor, case_id: int) -> Case:
        return permissions.case_for(session, actor, case_id)

    def task_for(self, session: Session, actor: Actor, task_id: str) -> Task:
        return permissions.task_for(session, actor, task_id)

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
            for case, workflow in session.info.get("loket_workflows", []):
                self.workflows.put(case.id, case.version, workflow)
            if self.on_deadline is not None:
                self.on_deadline()
        except StaleDataError as exc:
            raise Conflict(_STALE) from exc
        except IntegrityError as exc:
            if "events" in str(exc.orig) or "seq" in str(exc.orig):
                raise Conflict(_STALE) from exc
            raise

    def start_case(self, actor: Actor, route_key: str, data: Any) -> Case:
        with self.action() as session:
            version = latest_version(session, route_key)
            route = bpmn.loaded(version)
            start_spec = next(ts for ts in route.spec.task_specs.values() if spec_kind(ts) == "StartEvent")
            allowed = {start_spec.lane or Role.SCHOOL, Role.CONSULENT, Role.BEHEERDER}
            if actor.role not in allowed:
                who = " of ".join(sorted(allowed))
                raise Forbidden(f"Een dossier op route '{route_key}' wordt gestart door {who}.")
            data = forms.validate(route.form(bpmn.properties(start_spec).get("formJsonSchemaFilename")), data)
            school = self._school_for(session, actor, data)
            now = clock.now()
            case = Case(tenant_id=actor.tenant_id, school_id=school.id if school else None, route_version_id=version.id,
                        status=CaseStatus.OPEN, data={}, state="", event_seq=0, last_hash=events.GENESIS, opened_at=now,
                        suspended_seconds=0, extensions_used=0)
            session.add(case)
            session.flush()
            rows = projection.new_case(case.id, case.tenant_id, route_key, route.has_timers, case.school_id)
            with task_ids(case.id, case.event_seq + 1):  # one id sequence for the new tree and its first steps
                workflow = new_workflow(route.spec, route.subprocess_specs, data)
                result = self.advance(session, case, rows, workflow, lambda: None)
            self.record_input(session, case, rows, workflow, result, EventType.CASE_STARTED, actor, now, payload={
                "route": route_key, "version": version.number, "sha256": version.sha256, "data": data,
                "school_id": case.school_id})
            return case

    def claim(self, actor: Actor, task_id: str) -> Task:
        with self.action() as session:
            task, case = permissions.workable(session, actor, task_id)
            if task.assignee_id == actor.user_id:
                return task
            if task.assignee_id is not None:
                raise Conflict(f"Deze taak is al geclaimd door {task.assignee.email}.")  # type: ignore[union-attr]
            self.record(session, case, EventType.TASK_CLAIMED, actor, task=task)
            return task

    def unclaim(self, actor: Actor, task_id: str) -> Task:
        with self.action() as session:
            task = permissions.task_for(session, actor, task_id)
            case = permissions.writable_case(session, task)
            if task.status != TaskStatus.CLAIMED:
                raise Conflict("Deze taak is niet geclaimd.")
            if task.assignee_id != actor.user_id and actor.role != Role.BEHEERDER:
                raise Forbidden("Alleen wie de taak claimde, of een beheerder, kan haar vrijgeven.")
            self.record(session, case, EventType.TASK_UNCLAIMED, actor, task=task)
            return task

    def complete(self, actor: Actor, task_id: str, data: Any) -> Completed:
        with self.action() as session:
            task, case = permissions.workable(session, actor, task_id)
            if task.assignee_id not in (None, actor.user_id):
                raise Conflict(f"Deze taak is geclaimd door {task.assignee.email}.")  # type: ignore[union-attr]
            form = self.form(case.route_version, task.name)
            data = forms.validate(form, data)
            workflow = self.load_workflow(case)
            spiff_task = workflow.get_task_from_id(UUID(task.id))
            if spiff_task is None or spiff_task.state != TaskState.READY:
                raise Conflict("Deze taak is niet meer open.")
            index = ready_index(workflow, spiff_task)
            rows = self.rows(session, case)
            step = input_step(workflow, EventType.TASK_COMPLETED, task.name, index, {"data": data})
            result = self.advance(session, case, rows, workflow, step)
            self.record_input(session, case, rows, workflow, result, EventType.TASK_COMPLETED, actor, clock.now(),
                        task=(task.id, task.name, index), payload={"data": data})
            return Completed(task, form)

    def retry(self, actor: Actor, case_id: int) -> Case:
        """Run the failed step of a case in incident again (after the cause was fixed)."""
        require_role(actor, Role.BEHEERDER)
        with self.action() as session:
            case = permissions.case_for(session, actor, case_id)
            if case.status != CaseStatus.INCIDENT:
                raise Conflict("Dit dossier heeft geen incident.")
            workflow = self.load_workflow(case)
            rows = self.rows(session, case)
            result = self.advance(session, case, rows, workflow, input_step(workflow, EventType.CASE_RETRIED),
                                   recompute_terms=True)
            self.record_input(session, case, rows, workflow, result, EventType.CASE_RETRIED, actor, clock.now(),
                        payload={"incident": case.incident})
            return case

    # ---------------------------------------------------------------- the case clock

    def suspend(self, actor: Actor, case_id: int, reason: str) -> Case:
        """Opschorting: stop the case's clock while waiting for others (parents, an expert, the school)."""
        require_role(actor, *CLOCK_ROLES)
        if not (reason or "").strip():
            raise InvalidData("Geef een reden op.", {"reason": ["Dit veld is verplicht."]})
        with self.action() as session:
            case = permissions.case_for(session, actor, case_id)
            if case.status != CaseStatus.OPEN:
                raise Conflict(f"Alleen een lopend dossier kan worden opgeschort (status: {case.status}).")
            self.record(session, case, EventType.CASE_SUSPENDED, actor, payload={"reason": reason})
            return case

    def resume(self, actor: Actor, case_id: int, reason: str | None = None) -> Case:
        """End an opschorting: every term of the case moves by the time it was suspended."""
        require_role(actor, *CLOCK_ROLES)
        with self.action() as session:
            case = permissions.case_for(session, actor, case_id)
            if case.status != CaseStatus.SUSPENDED or case.suspended_at is None:
                raise Conflict("Dit dossier is niet opgeschort.")
            now = clock.now()
            payload = {"shift_seconds": round((now - case.suspended_at).total_seconds(), 6), "reason": reason}
            workflow = self.load_workflow(case)
            rows = self.rows(session, case)
            step = input_step(workflow, EventType.CASE_RESUMED, payload=payload)
            result = self.advance(session, case, rows, workflow, step)
            self.record_input(session, case, rows, workflow, result, EventType.CASE_RESUMED, actor, now,
                              payload=payload)
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
            case = permissions.case_for(session, actor, case_id)
            if case.status == CaseStatus.CLOSED:
                raise Conflict("Dit dossier is gesloten.")
            if case.due_at is None:
                raise Conflict("Dit dossier heeft (nog) geen doorlooptijd om te verlengen.")
            allowed = deadlines.max_extensions(case.tenant)
            if case.extensions_used >= allowed:
                raise Conflict(f"De doorlooptijd van dit dossier is al {case.extensions_used} keer verlengd; "
                               f"het SWV staat {allowed} keer toe.")
            due = case.due_at + timedelta(weeks=weeks)
            self.record(session, case, EventType.CASE_EXTENDED, actor, payload={
                "weeks": weeks, "reason": reason, "from": case.due_at.isoformat(), "to": due.isoformat()})
            return case

    # ---------------------------------------------------------------- deadlines firing

    def fire(self, session: Session, deadline: Deadline, now: datetime, worker: str) -> bool:
        """Act on one due deadline inside the caller's transaction. False: not yet (leave it pending)."""
        from .firing import fire

        return fire(self, session, deadline, now, worker)

    # ---------------------------------------------------------------- the write path (also used by firing)

    def load_workflow(self, case: Case) -> BpmnWorkflow:
        workflow = self.workflows.take(case.id, case.version)
        if workflow is None:
            route = bpmn.loaded(case.route_version)
            workflow = bpmn.load_workflow(case.state, route.spec, route.subprocess_specs)
        return workflow

    @staticmethod
    def rows(session: Session, case: Case) -> Projection:
        return projection_store.load(session, case, bpmn.loaded(case.route_version).has_timers)

    def advance(self, session: Session, case: Case, rows: Projection, workflow: BpmnWorkflow,
                 step: Callable[[], None], recompute_terms: bool = False) -> StepResult:
        """Run an input; its new tasks get the ids of the event it will be logged as."""
        at = StepCase(case.id, case.tenant, rows.route_key, rows.case.status, rows.case.due_at)
        with task_ids(case.id, case.event_seq + 1):
            return self.stepper.advance(session, at, workflow, step, recompute_terms=recompute_terms)

    def record_input(self, session: Session, case: Case, rows: Projection, workflow: BpmnWorkflow,
                     result: StepResult, type_: str, actor: Actor, at: datetime, *,
                     task: tuple[str, str, int | None] | None = None, payload: dict[str, Any]) -> None:
        """Log an input with what its engine run produced, and what followed from it (an incident, the
        case's end); project each event; save the workflow and the rows."""
        task_id, task_name, task_index = task or (None, None, None)
        event = events.append(session, case, type_, actor, at, task_id=task_id, task_name=task_name,
                              task_index=task_index, payload={**payload, **result.logged()})
        projection.apply(rows, event, After(workflow, result))
        if result.incident:
            derived = events.append(session, case, EventType.INCIDENT, actor, at, task_name=result.incident["task"],
                                    payload=result.incident)
            projection.apply(rows, derived)
        elif workflow.is_completed():
            events.append(session, case, EventType.CASE_COMPLETED, actor, at, payload={"outcome": rows.case.outcome})
        case.state = bpmn.dump_workflow(workflow)
        self._save(session, case, rows)
        session.info.setdefault("loket_workflows", []).append((case, workflow))

    def record(self, session: Session, case: Case, type_: str, actor: Actor, *, task: Task | None = None,
               payload: dict[str, Any] | None = None, rows: Projection | None = None) -> None:
        """Log an event that does not run the engine (a claim, an opschorting, a fired warning, ...)."""
        rows = rows or self.rows(session, case)
        index = self._index(rows, task) if task is not None else None
        event = events.append(session, case, type_, actor, clock.now(), task_id=task.id if task else None,
                              task_name=task.name if task else None, task_index=index, payload=payload)
        projection.apply(rows, event)
        self._save(session, case, rows)

    @staticmethod
    def _save(session: Session, case: Case, rows: Projection) -> None:
        projection_store.write(session, case, rows)
        session.flush()

    @staticmethod
    def _index(rows: Projection, task: Task) -> int:
        """The task's index among the open tasks of its name (how an event names a task, besides its id)."""
        same = sorted((t for t in rows.open_tasks() if t.name == task.name), key=lambda t: (t.created_at, t.id))
        return next((i for i, t in enumerate(same) if t.id == task.id), 0)

    def _school_for(self, session: Session, actor: Actor, data: dict[str, Any]) -> School | None:
        code = data.get("school")
        if actor.role == Role.SCHOOL:
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
