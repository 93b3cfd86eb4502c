"""Zaken overzetten: moving open cases from one version of a route to another (issue 11, 'Migrate').

A case moves with SpiffWorkflow's own migration (``SpiffWorkflow.bpmn.util.diff``): the old and new spec are
aligned (by element id, and a renamed element by its place between the same neighbours), every task of the case
gets its new spec, and the ready and waiting branches are predicted again on the new route. A case can move when
every task it has done or is doing exists in the new version; it cannot when a ready (or claimed) task, a waiting
timer or done work has no counterpart there, when it is in incident, when a claimed task moves to another role,
when a ready task's changed form no longer fits the case data, or when a condition ahead on the new route reads
data the case neither holds nor will be asked for.

What moves is one ``case_migrated`` event per case, in its own transaction: from/to version and sha256, and per
open task its name, lane and terms before and after. Terms (decided here, documented in processes.md):
- an unchanged task keeps its due and warning moments exactly (also an escalation already fired stays fired);
- a task whose term expression changed moves its due moment by the difference between the new and the old term,
  both counted from the day the task became ready on the SWV's calendar now (so an opschorting or a
  verlenging already in its due moment is kept); a term that is new is counted from that day; a term that is
  gone cancels its pending warning and escalation; the warning follows the new due moment;
- a waiting timer of an unchanged element keeps its moment; a changed one is armed again from the migration.
Replay repeats the engine migration at the event (same task ids: ``engine.workflow.task_ids``) and takes the
terms and timer moments from the payload, so the calendar of the day of the migration is what counts.

Undo: migrating a case back to the version it came from is allowed while its ``case_migrated`` is still its
last event; the terms and timers return to exactly what they were before it.
"""

from __future__ import annotations

import ast
import copy
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import jsonschema
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.util.diff import SpecDiff, WorkflowDiff, migrate_workflow
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from . import bpmn, clock, deadlines, projection_store
from .auth import Actor, require_role
from .clock import local_date
from .errors import InvalidData, LoketError, NotFound
from .models import Case, Event, Route, RouteVersion, Tenant
from .projection import TaskRow
from .recording import CASES
from .vocabulary import CaseStatus, EventType, Role
from .workflow import all_tasks, jsonable, task_ids

if TYPE_CHECKING:
    from .cases import Runtime

log = logging.getLogger(__name__)

# Who may move the cases of an SWV (the API and the page; the command line acts as beheerder).
MIGRATE_ROLES = (Role.PROCESBEHEERDER, Role.BEHEERDER)
# States of tasks that hold work done or in hand: these must have a counterpart in the new version.
_HELD = TaskState.COMPLETED | TaskState.READY | TaskState.STARTED | TaskState.WAITING | TaskState.ERROR
# Cases whose rows a preview reads at once.
_CHUNK = 500
_TERM_PROPERTIES = ("deadline", "deadlineWarning", "deadlineLegal")


class CannotMove(Exception):
    """Why one case cannot move (Dutch, for the preview)."""


# ---------------------------------------------------------------- the engine part (live and replay)


class Diffs:
    """SpiffWorkflow's spec diffs, computed once per pair of specs (one diff serves thousands of cases)."""

    def __init__(self) -> None:
        self._found: dict[tuple[int, int], SpecDiff] = {}

    def get(self, old: Any, new: Any) -> SpecDiff:
        key = (id(old), id(new))
        found = self._found.get(key)
        if found is None:
            found = self._found[key] = SpecDiff(bpmn._registry, old, new)
        return found


def _workflows(workflow: BpmnWorkflow) -> list[Any]:
    return [workflow, *workflow.subprocesses.values()]


def move_workflow(workflow: BpmnWorkflow, new_spec: Any, new_subs: dict[str, Any], diffs: Diffs,
                  timers: dict[str, Any] | None = None) -> dict[str, Any]:
    """Put the workflow on the new spec (in place). Raises CannotMove before changing anything when a task
    holding work has no counterpart. Waiting timers of unchanged elements keep their moment, or take the
    moments of ``timers`` (task id -> event value: a replay, an undo). Returns the waiting timers after."""
    plans = []
    for flow in _workflows(workflow):
        target = new_spec if flow is workflow else new_subs.get(flow.spec.name)
        if target is None:
            raise CannotMove(f"het deelproces '{flow.spec.name}' bestaat niet meer")
        spec_diff = diffs.get(flow.spec, target)
        flow_diff = WorkflowDiff(flow, spec_diff)
        for task in flow_diff.removed:
            if task.state & _HELD:
                raise CannotMove(_gone(task))
        plans.append((flow, flow_diff, target, {ts.name for ts in spec_diff.changed}))
    kept = {}
    for flow, _, _, changed in plans:
        for task in flow.tasks.values():
            value = task.internal_data.get("event_value")
            if task.state == TaskState.WAITING and value is not None and task.task_spec.name not in changed:
                kept[str(task.id)] = copy.deepcopy(value)
    if timers is not None:
        kept = copy.deepcopy(timers)
    for flow, flow_diff, target, _ in plans:
        migrate_workflow(flow_diff, flow, target)
    workflow.subprocess_specs = new_subs
    after = {}
    for task in all_tasks(workflow):
        if task.task_spec is not _spec_in(task, workflow, new_spec, new_subs):
            raise CannotMove(_gone(task))
        if task.state == TaskState.WAITING and "event_value" in task.internal_data:
            if str(task.id) in kept:
                task.internal_data["event_value"] = copy.deepcopy(kept[str(task.id)])
            after[str(task.id)] = jsonable(task.internal_data["event_value"])
    return after


def _spec_in(task: Any, workflow: BpmnWorkflow, new_spec: Any, new_subs: dict[str, Any]) -> Any:
    spec = new_spec if task.workflow is workflow else new_subs.get(task.workflow.spec.name)
    return spec.task_specs.get(task.task_spec.name) if spec is not None else None


def _gone(task: Any) -> str:
    what = {TaskState.READY: "open taak", TaskState.WAITING: "wachtende stap", TaskState.COMPLETED: "afgeronde stap"}
    title = getattr(task.task_spec, "bpmn_name", None) or task.task_spec.name
    return (f"de {what.get(task.state, 'stap')} '{title}' bestaat niet in de nieuwe versie"
            + (" (overzetten zou afgerond werk weggooien)" if task.state == TaskState.COMPLETED else ""))


# ---------------------------------------------------------------- one case: what moving it would do


@dataclass
class Move:
    """One case's migration, computed on its workflow: the payload of its event and what a reader is told."""

    payload: dict[str, Any]
    remarks: list[str] = field(default_factory=list)


def _ready_user_tasks(workflow: BpmnWorkflow) -> dict[str, Any]:
    return {str(t.id): t for t in all_tasks(workflow) if t.state == TaskState.READY and t.task_spec.manual}


def _task_view(row: TaskRow) -> dict[str, Any]:
    return {"name": row.name, "title": row.title, "lane": row.lane, "escalate_to": row.escalate_to,
            "due_at": _iso(row.due_at), "warn_at": _iso(row.warn_at)}


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def plan_case(session: Session, tenant: Tenant, case_status: str, open_rows: list[TaskRow], data: dict[str, Any],
              workflow: BpmnWorkflow, source: RouteVersion, target: RouteVersion, diffs: Diffs,
              undo: dict[str, Any] | None) -> Move:
    """Move the workflow (in place) and work out the event's payload; raises CannotMove with the reason.
    ``undo``: the payload of the case_migrated this reverses (its terms and timers come back exactly)."""
    if case_status == CaseStatus.INCIDENT:
        raise CannotMove("het dossier heeft een incident; los dat eerst op (opnieuw proberen)")
    if case_status == CaseStatus.CLOSED:
        raise CannotMove("het dossier is gesloten")
    old, new = bpmn.loaded(source), bpmn.loaded(target)
    before = _ready_user_tasks(workflow)
    old_specs = {task_id: task.task_spec for task_id, task in before.items()}
    timers = _undo_timers(undo) if undo is not None else None
    after_timers = move_workflow(workflow, new.spec, new.subprocess_specs, diffs, timers)
    ready = _ready_user_tasks(workflow)
    rows = {row.id: row for row in open_rows}
    if set(rows) != set(ready):
        raise CannotMove("de open taken van het dossier passen niet op de nieuwe versie")
    remarks: list[str] = []
    tasks = []
    previous = {t["id"]: t["from"] for t in (undo or {}).get("tasks", [])}
    for task_id in sorted(ready):
        row, spec, old_spec = rows[task_id], ready[task_id].task_spec, old_specs[task_id]
        props, old_props = bpmn.properties(spec), bpmn.properties(old_spec)
        lane = spec.lane
        if row.assignee_id is not None and lane != row.lane:
            raise CannotMove(f"de geclaimde taak '{row.title}' gaat in de nieuwe versie naar de rol {lane}; "
                             "geef haar eerst vrij")
        _check_form(new, spec, old, old_spec, data, row.title)
        moved = {"name": spec.name, "title": spec.bpmn_name or spec.name, "lane": lane,
                 "escalate_to": props.get("escalateTo"), "due_at": _iso(row.due_at), "warn_at": _iso(row.warn_at)}
        if task_id in previous:
            moved.update(due_at=previous[task_id]["due_at"], warn_at=previous[task_id]["warn_at"])
        elif any(props.get(p) != old_props.get(p) for p in _TERM_PROPERTIES):
            due, warn = _moved_term(session, tenant, row, old_props, props, data)
            moved.update(due_at=_iso(due), warn_at=_iso(warn))
            remarks.append(f"termijn van '{moved['title']}' wordt {_day(due)} (was {_day(row.due_at)})")
        if moved["name"] != row.name:
            remarks.append(f"taak '{row.title}' heet in de nieuwe versie '{moved['title']}'")
        tasks.append({"id": task_id, "from": _task_view(row), "to": moved})
    _check_conditions(workflow, new, data)
    payload: dict[str, Any] = {
        "route": target.route.key,
        "from": {"version": source.number, "sha256": source.sha256},
        "to": {"version": target.number, "sha256": target.sha256},
        "tasks": tasks,
        "timers": after_timers,
        "has_timers": new.has_timers,
    }
    if undo is not None:
        payload["undoes"] = undo["seq"]
    return Move(payload, remarks)


def _undo_timers(undo: dict[str, Any]) -> dict[str, Any]:
    return dict(undo.get("timers_before") or {})


def _day(moment: datetime | None) -> str:
    return local_date(moment).isoformat() if moment is not None else "geen termijn"


def _moved_term(session: Session, tenant: Tenant, row: TaskRow, old_props: dict[str, str], props: dict[str, str],
                data: dict[str, Any]) -> tuple[datetime | None, datetime | None]:
    """The task's new (due, warn) when its term expression changed (see the module's doc)."""
    if not props.get("deadline"):
        return None, None
    terms = deadlines.Terms(session, tenant, row.school_id)
    start = local_date(row.created_at)
    try:
        new_due = _term(terms, props, data, start)
        if row.due_at is not None and old_props.get("deadline"):
            due = row.due_at + (new_due - _term(terms, old_props, data, start))
        else:
            due = new_due
        warning = props.get("deadlineWarning")
        warn = deadlines.evaluate_term(warning, terms.backward(due), data, "deadlineWarning") if warning else None
    except Exception as exc:
        raise CannotMove(f"de nieuwe termijn van '{row.title}' kan niet worden berekend: {exc}") from exc
    return due, (warn if warn is not None and warn < due else None)


def _term(terms: deadlines.Terms, props: dict[str, str], data: dict[str, Any], start: Any) -> datetime:
    legal = props.get("deadlineLegal", "false").lower() == "true"
    return deadlines.evaluate_term(props["deadline"], terms.forward(legal_default=legal, start=start), data,
                                   "deadline")


def _check_form(new: bpmn.Loaded, spec: Any, old: bpmn.Loaded, old_spec: Any, data: dict[str, Any],
                title: str) -> None:
    """A ready task whose form changed: the case's data under the form's fields must still fit it."""
    form = new.form(bpmn.properties(spec).get("formJsonSchemaFilename"))
    if form is None or form == old.form(bpmn.properties(old_spec).get("formJsonSchemaFilename")):
        return
    for name, schema in (form.get("properties") or {}).items():
        if name in data and isinstance(schema, dict):
            try:
                jsonschema.validate(data[name], schema)
            except jsonschema.ValidationError:
                raise CannotMove(f"het formulier van '{title}' is gewijzigd en veld '{name}' past niet meer bij "
                                 "wat het dossier al heeft") from None
            except jsonschema.SchemaError:
                continue


def _check_conditions(workflow: BpmnWorkflow, new: bpmn.Loaded, data: dict[str, Any]) -> None:
    """A condition ahead on the new route that reads data the case lacks and nothing ahead will provide."""
    start = frozenset(t.task_spec.name for t in all_tasks(workflow) if t.state & (TaskState.READY | TaskState.WAITING))
    for title, needed in _conditions_ahead(new, start):
        missing = sorted(needed - data.keys())
        if missing:
            raise CannotMove(f"de voorwaarde bij '{title}' in de nieuwe versie vraagt "
                             f"{', '.join(repr(m) for m in missing)}, dat dit dossier niet heeft en dat "
                             "geen formulier verderop vraagt")


_ahead: dict[tuple[int, frozenset[str]], list[tuple[str, set[str]]]] = {}


def _conditions_ahead(new: bpmn.Loaded, start: frozenset[str]) -> list[tuple[str, set[str]]]:
    """Per gateway reachable from ``start`` on the new route: its title and the names its conditions read that
    no form, script or service ahead provides (the same for every case standing at the same tasks)."""
    key = (id(new.spec), start)
    found = _ahead.get(key)
    if found is not None:
        return found
    ahead, seen = [new.spec.task_specs[name] for name in start if name in new.spec.task_specs], set()
    while ahead:
        spec = ahead.pop()
        if spec.name in seen:
            continue
        seen.add(spec.name)
        ahead.extend(spec.outputs)
    specs = [s for s in new.spec.task_specs.values() if s.name in seen]
    provided: set[str] = set()
    for spec in specs:
        form = new.form(bpmn.properties(spec).get("formJsonSchemaFilename"))
        provided |= set((form or {}).get("properties") or {})
        provided |= _assigned(getattr(spec, "script", None) or "")
        if getattr(spec, "result_variable", None):
            provided.add(spec.result_variable)
    found = []
    for spec in specs:
        read: set[str] = set()
        for condition, _ in getattr(spec, "cond_task_specs", None) or []:
            expression = (getattr(condition, "args", None) or [None])[0]
            if isinstance(expression, str):
                read |= _read(expression)
        if read - provided:
            found.append((getattr(spec, "bpmn_name", None) or spec.name, read - provided))
    if len(_ahead) > 256:
        _ahead.clear()
    _ahead[key] = found
    return found


def _read(expression: str) -> set[str]:
    """The names an expression reads (calls of helper functions aside)."""
    try:
        tree = ast.parse(expression, mode="eval")
    except SyntaxError:
        return set()
    called = {id(node.func) for node in ast.walk(tree) if isinstance(node, ast.Call)}
    return {node.id for node in ast.walk(tree)
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) and id(node) not in called
            and node.id not in ("True", "False", "None")}


def _assigned(script: str) -> set[str]:
    try:
        tree = ast.parse(script)
    except SyntaxError:
        return set()
    return {node.id for node in ast.walk(tree) if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store)}


# ---------------------------------------------------------------- many cases: preview and migrate


@dataclass
class Verdict:
    """One case in a preview or migration: can it move (or did it), and why not."""

    case_id: int
    tenant: str
    tasks: list[str]
    can: bool
    reason: str | None = None
    remarks: list[str] = field(default_factory=list)
    undo: bool = False
    moved: bool = False

    def to_json(self) -> dict[str, Any]:
        return {"case_id": self.case_id, "tasks": self.tasks, "can": self.can, "reason": self.reason,
                "remarks": self.remarks, "undo": self.undo, "moved": self.moved}


@dataclass
class Outcome:
    route: str
    from_version: int
    to_version: int
    cases: list[Verdict]
    dry_run: bool

    @property
    def can(self) -> int:
        return sum(1 for v in self.cases if v.can)

    @property
    def moved(self) -> int:
        return sum(1 for v in self.cases if v.moved)

    def to_json(self) -> dict[str, Any]:
        return {"route": self.route, "from": self.from_version, "to": self.to_version, "dry_run": self.dry_run,
                "total": len(self.cases), "can": self.can, "cannot": len(self.cases) - self.can,
                "moved": self.moved, "cases": [v.to_json() for v in self.cases]}


def versions(session: Session, route_key: str, from_number: int, to_number: int) -> tuple[RouteVersion, RouteVersion]:
    """The two versions of one route; a request that cannot mean anything is refused whole (nothing moves)."""
    route = session.scalar(select(Route).where(Route.key == route_key))
    if route is None:
        raise NotFound(f"Route '{route_key}' bestaat niet.")
    if from_number == to_number:
        raise InvalidData("Van- en naar-versie zijn gelijk: er valt niets over te zetten.",
                          {"to": [f"Kies een andere versie dan {from_number}."]})
    found = {v.number: v for v in session.scalars(
        select(RouteVersion).where(RouteVersion.route_id == route.id,
                                   RouteVersion.number.in_([from_number, to_number])))}
    for field_name, number in (("from", from_number), ("to", to_number)):
        if number not in found:
            raise InvalidData(f"Route '{route_key}' heeft geen versie {number}.",
                              {field_name: [f"Route '{route_key}' heeft geen versie {number}."]})
    return found[from_number], found[to_number]


def _candidates(session: Session, source: RouteVersion, tenant_id: int | None,
                case_ids: Iterable[int] | None) -> tuple[list[Case], list[Verdict]]:
    """The open cases on ``source`` (of one SWV, or all); named cases that are not, refused with why."""
    query = select(Case).where(Case.route_version_id == source.id, Case.status != CaseStatus.CLOSED)
    if tenant_id is not None:
        query = query.where(Case.tenant_id == tenant_id)
    refused: list[Verdict] = []
    if case_ids is not None:
        wanted = sorted(set(case_ids))
        query = query.where(Case.id.in_(wanted))
        found = {c.id: c for c in session.scalars(query.order_by(Case.id))}
        for case_id in wanted:
            if case_id in found:
                continue
            other = session.get(Case, case_id)
            if other is None or (tenant_id is not None and other.tenant_id != tenant_id):
                why = "dit dossier bestaat niet (in dit SWV)"
            elif other.status == CaseStatus.CLOSED:
                why = "het dossier is gesloten"
            elif other.route_version.route_id != source.route_id:
                why = (f"het dossier loopt op route '{other.route_version.route.key}': het kan alleen over naar een "
                       "versie van zijn eigen route")
            else:
                why = f"het dossier loopt op versie {other.route_version.number}, niet op versie {source.number}"
            refused.append(Verdict(case_id, other.tenant.key if other else "", [], False, why))
        return [found[i] for i in wanted if i in found], refused
    return list(session.scalars(query.order_by(Case.id))), refused


def _last_migration(session: Session, case: Case) -> dict[str, Any] | None:
    """The case's last event if it is a case_migrated (its payload, with its seq): what an undo reverses."""
    last = session.scalar(select(Event).where(Event.case_id == case.id, Event.seq == case.event_seq))
    if last is None or last.type != EventType.CASE_MIGRATED:
        return None
    return {**(last.payload or {}), "seq": last.seq}


class Migrator:
    """Previews and migrates the open cases of one route version onto another."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.diffs = Diffs()

    def preview(self, route_key: str, from_number: int, to_number: int, *, tenant_id: int | None = None,
                case_ids: Iterable[int] | None = None,
                progress: Callable[[int], None] | None = None) -> Outcome:
        with self.runtime.db.read() as session:
            source, target = versions(session, route_key, from_number, to_number)
            cases, refused = _candidates(session, source, tenant_id, case_ids)
            verdicts = []
            timers = bpmn.loaded(source).has_timers
            for first in range(0, len(cases), _CHUNK):
                chunk = cases[first:first + _CHUNK]
                rows = projection_store.load_many(session, chunk, lambda case: timers)
                for case in chunk:
                    verdicts.append(self._judge(session, case, rows[case.id].open_tasks(), source, target))
                    if progress is not None:
                        progress(1)
        return Outcome(route_key, from_number, to_number, _ordered(verdicts + refused), True)

    def migrate(self, route_key: str, from_number: int, to_number: int, actor_for: Callable[[Case], Actor], *,
                tenant_id: int | None = None, case_ids: Iterable[int] | None = None,
                progress: Callable[[int], None] | None = None) -> Outcome:
        """Move every case that can, each in its own transaction: a case that fails stays as it was."""
        with self.runtime.db.read() as session:
            source, target = versions(session, route_key, from_number, to_number)
            cases, refused = _candidates(session, source, tenant_id, case_ids)
            ids = [c.id for c in cases]
        verdicts = []
        for case_id in ids:
            verdicts.append(self._move_one(case_id, source.id, target.id, actor_for))
            if progress is not None:
                progress(1)
        return Outcome(route_key, from_number, to_number, _ordered(verdicts + refused), False)

    def _judge(self, session: Session, case: Case, tasks: list[TaskRow], source: RouteVersion,
               target: RouteVersion) -> Verdict:
        """Try the move on a private copy of the case's workflow."""
        verdict = Verdict(case.id, case.tenant.key, [t.title for t in tasks], False)
        try:
            undo = _undo_of(session, case, source, target)
            verdict.undo = undo is not None
            route = bpmn.loaded(source)
            workflow = bpmn.load_workflow(case.state, route.spec, route.subprocess_specs)
            with clock.frozen(clock.now()), task_ids(case.id, case.event_seq + 1):
                move = plan_case(session, case.tenant, case.status, tasks, dict(case.data or {}), workflow, source,
                                 target, self.diffs, undo)
        except CannotMove as exc:
            verdict.reason = str(exc)
            return verdict
        verdict.can, verdict.remarks = True, move.remarks
        return verdict

    def _move_one(self, case_id: int, source_id: int, target_id: int, actor_for: Callable[[Case], Actor]) -> Verdict:
        """One case in one transaction; a case that cannot move (or fails) rolls back and stays as it was."""
        runtime, verdict = self.runtime, Verdict(case_id, "", [], False)
        try:
            with runtime.action() as session:
                case = session.get(Case, case_id)
                source, target = session.get(RouteVersion, source_id), session.get(RouteVersion, target_id)
                assert case is not None and source is not None and target is not None
                verdict.tenant = case.tenant.key
                if case.route_version_id != source_id:
                    raise CannotMove("het dossier is intussen al overgezet")
                work = runtime.recorder.open(session, case)
                tasks = work.rows.open_tasks()
                verdict.tasks = [t.title for t in tasks]
                undo = _undo_of(session, case, source, target)
                verdict.undo = undo is not None
                workflow = runtime.recorder.workflow(work)
                before_timers = {str(t.id): jsonable(t.internal_data["event_value"]) for t in all_tasks(workflow)
                                 if t.state == TaskState.WAITING and "event_value" in t.internal_data}
                with task_ids(case.id, work.next_seq()):
                    move = plan_case(session, case.tenant, work.rows.case.status, tasks,
                                     dict(work.rows.case.data or {}), workflow, source, target, self.diffs, undo)
                move.payload["timers_before"] = before_timers
                runtime.recorder.record_state(session, work, EventType.CASE_MIGRATED, actor_for(case), clock.now(),
                                              payload=move.payload)
                session.execute(update(CASES).where(CASES.c.id == case.id).values(route_version_id=target.id))
                set_committed_value(case, "route_version_id", target.id)
                set_committed_value(case, "route_version", target)
                verdict.remarks = move.remarks
        except CannotMove as exc:  # raised inside the transaction: rolled back, the cache never sees the copy
            verdict.reason = str(exc)
            return verdict
        except LoketError as exc:
            verdict.reason = exc.message
            return verdict
        except Exception as exc:  # one case's fault must not stop the others; it is logged with its trace
            log.exception("overzetten van dossier %s mislukt", case_id)
            verdict.reason = f"overzetten mislukt ({type(exc).__name__}); het dossier is ongewijzigd"
            return verdict
        verdict.can = verdict.moved = True
        return verdict


def _undo_of(session: Session, case: Case, source: RouteVersion, target: RouteVersion) -> dict[str, Any] | None:
    """Back to an older version: only as the undo of the case's last event, a case_migrated from there."""
    if target.number > source.number:
        return None
    undo = _last_migration(session, case)
    if undo is None or (undo.get("from") or {}).get("sha256") != target.sha256:
        raise CannotMove(f"terugzetten naar versie {target.number} kan alleen als ongedaan maken van een "
                         "overzetting, zolang er daarna niets met het dossier is gebeurd")
    return undo


def _ordered(verdicts: list[Verdict]) -> list[Verdict]:
    return sorted(verdicts, key=lambda v: v.case_id)


# ---------------------------------------------------------------- who may, from the API and the page


def authorize(actor: Actor) -> None:
    """Process owners and beheerders move the cases of their own SWV."""
    require_role(actor, *MIGRATE_ROLES)
