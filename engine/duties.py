"""Separated duties: a user task that must be done by someone other than whoever completed named other tasks of
the same case (the ``separateFrom`` extension property, see ``engine.bpmn``). In tlv-vso the commission's
``besluit`` is not taken by the person who did the ``dossiercheck`` or the ``knooppuntoverleg``.

Checked when a task is claimed, completed or delegated (``engine.permissions``), and kept out of the inbox and
of what a user is offered next, so nobody is shown work they may not do."""

from __future__ import annotations

import threading

from sqlalchemy import ColumnElement, and_, exists, false, or_, select
from sqlalchemy.orm import Session, aliased

from . import bpmn
from .auth import Actor
from .errors import Forbidden
from .models import Case, RouteVersion, Task
from .workflow import spec_kind


class SeparationOfDuties(Forbidden):
    """A task the user may not do because they did another step of the case it must be kept apart from."""

    code = "separation_of_duties"


# Per route version (by content hash, so it holds in every database): {task id: task ids it is kept apart from}.
_rules: dict[str, dict[str, tuple[str, ...]]] = {}
_lock = threading.Lock()


def rules_of(version: RouteVersion) -> dict[str, tuple[str, ...]]:
    found = _rules.get(version.sha256)
    if found is None:
        specs = bpmn.loaded(version).spec.task_specs.values()
        found = {ts.name: names for ts in specs if spec_kind(ts) == "UserTask" and (names := bpmn.separate_from(ts))}
        with _lock:
            _rules[version.sha256] = found
    return found


def kept_apart(session: Session, actor: Actor, case: Case, task_name: str) -> list[str]:
    """The titles of the tasks of this case the actor completed that ``task_name`` must be kept apart from."""
    names = rules_of(case.route_version).get(task_name)
    if not names or actor.user_id is None:
        return []
    done = session.scalars(select(Task.title).where(Task.case_id == case.id, Task.completed_by == actor.user_id,
                                                    Task.name.in_(names)).order_by(Task.created_at))
    return list(dict.fromkeys(done))


def check(session: Session, actor: Actor, case: Case, task_name: str, title: str, who: str = "U") -> None:
    """SeparationOfDuties (403) when ``actor`` completed a task of the case that this one is kept apart from."""
    done = kept_apart(session, actor, case, task_name)
    if done:
        steps = " en ".join(f"'{t}'" for t in done)
        raise SeparationOfDuties(
            f"{who} mag '{title}' niet doen: {'u heeft' if who == 'U' else 'die heeft'} in dit dossier al {steps} "
            "gedaan, en deze stappen moeten door verschillende personen worden gedaan (functiescheiding).",
            {"task": task_name, "done": done})


def blocked(session: Session, actor: Actor) -> ColumnElement[bool]:
    """The SQL condition for open tasks (``Task``) the actor may not do because of separated duties."""
    if actor.user_id is None:
        return false()
    by_rule: dict[tuple[str, tuple[str, ...]], list[RouteVersion]] = {}
    of_route: dict[str, set[int]] = {}
    for version in session.scalars(select(RouteVersion)):
        of_route.setdefault(version.route.key, set()).add(version.id)
        for name, names in rules_of(version).items():
            by_rule.setdefault((name, names), []).append(version)
    done = aliased(Task)
    # What the actor did first (ix_tasks_done_case answers from the index, and is mostly no), the route after.
    conditions = [
        and_(Task.name == name,
             exists(select(done.id).where(done.case_id == Task.case_id, done.completed_by == actor.user_id,
                                          done.name.in_(names))),
             _of_versions(versions, of_route))
        for (name, names), versions in sorted(by_rule.items())
    ]
    return or_(*conditions) if conditions else false()


def _of_versions(versions: list[RouteVersion], of_route: dict[str, set[int]]) -> ColumnElement[bool]:
    """The task's case runs one of ``versions``. A route all of whose versions are among them is the task's own
    route key (a column of the task, in ix_tasks_open_inbox); only for the others is the case's version read,
    per task as a scalar (as an EXISTS PostgreSQL would hash every case of those versions)."""
    ids = {version.id for version in versions}
    whole = sorted({v.route.key for v in versions if of_route[v.route.key] <= ids})
    rest = sorted(v.id for v in versions if v.route.key not in whole)
    found: list[ColumnElement[bool]] = [Task.route_key.in_(whole)] if whole else []
    if rest:
        found.append(select(Case.route_version_id).where(Case.id == Task.case_id).scalar_subquery().in_(rest))
    return or_(*found)
