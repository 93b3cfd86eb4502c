"""The case list: every case a user may see (``engine.visibility``), searched, filtered, sorted and paged.

``GET /api/v1/cases`` and the ``/cases`` page answer from the same ``list_cases``.

Indexes (migration 0005): the list reads ``ix_cases_tenant_opened`` (tenant_id, opened_at, id) in order, newest
first, and stops at the page; for a school user ``ix_cases_tenant_school_opened`` (tenant_id, school_id,
opened_at, id). A status filter may use ``ix_cases_tenant_status`` instead. Need to know for leerplicht and
bestuurder is an IN over the case ids found from the tasks once per query (``ix_tasks_lane_case``,
``ix_tasks_assignee``, ``ix_tasks_escalated_case``), checked per case while the index is walked. A search on
the pupil's name reads an index on the name as one text (``engine.name_search``, migration 0009:
``ix_cases_pupil_name``, trigrams on PostgreSQL), not the data of each case; a case number is the primary key.
Measured with bench/case_list.py (100,000 cases, 5 SWVs): every list per role, filtered and paged, p95 under
11 ms on SQLite and PostgreSQL but for a name search (before the name index) and, on PostgreSQL, a status filter
for a role that sees few cases (~65 ms: status is not in the index walked).
Case is ignored for every letter on PostgreSQL; SQLite's lower() folds only A-Z, so there "Özil" is found by
"Özil" or "zil", not by "özil".
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.orm import Session

from . import name_search, visibility
from .auth import Actor
from .errors import BadRequest
from .models import Case, Route, RouteVersion, School
from .vocabulary import CaseStatus

# newest first is the default; every order ends on the id, so a page never shows a case twice or skips one.
SORTS = {
    "newest": (Case.opened_at.desc(), Case.id.desc()),
    "oldest": (Case.opened_at.asc(), Case.id.asc()),
    "due": (Case.due_at.is_(None), Case.due_at.asc(), Case.id.desc()),
}
STATUSES = tuple(status.value for status in CaseStatus)
MAX_LIMIT = 500
MAX_QUERY = 200
# Case numbers as people type them: 12, #12.
_NUMBER = re.compile(r"#?(\d{1,9})")


@dataclass(frozen=True)
class CasePage:
    cases: list[Case]
    total: int


def pupil_name(data: dict[str, Any] | None) -> str | None:
    """The pupil's name as the start form holds it (voornaam, tussenvoegsel, achternaam), or None."""
    pupil = (data or {}).get("leerling")
    if not isinstance(pupil, dict):
        return None
    parts = [pupil.get(key) for key in ("voornaam", "tussenvoegsel", "achternaam")]
    name = " ".join(str(part).strip() for part in parts if isinstance(part, str) and part.strip())
    return name or None


def _pupil_text(dialect: str) -> ColumnElement[str]:
    """The pupil's name parts as one lower-case text to search in: engine.name_search's expression, which
    migration 0009 indexes (a trigram index on PostgreSQL, the SWV's entries on SQLite), so a search reads the
    index and not the data of every case."""
    return name_search.pupil_text(dialect)


def _search(q: str, dialect: str) -> ColumnElement[bool]:
    """Each word of ``q`` in the pupil's name (any part, any case), or ``q`` as the case number."""
    name = _pupil_text(dialect)
    by_name = and_(*[name.contains(word, autoescape=True) for word in q.lower().split()])
    number = _NUMBER.fullmatch(q)
    return or_(Case.id == int(number.group(1)), by_name) if number else by_name


def list_cases(session: Session, actor: Actor, *, q: str | None = None, route: str | None = None,
               status: str | None = None, school: str | None = None, offset: int = 0, limit: int = 50,
               sort: str = "newest") -> CasePage:
    """The page of cases this actor may see that match; ``total`` counts every match (for paging).
    ``school`` is a school code; an unknown route or school gives an empty page, not an error."""
    if not 1 <= limit <= MAX_LIMIT or offset < 0:
        raise BadRequest(f"limit moet tussen 1 en {MAX_LIMIT} liggen en offset mag niet negatief zijn.")
    if sort not in SORTS:
        raise BadRequest(f"Onbekende sortering '{sort}'; kies uit {', '.join(SORTS)}.")
    if status is not None and status not in STATUSES:
        raise BadRequest(f"Onbekende status '{status}'; kies uit {', '.join(STATUSES)}.")
    where: list[ColumnElement[bool]] = [Case.tenant_id == actor.tenant_id, visibility.case_scope(actor)]
    if q is not None and q.strip():
        if len(q) > MAX_QUERY:
            raise BadRequest(f"De zoekterm is te lang (hoogstens {MAX_QUERY} tekens).")
        where.append(_search(q.strip(), session.get_bind().dialect.name))
    if route:
        where.append(Case.route_version_id.in_(
            select(RouteVersion.id).join(Route, Route.id == RouteVersion.route_id).where(Route.key == route)))
    if status:
        where.append(Case.status == status)
    if school:
        where.append(Case.school_id.in_(
            select(School.id).where(School.tenant_id == actor.tenant_id, School.code == school)))
    total = session.scalar(select(func.count()).select_from(Case).where(*where)) or 0
    # The page's ids first: walking the index, a case that the need to know leaves out costs no read of its row
    # (an index-only scan); then the page's cases themselves, by id.
    ids = list(session.scalars(select(Case.id).where(*where).order_by(*SORTS[sort]).limit(limit).offset(offset)))
    found = {case.id: case for case in session.scalars(select(Case).where(Case.id.in_(ids)))} if ids else {}
    return CasePage([found[case_id] for case_id in ids if case_id in found], total)


def case_summary(case: Case) -> dict[str, Any]:
    """A case as the list shows it: no form data beyond the pupil's name."""
    return {
        "id": case.id,
        "route": case.route_version.route.key,
        "title": case.route_version.title,
        "pupil": pupil_name(case.data),
        "school": case.school.code if case.school else None,
        "status": case.status,
        "outcome": case.outcome,
        "opened_at": case.opened_at.isoformat(),
        "due_at": case.due_at.isoformat() if case.due_at else None,
        "closed_at": case.closed_at.isoformat() if case.closed_at else None,
    }
