"""Zaken overzetten: moving open cases from one version of a route to another (issue 11, 'Migrate').

A case moves with SpiffWorkflow's own migration (``SpiffWorkflow.bpmn.util.diff``): the old and new spec are
aligned (by element id, and a renamed element by its place between the same neighbours), every task of the case
gets its new spec, and the ready and waiting branches are predicted again on the new route. A case can move when
every task it has done or is doing exists in the new version; it cannot when a ready (or claimed) task, a waiting
timer or done work has no counterpart there, when it is in incident, when a claimed task moves to another role,
when a ready task's changed form no longer fits the case data, or when a condition ahead on the new route reads
data the case neither holds nor will be asked for.

What moves is one ``case_migrated`` event per case, in its own transaction: from/to version and sha256, and per
open task its name, lane and terms before and after. Terms (decided here, documented in processes.md):
- an unchanged task keeps its due and warning moments exactly (also an escalation already fired stays fired);
- a task whose term expression changed moves its due moment by the difference between the new and the old term,
  both counted from the day the task became ready on the SWV's calendar now (so an opschorting or a
  verlenging already in its due moment is kept); a term that is new is counted from that day; a term that is
  gone cancels its pending warning and escalation; the warning follows the new due moment;
- a waiting timer of an unchanged element keeps its moment; a changed one is armed again from the migration.
Replay repeats the engine migration at the event (same task ids: ``engine.workflow.task_ids``) and takes the
terms and timer moments from the payload, so the calendar of the day of the migration is what counts.

Undo: migrating a case back to the version it came from is allowed while its ``case_migrated`` is still its
last event; the terms and timers return to exactly what they were before it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from SpiffWorkflow.util.task import TaskState
from sqlalchemy import select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from . import bpmn, clock, projection_store
from .auth import Actor, require_role
from .errors import InvalidData, LoketError, NotFound
from .migration_plan import CannotMove, Diffs, Move, move_workflow, plan_case  # noqa: F401  (re-exported)
from .models import Case, Event, Route, RouteVersion
from .projection import TaskRow
from .recording import CASES
from .vocabulary import CaseStatus, EventType, Role
from .workflow import all_tasks, jsonable, task_ids

if TYPE_CHECKING:
    from .cases import Runtime

log = logging.getLogger(__name__)

# Who may move the cases of an SWV (the API and the page; the command line acts as beheerder).
MIGRATE_ROLES = (Role.PROCESBEHEERDER, Role.BEHEERDER)
# Cases whose rows a preview reads at once.
_CHUNK = 500


# ---------------------------------------------------------------- many cases: preview and migrate


@dataclass
class Verdict:
    """One case in a preview or migration: can it move (or did it), and why not."""

    case_id: int
    tenant: str
    tasks: list[str]
    can: bool
    reason: str | None = None
    remarks: list[str] = field(default_factory=list)
    undo: bool = False
    moved: bool = False

    def to_json(self) -> dict[str, Any]:
        return {"case_id": self.case_id, "tasks": self.tasks, "can": self.can, "reason": self.reason,
                "remarks": self.remarks, "undo": self.undo, "moved": self.moved}


@dataclass
class Outcome:
    route: str
    from_version: int
    to_version: int
    cases: list[Verdict]
    dry_run: bool

    @property
    def can(self) -> int:
        return sum(1 for v in self.cases if v.can)

    @property
    def moved(self) -> int:
        return sum(1 for v in self.cases if v.moved)

    def to_json(self) -> dict[str, Any]:
        return {"route": self.route, "from": self.from_version, "to": self.to_version, "dry_run": self.dry_run,
                "total": len(self.cases), "can": self.can, "cannot": len(self.cases) - self.can,
                "moved": self.moved, "cases": [v.to_json() for v in self.cases]}


def versions(session: Session, route_key: str, from_number: int, to_number: int) -> tuple[RouteVersion, RouteVersion]:
    """The two versions of one route; a request that cannot mean anything is refused whole (nothing moves)."""
    route = session.scalar(select(Route).where(Route.key == route_key))
    if route is None:
        raise NotFound(f"Route '{route_key}' bestaat niet.")
    if from_number == to_number:
        raise InvalidData("Van- en naar-versie zijn gelijk: er valt niets over te zetten.",
                          {"to": [f"Kies een andere versie dan {from_number}."]})
    found = {v.number: v for v in session.scalars(
        select(RouteVersion).where(RouteVersion.route_id == route.id,
                                   RouteVersion.number.in_([from_number, to_number])))}
    for field_name, number in (("from", from_number), ("to", to_number)):
        if number not in found:
            raise InvalidData(f"Route '{route_key}' heeft geen versie {number}.",
                              {field_name: [f"Route '{route_key}' heeft geen versie {number}."]})
    return found[from_number], found[to_number]


def _candidates(session: Session, source: RouteVersion, tenant_id: int | None,
                case_ids: Iterable[int] | None) -> tuple[list[Case], list[Verdict]]:
    """The open cases on ``source`` (of one SWV, or all); named cases that are not, refused with why."""
    query = select(Case).where(Case.route_version_id == source.id, Case.status != CaseStatus.CLOSED)
    if tenant_id is not None:
        query = query.where(Case.tenant_id == tenant_id)
    refused: list[Verdict] = []
    if case_ids is not None:
        wanted = sorted(set(case_ids))
        query = query.where(Case.id.in_(wanted))
        found = {c.id: c for c in session.scalars(query.order_by(Case.id))}
        for case_id in wanted:
            if case_id in found:
                continue
            other = session.get(Case, case_id)
            if other is None or (tenant_id is not None and other.tenant_id != tenant_id):
                why = "dit dossier bestaat niet (in dit SWV)"
            elif other.status == CaseStatus.CLOSED:
                why = "het dossier is gesloten"
            elif other.route_version.route_id != source.route_id:
                why = (f"het dossier loopt op route '{other.route_version.route.key}': het kan alleen over naar een "
                       "versie van zijn eigen route")
            else:
                why = f"het dossier loopt op versie {other.route_version.number}, niet op versie {source.number}"
            refused.append(Verdict(case_id, other.tenant.key if other else "", [], False, why))
        return [found[i] for i in wanted if i in found], refused
    return list(session.scalars(query.order_by(Case.id))), refused


def _last_migration(session: Session, case: Case) -> dict[str, Any] | None:
    """The case's last event if it is a case_migrated (its payload, with its seq): what an undo reverses."""
    last = session.scalar(select(Event).where(Event.case_id == case.id, Event.seq == case.event_seq))
    if last is None or last.type != EventType.CASE_MIGRATED:
        return None
    return {**(last.payload or {}), "seq": last.seq}


class Migrator:
    """Previews and migrates the open cases of one route version onto another."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.diffs = Diffs()

    def preview(self, route_key: str, from_number: int, to_number: int, *, tenant_id: int | None = None,
                case_ids: Iterable[int] | None = None,
                progress: Callable[[int], None] | None = None) -> Outcome:
        with self.runtime.db.read() as session:
            source, target = versions(session, route_key, from_number, to_number)
            cases, refused = _candidates(session, source, tenant_id, case_ids)
            verdicts = []
            timers = bpmn.loaded(source).has_timers
            for first in range(0, len(cases), _CHUNK):
                chunk = cases[first:first + _CHUNK]
                rows = projection_store.load_many(session, chunk, lambda case: timers)
                for case in chunk:
                    verdicts.append(self._judge(session, case, rows[case.id].open_tasks(), source, target))
                    if progress is not None:
                        progress(1)
        return Outcome(route_key, from_number, to_number, _ordered(verdicts + refused), True)

    def migrate(self, route_key: str, from_number: int, to_number: int, actor_for: Callable[[Case], Actor], *,
                tenant_id: int | None = None, case_ids: Iterable[int] | None = None,
                progress: Callable[[int], None] | None = None) -> Outcome:
        """Move every case that can, each in its own transaction: a case that fails stays as it was."""
        with self.runtime.db.read() as session:
            source, target = versions(session, route_key, from_number, to_number)
            cases, refused = _candidates(session, source, tenant_id, case_ids)
            ids = [c.id for c in cases]
        verdicts = []
        for case_id in ids:
            verdicts.append(self._move_one(case_id, source.id, target.id, actor_for))
            if progress is not None:
                progress(1)
        return Outcome(route_key, from_number, to_number, _ordered(verdicts + refused), False)

    def _judge(self, session: Session, case: Case, tasks: list[TaskRow], source: RouteVersion,
               target: RouteVersion) -> Verdict:
        """Try the move on a private copy of the case's workflow."""
        verdict = Verdict(case.id, case.tenant.key, [t.title for t in tasks], False)
        try:
            undo = _undo_of(session, case, source, target)
            verdict.undo = undo is not None
            route = bpmn.loaded(source)
            workflow = bpmn.load_workflow(case.state, route.spec, route.subprocess_specs)
            with clock.frozen(clock.now()), task_ids(case.id, case.event_seq + 1):
                move = plan_case(session, case.tenant, case.status, tasks, dict(case.data or {}), workflow, source,
                                 target, self.diffs, undo)
        except CannotMove as exc:
            verdict.reason = str(exc)
            return verdict
        verdict.can, verdict.remarks = True, move.remarks
        return verdict

    def _move_one(self, case_id: int, source_id: int, target_id: int, actor_for: Callable[[Case], Actor]) -> Verdict:
        """One case in one transaction; a case that cannot move (or fails) rolls back and stays as it was."""
        runtime, verdict = self.runtime, Verdict(case_id, "", [], False)
        try:
            with runtime.action() as session:
                case = session.get(Case, case_id)
                assert case is not None
                verdict.tenant = case.tenant.key
                if case.route_version_id != source_id:
                    raise CannotMove("het dossier is intussen al overgezet")
                source, target = case.route_version, session.get(RouteVersion, target_id)  # the source came with it
                assert target is not None
                work = runtime.recorder.open(session, case)
                tasks = work.rows.open_tasks()
                verdict.tasks = [t.title for t in tasks]
                undo = _undo_of(session, case, source, target)
                verdict.undo = undo is not None
                workflow = runtime.recorder.workflow(work)
                before_timers = {str(t.id): jsonable(t.internal_data["event_value"]) for t in all_tasks(workflow)
                                 if t.state == TaskState.WAITING and "event_value" in t.internal_data}
                with task_ids(case.id, work.next_seq()):
                    move = plan_case(session, case.tenant, work.rows.case.status, tasks,
                                     dict(work.rows.case.data or {}), workflow, source, target, self.diffs, undo)
                move.payload["timers_before"] = before_timers
                runtime.recorder.record_state(session, work, EventType.CASE_MIGRATED, actor_for(case), clock.now(),
                                              payload=move.payload)
                session.execute(update(CASES).where(CASES.c.id == case.id).values(route_version_id=target.id))
                set_committed_value(case, "route_version_id", target.id)
                set_committed_value(case, "route_version", target)
                verdict.remarks = move.remarks
        except CannotMove as exc:  # raised inside the transaction: rolled back, the cache never sees the copy
            verdict.reason = str(exc)
            return verdict
        except LoketError as exc:
            verdict.reason = exc.message
            return verdict
        except Exception as exc:  # one case's fault must not stop the others; it is logged with its trace
            log.exception("overzetten van dossier %s mislukt", case_id)
            verdict.reason = f"overzetten mislukt ({type(exc).__name__}); het dossier is ongewijzigd"
            return verdict
        verdict.can = verdict.moved = True
        return verdict


def _undo_of(session: Session, case: Case, source: RouteVersion, target: RouteVersion) -> dict[str, Any] | None:
    """Back to an older version: only as the undo of the case's last event, a case_migrated from there."""
    if target.number > source.number:
        return None
    undo = _last_migration(session, case)
    if undo is None or (undo.get("from") or {}).get("sha256") != target.sha256:
        raise CannotMove(f"terugzetten naar versie {target.number} kan alleen als ongedaan maken van een "
                         "overzetting, zolang er daarna niets met het dossier is gebeurd")
    return undo


def _ordered(verdicts: list[Verdict]) -> list[Verdict]:
    return sorted(verdicts, key=lambda v: v.case_id)


# ---------------------------------------------------------------- who may, from the API and the page


def authorize(actor: Actor) -> None:
    """Process owners and beheerders move the cases of their own SWV."""
    require_role(actor, *MIGRATE_ROLES)
