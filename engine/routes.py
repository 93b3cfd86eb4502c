"""Deployed routes: immutable versions identified by the sha256 of their BPMN and forms."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from . import bpmn
from .errors import NotFound
from .models import Case, Route, RouteVersion
from .publish import Deployment, RouteInvalid, publish  # noqa: F401  (RouteInvalid: re-exported)
from .validate import check
from .vocabulary import CaseStatus


def deploy(session: Session, path: Path, strict: bool = False) -> Deployment:
    """Deploy one route file as a new version; identical content is a no-op. Raises RouteInvalid. The same code
    path as the web publish of a draft (engine.publish); ``strict`` refuses as a publish does: on warnings and
    on a failing scenario of the route."""
    return publish(session, check(path), strict=strict, run_scenarios=strict)


def deploy_dir(session: Session, directory: Path) -> list[Deployment]:
    return [deploy(session, path) for path in sorted(directory.glob("*.bpmn"))]


def latest_version(session: Session, key: str) -> RouteVersion:
    version = session.scalar(
        select(RouteVersion).join(Route).where(Route.key == key).order_by(RouteVersion.number.desc()).limit(1)
    )
    if version is None:
        raise NotFound(f"Route '{key}' bestaat niet.")
    return version


@dataclass(frozen=True)
class VersionInfo:
    key: str
    title: str
    number: int
    sha256: str
    deployed_at: str
    open_cases: int
    latest: bool


def list_versions(session: Session, tenant_id: int | None = None) -> list[VersionInfo]:
    """Every route version with its number of open cases (of one tenant, or of all)."""
    open_count = (
        select(Case.route_version_id, func.count().label("n"))
        .where(Case.status != CaseStatus.CLOSED)
        .group_by(Case.route_version_id)
    )
    if tenant_id is not None:
        open_count = open_count.where(Case.tenant_id == tenant_id)
    counts = open_count.subquery()
    rows = session.execute(
        select(RouteVersion, func.coalesce(counts.c.n, 0))
        .join(Route)
        .outerjoin(counts, counts.c.route_version_id == RouteVersion.id)
        .order_by(Route.key, RouteVersion.number)
    ).all()
    latest: dict[str, int] = {}
    for version, _ in rows:
        latest[version.route.key] = max(latest.get(version.route.key, 0), version.number)
    return [
        VersionInfo(v.route.key, v.title, v.number, v.sha256, v.deployed_at.isoformat(), n,
                    v.number == latest[v.route.key])
        for v, n in rows
    ]


def start_form(version: RouteVersion) -> dict | None:
    """The JSON Schema of the route's start event, if it has one."""
    route = bpmn.loaded(version)
    for task_spec in route.spec.task_specs.values():
        if type(task_spec).__name__ == "StartEvent":
            return route.form(bpmn.properties(task_spec).get("formJsonSchemaFilename"))
    return None
