"""The inbox and the work on one task: claim, unclaim, complete."""

from __future__ import annotations

from typing import Any

from flask_smorest import Blueprint
from marshmallow import fields, validate
from sqlalchemy import and_, select

from engine import access
from engine.auth import Actor
from engine.inbox import SCOPES, inbox
from engine.models import Case, Task
from engine.present import task_json
from engine.vocabulary import OPEN_TASK, CaseStatus, Role

from . import CompletedTaskSchema, FormDataSchema, StrictSchema, TaskSchema, TaskSummarySchema, current_actor, runtime

blp = Blueprint("tasks", __name__, description="Taken en de inbox")


class InboxQuery(StrictSchema):
    scope = fields.String(load_default="role", validate=validate.OneOf(SCOPES))
    route = fields.String()
    overdue = fields.Boolean()
    sort = fields.String(load_default="due", validate=validate.OneOf(["due"]))
    limit = fields.Integer(load_default=50, validate=validate.Range(1, 500))
    offset = fields.Integer(load_default=0, validate=validate.Range(0))


@blp.route("/tasks")
@blp.arguments(InboxQuery, location="query")
@blp.response(200, TaskSummarySchema(many=True), headers={"X-Total-Count": {"schema": {"type": "integer"}}})
def list_tasks(query: dict[str, Any]) -> tuple[list[dict[str, Any]], int, dict[str, str]]:
    actor = current_actor()
    with runtime().db.read() as session:
        tasks, total = inbox(session, actor, scope=query["scope"], route=query.get("route"),
                             overdue=query.get("overdue"), limit=query["limit"], offset=query["offset"])
        body = [task_json(t, with_form=False) for t in tasks]
    return body, 200, {"X-Total-Count": str(total)}


def _task_response(task_id: str, actor: Actor) -> dict[str, Any]:
    rt = runtime()
    with rt.db.read() as session:
        task = rt.task_for(session, actor, task_id)
        case = rt.case_for(session, actor, task.case_id)
        return task_json(task, rt.form(case.route_version, task.name))


@blp.route("/tasks/<task_id>")
@blp.response(200, TaskSchema)
def get_task(task_id: str) -> dict[str, Any]:
    actor = current_actor()
    body = _task_response(task_id, actor)
    access.record(runtime().db, actor, f"task:{body['name']}", "api", body["case_id"])  # who saw what
    return body


@blp.route("/tasks/<task_id>/claim", methods=["POST"])
@blp.response(200, TaskSchema)
def claim(task_id: str) -> dict[str, Any]:
    actor = current_actor()
    runtime().claim(actor, task_id)
    return _task_response(task_id, actor)


@blp.route("/tasks/<task_id>/unclaim", methods=["POST"])
@blp.response(200, TaskSchema)
def unclaim(task_id: str) -> dict[str, Any]:
    actor = current_actor()
    runtime().unclaim(actor, task_id)
    return _task_response(task_id, actor)


def may_work(actor: Actor, task: Task) -> bool:
    """Whether ``actor`` may complete this task now: the rule the engine enforces on claim and complete
    (Runtime._workable and complete()): same SWV, a school only its own school, the lane is the actor's
    role (a task without a lane is anyone's), open, and not claimed by someone else."""
    return (task.tenant_id == actor.tenant_id
            and task.status in OPEN_TASK
            and (actor.role != Role.SCHOOL or task.school_id == actor.school_id)
            and (not task.lane or task.lane == actor.role)
            and task.assignee_id in (None, actor.user_id))


def next_tasks(actor: Actor, case_id: int) -> tuple[dict[str, Any], list[Task]]:
    """Where the case stands and its open tasks that ``actor`` may work. Not a read of the case in the
    access-log sense: it shows only what the actor's own action just produced, so nothing is logged."""
    with runtime().db.read() as session:
        # One statement: the case's status (only those columns: the row also holds the serialized workflow)
        # with its open tasks, if any.
        rows = session.execute(
            select(Case.status, Case.outcome, Task)
            .outerjoin(Task, and_(Task.case_id == Case.id, Task.status.in_(OPEN_TASK)))
            .where(Case.id == case_id, Case.tenant_id == actor.tenant_id)
            .order_by(Task.created_at, Task.id)
        ).all()
    status, outcome = rows[0].status, rows[0].outcome
    case = {"id": case_id, "status": status, "outcome": outcome}
    if status != CaseStatus.OPEN:
        return case, []  # a suspended case or one in incident takes no work
    return case, [row.Task for row in rows if row.Task is not None and may_work(actor, row.Task)]


@blp.route("/tasks/<task_id>/complete", methods=["POST"])
@blp.arguments(FormDataSchema)
@blp.response(200, CompletedTaskSchema)
def complete(body: dict[str, Any], task_id: str) -> dict[str, Any]:
    """Rond de taak af.

    Het antwoord is de afgeronde taak, de stand van het dossier (`case`) en de taken die u daarin nu kunt
    oppakken (`next_tasks`), zodat u het dossier niet opnieuw hoeft op te vragen. Formulieren staan er niet
    in; die geeft `GET /tasks/{id}`."""
    actor = current_actor()
    done = runtime().complete(actor, task_id, body["data"])
    case, todo = next_tasks(actor, done.task.case_id)
    return {**task_json(done.task, with_form=False), "case": case,
            "next_tasks": [task_json(t, with_form=False) for t in todo]}


