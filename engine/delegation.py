"""Delegation: hand a task you have claimed to a named colleague who may do it, as an event on the case.

The colleague is an active user of the same SWV holding the task's lane role, of the same school for a school
task, and not kept from the task by separated duties (``engine.duties``). The ``task_delegated`` event (payload:
``to``, the colleague's user id, and ``to_email``) sets the task's assignee in the projection, so a replay gives
the same inbox."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from . import duties, permissions
from .auth import Actor, actor_for
from .errors import Conflict, InvalidData
from .models import Task, User
from .vocabulary import EventType, Role

if TYPE_CHECKING:
    from .cases import Runtime


def _problem(message: str) -> InvalidData:
    return InvalidData("U kunt de taak niet aan deze gebruiker overdragen.", {"user": [message]})


def colleague(session: Session, actor: Actor, task: Task, who: int | str) -> User:
    """The user named by id or e-mail address who may take over the task (InvalidData, on ``user``, if not)."""
    if isinstance(who, int):
        user = session.get(User, who)
    else:
        user = session.scalar(select(User).where(func.lower(User.email) == who.strip().lower()))
    if user is None or user.tenant_id != actor.tenant_id:  # another SWV's user is as unknown as a missing one
        raise _problem(f"Gebruiker {who} bestaat niet.")
    if user.id == actor.user_id:
        raise _problem("Deze taak is al van u.")
    if not user.active:
        raise _problem(f"{user.email} is niet actief.")
    if task.lane and task.lane not in user.roles:
        raise _problem(f"{user.email} heeft de rol {task.lane} niet, die deze taak vraagt.")
    if Role.SCHOOL in user.roles and task.school_id != user.school_id:
        raise _problem(f"{user.email} hoort bij een andere school dan dit dossier.")
    return user


def delegate(rt: Runtime, actor: Actor, task_id: str, who: int | str) -> Task:
    """Hand the task the actor has claimed to a colleague; the event records the role the actor worked it in."""
    with rt.action() as session:
        task, case, worker = permissions.work(session, actor, task_id)
        if task.assignee_id != actor.user_id:
            raise Conflict("U kunt alleen een taak overdragen die u zelf heeft geclaimd; claim haar eerst.")
        user = colleague(session, actor, task, who)
        duties.check(session, actor_for(user), case, task.name, task.title, who=user.email)
        rt.recorder.record(session, rt.recorder.open(session, case), EventType.TASK_DELEGATED, worker, task=task,
                           payload={"to": user.id, "to_email": user.email})
        return task
