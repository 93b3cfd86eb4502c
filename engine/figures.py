"""Anonymous figures per route: how many cases in each status and with each outcome, and the open work per step
(how much of it overdue or escalated). No names, no case numbers: what a procesbeheerder or bestuurder needs to
steer the process without reading dossiers (engine.visibility)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import Session

from . import clock
from .auth import Actor, require_role
from .models import Case, Route, RouteVersion, Task
from .vocabulary import OPEN_TASK, Role

# Everyone who works for the SWV as a whole; a school and leerplicht see their own cases instead.
FIGURE_ROLES = (Role.PROCESBEHEERDER, Role.BESTUURDER, Role.CONSULENT, Role.COMMISSIE, Role.AUDITOR,
                Role.BEHEERDER)


def figures(session: Session, actor: Actor) -> list[dict[str, Any]]:
    """Per route (by key): case counts by status and by outcome, and open tasks per step."""
    require_role(actor, *FIGURE_ROLES)
    out: dict[str, dict[str, Any]] = {}

    def route(key: str) -> dict[str, Any]:
        return out.setdefault(key, {"route": key, "cases": {}, "outcomes": {}, "open_tasks": []})

    by_case = session.execute(
        select(Route.key, Case.status, Case.outcome, func.count())
        .select_from(Case).join(RouteVersion, RouteVersion.id == Case.route_version_id)
        .join(Route, Route.id == RouteVersion.route_id)
        .where(Case.tenant_id == actor.tenant_id)
        .group_by(Route.key, Case.status, Case.outcome))
    for key, status, outcome, count in by_case:
        entry = route(key)
        entry["cases"][status] = entry["cases"].get(status, 0) + count
        if outcome is not None:
            entry["outcomes"][outcome] = entry["outcomes"].get(outcome, 0) + count
    now = clock.now()
    by_step = session.execute(
        select(Task.route_key, Task.name, func.count(),
               func.sum(case((and_(Task.due_at.is_not(None), Task.due_at < now), 1), else_=0)),
               func.sum(case((Task.escalated.is_(True), 1), else_=0)))
        .where(Task.tenant_id == actor.tenant_id, Task.status.in_(OPEN_TASK))
        .group_by(Task.route_key, Task.name).order_by(Task.route_key, Task.name))
    for key, name, count, overdue, escalated in by_step:
        route(key)["open_tasks"].append({"step": name, "open": count, "overdue": int(overdue or 0),
                                         "escalated": int(escalated or 0)})
    return [out[key] for key in sorted(out)]
