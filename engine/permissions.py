"""Who may act on what: a case or task the actor may read (``engine.visibility``), open for work, in one of the
actor's roles (the task's lane picks which one acts), and not kept apart from what it did (``engine.duties``)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from . import duties, visibility
from .auth import Actor
from .errors import Conflict, Forbidden, NotFound
from .models import Case, Task
from .projection import TaskRow
from .vocabulary import OPEN_TASK, CaseStatus, Role, TaskStatus

# Who may stop, restart and extend a case's clock.
CLOCK_ROLES = (Role.CONSULENT, Role.COMMISSIE, Role.BESTUURDER, Role.BEHEERDER)


def case_for(session: Session, actor: Actor, case_id: int) -> Case:
    """A case the actor may read; another SWV's case is unknown (404), one outside its need to know forbidden."""
    return visibility.case_for(session, actor, case_id)


def task_for(session: Session, actor: Actor, task_id: str) -> Task:
    """A task the actor may read (as its case): another SWV's is unknown (404), another school's forbidden."""
    task = session.get(Task, task_id)
    visibility.check_task(session, actor, task, task_id)
    assert task is not None
    return task


def task_and_case(session: Session, actor: Actor, task_id: str) -> tuple[Task, Case]:
    """A task the actor may read and its case, read in one statement."""
    found = session.execute(select(Task, Case).join(Case, Case.id == Task.case_id).where(Task.id == task_id)).first()
    visibility.check_task(session, actor, found[0] if found else None, task_id, found[1] if found else None)
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


def acting(actor: Actor, task: Task | TaskRow) -> Actor:
    """The actor in the role the task's lane asks for (Forbidden if it holds none); events record that role."""
    if not task.lane:
        return actor
    if task.lane not in actor.roles:
        raise Forbidden(f"Deze taak is voor de rol {task.lane}.")
    return actor.acting_as(task.lane)


def work(session: Session, actor: Actor, task_id: str) -> tuple[Task, Case, Actor]:
    """The open task, its case and the actor in the task's lane, if this actor may work on it: its SWV and
    school, a lane among its roles, and not kept apart from a step of the case it did (separated duties)."""
    task, case = task_and_case(session, actor, task_id)
    writable_case(session, task, case)
    worker = acting(actor, task)
    duties.check(session, actor, case, task.name, task.title)
    return task, case, worker


def workable(session: Session, actor: Actor, task_id: str) -> tuple[Task, Case]:
    """The open task and its case, if this actor may work on it (see ``work``)."""
    task, case, _ = work(session, actor, task_id)
    return task, case


def may_work(actor: Actor, task: Task | TaskRow) -> bool:
    """Could this actor pick up the task now: their SWV, school and lane, not claimed by someone else. Separated
    duties need the case's history: ``offered`` applies them too."""
    return (task.tenant_id == actor.tenant_id and task.status in OPEN_TASK
            and (Role.SCHOOL not in actor.roles or task.school_id == actor.school_id)
            and (not task.lane or task.lane in actor.roles)
            and task.assignee_id in (None, actor.user_id))


def offered(session: Session, actor: Actor, case: Case, tasks: list[TaskRow]) -> list[TaskRow]:
    """The tasks of one case the actor could pick up now, separated duties included."""
    return [t for t in tasks if may_work(actor, t) and not duties.kept_apart(session, actor, case, t.name)]
