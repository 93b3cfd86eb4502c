"""REST API v1: JSON in and out, ``Authorization: Bearer <token>``."""

from __future__ import annotations

from typing import Any

import flask_smorest
from flask import current_app, request
from marshmallow import RAISE, Schema, fields, validate
from webargs.flaskparser import FlaskParser
from werkzeug.routing import IntegerConverter

from engine.auth import Actor, authenticate
from engine.cases import Runtime
from engine.errors import BadRequest, Unauthorized

from .. import ops
from . import intake

# Ids and offsets stop where PostgreSQL's integer does (SQLite's is wider): past it, a lookup is a 404 and an
# offset a 422, never a database overflow.
MAX_ID = 2**31 - 1


class IdConverter(IntegerConverter):
    """``<id:case_id>``: a row id, 1 to MAX_ID; anything else does not match the URL (404)."""

    def __init__(self, map: Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(map, min=1, max=MAX_ID)


ID_SCHEMA = {"type": "integer", "minimum": 1, "maximum": MAX_ID}


class LoketParser(FlaskParser):
    """webargs, reading the body that ``intake`` checked, and refusing unknown query parameters too."""

    DEFAULT_UNKNOWN_BY_LOCATION = {**FlaskParser.DEFAULT_UNKNOWN_BY_LOCATION, "query": RAISE, "querystring": RAISE}

    def load_json(self, req: Any, schema: Schema) -> Any:
        body = intake.body()
        if body is intake.missing and any(field.required for field in schema.fields.values()):
            raise BadRequest("Dit verzoek heeft een JSON-body nodig.")
        return body


class Blueprint(flask_smorest.Blueprint):
    ARGUMENTS_PARSER = LoketParser()


def runtime() -> Runtime:
    return current_app.extensions["loket"]


def current_actor() -> Actor:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("Geef een API-token mee: Authorization: Bearer <token>.")
    with runtime().db.read() as session:
        actor = authenticate(session, token.strip())
    ops.note_user(actor.user_id)
    return actor


class StrictSchema(Schema):
    class Meta:
        unknown = RAISE


class PageQuery(StrictSchema):
    limit = fields.Integer(load_default=100, validate=validate.Range(1, 1000))
    offset = fields.Integer(load_default=0, validate=validate.Range(0, MAX_ID))


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
    decision = fields.Dict(allow_none=True, metadata={
        "description": "De wettelijke beslistermijn (Awb 4:13-4:15) en, na het besluit, het besluitrecord; "
                       "null voor een route zonder beslistermijn of vóór de ontvangst van de aanvraag."})
    zorgplicht = fields.Dict(allow_none=True, metadata={
        "description": "De zorgplichttermijn van de school (6 weken na de schriftelijke aanmelding, verlengd tot 10) "
                       "naast de TLV-termijn: aanmelding, termijn, verlengd_tot, tlv_past, vergeleken_met, bron."})
    legal_hold = fields.Dict(allow_none=True, metadata={
        "description": "Juridische bewaarplicht (bezwaar of beroep loopt): since, reason, by; null als er geen is."})
    links = fields.List(fields.Dict(), metadata={
        "description": "Gekoppelde dossiers: case_id, route, relation (bezwaar, herbeoordeling, vervolg), direction "
                       "(from: dit dossier startte uit dat; to: dat startte uit dit), label, status, outcome, since."})
