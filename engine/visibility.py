"""Need to know: which cases (and so which tasks, events, states and audit reads) a user may read.

The one place that decides it. Every case read goes through ``case_for`` (``engine.permissions`` and the
runtime call it), every list through ``case_scope``/``task_scope``. A user with several roles reads what any of
its roles may read. Another SWV's case does not exist for the reader (404); a case of its own SWV outside its
need to know is forbidden (403), as a school reading another school's case always was.

=================  =============================================================================
role               reads
=================  =============================================================================
school             the cases of its own school
consulent          every case of the SWV
commissie          every case of the SWV
auditor            every case of the SWV (and changes nothing)
beheerder          every case of the SWV
leerplicht         the cases it is a party to: a task in its lane (open or done), or one given to it
                   (claimed, or delegated to it)
bestuurder         the cases with an escalation (an escalated task, or the case's term run out),
                   and those it is a party to; figures (engine.figures)
procesbeheerder    no case (routes and anonymous figures, engine.figures), except one it is a party to
=================  =============================================================================
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, false, or_, select, true
from sqlalchemy.orm import Session

from .auth import Actor
from .errors import Forbidden, NotFound
from .models import Case, Deadline, Task
from .vocabulary import SYSTEM_ROLE, DeadlineKind, DeadlineStatus, Role

# Roles that read every case of their SWV.
SWV_READERS = frozenset({Role.CONSULENT, Role.COMMISSIE, Role.AUDITOR, Role.BEHEERDER, SYSTEM_ROLE})
# Roles that read a case because they take part in it (every role but school, which reads by school).
PARTY_READERS = frozenset({Role.LEERPLICHT, Role.BESTUURDER, Role.PROCESBEHEERDER})
# Roles that read cases with an escalation.
ESCALATION_READERS = frozenset({Role.BESTUURDER})

# What each role may read and do, as the README's table shows it (kept here so the two are written together).
READS = {
    Role.SCHOOL: "dossiers van de eigen school",
    Role.CONSULENT: "alle dossiers van het SWV",
    Role.COMMISSIE: "alle dossiers van het SWV",
    Role.AUDITOR: "alle dossiers van het SWV, zonder iets te wijzigen",
    Role.BEHEERDER: "alle dossiers van het SWV",
    Role.LEERPLICHT: "dossiers waarin hij partij is",
    Role.BESTUURDER: "dossiers met een escalatie en waarin hij partij is",
    Role.PROCESBEHEERDER: "geen dossiers; routes en anonieme cijfers",
}


def reads_whole_swv(actor: Actor) -> bool:
    return not actor.roles.isdisjoint(SWV_READERS)


def _party(actor: Actor, case_id: Any) -> ColumnElement[bool]:
    """The case has a task in one of the actor's lanes (open or done), or one given to the actor. Written as IN
    over the tasks (ix_tasks_lane_case, ix_tasks_assignee): the few cases a party has are found from the tasks,
    not by probing every case of the SWV."""
    lanes = sorted(actor.roles & PARTY_READERS)
    found: list[ColumnElement[bool]] = []
    if lanes:
        found.append(case_id.in_(select(Task.case_id).where(Task.tenant_id == actor.tenant_id, Task.lane.in_(lanes))))
    if actor.user_id is not None:
        found.append(case_id.in_(select(Task.case_id).where(Task.assignee_id == actor.user_id)))
    return or_(*found) if found else false()


def _escalated(actor: Actor, case_id: Any) -> ColumnElement[bool]:
    """An escalated task (open or done; ix_tasks_escalated_case), or the case's own term fired."""
    return or_(
        case_id.in_(select(Task.case_id).where(Task.tenant_id == actor.tenant_id, Task.escalated.is_(True))),
        case_id.in_(select(Deadline.case_id).where(Deadline.tenant_id == actor.tenant_id,
                                                   Deadline.kind == DeadlineKind.CASE,
                                                   Deadline.status == DeadlineStatus.FIRED)),
    )


def case_scope(actor: Actor, case_id: Any = Case.id, school_id: Any = Case.school_id) -> ColumnElement[bool]:
    """The SQL condition for the cases of the actor's SWV it may read (on ``Case`` unless columns are given).
    The tenant itself is the caller's filter, so the condition can follow an index that starts with it."""
    if reads_whole_swv(actor):
        return true()
    allowed: list[ColumnElement[bool]] = []
    if Role.SCHOOL in actor.roles and actor.school_id is not None:
        allowed.append(school_id == actor.school_id)
    if not actor.roles.isdisjoint(ESCALATION_READERS):
        allowed.append(_escalated(actor, case_id))
    if not actor.roles.isdisjoint(PARTY_READERS):
        allowed.append(_party(actor, case_id))
    return or_(*allowed) if allowed else false()


def task_scope(actor: Actor) -> ColumnElement[bool]:
    """The SQL condition for the tasks (of the actor's SWV) whose case the actor may read."""
    return case_scope(actor, Task.case_id, Task.school_id)


def can_read(session: Session, actor: Actor, case: Case) -> bool:
    """May the actor read this case (of any SWV)?"""
    if case.tenant_id != actor.tenant_id:
        return False
    if reads_whole_swv(actor):
        return True
    if Role.SCHOOL in actor.roles and actor.school_id is not None and actor.school_id == case.school_id:
        return True
    scope = case_scope(actor, Case.id, Case.school_id)
    return bool(session.scalar(select(Case.id).where(Case.id == case.id, scope)))


def case_for(session: Session, actor: Actor, case_id: int) -> Case:
    """A case the actor may read; another SWV's case is unknown (404), one outside its need to know forbidden."""
    case = session.get(Case, case_id)
    if case is None or case.tenant_id != actor.tenant_id:
        raise NotFound(f"Dossier {case_id} bestaat niet.")
    if not can_read(session, actor, case):
        raise Forbidden("U heeft geen toegang tot dit dossier.")
    return case


def check_task(session: Session, actor: Actor, task: Task | None, task_id: str, case: Case | None = None) -> None:
    """A task is read like its case: another SWV's is unknown (404), one outside the need to know forbidden."""
    if task is None or task.tenant_id != actor.tenant_id:
        raise NotFound(f"Taak {task_id} bestaat niet.")
    if reads_whole_swv(actor):
        return
    if Role.SCHOOL in actor.roles and task.school_id == actor.school_id and actor.school_id is not None:
        return
    if actor.roles == {Role.SCHOOL}:
        raise Forbidden("Deze taak hoort bij een andere school.")
    case = case or session.get(Case, task.case_id)
    if case is None or not can_read(session, actor, case):
        raise Forbidden("U heeft geen toegang tot deze taak.")
