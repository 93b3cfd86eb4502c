"""The inbox and the work on one task: claim, unclaim, delegate, complete."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from marshmallow import ValidationError, fields, validate

from engine import access, delegation
from engine.auth import Actor
from engine.inbox import SCOPES, inbox
from engine.present import task_json

from . import (
    MAX_ID,
    Blueprint,
    CompletedTaskSchema,
    FormDataSchema,
    StrictSchema,
    TaskSchema,
    TaskSummarySchema,
    current_actor,
    runtime,
)

blp = Blueprint("tasks", __name__, description="Taken en de inbox")


class InboxQuery(StrictSchema):
    scope = fields.String(load_default="role", validate=validate.OneOf(SCOPES))
    route = fields.String()
    overdue = fields.Boolean()
    sort = fields.String(load_default="due", validate=validate.OneOf(["due"]))
    limit = fields.Integer(load_default=50, validate=validate.Range(1, 500))
    offset = fields.Integer(load_default=0, validate=validate.Range(0, MAX_ID))


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


class UserRef(fields.Field):
    """A user by id (an integer) or by e-mail address (a string)."""

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> int | str:
        if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_ID:
            return value
        if isinstance(value, str) and 1 <= len(value.strip()) <= 254:
            return value.strip()
        raise ValidationError("Geef het id (een getal) of het e-mailadres van een collega.")


class DelegateSchema(StrictSchema):
    user = UserRef(required=True, metadata={
        "description": "De collega: zijn id of e-mailadres.",
        "oneOf": [{"type": "integer", "minimum": 1, "maximum": MAX_ID},
                  {"type": "string", "minLength": 1, "maxLength": 254}]})


def _task_response(task_id: str, actor: Actor) -> dict[str, Any]:
    rt = runtime()
    with rt.db.read() as session:
        task = rt.task_for(session, actor, task_id)
        case = rt.case_for(session, actor, task.case_id)
        return task_json(task, rt.form(case.route_version, task.name))


@blp.route("/tasks/<uuid:task_id>")
@blp.response(200, TaskSchema)
def get_task(task_id: UUID) -> dict[str, Any]:
    actor = current_actor()
    body = _task_response(str(task_id), actor)
    access.record(runtime().db, actor, f"task:{body['name']}", "api", body["case_id"])  # who saw what
    return body


@blp.route("/tasks/<uuid:task_id>/claim", methods=["POST"])
@blp.response(200, TaskSchema)
def claim(task_id: UUID) -> dict[str, Any]:
    actor = current_actor()
    runtime().claim(actor, str(task_id))
    return _task_response(str(task_id), actor)


@blp.route("/tasks/<uuid:task_id>/unclaim", methods=["POST"])
@blp.response(200, TaskSchema)
def unclaim(task_id: UUID) -> dict[str, Any]:
    actor = current_actor()
    runtime().unclaim(actor, str(task_id))
    return _task_response(str(task_id), actor)


@blp.route("/tasks/<uuid:task_id>/delegate", methods=["POST"])
@blp.arguments(DelegateSchema)
@blp.response(200, TaskSchema)
def delegate(body: dict[str, Any], task_id: UUID) -> dict[str, Any]:
    """Draag een taak die u heeft geclaimd over aan een collega met de rol van de taak (en bij een schooltaak van
    dezelfde school); de taak staat daarna op zijn naam. Functiescheiding geldt ook voor de collega."""
    actor = current_actor()
    delegation.delegate(runtime(), actor, str(task_id), body["user"])
    return _task_response(str(task_id), actor)


@blp.route("/tasks/<uuid:task_id>/complete", methods=["POST"])
@blp.arguments(FormDataSchema)
@blp.response(200, CompletedTaskSchema)
def complete(body: dict[str, Any], task_id: UUID) -> dict[str, Any]:
    """Rond de taak af.

    Het antwoord is de afgeronde taak, de stand van het dossier (`case`) en de taken die u daarin nu kunt
    oppakken (`next_tasks`), zodat u het dossier niet opnieuw hoeft op te vragen. Formulieren staan er niet
    in; die geeft `GET /tasks/{id}`."""
    actor = current_actor()
    done = runtime().complete(actor, str(task_id), body["data"])
    # What the client needs next comes from the action itself: no second read, and no logged read of the case.
    case = {"id": done.task.case_id, "status": done.case_status, "outcome": done.case_outcome}
    mine = [task_json(t, with_form=False, assignee=actor.email if t.assignee_id == actor.user_id else None)
            for t in done.next_tasks]
    return {**task_json(done.task, with_form=False), "case": case, "next_tasks": mine}


