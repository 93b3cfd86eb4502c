"""The case as it was at a moment, from a replay up to it: what the audit screen and ``audit replay --at`` show."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState

from .vocabulary import DeadlineKind, DeadlineStatus

if TYPE_CHECKING:
    from .replay import Run


def state_view(run: Run, at: datetime | None) -> dict[str, Any]:
    """The case as it was: status, open tasks with lanes, claims and terms, timers, clock, documents."""
    rows, workflow, titles = run.rows, run.workflow, run.definition.titles
    fired = {(d.kind, d.task_id) for d in rows.deadlines if d.status == DeadlineStatus.FIRED}
    tasks = [{"name": t.name, "title": titles.get(t.name), "lane": t.lane,
              "claimed_by": run.emails.get(t.assignee_id) if t.assignee_id is not None else None,
              "ready_since": _iso(t.created_at), "due_at": _iso(t.due_at), "warn_at": _iso(t.warn_at),
              "warned": (DeadlineKind.WARNING, t.id) in fired, "escalated": t.escalated}
             for t in rows.open_tasks()]
    timers = []
    for timer in workflow.get_tasks(state=TaskState.WAITING) if workflow else []:
        value = timer.internal_data.get("event_value")
        if isinstance(value, dict):
            value = value.get("next")
        if value is not None:
            timers.append({"name": timer.task_spec.name, "title": titles.get(timer.task_spec.name),
                           "due_at": value, "waiting_since": _iso(run.timers_since.get(timer.id))})
    last = run.last_row
    return {
        "at": _iso(at),
        "after_event": {"seq": last.seq, "type": last.type, "at": _iso(last.at)} if last is not None else None,
        "events": run.applied,
        "status": rows.case.status,
        "outcome": rows.case.outcome,
        "incident": rows.case.incident,
        "data": run.data() or {},
        "tasks": tasks,
        "timers": timers,
        "due_at": _iso(rows.case.due_at),
        "case_escalated": (DeadlineKind.CASE, None) in fired,
        "extensions": rows.case.extensions_used,
        "suspended_since": _iso(rows.case.suspended_at),
        "documents": run.documents,
        "elements": element_states(workflow) if workflow else {},
    }




def element_states(workflow: BpmnWorkflow) -> dict[str, str]:
    """Per BPMN element its most current state: for drawing the diagram as it was."""
    rank = {"ERROR": 5, "READY": 4, "STARTED": 4, "WAITING": 3, "COMPLETED": 2}
    label = {"ERROR": "error", "READY": "open", "STARTED": "open", "WAITING": "waiting", "COMPLETED": "done"}
    out: dict[str, tuple[int, str]] = {}
    for task in workflow.get_tasks(state=TaskState.ANY_MASK):
        bpmn_id = getattr(task.task_spec, "bpmn_id", None)
        name = TaskState.get_name(task.state)
        if not bpmn_id or name not in rank:
            continue
        if bpmn_id not in out or rank[name] > out[bpmn_id][0]:
            out[bpmn_id] = (rank[name], label[name])
    return {key: value for key, (_, value) in sorted(out.items())}


def _iso(value: Any) -> str | None:
    if value is None:
        return None
    return value.isoformat() if isinstance(value, datetime) else str(value)
