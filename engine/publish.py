"""Publishing a route: the one code path by which a new immutable version comes to be (issue 11).

``loket processes deploy`` (a file on the server, via engine.routes.deploy) and the web publish of a draft
(engine.route_drafts) both end in ``publish``: the same checks, the same sha256, the same version numbering.
A version identical to one already published is not made twice. Route content that is not a file (a draft) is
checked by writing it to a private temporary folder laid out as processes/ is, so the checks are exactly those
of ``loket processes validate``.
"""

from __future__ import annotations

import importlib
import json
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from . import bpmn, clock
from .models import Route, RouteVersion, User, UserRole
from .validate import CheckResult, Problem, check
from .validate.coverage import lane_warnings


class RouteInvalid(Exception):
    """The route does not pass the checks (``problems``; under strict also ``warnings``)."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = problems


@dataclass(frozen=True)
class Deployment:
    key: str
    number: int
    sha256: str
    created: bool  # False when identical content was already deployed


def check_content(key: str, bpmn_text: str, forms: dict[str, Any], session: Session | None = None,
                  tenant_id: int | None = None) -> CheckResult:
    """``loket processes validate`` on route content held in memory (a draft). With an SWV (``tenant_id``) it also
    warns about user tasks in a lane that no active user of the SWV holds. Problems name ``<key>.bpmn`` or
    ``forms/<name>``, never the temporary folder."""
    with tempfile.TemporaryDirectory(prefix="loket-route-") as folder:
        root = Path(folder)
        (root / "forms").mkdir()
        for name, schema in forms.items():
            if Path(name).name == name and not name.startswith("."):  # a plain file name, or the check says so
                (root / "forms" / name).write_text(json.dumps(schema, ensure_ascii=False), encoding="utf-8")
        path = root / f"{key}.bpmn"
        path.write_bytes(bpmn_text.encode("utf-8"))
        result = check(path)
        prefix = f"{folder}/"
        result.problems = [_relative(p, prefix) for p in result.problems]
        result.warnings = [_relative(p, prefix) for p in result.warnings]
    if session is not None and tenant_id is not None and result.source is not None:
        try:
            root_element = bpmn.parse_xml(result.source.bpmn)
        except Exception:  # a document that does not parse has its problem reported already
            root_element = None
        if root_element is not None:
            result.warnings += lane_warnings(root_element, f"{key}.bpmn", staffed_roles(session, tenant_id))
    return result


def _relative(problem: Problem, prefix: str) -> Problem:
    return replace(problem, file=problem.file.removeprefix(prefix))


def staffed_roles(session: Session, tenant_id: int) -> set[str]:
    """The roles at least one active user of the SWV holds (primary or extra)."""
    primary = session.scalars(select(User.role).where(User.tenant_id == tenant_id, User.active.is_(True)))
    extra = session.scalars(select(UserRole.role).join(User, User.id == UserRole.user_id)
                            .where(User.tenant_id == tenant_id, User.active.is_(True)))
    return set(primary) | set(extra)


def scenario_failures(key: str, result: CheckResult) -> list[Problem]:
    """The route's scenarios that fail against this content, if the scenario runner (engine.scenarios, issue 11's
    'Try') is installed and offers ``failures_for(key, bpmn, forms) -> list[str]``; none otherwise."""
    try:
        scenarios = importlib.import_module("engine.scenarios")
    except ImportError:
        return []
    run = getattr(scenarios, "failures_for", None)
    if run is None or result.source is None:
        return []
    return [Problem(f"{key}.bpmn", "", f"scenario faalt: {failure}")
            for failure in run(key, result.source.bpmn.decode(), result.source.forms)]


def publish(session: Session, result: CheckResult, *, strict: bool = False, note: str | None = None,
            published_by: int | None = None, run_scenarios: bool = False) -> Deployment:
    """Store checked route content as a new version (or find the identical one). Raises RouteInvalid on problems,
    and under ``strict`` on warnings too; with ``run_scenarios`` also on a failing scenario."""
    refusals = list(result.problems) + (list(result.warnings) if strict else [])
    source, parsed = result.source, result.parsed
    if refusals or source is None or parsed is None:
        raise RouteInvalid(refusals or [Problem("", "", "de route kon niet worden gelezen")])
    existing = session.scalar(select(RouteVersion).where(RouteVersion.sha256 == source.sha256))
    if existing is not None:  # already published: its scenarios ran then
        return Deployment(existing.route.key, existing.number, existing.sha256, created=False)
    if run_scenarios:
        failures = scenario_failures(source.key, result)
        if failures:
            raise RouteInvalid(failures)
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
        published_by_id=published_by, note=note,
    )
    session.add(version)
    session.flush()
    return Deployment(route.key, number, source.sha256, created=True)
