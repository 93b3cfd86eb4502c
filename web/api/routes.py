"""GET /api/v1/routes: the routes a user can start, each with its start form."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields
from sqlalchemy import select

from engine.models import Route
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
    current_actor()
    with runtime().db.read() as session:
        out = []
        for key in session.scalars(select(Route.key).order_by(Route.key)):
            version = latest_version(session, key)
            out.append({"key": key, "title": version.title, "version": version.number, "sha256": version.sha256,
                        "start_form": start_form(version)})
        return out
