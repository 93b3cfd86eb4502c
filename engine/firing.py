"""What a due deadline does: warn about a task, escalate a task or the case's doorlooptijd, or fire a BPMN
timer. Each is an event on the case, projected like any other (``engine.projection``), with its
notification in the same transaction."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING
from uuid import UUID

from SpiffWorkflow.util.task import TaskState
from sqlalchemy.orm import Session

from . import bpmn, clock, deadlines, decision, decision_actions, notifications
from .auth import Actor, system_actor
from .models import Case, Deadline, Task
from .vocabulary import OPEN_TASK, CaseStatus, DeadlineKind, DeadlineStatus, EventType
from .workflow import input_step

if TYPE_CHECKING:
    from .recording import Recorder


def fire(recorder: Recorder, session: Session, deadline: Deadline, now: datetime, worker: str) -> bool:
    """Act on one due deadline inside the caller's transaction. False: not yet (leave it pending)."""
    now = max(now, clock.now())  # record when it really fired, not when the sweep began
    with clock.frozen(now):  # and let everything it does happen at that one moment (replay)
        case = session.get(Case, deadline.case_id)
        assert case is not None  # a deadline row references its case
        actor = system_actor(case.tenant_id)
        if deadline.kind in decision.DEADLINE_KINDS:  # the legal decision term (Awb 4:13)
            return decision_actions.fire(recorder, session, case, deadline, now, worker)
        if deadline.kind == DeadlineKind.TIMER:
            return _timer(recorder, session, case, deadline, now, worker, actor)
        # The rows as stored, or as the sweep's batch has them; never the cache (a savepoint may roll back).
        work = recorder.open(session, case, cached=False)
        if deadline.kind == DeadlineKind.CASE:
            config = deadlines.case_term(case.tenant, case.route_version.route.key) or {}
            role = config.get("escalateTo", "bestuurder")
            recorder.record(session, work, EventType.DEADLINE_ESCALATED, actor, payload={
                "deadline_id": deadline.id, "kind": "case", "due_at": deadline.due_at.isoformat(), "to_role": role,
                "worker": worker})
            notifications.case_overdue(session, case, role, deadline.due_at)
            return True
        task = session.get(Task, deadline.task_id)
        if task is None or task.status not in OPEN_TASK:
            # Never the case while the projection holds: its task's end cancelled it. A row changed by hand
            # is left for replay to report, and taken off the schedule so it does not fire forever.
            deadline.status = DeadlineStatus.CANCELLED
            return True
        if deadline.kind == DeadlineKind.WARNING:
            recorder.record(session, work, EventType.DEADLINE_WARNED, actor, task=task, payload={
                "deadline_id": deadline.id, "due_at": task.due_at.isoformat() if task.due_at else None,
                "worker": worker})
            notifications.task_warning(session, case, task)
            return True
        spec = bpmn.loaded(case.route_version).spec.task_specs.get(task.name)
        reassign = bpmn.properties(spec).get("escalationReassign", "false").lower() == "true"
        payload = {"deadline_id": deadline.id, "kind": "task", "due_at": deadline.due_at.isoformat(),
                   "to_role": task.escalate_to, "reassigned": bool(reassign and task.escalate_to), "worker": worker}
        if payload["reassigned"]:
            payload["from"] = {"lane": task.lane, "assignee": task.assignee.email if task.assignee else None}
        recorder.record(session, work, EventType.DEADLINE_ESCALATED, actor, task=task, payload=payload)
        notifications.task_escalated(session, case, task)
        return True


def _timer(recorder: Recorder, session: Session, case: Case, deadline: Deadline, now: datetime, worker: str,
           actor: Actor) -> bool:
    work = recorder.open(session, case, cached=False)
    if work.rows.case.status != CaseStatus.OPEN:
        return False  # an incident or opschorting holds the route still; the timer fires after it
    workflow = recorder.workflow(work)
    timer = workflow.get_task_from_id(UUID(deadline.task_id)) if deadline.task_id else None
    if timer is None or timer.state != TaskState.WAITING:
        deadline.status = DeadlineStatus.CANCELLED  # as above: only a row changed by hand gets here
        return True
    result = recorder.advance(session, work, input_step(workflow, EventType.TIMER_FIRED))
    if timer.state == TaskState.WAITING and not result.incident:
        return False  # SpiffWorkflow fires only once due < now: try again on the next sweep
    recorder.record_input(session, work, result, EventType.TIMER_FIRED, actor, now,
                   task=(str(timer.id), timer.task_spec.name, None),
                   payload={"due_at": deadline.due_at.isoformat(), "worker": worker})
    return True
