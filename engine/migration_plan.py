"""One case's move to another route version, computed on its workflow (engine.migration does many, each in a
transaction): SpiffWorkflow's diff and migration, the checks that refuse a move with the reason, and the payload
of its ``case_migrated`` event. ``move_workflow`` is what replay repeats at that event."""

from __future__ import annotations

import ast
import copy
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import jsonschema
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.util.diff import SpecDiff, WorkflowDiff, migrate_workflow
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import select
from sqlalchemy.orm import Session

from . import bpmn, deadlines
from .clock import local_date
from .models import Case, Event, RouteVersion, Tenant
from .projection import TaskRow
from .vocabulary import CaseStatus, EventType
from .workflow import all_tasks, jsonable

# States of tasks that hold work done or in hand: these must have a counterpart in the new version.
_HELD = TaskState.COMPLETED | TaskState.READY | TaskState.STARTED | TaskState.WAITING | TaskState.ERROR
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


def first_version(session: Session, case: Case, rows: list[Event]) -> RouteVersion:
    """The version the case started on: its own, unless it was moved since; then the one its first case_migrated
    moved it from (where a replay begins)."""
    moved = next((r for r in rows if r.type == EventType.CASE_MIGRATED), None)
    if moved is None:
        return case.route_version
    sha = ((moved.payload or {}).get("from") or {}).get("sha256")
    found = session.scalar(select(RouteVersion).where(RouteVersion.sha256 == sha))
    return found if found is not None else case.route_version
