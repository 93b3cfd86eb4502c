"""The write path of an action: open a case (its workflow and live rows, from a small cache when they are
current), run an input, append its events, project each one, and write what changed."""

from __future__ import annotations

import threading
from collections import OrderedDict, defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from SpiffWorkflow.bpmn import BpmnWorkflow
from sqlalchemy import CursorResult, Table, bindparam, insert, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.exc import StaleDataError

from . import bpmn, clock, events, projection, projection_store
from .auth import Actor
from .models import Case, Event, Task
from .projection import After, Projection
from .stepping import StepCase, Stepper, StepResult
from .vocabulary import EventType
from .workflow import task_ids

_OPEN = "loket_open_cases"
_BATCH = "loket_batch"
# The earliest due moment of a deadline this transaction made or moved.
EARLIEST = "loket_earliest_due"
CASES = cast(Table, Case.__table__)
EVENTS = cast(Table, Event.__table__)
_EVENT_COLUMNS = [c.name for c in EVENTS.columns if c.name != "id"]


@dataclass
class Open:
    """A case being worked on in one transaction: its ORM row, its live projection, its workflow (restored
    when first needed)."""

    case: Case
    rows: Projection
    workflow: BpmnWorkflow | None = None
    # Events appended and not yet written, and the state to write with them.
    events: list[Event] = field(default_factory=list)
    state: str | None = None

    def next_seq(self) -> int:
        """The number the case's next event gets (events appended but not yet written count)."""
        return self.events[-1].seq + 1 if self.events else self.case.event_seq + 1

    def append(self, type_: str, actor: Actor, at: datetime, **fields: Any) -> Event:
        """The next event of the case's chain (written with the rest by the recorder)."""
        prev = self.events[-1].hash if self.events else self.case.last_hash
        event = events.chained(self.case.id, self.case.tenant_id, self.next_seq(), prev, type_, actor, at, **fields)
        self.events.append(event)
        return event


class CaseCache:
    """Workflows and live rows of recently changed cases, keyed by case id and lock version: every write to a
    case moves its version on, so an entry for an older version is never used. An entry is taken out while an
    action works on it and put back only after that action committed."""

    def __init__(self, size: int = 256) -> None:
        self.size = size
        self._entries: OrderedDict[int, tuple[int, BpmnWorkflow | None, Projection]] = OrderedDict()
        self._lock = threading.Lock()

    def take(self, case_id: int, version: int) -> tuple[BpmnWorkflow | None, Projection] | None:
        with self._lock:
            entry = self._entries.pop(case_id, None)
        return (entry[1], entry[2]) if entry is not None and entry[0] == version else None

    def put(self, case_id: int, version: int, workflow: BpmnWorkflow | None, rows: Projection) -> None:
        with self._lock:
            self._entries[case_id] = (version, workflow, rows)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)


class Recorder:
    """Turns inputs and other events on a case into its stored history, state and rows."""

    def __init__(self, stepper: Stepper) -> None:
        self.stepper = stepper
        self.cache = CaseCache()
        # Called when an input closes a case, in its transaction (engine.links: the source of a linked case).
        self.on_completed: Callable[[Recorder, Session, Open, Actor, datetime], None] | None = None

    @contextmanager
    def batch(self, session: Session, cases: list[Case]) -> Iterator[None]:
        """Work on many cases in one transaction (a scheduler sweep): their live rows are read together, and
        their events and rows are written together at the end, one statement per kind of change."""
        has_timers = lambda case: bpmn.loaded(case.route_version).has_timers  # noqa: E731
        loaded = projection_store.load_many(session, cases, has_timers)
        session.info[_BATCH] = {case.id: Open(case, loaded[case.id]) for case in cases}
        try:
            yield
            self._write(session, [w for w in session.info[_BATCH].values() if w.events])
        finally:
            session.info.pop(_BATCH, None)

    def open(self, session: Session, case: Case, *, cached: bool = True) -> Open:
        """The case for this transaction; ``cached``: from (and, after commit, back into) the cache."""
        batch: dict[int, Open] | None = session.info.get(_BATCH)
        if batch is not None:
            if case.id not in batch:  # another case the batch's work touches (a linked case's source): written with it
                batch[case.id] = Open(case, projection_store.load(session, case,
                                                                  bpmn.loaded(case.route_version).has_timers))
            return batch[case.id]
        opened: dict[int, Open] = session.info.setdefault(_OPEN, {}) if cached else {}
        work = opened.get(case.id)
        if work is None:
            entry = self.cache.take(case.id, case.version) if cached else None
            if entry is not None:
                work = Open(case, entry[1], entry[0])
            else:
                work = Open(case, projection_store.load(session, case, bpmn.loaded(case.route_version).has_timers))
            opened[case.id] = work
        return work

    def start(self, session: Session, case: Case, rows: Projection, workflow: BpmnWorkflow) -> Open:
        work = session.info.setdefault(_OPEN, {})[case.id] = Open(case, rows, workflow)
        return work

    def committed(self, session: Session) -> None:
        """After commit: the cases this transaction changed are current in the cache."""
        for work in session.info.pop(_OPEN, {}).values():
            self.cache.put(work.case.id, work.case.version, work.workflow, work.rows)

    @staticmethod
    def workflow(work: Open) -> BpmnWorkflow:
        if work.workflow is None:
            route = bpmn.loaded(work.case.route_version)
            work.workflow = bpmn.load_workflow(work.case.state, route.spec, route.subprocess_specs)
        return work.workflow

    def advance(self, session: Session, work: Open, step: Callable[[], None],
                recompute_terms: bool = False) -> StepResult:
        """Run an input; its new tasks get the ids of the event it will be logged as."""
        case, rows = work.case, work.rows
        at = StepCase(case.id, case.tenant, rows.route_key, rows.case.status, rows.case.due_at, rows.case.school_id)
        with task_ids(case.id, work.next_seq()):
            return self.stepper.advance(session, at, self.workflow(work), step, recompute_terms=recompute_terms)

    def record_input(self, session: Session, work: Open, result: StepResult, type_: str, actor: Actor,
                     at: datetime, *, task: tuple[str, str, int | None] | None = None,
                     payload: dict[str, Any]) -> None:
        """Log an input with what its engine run produced, and what followed from it (an incident, the
        case's end); project each event; save the workflow and the rows."""
        rows, workflow = work.rows, self.workflow(work)
        task_id, task_name, task_index = task or (None, None, None)
        event = work.append(type_, actor, at, task_id=task_id, task_name=task_name, task_index=task_index,
                            payload={**payload, **result.logged()})
        projection.apply(rows, event, After(workflow, result))
        if result.incident:
            derived = work.append(EventType.INCIDENT, actor, at, task_name=result.incident["task"],
                                  payload=result.incident)
            projection.apply(rows, derived)
        elif workflow.is_completed():
            work.append(EventType.CASE_COMPLETED, actor, at, payload={"outcome": rows.case.outcome})
        work.state = bpmn.dump_workflow(workflow)
        self._save(session, work)
        if workflow.is_completed() and not result.incident and self.on_completed is not None:
            self.on_completed(self, session, work, actor, at)

    def record_state(self, session: Session, work: Open, type_: str, actor: Actor, at: datetime, *,
                     payload: dict[str, Any]) -> None:
        """Log an event that changed the engine state without running route code (a case_migrated: the
        workflow was put on another version), project it, and save the workflow with it."""
        workflow = self.workflow(work)
        event = work.append(type_, actor, at, payload=payload)
        projection.apply(work.rows, event, After(workflow, StepResult()))
        work.state = bpmn.dump_workflow(workflow)
        self._save(session, work)

    def record(self, session: Session, work: Open, type_: str, actor: Actor, *, task: Task | None = None,
               payload: dict[str, Any] | None = None) -> None:
        """Log an event that does not run the engine (a claim, an opschorting, a fired warning, ...)."""
        index = _index(work.rows, task) if task is not None else None
        event = work.append(type_, actor, clock.now(), task_id=task.id if task else None,
                            task_name=task.name if task else None, task_index=index, payload=payload)
        projection.apply(work.rows, event)
        self._save(session, work)

    def _save(self, session: Session, work: Open) -> None:
        projection_store.show(session, work.rows)  # what the action reads next sees it, written or not yet
        if _BATCH not in session.info:  # in a batch: written with the others at its end
            self._write(session, [work])

    @staticmethod
    def _write(session: Session, works: list[Open]) -> None:
        """Write the events, the rows they changed and the case rows, with a few Core statements for all the
        cases together. A case row is updated only if it still has the version it was read with (else a
        concurrent writer got there first: 409), and before anything else, so a second writer waits on it."""
        session.flush()  # what else the action added through the ORM (a case just started, outbox messages)
        if not works:
            return
        groups: dict[tuple[str, ...], list[dict[str, Any]]] = defaultdict(list)
        updates = []
        for work in works:
            case, last = work.case, work.events[-1]
            values = projection_store.case_changes(work.rows)
            values.update(event_seq=last.seq, last_hash=last.hash, version=case.version + 1)
            if work.state is not None:
                values["state"] = work.state
            groups[tuple(sorted(values))].append({"where_id": case.id, "where_version": case.version,
                                                  **{f"set_{k}": v for k, v in values.items()}})
            updates.append((case, values))
        for columns, params in groups.items():
            statement = (update(CASES)
                         .where(CASES.c.id == bindparam("where_id"), CASES.c.version == bindparam("where_version"))
                         .values({c: bindparam(f"set_{c}") for c in columns}))
            done = cast(CursorResult[Any], session.connection().execute(statement, params))
            if done.rowcount != len(params):
                raise StaleDataError("een dossier is intussen door een ander gewijzigd")
        session.connection().execute(insert(EVENTS), [{c: getattr(e, c) for c in _EVENT_COLUMNS}
                                                      for w in works for e in w.events])
        due = projection_store.write(session, [work.rows for work in works])
        if due is not None:
            earliest = session.info.get(EARLIEST)
            session.info[EARLIEST] = due if earliest is None else min(due, earliest)
        for case, values in updates:  # the ORM rows show what they now hold, without a flush
            for name, value in values.items():
                set_committed_value(case, name, value)
        for work in works:
            work.events, work.state = [], None


def _index(rows: Projection, task: Task) -> int:
    """The task's index among the open tasks of its name (how an event names a task, besides its id)."""
    same = sorted((t for t in rows.open_tasks() if t.name == task.name), key=lambda t: (t.created_at, t.id))
    return next((i for i, t in enumerate(same) if t.id == task.id), 0)
