"""Zaken overzetten (issue 11): preview and move the SWV's open cases of one route version onto another.

For a procesbeheerder or beheerder, and only the cases of its own SWV; the preview names per case its open tasks
and whether (and why not) it can move, never who the pupil is.
"""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, validate

from engine import migration
from engine.auth import Actor
from engine.models import Case
from engine.routes import latest_version

from . import MAX_ID, Blueprint, StrictSchema, current_actor, runtime

blp = Blueprint("migration", __name__, description="Zaken overzetten naar een andere routeversie")

NUMBER = validate.Range(1, MAX_ID)


class MigrationQuery(StrictSchema):
    from_version = fields.Integer(required=True, data_key="from", validate=NUMBER, metadata={
        "description": "De versie waar de dossiers nu op lopen."})
    to_version = fields.Integer(load_default=None, data_key="to", validate=NUMBER, metadata={
        "description": "De versie waar ze naartoe gaan (standaard de nieuwste)."})


class MigrateSchema(MigrationQuery):
    cases = fields.List(fields.Integer(validate=NUMBER), load_default=None, validate=validate.Length(max=100_000),
                        metadata={"description": "Alleen deze dossiers (standaard: alle lopende op de versie)."})


class VerdictSchema(Schema):
    case_id = fields.Integer()
    tasks = fields.List(fields.String(), metadata={"description": "De titels van de open taken."})
    can = fields.Boolean(metadata={"description": "Kan over (preview) of is over (na overzetten)."})
    reason = fields.String(allow_none=True, metadata={"description": "Waarom niet, in het Nederlands."})
    remarks = fields.List(fields.String(), metadata={"description": "Wat er verandert, bv. een termijn."})
    undo = fields.Boolean(metadata={"description": "Terug naar de versie waar het dossier vandaan kwam."})
    moved = fields.Boolean()


class MigrationSchema(Schema):
    route = fields.String()
    from_version = fields.Integer(data_key="from", attribute="from")
    to_version = fields.Integer(data_key="to", attribute="to")
    dry_run = fields.Boolean(metadata={"description": "Een preview: er is niets overgezet."})
    total = fields.Integer()
    can = fields.Integer()
    cannot = fields.Integer()
    moved = fields.Integer()
    cases = fields.List(fields.Nested(VerdictSchema))


def _target(key: str, to_version: int | None) -> int:
    if to_version is not None:
        return to_version
    with runtime().db.read() as session:
        return latest_version(session, key).number


def _owner() -> Actor:
    actor = current_actor()
    migration.authorize(actor)
    return actor.acting_as(next(r for r in migration.MIGRATE_ROLES if actor.has(r)))


@blp.route("/routes/<key>/migration", methods=["GET"])
@blp.arguments(MigrationQuery, location="query")
@blp.response(200, MigrationSchema)
def preview_migration(query: dict[str, Any], key: str) -> dict[str, Any]:
    actor = _owner()
    outcome = migration.Migrator(runtime()).preview(key, query["from_version"], _target(key, query["to_version"]),
                                                    tenant_id=actor.tenant_id)
    return outcome.to_json()


@blp.route("/routes/<key>/migration", methods=["POST"])
@blp.arguments(MigrateSchema)
@blp.response(200, MigrationSchema)
def migrate(body: dict[str, Any], key: str) -> dict[str, Any]:
    actor = _owner()

    def actor_for(case: Case) -> Actor:
        return actor

    outcome = migration.Migrator(runtime()).migrate(key, body["from_version"], _target(key, body["to_version"]),
                                                    actor_for, tenant_id=actor.tenant_id, case_ids=body["cases"])
    return outcome.to_json()
