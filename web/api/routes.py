"""GET /api/v1/routes: the routes of the user's SWV (those it runs), each with its start form."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields
from sqlalchemy import select

from engine import swv_settings
from engine.models import Route, Tenant
from engine.routes import latest_version, start_form

from . import Blueprint, current_actor, runtime

blp = Blueprint("routes", __name__, description="Routes (BPMN-definities)")


class RouteSchema(Schema):
    key = fields.String()
    title = fields.String()
    version = fields.Integer()
    sha256 = fields.String()
    start_form = fields.Dict(allow_none=True)


@blp.route("/routes")
@blp.response(200, RouteSchema(many=True))
def list_routes() -> list[dict[str, Any]]:
    actor = current_actor()
    with runtime().db.read() as session:
        tenant = session.get(Tenant, actor.tenant_id)
        out = []
        for key in session.scalars(select(Route.key).order_by(Route.key)):
            if tenant is not None and not swv_settings.runs(tenant, key):
                continue  # a route the SWV does not run (settings.routes): starting it would be refused
            version = latest_version(session, key)
            out.append({"key": key, "title": version.title, "version": version.number, "sha256": version.sha256,
                        "start_form": start_form(version)})
        return out
