"""Deployed routes: immutable versions identified by the sha256 of their BPMN and forms."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from . import bpmn, clock
from .errors import NotFound
from .models import Case, Route, RouteVersion
from .validate import CheckResult, Problem, check
from .vocabulary import CaseStatus


class RouteInvalid(Exception):
    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = problems


@dataclass(frozen=True)
class Deployment:
    key: str
    number: int
    sha256: str
    created: bool  # False when identical content was already deployed


def deploy(session: Session, path: Path) -> Deployment:
    """Deploy one route file as a new version; identical content is a no-op. Raises RouteInvalid."""
    result: CheckResult = check(path)
    source, parsed = result.source, result.parsed
    if not result.ok or source is None or parsed is None:  # an ok result has both: this says so to mypy
        raise RouteInvalid(result.problems)
    existing = session.scalar(select(RouteVersion).where(RouteVersion.sha256 == source.sha256))
    if existing is not None:
        return Deployment(existing.route.key, existing.number, existing.sha256, created=False)
    route = session.scalar(select(Route).where(Route.key == source.key))
    now = clock.now()
    if route is None:
        route = Route(key=source.key, title=parsed.title, created_at=now)
        session.add(route)
        session.flush()
    route.title = parsed.title
    number = (session.scalar(select(func.max(RouteVersion.number)).where(RouteVersion.route_id == route.id)) or 0) + 1
    version = RouteVersion(
        route_id=route.id, number=number, sha256=source.sha256, process_id=parsed.process_id, title=parsed.title,
        bpmn=source.bpmn.decode(), forms=source.forms, spec=bpmn.dump_spec(parsed), deployed_at=now,
    )
    session.add(version)
    session.flush()
    return Deployment(route.key, number, source.sha256, created=True)


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
