"""The Runtime: the engine's entry point for the web app, the CLI and the scheduler.

One action = one transaction: authorize, validate, run the engine, append the events, and let the projection
(``engine.projection``) turn each event into the case's rows. Any exception rolls the whole action back.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from SpiffWorkflow.util.task import TaskState
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from . import (
    bpmn,
    clock,
    deadlines,
    documents,
    events,
    firing,
    form_rules,
    forms,
    links,
    permissions,
    projection,
    swv_settings,
)
from .auth import Actor, require_role
from .config import Settings
from .db import Database
from .errors import Conflict, Forbidden, InvalidData
from .models import Case, Deadline, RouteVersion, School, Task, Tenant
from .permissions import CLOCK_ROLES
from .projection import TaskRow
from .recording import EARLIEST, Recorder
from .routes import latest_version
from .stepping import Helpers, Stepper
from .vocabulary import OPEN_TASK, CaseStatus, EventType, Role, TaskStatus
from .workflow import input_step, new_workflow, ready_index, spec_kind, task_ids

_STALE = "Dit dossier is intussen door iemand anders gewijzigd; laad het opnieuw."


@dataclass(frozen=True)
class Completed:
    """A completed task, its form, and where its case now stands: its status and outcome and the open tasks
    that the same user may work next, so a caller can answer without reading the case again."""

    task: Task
    form: dict[str, Any] | None
    case_status: str
    case_outcome: str | None
    next_tasks: list[TaskRow]


class Runtime:
    """Cases and their actions, for one database."""

    def __init__(self, db: Database, settings: Settings | None = None, helpers: Helpers | None = None) -> None:
        self.db = db
        self.settings = settings or Settings()
        self.stepper = Stepper(helpers or (lambda session, tenant, school_id: {}),
                               lambda: self.settings.max_activations)
        self.recorder = Recorder(self.stepper)
        self.recorder.on_completed = links.on_completed  # a linked case's source records its outcome
        # Called after a committed action that made or moved a deadline, with its due moment, so an in-process
        # scheduler can wake for it without asking the database.
        self.on_deadline: Callable[[datetime], None] | None = None

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
            self.recorder.committed(session)
            due = session.info.get(EARLIEST)
            if due is not None and self.on_deadline is not None:
                self.on_deadline(due)
        except StaleDataError as exc:
            raise Conflict(_STALE) from exc
        except IntegrityError as exc:
            if "events" in str(exc.orig) or "seq" in str(exc.orig):
                raise Conflict(_STALE) from exc
            raise

    def start_case(self, actor: Actor, route_key: str, data: Any, *, linked_from: int | None = None,
                   confirm_late: bool = False) -> Case:
        """Start a case on the route's newest version; ``linked_from``: the case it is started from (a bezwaar
        from a decided case, engine.links), recorded on both; ``confirm_late``: the user confirms a bezwaar
        received after its objection term."""
        with self.action() as session:
            return self.start_in(session, actor, route_key, data, linked_from=linked_from, confirm_late=confirm_late)

    def start_in(self, session: Session, actor: Actor, route_key: str, data: Any, *, linked_from: int | None = None,
                 confirm_late: bool = False, system: bool = False) -> Case:
        """A start inside the caller's transaction; ``system``: the scheduler opens it (no role to check; the
        actor is the system's)."""
        version = latest_version(session, route_key)
        route = bpmn.loaded(version)
        start_spec = next(ts for ts in route.spec.task_specs.values() if spec_kind(ts) == "StartEvent")
        if not system:
            allowed = [start_spec.lane or Role.SCHOOL, Role.CONSULENT, Role.BEHEERDER]
            if not actor.has(*allowed):
                who = " of ".join(sorted(set(allowed)))
                raise Forbidden(f"Een dossier op route '{route_key}' wordt gestart door {who}.")
            actor = actor.acting_as(next(role for role in allowed if role in actor.roles))  # the role it starts in
        tenant = session.get(Tenant, actor.tenant_id)
        assert tenant is not None
        swv_settings.check_start(tenant, route_key)  # the routes the SWV runs, the route's intake windows
        form = route.form(bpmn.properties(start_spec).get("formJsonSchemaFilename"))
        data = forms.validate(form, self._own_school(session, actor, form, data), form_rules.context(session, tenant))
        link = links.check(session, None if system else actor, version, linked_from, data, confirm_late)
        if link is not None:
            data = {**data, **link.extra}
        school_id = link.source.school_id if link is not None else None
        if not system or data.get("school") is not None:
            school = self._school_for(session, actor, data)
            school_id = school.id if school else school_id
        now = clock.now()
        case = Case(tenant_id=actor.tenant_id, school_id=school_id, route_version_id=version.id,
                    status=CaseStatus.OPEN, data={}, state="", event_seq=0, last_hash=events.GENESIS, opened_at=now,
                    suspended_seconds=0, extensions_used=0)
        session.add(case)
        session.flush()
        rows = projection.new_case(case.id, case.tenant_id, route_key, route.has_timers, case.school_id)
        with task_ids(case.id, case.event_seq + 1):  # one id sequence for the new tree and its first steps
            work = self.recorder.start(session, case, rows, new_workflow(route.spec, route.subprocess_specs, data))
            result = self.recorder.advance(session, work, lambda: None)
        payload = {"route": route_key, "version": version.number, "sha256": version.sha256, "data": data,
                   "school_id": case.school_id}
        if link is not None:
            payload["link"] = link.payload()
        self.recorder.record_input(session, work, result, EventType.CASE_STARTED, actor, now, payload=payload)
        if link is not None:
            links.record(self.recorder, session, case, link, actor, now)
        return case

    def claim(self, actor: Actor, task_id: str) -> Task:
        with self.action() as session:
            task, case, actor = permissions.work(session, actor, task_id)
            if task.assignee_id == actor.user_id:
                return task
            if task.assignee_id is not None:
                raise Conflict(f"Deze taak is al geclaimd door {task.assignee.email}.")  # type: ignore[union-attr]
            self.recorder.record(session, self.recorder.open(session, case), EventType.TASK_CLAIMED, actor, task=task)
            return task

    def unclaim(self, actor: Actor, task_id: str) -> Task:
        with self.action() as session:
            task = permissions.task_for(session, actor, task_id)
            case = permissions.writable_case(session, task)
            if task.status != TaskStatus.CLAIMED:
                raise Conflict("Deze taak is niet geclaimd.")
            if task.assignee_id != actor.user_id and not actor.has(Role.BEHEERDER):
                raise Forbidden("Alleen wie de taak claimde, of een beheerder, kan haar vrijgeven.")
            # The claimer releases it in the lane's role; a beheerder releasing another's claim, as beheerder.
            worker = actor
            if task.assignee_id != actor.user_id:
                worker = actor.acting_as(Role.BEHEERDER)
            elif task.lane and task.lane in actor.roles:
                worker = actor.acting_as(task.lane)
            self.recorder.record(session, self.recorder.open(session, case), EventType.TASK_UNCLAIMED, worker,
                                 task=task)
            return task

    def complete(self, actor: Actor, task_id: str, data: Any) -> Completed:
        with self.action() as session:
            task, case, actor = permissions.work(session, actor, task_id)
            if task.assignee_id not in (None, actor.user_id):
                raise Conflict(f"Deze taak is geclaimd door {task.assignee.email}.")  # type: ignore[union-attr]
            form = self.form(case.route_version, task.name)
            data = forms.validate(form, data, form_rules.context(session, case.tenant, case.data))
            documents.require(session, case.id, form)  # the documents the form asks for (x-loket-documents): 422
            work = self.recorder.open(session, case)
            workflow = self.recorder.workflow(work)
            spiff_task = workflow.get_task_from_id(UUID(task.id))
            if spiff_task is None or spiff_task.state != TaskState.READY:
                raise Conflict("Deze taak is niet meer open.")
            index = ready_index(workflow, spiff_task)
            step = input_step(workflow, EventType.TASK_COMPLETED, task.name, index, {"data": data})
            result = self.recorder.advance(session, work, step)
            self.recorder.record_input(session, work, result, EventType.TASK_COMPLETED, actor, clock.now(),
                                       task=(task.id, task.name, index), payload={"data": data})
            rows = work.rows
            mine = permissions.offered(session, actor, case, rows.open_tasks())
            return Completed(task, form, rows.case.status, rows.case.outcome,
                             mine if rows.case.status == CaseStatus.OPEN else [])

    def retry(self, actor: Actor, case_id: int) -> Case:
        """Run the failed step of a case in incident again (after the cause was fixed)."""
        require_role(actor, Role.BEHEERDER)
        with self.action() as session:
            case = permissions.case_for(session, actor, case_id)
            if case.status != CaseStatus.INCIDENT:
                raise Conflict("Dit dossier heeft geen incident.")
            work = self.recorder.open(session, case)
            step = input_step(self.recorder.workflow(work), EventType.CASE_RETRIED)
            result = self.recorder.advance(session, work, step, recompute_terms=True)
            self.recorder.record_input(session, work, result, EventType.CASE_RETRIED, actor, clock.now(),
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
            self.recorder.record(session, self.recorder.open(session, case), EventType.CASE_SUSPENDED, actor,
                                 payload={"reason": reason})
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
            work = self.recorder.open(session, case)
            step = input_step(self.recorder.workflow(work), EventType.CASE_RESUMED, payload=payload)
            result = self.recorder.advance(session, work, step)
            self.recorder.record_input(session, work, result, EventType.CASE_RESUMED, actor, now, payload=payload)
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
            allowed = deadlines.max_extensions(case.tenant, case.route_version.route.key)
            if case.extensions_used >= allowed:
                raise Conflict(f"De doorlooptijd van dit dossier is al {case.extensions_used} keer verlengd; "
                               f"het SWV staat {allowed} keer toe.")
            due = case.due_at + timedelta(weeks=weeks)
            self.recorder.record(session, self.recorder.open(session, case), EventType.CASE_EXTENDED, actor, payload={
                "weeks": weeks, "reason": reason, "from": case.due_at.isoformat(), "to": due.isoformat()})
            return case

    # ---------------------------------------------------------------- deadlines firing

    def fire(self, session: Session, deadline: Deadline, now: datetime, worker: str) -> bool:
        """Act on one due deadline inside the caller's transaction. False: not yet (leave it pending)."""
        return firing.fire(self.recorder, session, deadline, now, worker)

    def _own_school(self, session: Session, actor: Actor, form: dict[str, Any] | None, data: Any) -> Any:
        """A school user's start form gets its own school filled in (it may name no other, see _school_for)."""
        asks = "school" in ((form or {}).get("properties") or {})
        if (actor.role == Role.SCHOOL and asks and isinstance(data, dict) and data.get("school") is None
                and actor.school_id):
            own = session.get(School, actor.school_id)
            if own is not None:
                data = {**data, "school": own.code}
        return data

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
