"""Who may act on what: a case or task in the actor's scope, open for work, in the actor's lane."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from .auth import Actor, can_read_case
from .errors import Conflict, Forbidden, NotFound
from .models import Case, Task
from .projection import TaskRow
from .vocabulary import OPEN_TASK, CaseStatus, Role, TaskStatus

# Who may stop, restart and extend a case's clock.
CLOCK_ROLES = (Role.CONSULENT, Role.COMMISSIE, Role.BESTUURDER, Role.BEHEERDER)


def case_for(session: Session, actor: Actor, case_id: int) -> Case:
    """A case the actor may read; another SWV's case is unknown (404), another school's forbidden."""
    case = session.get(Case, case_id)
    if case is None or case.tenant_id != actor.tenant_id:
        raise NotFound(f"Dossier {case_id} bestaat niet.")
    if not can_read_case(actor, case):
        raise Forbidden("U heeft geen toegang tot dit dossier.")
    return case


def task_for(session: Session, actor: Actor, task_id: str) -> Task:
    task = session.get(Task, task_id)
    _in_scope(actor, task, task_id)
    assert task is not None
    return task


def _in_scope(actor: Actor, task: Task | None, task_id: str) -> None:
    """Another SWV's task is unknown (404), another school's forbidden."""
    if task is None or task.tenant_id != actor.tenant_id:
        raise NotFound(f"Taak {task_id} bestaat niet.")
    if actor.role == Role.SCHOOL and task.school_id != actor.school_id:
        raise Forbidden("Deze taak hoort bij een andere school.")


def task_and_case(session: Session, actor: Actor, task_id: str) -> tuple[Task, Case]:
    """A task in the actor's scope and its case, read in one statement."""
    found = session.execute(select(Task, Case).join(Case, Case.id == Task.case_id).where(Task.id == task_id)).first()
    _in_scope(actor, found[0] if found else None, task_id)
    assert found is not None
    return found[0], found[1]


def writable_case(session: Session, task: Task, case: Case | None = None) -> Case:
    """The case of an open task, if the case accepts work now."""
    if task.status not in OPEN_TASK:
        done = task.status == TaskStatus.COMPLETED
        raise Conflict("Deze taak is al afgerond." if done else "Deze taak is vervallen.")
    case = case or session.get(Case, task.case_id)
    if case is None:
        raise NotFound(f"Dossier {task.case_id} bestaat niet.")
    if case.status == CaseStatus.INCIDENT:
        raise Conflict("Dit dossier heeft een incident; een beheerder moet het eerst oplossen.")
    if case.status == CaseStatus.SUSPENDED:
        raise Conflict("Dit dossier is opgeschort; hervat het eerst.")
    if case.status == CaseStatus.CLOSED:
        raise Conflict("Dit dossier is gesloten.")
    return case


def workable(session: Session, actor: Actor, task_id: str) -> tuple[Task, Case]:
    """The open task and its case, if this actor may work on it (lane = role, own school)."""
    task, case = task_and_case(session, actor, task_id)
    writable_case(session, task, case)
    if task.lane and actor.role != task.lane:
        raise Forbidden(f"Deze taak is voor de rol {task.lane}.")
    return task, case


def may_work(actor: Actor, task: Task | TaskRow) -> bool:
    """Could this actor pick up the task now: their SWV, school and lane, not claimed by someone else."""
    return (task.tenant_id == actor.tenant_id and task.status in OPEN_TASK
            and (actor.role != Role.SCHOOL or task.school_id == actor.school_id)
            and (not task.lane or task.lane == actor.role)
            and task.assignee_id in (None, actor.user_id))
