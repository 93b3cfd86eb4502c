"""Route drafts: a process owner's changes to a route, saved with optimistic locking, validated and published."""

from __future__ import annotations

from typing import Any

from flask import request
from marshmallow import Schema, fields, validate

from engine import route_drafts
from engine.errors import BadRequest, NotFound

from . import Blueprint, StrictSchema, current_actor, runtime

blp = Blueprint("drafts", __name__, description="Conceptroutes (bewerken, valideren, publiceren)")

KEY = {"validate": validate.Regexp(route_drafts.KEY.pattern)}


class DraftSummarySchema(Schema):
    id = fields.Integer()
    route = fields.String()
    title = fields.String()
    version = fields.Integer(metadata={"description": "Teller van de opslagen; geef hem mee bij opslaan."})
    base_version = fields.Integer(allow_none=True, metadata={"description": "De routeversie waar het van uitging."})
    saved_by = fields.String(allow_none=True)
    saved_at = fields.String()
    created_at = fields.String()
    published_version = fields.Integer(allow_none=True)


class DraftSchema(DraftSummarySchema):
    bpmn = fields.String()
    forms = fields.Dict(metadata={"description": "Per bestandsnaam een JSON Schema."})


class NewDraftSchema(StrictSchema):
    from_version = fields.Integer(load_default=None, allow_none=True, validate=validate.Range(1, 2**31 - 1),
                                  metadata={"description": "Versie om van uit te gaan (standaard de nieuwste)."})


class SaveDraftSchema(StrictSchema):
    # No maxLength declared: the request's own limit (1 MB, 413) bounds it; a longer text could not be sent anyway.
    bpmn = fields.String(required=True, validate=validate.Length(min=1), metadata={
        "description": "De BPMN 2.0 XML van het concept."})
    forms = fields.Dict(required=True, keys=fields.String(), values=fields.Dict())
    version = fields.Integer(load_default=None, allow_none=True, validate=validate.Range(1, 2**31 - 1), metadata={
        "description": "De versie waarop u bewerkte (of de header If-Match); een oudere versie geeft 409."})


class PublishSchema(StrictSchema):
    note = fields.String(required=True, validate=validate.Length(min=1, max=route_drafts.MAX_NOTE),
                         metadata={"description": "Wat er veranderd is en waarom."})
    version = fields.Integer(load_default=None, allow_none=True, validate=validate.Range(1, 2**31 - 1))


class ProblemSchema(Schema):
    severity = fields.String(metadata={"description": "fout of waarschuwing"})
    element = fields.String(metadata={"description": "Id van het BPMN-element, of leeg."})
    file = fields.String()
    message = fields.String()


class ValidationSchema(Schema):
    ok = fields.Boolean(metadata={"description": "Geen fouten en geen waarschuwingen: publiceerbaar."})
    problems = fields.List(fields.Nested(ProblemSchema))


class PublishedSchema(Schema):
    route = fields.String()
    version = fields.Integer()
    sha256 = fields.String()


def _key(key: str) -> str:
    if not route_drafts.KEY.match(key):
        raise NotFound(f"Route '{key}' bestaat niet.")
    return key


@blp.route("/routes/<key>/drafts", methods=["GET"])
@blp.response(200, DraftSummarySchema(many=True))
def list_drafts(key: str) -> list[dict[str, Any]]:
    actor = current_actor()
    route_drafts.require_editor(actor)
    with runtime().db.read() as session:
        return [route_drafts.draft_dict(session, d, with_content=False)
                for d in route_drafts.drafts(session, actor.tenant_id, _key(key))]


@blp.route("/routes/<key>/drafts", methods=["POST"])
@blp.arguments(NewDraftSchema)
@blp.response(201, DraftSchema)
def new_draft(body: dict[str, Any], key: str) -> dict[str, Any]:
    actor = current_actor()
    with runtime().db.transaction() as session:
        draft = route_drafts.create(session, actor, _key(key), body.get("from_version"))
        return route_drafts.draft_dict(session, draft)


@blp.route("/routes/<key>/drafts/<id:draft_id>", methods=["GET"])
@blp.response(200, DraftSchema, headers={"ETag": {"schema": {"type": "string"}}})
def get_draft(key: str, draft_id: int) -> tuple[dict[str, Any], int, dict[str, str]]:
    actor = current_actor()
    with runtime().db.read() as session:
        draft = route_drafts.get(session, actor, _key(key), draft_id)
        return route_drafts.draft_dict(session, draft), 200, {"ETag": f'"{draft.version}"'}


def _expected(body_version: int | None) -> int:
    """The draft version the editor worked on: the body's ``version`` or the ``If-Match`` header."""
    if body_version is not None:
        return body_version
    header = (request.headers.get("If-Match") or "").strip().removeprefix("W/").strip('"')
    if header.isdigit() and 0 < int(header) < 2**31:
        return int(header)
    raise BadRequest("Geef de versie waarop u bewerkte mee: het veld version of de header If-Match.")


@blp.route("/routes/<key>/drafts/<id:draft_id>", methods=["PUT"])
@blp.arguments(SaveDraftSchema)
@blp.response(200, DraftSchema, headers={"ETag": {"schema": {"type": "string"}}})
def save_draft(body: dict[str, Any], key: str, draft_id: int) -> tuple[dict[str, Any], int, dict[str, str]]:
    actor = current_actor()
    expected = _expected(body.get("version"))
    with runtime().db.transaction() as session:
        draft = route_drafts.save(session, actor, _key(key), draft_id, expected, body["bpmn"], body["forms"])
        return route_drafts.draft_dict(session, draft), 200, {"ETag": f'"{draft.version}"'}


@blp.route("/routes/<key>/drafts/<id:draft_id>/validate", methods=["POST"])
@blp.response(200, ValidationSchema)
def validate_draft(key: str, draft_id: int) -> dict[str, Any]:
    actor = current_actor()
    with runtime().db.read() as session:
        draft = route_drafts.get(session, actor, _key(key), draft_id)
        rows = route_drafts.problem_list(route_drafts.validate(session, draft))
    return {"ok": not rows, "problems": rows}


@blp.route("/routes/<key>/drafts/<id:draft_id>/publish", methods=["POST"])
@blp.arguments(PublishSchema)
@blp.response(201, PublishedSchema)
def publish_draft(body: dict[str, Any], key: str, draft_id: int) -> dict[str, Any]:
    actor = current_actor()
    with runtime().db.transaction() as session:
        done = route_drafts.publish_draft(session, actor, _key(key), draft_id, body["note"], body.get("version"))
    return {"route": done.key, "version": done.number, "sha256": done.sha256}
