"""The inbox and the work on one task: claim, unclaim, complete."""

from __future__ import annotations

from flask_smorest import Blueprint
from marshmallow import fields, validate

from engine import access
from engine.inbox import SCOPES, inbox
from engine.present import task_json

from . import FormDataSchema, StrictSchema, TaskSchema, current_actor, runtime

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
@blp.response(200, TaskSchema(many=True), headers={"X-Total-Count": {"schema": {"type": "integer"}}})
def list_tasks(query):
    actor = current_actor()
    with runtime().db.read() as session:
        tasks, total = inbox(session, actor, scope=query["scope"], route=query.get("route"),
                             overdue=query.get("overdue"), limit=query["limit"], offset=query["offset"])
        body = [task_json(t, with_form=False) for t in tasks]
    return body, 200, {"X-Total-Count": str(total)}


def _task_response(task_id: str, actor) -> dict:
    rt = runtime()
    with rt.db.read() as session:
        task = rt.task_for(session, actor, task_id)
        case = rt.case_for(session, actor, task.case_id)
        return task_json(task, rt.form(case.route_version, task.name))


@blp.route("/tasks/<task_id>")
@blp.response(200, TaskSchema)
def get_task(task_id: str):
    actor = current_actor()
    body = _task_response(task_id, actor)
    access.record(runtime().db, actor, f"task:{body['name']}", "api", body["case_id"])  # who saw what
    return body


@blp.route("/tasks/<task_id>/claim", methods=["POST"])
@blp.response(200, TaskSchema)
def claim(task_id: str):
    actor = current_actor()
    runtime().claim(actor, task_id)
    return _task_response(task_id, actor)


@blp.route("/tasks/<task_id>/unclaim", methods=["POST"])
@blp.response(200, TaskSchema)
def unclaim(task_id: str):
    actor = current_actor()
    runtime().unclaim(actor, task_id)
    return _task_response(task_id, actor)


@blp.route("/tasks/<task_id>/complete", methods=["POST"])
@blp.arguments(FormDataSchema)
@blp.response(200, TaskSchema)
def complete(body, task_id: str):
    actor = current_actor()
    done = runtime().complete(actor, task_id, body["data"])
    return task_json(done.task, done.form)


