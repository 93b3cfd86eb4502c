"""REST API v1: JSON in and out, ``Authorization: Bearer <token>``."""

from __future__ import annotations

from flask import current_app, request
from marshmallow import RAISE, Schema, fields

from engine.auth import Actor, authenticate
from engine.cases import Runtime
from engine.errors import Unauthorized


def runtime() -> Runtime:
    return current_app.extensions["loket"]


def current_actor() -> Actor:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("Geef een API-token mee: Authorization: Bearer <token>.")
    with runtime().db.read() as session:
        return authenticate(session, token.strip())


class StrictSchema(Schema):
    class Meta:
        unknown = RAISE


class FormDataSchema(StrictSchema):
    data = fields.Dict(required=True, metadata={"description": "De formuliergegevens (JSON Schema van de taak)."})


class TaskSummarySchema(Schema):
    """A task as lists show it (the inbox, a case, what to do next): without its form."""

    id = fields.String()
    case_id = fields.Integer()
    route = fields.String()
    name = fields.String()
    title = fields.String()
    lane = fields.String(allow_none=True)
    status = fields.String()
    assignee = fields.String(allow_none=True)
    due_at = fields.String(allow_none=True)
    overdue = fields.Boolean()
    escalated = fields.Boolean()
    created_at = fields.String()
    completed_at = fields.String(allow_none=True)


class TaskSchema(TaskSummarySchema):
    """One task with its form (JSON Schema), to fill it in."""

    form = fields.Dict(allow_none=True)


class CaseSummarySchema(Schema):
    id = fields.Integer()
    status = fields.String(metadata={"description": "open, suspended, incident of closed."})
    outcome = fields.String(allow_none=True)


class CompletedTaskSchema(TaskSummarySchema):
    """The completed task, where its case stands now, and what this user can do next in it."""

    case = fields.Nested(CaseSummarySchema)
    next_tasks = fields.List(fields.Nested(TaskSummarySchema), metadata={
        "description": "De open taken van dit dossier die deze gebruiker nu kan afronden (rol, school, "
                       "niet door een ander geclaimd); leeg als het dossier niet open is."})


class DeadlineSchema(Schema):
    id = fields.Integer()
    kind = fields.String()
    task_id = fields.String(allow_none=True)
    due_at = fields.String()
    status = fields.String()
    fired_at = fields.String(allow_none=True)


class CaseSchema(Schema):
    id = fields.Integer()
    route = fields.String()
    version = fields.Integer()
    tenant = fields.String()
    school = fields.String(allow_none=True)
    status = fields.String()
    outcome = fields.String(allow_none=True)
    data = fields.Dict()
    incident = fields.Dict(allow_none=True)
    tasks = fields.List(fields.Nested(TaskSummarySchema))
    deadlines = fields.List(fields.Nested(DeadlineSchema))
    due_at = fields.String(allow_none=True)
    opened_at = fields.String()
    closed_at = fields.String(allow_none=True)
