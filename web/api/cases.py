"""Cases: start one, read one, retry one in incident."""

from __future__ import annotations

from flask_smorest import Blueprint
from marshmallow import fields

from engine.present import case_json

from . import CaseSchema, StrictSchema, current_actor, runtime

blp = Blueprint("cases", __name__, description="Dossiers")


class StartCaseSchema(StrictSchema):
    route = fields.String(required=True, metadata={"description": "De route, bv. tlv-vso."})
    data = fields.Dict(load_default=dict, metadata={"description": "Gegevens volgens het startformulier."})


def _case_response(case_id: int, actor) -> dict:
    rt = runtime()
    with rt.db.read() as session:
        case = rt.case_for(session, actor, case_id)
        return case_json(session, case, rt.open_tasks(session, case))


@blp.route("/cases", methods=["POST"])
@blp.arguments(StartCaseSchema)
@blp.response(201, CaseSchema)
def start_case(body):
    actor = current_actor()
    case = runtime().start_case(actor, body["route"], body["data"])
    return _case_response(case.id, actor)


@blp.route("/cases/<int:case_id>")
@blp.response(200, CaseSchema)
def get_case(case_id: int):
    return _case_response(case_id, current_actor())


@blp.route("/cases/<int:case_id>/retry", methods=["POST"])
@blp.response(200, CaseSchema)
def retry_case(case_id: int):
    actor = current_actor()
    runtime().retry(actor, case_id)
    return _case_response(case_id, actor)
