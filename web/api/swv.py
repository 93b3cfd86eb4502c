"""The SWV's configuration (procesbeheerder, beheerder): read it with its history, and change the SWV's own term
of a route as the SWV page does (engine.tenant_events: an event with who, when, before, after and the reason)."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, validate
from sqlalchemy import select

from engine import route_drafts, swv_settings, tenant_events
from engine.errors import InvalidData, NotFound
from engine.models import Route, Tenant
from engine.tenant_events import Who
from engine.vocabulary import ROLES, Role

from . import Blueprint, PageQuery, StrictSchema, current_actor, runtime

blp = Blueprint("swv", __name__, description="Het samenwerkingsverband: inrichting, eigen termijnen, geschiedenis")

class TermSchema(Schema):
    term = fields.String()
    from_ = fields.String(data_key="from", attribute="from", allow_none=True)
    escalateTo = fields.String()  # noqa: N815 (the settings key, as the SWV files spell it)
    legal = fields.Boolean()
    extensions = fields.Integer(allow_none=True)


class SwvSchema(Schema):
    key = fields.String()
    name = fields.String()
    code = fields.String(allow_none=True)
    region = fields.String()
    routes = fields.List(fields.String(), allow_none=True, metadata={"description": "Leeg: alle routes."})
    lwoo = fields.String(allow_none=True)
    commissions = fields.List(fields.Dict())
    terms = fields.Dict(keys=fields.String(), values=fields.Nested(TermSchema))
    intake_windows = fields.Dict(keys=fields.String(), values=fields.List(fields.Dict()))
    herbeoordeling = fields.Dict(allow_none=True)
    labels = fields.Dict(keys=fields.String(), values=fields.String())
    max_extensions = fields.Integer()
    file = fields.Dict(allow_none=True, metadata={"description": "Het SWV-bestand dat het laatst is geladen."})
    seq = fields.Integer(metadata={"description": "Nummer van de laatste wijziging; geef het mee bij wijzigen."})


class ChangeSchema(Schema):
    seq = fields.Integer()
    at = fields.String()
    actor = fields.String()
    role = fields.String(allow_none=True)
    channel = fields.String(metadata={"description": "bestand, web, api of cli"})
    path = fields.String(metadata={"description": "Wat er veranderde, bv. terms.tlv-vso"})
    before = fields.Raw(allow_none=True)
    after = fields.Raw(allow_none=True)
    reason = fields.String(allow_none=True)
    version = fields.Integer(allow_none=True, metadata={"description": "Versie van het SWV-bestand"})


class SetTermSchema(StrictSchema):
    term = fields.String(required=True, allow_none=True, validate=validate.Length(min=1, max=200), metadata={
        "description": "Bv. weken(2) of werkdagen(10); null verwijdert de eigen termijn."})
    from_ = fields.String(data_key="from", attribute="from", load_default=None, allow_none=True,
                          validate=validate.Length(max=100))
    escalateTo = fields.String(load_default=Role.BESTUURDER, validate=validate.OneOf(ROLES))  # noqa: N815
    legal = fields.Boolean(load_default=False)
    extensions = fields.Integer(load_default=None, allow_none=True, validate=validate.Range(0, 10))
    reason = fields.String(required=True, validate=validate.Length(min=1, max=500),
                           metadata={"description": "Waarom (komt in de geschiedenis)."})
    seq = fields.Integer(load_default=None, allow_none=True, validate=validate.Range(0, 2**31 - 1), metadata={
        "description": "Het nummer van de laatste wijziging die u zag; een latere wijziging geeft 409."})


class TermChangedSchema(Schema):
    route = fields.String()
    term = fields.Nested(TermSchema, allow_none=True)
    seq = fields.Integer()


def _owner() -> Any:
    actor = current_actor()
    route_drafts.require_editor(actor)
    return actor.acting_as(Role.PROCESBEHEERDER if actor.has(Role.PROCESBEHEERDER) else Role.BEHEERDER)


def _change(event: Any) -> dict[str, Any]:
    return {"seq": event.seq, "at": event.at.isoformat(), "actor": event.actor, "role": event.role,
            "channel": event.channel, "path": event.path, "before": event.before, "after": event.after,
            "reason": event.reason, "version": event.version}


@blp.route("/swv", methods=["GET"])
@blp.response(200, SwvSchema)
def get_swv() -> dict[str, Any]:
    actor = _owner()
    with runtime().db.read() as session:
        tenant = session.get(Tenant, actor.tenant_id)
        assert tenant is not None
        settings = dict(tenant.settings or {})
        marker = tenant_events.loaded_file(session, tenant.id)
        return {"key": tenant.key, "name": tenant.name, "code": (settings.get("tlv") or {}).get("code"),
                "region": tenant.region, "routes": settings.get("routes"), "lwoo": settings.get("lwoo"),
                "commissions": settings.get("commissions") or [], "terms": settings.get("terms") or {},
                "intake_windows": settings.get("intake_windows") or {},
                "herbeoordeling": settings.get("herbeoordeling"), "labels": settings.get("labels") or {},
                "max_extensions": int(settings.get("max_extensions", 1)),
                "file": {"name": marker.after.get("file"), "version": marker.version} if marker else None,
                "seq": tenant_events.last_seq(session, tenant.id)}


@blp.route("/swv/history", methods=["GET"])
@blp.arguments(PageQuery, location="query", as_kwargs=True)
@blp.response(200, ChangeSchema(many=True))
def get_history(limit: int = 100, offset: int = 0) -> list[dict[str, Any]]:
    actor = _owner()
    with runtime().db.read() as session:
        return [_change(e) for e in tenant_events.history(session, actor.tenant_id, limit=limit, offset=offset)]


@blp.route("/swv/terms/<key>", methods=["PUT"])
@blp.arguments(SetTermSchema)
@blp.response(200, TermChangedSchema)
def set_term(body: dict[str, Any], key: str) -> dict[str, Any]:
    route_key = key
    actor = _owner()
    with runtime().db.transaction() as session:
        tenant = session.get(Tenant, actor.tenant_id)
        assert tenant is not None
        settings = tenant.settings or {}
        known = set(session.scalars(select(Route.key))) | set(settings.get("routes") or []) | set(
            settings.get("terms") or {})
        if route_key not in known:
            raise NotFound(f"Route '{route_key}' bestaat niet voor uw samenwerkingsverband.")
        term = None
        if body["term"] is not None:
            term = swv_settings.checked_term(session, tenant, route_key, body)
        elif body.get("from") or body.get("extensions") is not None:
            raise InvalidData("Zonder termijn is er niets om in te stellen.", {"term": ["Geef een termijn."]})
        tenant_events.change(session, tenant, f"terms.{route_key}", term, Who.of(actor, "api"),
                             reason=body["reason"], seen_seq=body.get("seq"))
        return {"route": route_key, "term": term, "seq": tenant_events.last_seq(session, tenant.id)}
