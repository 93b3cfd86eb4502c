"""The inbox as the web page shows it: engine.inbox's scopes (mine, my team's lane, all) with the page's extra
filters (school, free text on the pupil's name and the case number), sorts, the counts per tab, and per row what a
case worker needs to pick a task (pupil's initials, route, school, who claimed it) in the same statement."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, String, and_, cast, func, or_, select, true
from sqlalchemy.orm import Session, aliased

from . import clock, decision, duties, name_search, visibility
from .auth import Actor
from .errors import BadRequest
from .inbox import SCOPES, URGENT_FIRST
from .models import Case, Route, School, Task, User, UserRole
from .vocabulary import OPEN_TASK, Role

SORTS = ("termijn", "nieuwste", "dossier")
# The case a row's pupil comes from, under its own name: the scope's subqueries (separated duties) read Case too,
# and must not be correlated to this join.
_CASE = aliased(Case, name="inbox_case")
MAX_TEXT = 100


@dataclass(frozen=True)
class Filters:
    route: str | None = None
    school_id: int | None = None
    overdue: bool | None = None
    text: str | None = None


@dataclass(frozen=True)
class Row:
    task: Task
    pupil: dict[str, Any] | None
    school: str | None
    route_title: str
    assignee: str | None
    decision: dict[str, Any] | None = None  # the case's legal decision clock (engine.decision), for its column

    @property
    def initials(self) -> str:
        """The pupil as the inbox shows it: initials only (never a name in full, never a BSN)."""
        return initials(self.pupil)


def initials(pupil: dict[str, Any] | None) -> str:
    """``Sanne de Vries`` -> ``S.d.V.``: the first letter of every word of the name, capitals for first and last."""
    if not isinstance(pupil, dict):
        return "?"
    words = " ".join(str(pupil.get(k) or "") for k in ("voornaam", "tussenvoegsel", "achternaam")).split()
    if not words:
        return "?"
    letters = [w[0].upper() if n in (0, len(words) - 1) else w[0].lower() for n, w in enumerate(words)]
    return "".join(f"{letter}." for letter in letters)


@dataclass(frozen=True)
class Scopes:
    """The tabs, exactly as engine.inbox has them, built once per request: ``base`` holds for every tab (the SWV,
    open, a case the actor may read, its own school for a school user); ``tab`` adds each tab's own condition: mine
    (claimed by me), role (open in one of my lanes, free or mine, not kept from me by separated duties), all."""

    base: list[ColumnElement[bool]]
    tab: dict[str, ColumnElement[bool]]
    tenant_id: int


def scopes(session: Session, actor: Actor) -> Scopes:
    base = [Task.tenant_id == actor.tenant_id, Task.status.in_(OPEN_TASK), visibility.task_scope(actor)]
    if Role.SCHOOL in actor.roles:
        base.append(Task.school_id == actor.school_id)
    role = and_(Task.lane.in_(sorted(actor.roles)), or_(Task.assignee_id.is_(None), Task.assignee_id == actor.user_id),
                ~duties.blocked(session, actor))
    return Scopes(base, {"mine": Task.assignee_id == actor.user_id, "role": role, "all": true()}, actor.tenant_id)


def _filters(filters: Filters, tenant_id: int, dialect: str) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = []
    if filters.route:
        where.append(Task.route_key == filters.route)
    if filters.school_id is not None:
        where.append(Task.school_id == filters.school_id)
    if filters.overdue is not None:
        now = clock.now()
        where.append(and_(Task.due_at.is_not(None), Task.due_at < now) if filters.overdue
                     else or_(Task.due_at.is_(None), Task.due_at >= now))
    text = (filters.text or "").strip()[:MAX_TEXT]
    if text:
        words = text.lower().replace("#", " ").split()
        if any(_number(word) for word in words):
            where += [_text_match([word], tenant_id, dialect) for word in words]
        else:  # every word in the name: one search of the names for all words
            where.append(_text_match(words, tenant_id, dialect))
    return where


def _number(word: str) -> bool:
    return word.isdigit() and len(word) <= 9


def _text_match(words: list[str], tenant_id: int, dialect: str) -> ColumnElement[bool]:
    """Each word in the pupil's voornaam or achternaam, or a digit word (alone) as the case number. The cases are
    found first, through the index on the whole name (engine.name_search: a word is in the whole name when it is
    in one of its parts), and only their parts are read: not every case of every open task."""
    whole = name_search.pupil_text(dialect)
    named = select(Case.id).where(Case.tenant_id == tenant_id, *[whole.contains(word, autoescape=True)
                                                                 for word in words])
    named = named.where(*[or_(*[_name(part).contains(word, autoescape=True) for part in ("voornaam", "achternaam")])
                          for word in words])
    match: list[ColumnElement[bool]] = [Task.case_id.in_(named)]
    if len(words) == 1 and _number(words[0]):
        match.append(Task.case_id == int(words[0]))
    return or_(*match)


def _name(part: str) -> ColumnElement[str]:
    return func.lower(cast(Case.data[("leerling", part)].as_string(), String))


def search(session: Session, actor: Actor, *, scope: str = "role", filters: Filters | None = None,
           sort: str = "termijn", limit: int = 25, offset: int = 0,
           tabs: Scopes | None = None, totals: dict[str, int] | None = None) -> tuple[list[Row], dict[str, int]]:
    """One page of the tab ``scope``, and how many tasks each tab holds with these filters (one statement)."""
    filters = filters or Filters()
    if scope not in SCOPES:
        raise BadRequest(f"Onbekende scope '{scope}'; kies uit {', '.join(SCOPES)}.")
    if sort not in SORTS:
        raise BadRequest(f"Onbekende sortering '{sort}'; kies uit {', '.join(SORTS)}.")
    if not 1 <= limit <= 200 or offset < 0:
        raise BadRequest("limit moet tussen 1 en 200 liggen en offset mag niet negatief zijn.")
    tabs = tabs or scopes(session, actor)
    where = tabs.base + _filters(filters, actor.tenant_id, session.get_bind().dialect.name)
    totals = totals if totals is not None else counts(session, filters, tabs, where)
    order: Any = {
        "termijn": URGENT_FIRST,
        "nieuwste": [Task.created_at.desc(), Task.id],
        "dossier": [Task.case_id, Task.created_at, Task.id],
    }[sort]
    # The page's ids first, from the tasks alone (ix_tasks_open_inbox holds every column this reads), then the
    # page's rows with their case, school, route and assignee: joined for the page, not for every open task.
    # The ids as a table of their own that the join starts from: as ``IN (...)`` PostgreSQL joins every task
    # to its case first and keeps the page's after (a semi-join, ~300 ms at 300,000 tasks).
    page = (select(Task.id.label("page_id")).where(*where, tabs.tab[scope]).order_by(*order)
            .limit(limit).offset(offset).subquery("page"))
    query = (
        select(Task, _CASE.data["leerling"], School.name, Route.title, User.email, _CASE.decision)
        .select_from(page).join(Task, Task.id == page.c.page_id)
        .join(_CASE, _CASE.id == Task.case_id)
        .outerjoin(School, School.id == Task.school_id)
        .outerjoin(Route, Route.key == Task.route_key)
        .outerjoin(User, User.id == Task.assignee_id)
        .order_by(*order)
    )
    rows = [Row(task, pupil, school, title or task.route_key, email, decided)
            for task, pupil, school, title, email, decided in session.execute(query)]
    return rows, totals


def counts(session: Session, filters: Filters, tabs: Scopes,
           where: list[ColumnElement[bool]] | None = None) -> dict[str, int]:
    """How many tasks each tab holds with these filters, counted in one statement (COUNT ... FILTER per tab)."""
    if where is None:
        where = tabs.base + _filters(filters, tabs.tenant_id, session.get_bind().dialect.name)
    query = select(*(func.count().filter(tabs.tab[scope]) for scope in SCOPES)).select_from(Task)
    found = session.execute(query.where(*where)).one()
    return {scope: int(n or 0) for scope, n in zip(SCOPES, found, strict=True)}


def choices(session: Session, actor: Actor) -> tuple[list[tuple[str, str]], list[tuple[int, str]]]:
    """The routes and schools the filters offer: (key, title) and (id, name); a school user sees only its own."""
    routes = [(key, title) for key, title in session.execute(select(Route.key, Route.title).order_by(Route.title))]
    query = select(School.id, School.name).where(School.tenant_id == actor.tenant_id).order_by(School.name)
    if Role.SCHOOL in actor.roles:
        query = query.where(School.id == actor.school_id)
    return routes, [(sid, name) for sid, name in session.execute(query)]


def due_badge(task: Task, now: datetime | None = None) -> tuple[str, str] | None:
    """(text, look) of a task's due badge: the word carries the meaning, the colour only repeats it."""
    if task.status not in OPEN_TASK:
        return None
    now = now or clock.now()
    if task.escalated:
        return "geëscaleerd", "danger"
    if task.due_at is not None and task.due_at < now:
        return "te laat", "danger"
    if task.warn_at is not None and task.warn_at <= now:
        return "bijna", "warning"
    if task.due_at is not None:
        return f"termijn {clock.format_date(task.due_at)}", "neutral"
    return None


def decision_badge(state: dict[str, Any] | None, now: datetime | None = None) -> tuple[str, str] | None:
    """(text, look) of the case's legal decision term in an inbox row; None when it has none or it is decided."""
    view = decision.view(state, clock.local_date(now or clock.now()))
    if view is None or view["decided"]:
        return None
    due = clock.format_date(date.fromisoformat(view["due"]))
    if view["suspended"]:
        return f"beslistermijn opgeschort (aanvulling), nu tot {due}", "neutral"
    if view["late"]:
        return f"beslistermijn verstreken ({due})", "danger"
    if view["days_left"] is not None and view["days_left"] <= 7:
        return f"beslistermijn bijna om: {due}", "warning"
    return f"beslissen uiterlijk {due}", "neutral"


def colleagues(session: Session, actor: Actor, task: Task) -> list[tuple[int, str]]:
    """Whom the actor could hand the task to (engine.delegation checks it again): active users of the SWV holding
    the task's lane, of the task's school for a school task, the actor not included. (id, e-mail), by address."""
    query = select(User.id, User.email).where(User.tenant_id == actor.tenant_id, User.active.is_(True))
    if actor.user_id is not None:
        query = query.where(User.id != actor.user_id)
    if task.lane:
        query = query.where(or_(User.role == task.lane, User.id.in_(
            select(UserRole.user_id).where(UserRole.role == task.lane))))
    if task.lane == Role.SCHOOL:
        query = query.where(User.school_id == task.school_id)
    return [(uid, email) for uid, email in session.execute(query.order_by(User.email).limit(200))]
