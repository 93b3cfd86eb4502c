"""Cases: list those a user may see, start one, read one, retry one in incident."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, validate

from engine import access, case_list, decision_actions, figures, legal_hold, thuiszitters
from engine.auth import Actor
from engine.present import case_json

from . import MAX_ID, Blueprint, CaseSchema, StrictSchema, current_actor, runtime

blp = Blueprint("cases", __name__, description="Dossiers")


class ReasonSchema(StrictSchema):
    reason = fields.String(required=True, validate=validate.Length(min=1, max=2000))


class ResumeSchema(StrictSchema):
    reason = fields.String(load_default=None, validate=validate.Length(max=2000))


class ExtendSchema(StrictSchema):
    weeks = fields.Integer(required=True, strict=True, validate=validate.Range(1, 52))
    reason = fields.String(required=True, validate=validate.Length(min=1, max=2000))


class DecisionExtendSchema(StrictSchema):
    weeks = fields.Integer(required=True, strict=True, validate=validate.Range(1, decision_actions.MAX_WEEKS),
                           metadata={"description": "Met hoeveel weken de beslistermijn wordt verdaagd."})
    reason = fields.String(required=True, validate=validate.Length(min=1, max=2000),
                           metadata={"description": "De reden; die staat in de brief aan de aanvrager."})


class StartCaseSchema(StrictSchema):
    route = fields.String(required=True, metadata={"description": "De route, bv. tlv-vso."})
    # Required, as in /tasks/{id}/complete: a client learns from the document that it must send the form's data;
    # whether that data fits the route's start form is checked per field (422) by the engine.
    data = fields.Dict(required=True, metadata={"description": "Gegevens volgens het startformulier."})
    linked_case_id = fields.Integer(load_default=None, strict=True, validate=validate.Range(1, MAX_ID), metadata={
        "description": "Het dossier waaruit dit dossier start (een bezwaar: het dossier met het besluit; een "
                       "herbeoordeling: het dossier van de TLV). Beide dossiers tonen de koppeling."})
    confirm_late = fields.Boolean(load_default=False, metadata={
        "description": "Bezwaar: bevestig dat het bezwaarschrift na de bezwaartermijn is ontvangen (de "
                       "verschoonbaarheid wordt beoordeeld, Awb 6:11); zonder: 422 op confirm_late."})


class CaseListQuery(StrictSchema):
    q = fields.String(validate=validate.Length(max=case_list.MAX_QUERY), metadata={
        "description": "Zoek op naam van de leerling (elk woord) of op dossiernummer (12 of #12)."})
    route = fields.String(validate=validate.Length(max=64), metadata={"description": "Alleen deze route."})
    status = fields.String(validate=validate.OneOf(case_list.STATUSES))
    school = fields.String(validate=validate.Length(max=32), metadata={"description": "Alleen deze school (code)."})
    sort = fields.String(load_default="newest", validate=validate.OneOf(list(case_list.SORTS)), metadata={
        "description": "newest (standaard), oldest of due (eerst verlopende doorlooptijd)."})
    limit = fields.Integer(load_default=50, validate=validate.Range(1, case_list.MAX_LIMIT))
    offset = fields.Integer(load_default=0, validate=validate.Range(0, MAX_ID))


class CaseListItemSchema(Schema):
    id = fields.Integer()
    route = fields.String()
    title = fields.String()
    pupil = fields.String(allow_none=True)
    school = fields.String(allow_none=True)
    status = fields.String()
    outcome = fields.String(allow_none=True)
    opened_at = fields.String()
    due_at = fields.String(allow_none=True)
    closed_at = fields.String(allow_none=True)


class CaseListSchema(Schema):
    total = fields.Integer(metadata={"description": "Alle dossiers die aan de zoekvraag voldoen."})
    offset = fields.Integer()
    limit = fields.Integer()
    cases = fields.List(fields.Nested(CaseListItemSchema))


class StepFiguresSchema(Schema):
    step = fields.String()
    open = fields.Integer()
    overdue = fields.Integer()
    escalated = fields.Integer()


class RouteFiguresSchema(Schema):
    route = fields.String()
    cases = fields.Dict(keys=fields.String(), values=fields.Integer(),
                        metadata={"description": "Aantal dossiers per status."})
    outcomes = fields.Dict(keys=fields.String(), values=fields.Integer(),
                           metadata={"description": "Aantal afgesloten dossiers per uitkomst."})
    open_tasks = fields.List(fields.Nested(StepFiguresSchema))


class ThuiszittersQuery(StrictSchema):
    kwartaal = fields.String(required=True, validate=validate.Regexp(r"^20\d\d-[1-4]$", error=(
        "Moet een kwartaal zijn als JJJJ-K, bijvoorbeeld 2026-3 (juli t/m september).")), metadata={
        "description": "Het kwartaal als JJJJ-K, bijvoorbeeld 2026-3 (juli t/m september)."})


class RegistrationRowSchema(Schema):
    indeling = fields.String(metadata={"description": "totaal, stand, instroom, duur, type, reden, schooltype, "
                                                      "leerjaar, leeftijd, bestemming of doorzettingsmacht."})
    waarde = fields.String()
    aantal = fields.Integer()


class ThuiszittersSchema(Schema):
    kwartaal = fields.String()
    van = fields.String(metadata={"description": "De eerste dag van het kwartaal."})
    tot_en_met = fields.String(metadata={"description": "De laatste dag van het kwartaal."})
    rijen = fields.List(fields.Nested(RegistrationRowSchema))


def _case_response(case_id: int, actor: Actor) -> dict[str, Any]:
    rt = runtime()
    with rt.db.read() as session:
        case = rt.case_for(session, actor, case_id)
        return case_json(session, case, rt.open_tasks(session, case))


@blp.route("/cases", methods=["GET"])
@blp.arguments(CaseListQuery, location="query")
@blp.response(200, CaseListSchema, headers={"X-Total-Count": {"schema": {"type": "integer"}}})
def list_cases(query: dict[str, Any]) -> tuple[dict[str, Any], int, dict[str, str]]:
    """Alle dossiers die u mag zien (een school: de eigen), nieuwste eerst; zoeken, filteren en per pagina."""
    actor = current_actor()
    with runtime().db.read() as session:
        page = case_list.list_cases(session, actor, q=query.get("q"), route=query.get("route"),
                                    status=query.get("status"), school=query.get("school"), sort=query["sort"],
                                    offset=query["offset"], limit=query["limit"])
        body = {"total": page.total, "offset": query["offset"], "limit": query["limit"],
                "cases": [case_list.case_summary(case) for case in page.cases]}
    if query.get("q"):  # a search by name is a look into personal data: who searched for whom
        access.record(runtime().db, actor, f"cases?q={query['q']}", "api")
    return body, 200, {"X-Total-Count": str(page.total)}


@blp.route("/figures")
@blp.response(200, RouteFiguresSchema(many=True))
def route_figures() -> list[dict[str, Any]]:
    """Anonieme cijfers per route: dossiers per status en uitkomst, open taken per stap (te laat, geëscaleerd).
    Voor procesbeheerder, bestuurder, consulent, commissie, auditor en beheerder; geen namen of dossiernummers."""
    actor = current_actor()
    with runtime().db.read() as session:
        return figures.figures(session, actor)


@blp.route("/figures/thuiszitters")
@blp.arguments(ThuiszittersQuery, location="query")
@blp.response(200, ThuiszittersSchema)
def thuiszitters_registration(query: dict[str, Any]) -> dict[str, Any]:
    """De thuiszittersregistratie voor de Inspectie in een kwartaal: anonieme aantallen per indeling (wie in het
    kwartaal minstens één dag thuis was, uit de dossiers op de route thuiszitter). Dezelfde rollen als /figures."""
    actor = current_actor()
    quarter = thuiszitters.parse_quarter(query["kwartaal"])
    with runtime().db.read() as session:
        rows = thuiszitters.registration(session, actor, quarter)
    return {"kwartaal": quarter.label, "van": quarter.first.isoformat(), "tot_en_met": quarter.last.isoformat(),
            "rijen": [{"indeling": d, "waarde": v, "aantal": n} for d, v, n in rows]}


@blp.route("/cases", methods=["POST"])
@blp.arguments(StartCaseSchema)
@blp.response(201, CaseSchema)
def start_case(body: dict[str, Any]) -> dict[str, Any]:
    actor = current_actor()
    case = runtime().start_case(actor, body["route"], body["data"], linked_from=body.get("linked_case_id"),
                                confirm_late=body.get("confirm_late", False))
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


@blp.route("/cases/<id:case_id>/decision-term/extend", methods=["POST"])
@blp.arguments(DecisionExtendSchema)
@blp.response(200, CaseSchema)
def extend_decision_term(body: dict[str, Any], case_id: int) -> dict[str, Any]:
    """Verdaging van de wettelijke beslistermijn (Awb 4:14): één keer, binnen de termijn, met reden; de brief
    gaat als PDF naar de aanvragende school en het dossier krijgt het event decision_term_extended."""
    actor = current_actor()
    decision_actions.extend(runtime(), actor, case_id, body["weeks"], body["reason"])
    return _case_response(case_id, actor)


@blp.route("/cases/<id:case_id>/legal-hold", methods=["POST"])
@blp.arguments(ReasonSchema)
@blp.response(200, CaseSchema)
def set_legal_hold(body: dict[str, Any], case_id: int) -> dict[str, Any]:
    """Juridische bewaarplicht instellen (beheerder): de bewaartermijn slaat dit dossier over zolang bezwaar of
    beroep loopt."""
    actor = current_actor()
    legal_hold.set_hold(runtime(), actor, case_id, body["reason"])
    return _case_response(case_id, actor)


@blp.route("/cases/<id:case_id>/legal-hold/lift", methods=["POST"])
@blp.arguments(ReasonSchema)
@blp.response(200, CaseSchema)
def lift_legal_hold(body: dict[str, Any], case_id: int) -> dict[str, Any]:
    """Juridische bewaarplicht opheffen (beheerder): de eigen bewaartermijn van het dossier geldt weer."""
    actor = current_actor()
    legal_hold.lift_hold(runtime(), actor, case_id, body["reason"])
    return _case_response(case_id, actor)


@blp.route("/cases/<id:case_id>/extend", methods=["POST"])
@blp.arguments(ExtendSchema)
@blp.response(200, CaseSchema)
def extend_case(body: dict[str, Any], case_id: int) -> dict[str, Any]:
    """Verlenging van de doorlooptijd (zo vaak als het SWV toestaat)."""
    actor = current_actor()
    runtime().extend(actor, case_id, body["weeks"], body["reason"])
    return _case_response(case_id, actor)
