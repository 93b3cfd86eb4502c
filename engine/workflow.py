"""A case's SpiffWorkflow: making one, feeding it one external input, and reading what it holds.

Live actions and audit replay both go through ``input_step``, and both run every input under
``task_ids(case_id, seq)``, so the tasks an input creates get the same ids whenever it is replayed: the ids
in the task projection, in the events and in the stored state are then exactly reproducible.
"""

from __future__ import annotations

import copy
import itertools
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID, uuid4, uuid5

import SpiffWorkflow.task as _spiff_task
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState

from . import bpmn
from .deadlines import parse_moment
from .vocabulary import EventType

# ---------------------------------------------------------------- task ids

_NAMESPACE = UUID("6f1c1d0e-4b5a-4c1e-9a59-6c6f6b657421")
_id_source: ContextVar[tuple[str, Iterator[UUID]] | None] = ContextVar("loket_task_ids", default=None)


def _next_task_id() -> UUID:
    source = _id_source.get()
    return next(source[1]) if source is not None else uuid4()


# SpiffWorkflow gives each new task a random uuid4; inside task_ids() it gets the next deterministic one.
_spiff_task.uuid4 = _next_task_id


@contextmanager
def task_ids(case_id: int, seq: int) -> Iterator[None]:
    """Tasks created while the input with event number ``seq`` runs get ids derived from (case, seq, n).
    Nested uses for the same input continue the same sequence."""
    key = f"{case_id}/{seq}"
    current = _id_source.get()
    if current is not None and current[0] == key:
        yield
        return
    token = _id_source.set((key, (uuid5(_NAMESPACE, f"{key}/{n}") for n in itertools.count())))
    try:
        yield
    finally:
        _id_source.reset(token)


# ---------------------------------------------------------------- making and feeding


def jsonable(value: Any) -> Any:
    """A deep copy as plain JSON values (what the database and the event log keep)."""
    return json.loads(json.dumps(value, default=str))


def spec_kind(task_spec: Any) -> str:
    return type(task_spec).__name__


def new_workflow(spec: Any, subprocess_specs: dict[str, Any], data: dict[str, Any]) -> BpmnWorkflow:
    """A fresh workflow for a new case, holding the start form's data."""
    workflow = BpmnWorkflow(spec, subprocess_specs)
    workflow.task_tree.data = copy.deepcopy(data)
    for task in workflow.get_tasks(state=TaskState.READY):
        task.data = copy.deepcopy(data)
    return workflow


def find_ready(workflow: BpmnWorkflow, task_name: str | None, task_index: int | None) -> Any:
    """A ready task by spec name and index among the ready tasks of that spec (how an event names a task)."""
    same = workflow.get_tasks(state=TaskState.READY, spec_name=task_name)
    if task_index is None or task_index >= len(same):
        raise LookupError(f"geen open taak '{task_name}' nr. {task_index}")
    return same[task_index]


def ready_index(workflow: BpmnWorkflow, task: Any) -> int:
    same = workflow.get_tasks(state=TaskState.READY, spec_name=task.task_spec.name)
    return next(i for i, t in enumerate(same) if t.id == task.id)


def input_step(workflow: BpmnWorkflow, type_: str, task_name: str | None = None, task_index: int | None = None,
               payload: dict[str, Any] | None = None) -> Callable[[], None]:
    """What one external input does to the workflow, before the engine steps behind it."""
    payload = payload or {}
    if type_ == EventType.TASK_COMPLETED:
        task = find_ready(workflow, task_name, task_index)

        def complete() -> None:
            task.data.update(copy.deepcopy(payload.get("data") or {}))
            task.run()

        return complete
    if type_ == EventType.CASE_RETRIED:
        failed = workflow.get_tasks(state=TaskState.ERROR)

        def retry() -> None:
            for task in failed:
                task._set_state(TaskState.READY)

        return retry
    if type_ == EventType.TIMER_FIRED:
        return workflow.refresh_timers
    if type_ == EventType.CASE_RESUMED:
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


# ---------------------------------------------------------------- reading


def all_tasks(workflow: BpmnWorkflow) -> Iterator[Any]:
    """Every task of the workflow and its subprocesses, unordered: much cheaper than get_tasks()'s
    tree walk where order does not matter."""
    yield from workflow.tasks.values()
    for subprocess in workflow.subprocesses.values():
        yield from subprocess.tasks.values()


def ready_user_tasks(workflow: BpmnWorkflow) -> list[Any]:
    return [t for t in all_tasks(workflow) if t.state == TaskState.READY and t.task_spec.manual]


def timer_due_times(workflow: BpmnWorkflow) -> dict[str, datetime]:
    """Waiting BPMN timers: task id -> the moment the scheduler should wake for it (a hair after the
    timer's own moment: SpiffWorkflow fires only when due < now)."""
    out = {}
    for task in workflow.event_manager.tasks.values():
        value = task.internal_data.get("event_value")
        if task.state != TaskState.WAITING or value is None:
            continue
        if isinstance(value, dict):  # a cycle: its next occurrence
            value = value.get("next")
        try:
            due = parse_moment(value, "timer")
        except (TypeError, ValueError):
            continue
        out[str(task.id)] = due + timedelta(milliseconds=1)
    return out


def current_data(workflow: BpmnWorkflow) -> dict[str, Any]:
    """The process data a reader sees: of the task at hand, or the last one."""
    if workflow.is_completed():
        return workflow.data or (workflow.last_task.data if workflow.last_task else {})
    ready = workflow.get_tasks(state=TaskState.READY | TaskState.ERROR)
    if ready:
        return ready[0].data
    return workflow.last_task.data if workflow.last_task else {}


def end_outcome(workflow: BpmnWorkflow) -> str | None:
    """The ``outcome`` property of the end event the case reached last (toegekend, afgewezen, ...)."""
    ends = [t for t in workflow.get_tasks(state=TaskState.COMPLETED) if spec_kind(t.task_spec) == "EndEvent"]
    ends.sort(key=lambda t: t.last_state_change)
    for task in reversed(ends):
        outcome = bpmn.properties(task.task_spec).get("outcome")
        if outcome:
            return outcome
    return None
