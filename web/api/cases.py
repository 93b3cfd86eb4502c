"""Cases: start one, read one, retry one in incident."""

from __future__ import annotations

from typing import Any

from marshmallow import fields, validate

from engine import access
from engine.auth import Actor
from engine.present import case_json

from . import Blueprint, CaseSchema, StrictSchema, current_actor, runtime

blp = Blueprint("cases", __name__, description="Dossiers")


class ReasonSchema(StrictSchema):
    reason = fields.String(required=True, validate=validate.Length(min=1, max=2000))


class ResumeSchema(StrictSchema):
    reason = fields.String(load_default=None, validate=validate.Length(max=2000))


class ExtendSchema(StrictSchema):
    weeks = fields.Integer(required=True, strict=True, validate=validate.Range(1, 52))
    reason = fields.String(required=True, validate=validate.Length(min=1, max=2000))


class StartCaseSchema(StrictSchema):
    route = fields.String(required=True, metadata={"description": "De route, bv. tlv-vso."})
    # Required, as in /tasks/{id}/complete: a client learns from the document that it must send the form's data;
    # whether that data fits the route's start form is checked per field (422) by the engine.
    data = fields.Dict(required=True, metadata={"description": "Gegevens volgens het startformulier."})


def _case_response(case_id: int, actor: Actor) -> dict[str, Any]:
    rt = runtime()
    with rt.db.read() as session:
        case = rt.case_for(session, actor, case_id)
        return case_json(session, case, rt.open_tasks(session, case))


@blp.route("/cases", methods=["POST"])
@blp.arguments(StartCaseSchema)
@blp.response(201, CaseSchema)
def start_case(body: dict[str, Any]) -> dict[str, Any]:
    actor = current_actor()
    case = runtime().start_case(actor, body["route"], body["data"])
    return _case_response(case.id, actor)


@blp.route("/cases/<id:case_id>")
@blp.response(200, CaseSchema)
def get_case(case_id: int) -> dict[str, Any]:
    actor = current_actor()
    body = _case_response(case_id, actor)
    access.record(runtime().db, actor, "case", "api", case_id)  # who saw what (engine.access)
    return body


@blp.route("/cases/<id:case_id>/retry", methods=["POST"])
@blp.response(200, CaseSchema)
def retry_case(case_id: int) -> dict[str, Any]:
    actor = current_actor()
    runtime().retry(actor, case_id)
    return _case_response(case_id, actor)


@blp.route("/cases/<id:case_id>/suspend", methods=["POST"])
@blp.arguments(ReasonSchema)
@blp.response(200, CaseSchema)
def suspend_case(body: dict[str, Any], case_id: int) -> dict[str, Any]:
    """Opschorting: de klok van het dossier stopt."""
    actor = current_actor()
    runtime().suspend(actor, case_id, body["reason"])
    return _case_response(case_id, actor)


@blp.route("/cases/<id:case_id>/resume", methods=["POST"])
@blp.arguments(ResumeSchema, required=False)
@blp.response(200, CaseSchema)
def resume_case(body: dict[str, Any], case_id: int) -> dict[str, Any]:
    """Hervatten: alle termijnen schuiven op met de opgeschorte tijd."""
    actor = current_actor()
    runtime().resume(actor, case_id, body.get("reason"))
    return _case_response(case_id, actor)


@blp.route("/cases/<id:case_id>/extend", methods=["POST"])
@blp.arguments(ExtendSchema)
@blp.response(200, CaseSchema)
def extend_case(body: dict[str, Any], case_id: int) -> dict[str, Any]:
    """Verlenging van de doorlooptijd (zo vaak als het SWV toestaat)."""
    actor = current_actor()
    runtime().extend(actor, case_id, body["weeks"], body["reason"])
    return _case_response(case_id, actor)
