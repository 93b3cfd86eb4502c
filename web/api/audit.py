"""The auditor's API: a case's timeline, its state at any moment, replay, chain verification, export and
the access log (per case and per user). Every read of a case's history is itself recorded."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Response
from marshmallow import Schema, ValidationError, fields, validate

from engine import access, audit, audit_export, clock
from engine.auth import Actor, require_role
from engine.errors import NotFound
from engine.models import User

from . import MAX_ID, Blueprint, PageQuery, StrictSchema, current_actor, runtime

blp = Blueprint("audit", __name__, description="Audit: geschiedenis, opnieuw afspelen en toegangslog")


# A state is asked of the past: no case is older than this, and a moment in the future is no state at all. Such a
# moment is refused before it is read, so it never reaches the access log (whose entries are permanent and are
# printed by the export). A little leeway for a client whose clock runs ahead.
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
CLOCK_SKEW = timedelta(minutes=5)


def _past_moment(moment: datetime) -> None:
    if moment.year < EARLIEST.year or moment < EARLIEST:  # the year first: comparing year 1 can overflow
        raise ValidationError("Moet een moment na 1 januari 2000 zijn.")
    if moment > clock.now() + CLOCK_SKEW:
        raise ValidationError("Moet een moment in het verleden zijn (of nu).")


class StateQuery(StrictSchema):
    at = fields.AwareDateTime(validate=_past_moment, metadata={
        "description": "Het moment (ISO 8601 met tijdzone, vanaf 2000 en niet in de toekomst); standaard: nu."})
    seq = fields.Integer(validate=validate.Range(1, MAX_ID),
                         metadata={"description": "Of: de toestand direct na dit event."})


class EventsQuery(StrictSchema):
    limit = fields.Integer(load_default=100, validate=validate.Range(1, 500),
                           metadata={"description": "Hoeveel events (1 tot 500, standaard 100)."})
    offset = fields.Integer(load_default=0, validate=validate.Range(0, MAX_ID),
                            metadata={"description": "Hoeveel events overslaan (oudste eerst)."})


class ExportQuery(StrictSchema):
    format = fields.String(load_default="json", validate=validate.OneOf(["json", "pdf"]))


class DivergenceSchema(Schema):
    seq = fields.Integer(allow_none=True)
    event = fields.String(allow_none=True)
    reason = fields.String()
    message = fields.String()
    detected_at = fields.Integer(allow_none=True)
    details = fields.Dict()
    replay = fields.Dict(allow_none=True)


class ReplaySchema(Schema):
    case_id = fields.Integer()
    consistent = fields.Boolean()
    events = fields.Integer()
    divergence = fields.Nested(DivergenceSchema, allow_none=True)
    route = fields.Dict()
    state = fields.Dict()


class TimelineSchema(Schema):
    case_id = fields.Integer()
    intact = fields.Boolean()
    replayed = fields.Boolean()
    divergence = fields.Dict(allow_none=True)
    events = fields.List(fields.Dict())


class ChainSchema(Schema):
    case_id = fields.Integer()
    intact = fields.Boolean()
    events = fields.Integer()
    head = fields.String()
    breaks = fields.List(fields.Dict())


class AccessEntrySchema(Schema):
    id = fields.Integer()
    at = fields.String()
    case_id = fields.Integer(allow_none=True)
    user_id = fields.Integer(allow_none=True)
    actor = fields.String()
    role = fields.String()
    what = fields.String()
    channel = fields.String()


def _log(actor: Actor, what: str, case_id: int | None) -> None:
    access.record(runtime().db, actor, what, "api", case_id)


@blp.route("/cases/<id:case_id>/events")
@blp.arguments(EventsQuery, location="query")
@blp.response(200, TimelineSchema, headers={"X-Total-Count": {"schema": {"type": "integer"}}})
def events(query: dict[str, Any], case_id: int) -> tuple[dict[str, Any], int, dict[str, str]]:
    """De tijdlijn: elk event met wie, rol, tijd, ingediende gegevens en wat er veranderde; per pagina
    (`limit`, `offset`, oudste eerst), het totaal in X-Total-Count. `intact` en `divergence` gaan over alle events."""
    actor = current_actor()
    rt = runtime()
    with rt.db.read() as session:
        case = rt.case_for(session, actor, case_id)
        body = audit.timeline(rt, session, case, offset=query["offset"], limit=query["limit"])
    total = body.pop("total")
    _log(actor, "events", case_id)
    return body, 200, {"X-Total-Count": str(total)}


@blp.route("/cases/<id:case_id>/state")
@blp.arguments(StateQuery, location="query")
@blp.response(200, ReplaySchema)
def state(query: dict[str, Any], case_id: int) -> dict[str, Any]:
    """De toestand van het dossier op een moment (of direct na een event), herbouwd uit de geschiedenis."""
    actor = current_actor()
    rt = runtime()
    with rt.db.read() as session:
        case = rt.case_for(session, actor, case_id)
        body = audit.state_at(rt, session, case, at=query.get("at"), seq=query.get("seq")).to_json()
    what = f"state@{query['at'].isoformat()}" if query.get("at") else (
        f"state#{query['seq']}" if query.get("seq") else "state")
    _log(actor, what, case_id)
    return body


@blp.route("/cases/<id:case_id>/replay", methods=["POST"])
@blp.response(200, ReplaySchema)
def replay(case_id: int) -> dict[str, Any]:
    """Herbouw het dossier uit zijn route-versie en events en vergelijk met het opgeslagen dossier."""
    actor = current_actor()
    require_role(actor, *audit.AUDIT_ROLES)
    rt = runtime()
    with rt.db.read() as session:
        case = rt.case_for(session, actor, case_id)
        body = audit.replay(rt, session, case).to_json()
    _log(actor, "replay", case_id)
    return body


@blp.route("/cases/<id:case_id>/verify")
@blp.response(200, ChainSchema)
def verify(case_id: int) -> dict[str, Any]:
    """Controleer de hash-keten van het dossier."""
    actor = current_actor()
    require_role(actor, *audit.AUDIT_ROLES)
    rt = runtime()
    with rt.db.read() as session:
        body = audit.verify_case(session, rt.case_for(session, actor, case_id)).to_json()
    _log(actor, "verify", case_id)  # checking the chain reads the whole history: a read like the others
    return body


@blp.route("/cases/<id:case_id>/export")
@blp.arguments(ExportQuery, location="query")
@blp.response(200)
@blp.doc(responses={"200": {"description": "De export: JSON (standaard) of, met ?format=pdf, een PDF-rapport.",
                            "content": {"application/json": {"schema": {"type": "object"}},
                                        "application/pdf": {"schema": {"type": "string", "format": "binary"}}}}})
def export(query: dict[str, Any], case_id: int) -> Response | dict[str, Any]:
    """De volledige geschiedenis en het toegangslog, als JSON of als PDF-rapport."""
    actor = current_actor()
    require_role(actor, *audit.AUDIT_ROLES)
    rt = runtime()
    with rt.db.read() as session:
        document = audit_export.export(rt, session, rt.case_for(session, actor, case_id))
    _log(actor, f"export:{query['format']}", case_id)
    if query["format"] == "pdf":
        return Response(audit_export.render_pdf(document), mimetype="application/pdf", headers={
            "Content-Disposition": f'attachment; filename="dossier-{case_id}-audit.pdf"'})
    return document


@blp.route("/cases/<id:case_id>/access-log")
@blp.arguments(PageQuery, location="query")
@blp.response(200, AccessEntrySchema(many=True), headers={"X-Total-Count": {"schema": {"type": "integer"}}})
def case_access_log(query: dict[str, Any], case_id: int) -> tuple[list[dict[str, Any]], int, dict[str, str]]:
    """Wie dit dossier las, wanneer, in welke rol en via welk kanaal (nieuwste eerst)."""
    actor = current_actor()
    require_role(actor, *audit.AUDIT_ROLES)
    rt = runtime()
    with rt.db.read() as session:
        rt.case_for(session, actor, case_id)
        rows, total = access.for_case(session, actor.tenant_id, case_id, query["limit"], query["offset"])
        body = [access.entry_json(r) for r in rows]
    _log(actor, "access-log", case_id)
    return body, 200, {"X-Total-Count": str(total)}


@blp.route("/users/<id:user_id>/access-log")
@blp.arguments(PageQuery, location="query")
@blp.response(200, AccessEntrySchema(many=True), headers={"X-Total-Count": {"schema": {"type": "integer"}}})
def user_access_log(query: dict[str, Any], user_id: int) -> tuple[list[dict[str, Any]], int, dict[str, str]]:
    """Wat deze gebruiker las (nieuwste eerst)."""
    actor = current_actor()
    require_role(actor, *audit.AUDIT_ROLES)
    rt = runtime()
    with rt.db.read() as session:
        user = session.get(User, user_id)
        if user is None or user.tenant_id != actor.tenant_id:
            raise NotFound(f"Gebruiker {user_id} bestaat niet.")
        rows, total = access.for_user(session, actor.tenant_id, user_id, query["limit"], query["offset"])
        body = [access.entry_json(r) for r in rows]
    return body, 200, {"X-Total-Count": str(total)}

