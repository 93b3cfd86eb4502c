"""Replay: rebuild a case from its definition version and its events, and compare it with what is stored.

Each input event runs through the engine's own stepping (``engine.stepping``) with the clock frozen at the
event's time, its tasks getting the ids they got then, and service and calendar results served from the log.
Every event goes through the one projection (``engine.projection``), so the replay rebuilds the case's
rows exactly as the live actions wrote them; at the end every row and field is compared with the stored
ones, and with the stored data and engine state. Derived events (incident, case_completed) must come out of
the replay exactly where the log has them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import select
from sqlalchemy.orm import Session

from . import bpmn, clock, projection, projection_store, statediff
from .definition import Definition, SpecCache
from .divergence import Step, arose_at, describe, engine_differences, same_incident
from .errors import Conflict
from .migration_plan import CannotMove, Diffs, first_version, move_workflow
from .models import Case, Event, RouteVersion
from .projection import After, NotInProjection, Projection
from .replay_state import state_view
from .stepping import Recorded, StepCase, StepResult
from .vocabulary import DERIVED_EVENTS, INPUT_EVENTS, EventType
from .workflow import current_data, input_step, jsonable, new_workflow, task_ids

if TYPE_CHECKING:
    from .cases import Runtime

# Events that change no engine state, only the projection (or nothing).
PASSIVE = frozenset({EventType.TASK_CLAIMED, EventType.TASK_UNCLAIMED, EventType.TASK_DELEGATED,
                     EventType.DEADLINE_WARNED, EventType.DEADLINE_ESCALATED, EventType.CASE_SUSPENDED,
                     EventType.CASE_EXTENDED, EventType.DOCUMENT_ADDED, EventType.DATA_PURGED,
                     EventType.DECISION_TERM_EXTENDED, EventType.DECISION_LETTER_MADE, EventType.CASE_LINKED,
                     EventType.LEGAL_HOLD_SET, EventType.LEGAL_HOLD_LIFTED, EventType.LINKED_CASE_CLOSED})
LABELS: dict[str, str] = {EventType.INCIDENT: "incident", EventType.CASE_COMPLETED: "afronding van het dossier"}


class NotReplayable(Conflict):
    """The case's history can no longer be replayed (its personal data was removed after its term)."""


@dataclass
class Replay:
    case_id: int
    consistent: bool
    events: int
    divergence: dict[str, Any] | None
    route: dict[str, Any]
    state: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        out = {"case_id": self.case_id, "consistent": self.consistent, "events": self.events,
               "divergence": self.divergence, "route": self.route}
        if self.state is not None:
            out["state"] = self.state
        return out


def _noop() -> None:
    return None


@dataclass
class Run:
    """One replay of one case, event by event."""

    runtime: Runtime
    session: Session
    case: Case
    definition: Definition
    trace: bool = False  # keep the case data after each event (timeline)
    snapshots: bool = False  # keep the normalised state after each event (locating a divergence)

    workflow: BpmnWorkflow | None = None
    pending: list[tuple[str, dict[str, Any], int]] = field(default_factory=list)
    applied: int = 0
    last_seq: int = 0
    last_input: int = 0
    last_row: Event | None = None
    divergence: dict[str, Any] | None = None
    steps: list[Step] = field(default_factory=list)
    documents: list[dict[str, Any]] = field(default_factory=list)
    emails: dict[int | None, str] = field(default_factory=dict)
    timers_since: dict[Any, datetime] = field(default_factory=dict)
    specs: SpecCache = field(default_factory=SpecCache)
    diffs: Diffs = field(default_factory=Diffs)

    def __post_init__(self) -> None:
        self.rows: Projection = projection.new_case(self.case.id, self.case.tenant_id, self.definition.route["key"],
                                                     self.definition.has_timers, self.case.school_id)

    def feed(self, row: Event) -> bool:
        """Apply one event; False once the replay has diverged (it stops there)."""
        if row.type in DERIVED_EVENTS:
            ok = self._derived(row)
        elif self.pending:  # the replay produced an incident or an ending that the log does not have
            ok = self._pending_missing()
        elif row.type in INPUT_EVENTS:
            ok = self._input(row)
        elif row.type == EventType.CASE_MIGRATED:
            ok = self._migrated(row)
        elif row.type in PASSIVE:
            ok = self._passive(row)
        else:
            ok = self.diverge(row.seq, "unknown_event", f"Onbekend eventtype '{row.type}': dit dossier kan met "
                                                        "deze versie van Loket niet worden afgespeeld.", row)
        if ok:
            self.applied += 1
            self.last_seq, self.last_row = row.seq, row
            if self.trace or self.snapshots:
                self.steps.append(Step(row.seq, row.type, self.data(), self.rows.case.status,
                                       self.normalised() if self.snapshots and self.workflow else None))
        return ok

    def finish(self) -> bool:
        """After the last event: a derived event the replay produced must not be missing from the log."""
        return not self.pending or self._pending_missing()

    def _pending_missing(self) -> bool:
        type_, produced, origin = self.pending[0]
        if type_ == EventType.INCIDENT and produced.get("unrecorded"):
            return self.diverge(origin, "services", f"Bij opnieuw afspelen van event {origin} roept de route "
                                                    f"service '{produced['unrecorded']}' aan (taak "
                                                    f"{produced.get('task')}), die toen niet is aangeroepen.")
        detail = f" ({produced.get('task')}: {produced.get('error')})" if type_ == EventType.INCIDENT else (
            f" (uitkomst {produced.get('outcome')})")
        return self.diverge(origin, "derived_missing", f"Bij opnieuw afspelen volgt op event {origin} een "
                                                       f"{LABELS[type_]}{detail}, maar het log heeft dat niet.")

    def _input(self, row: Event) -> bool:
        payload = row.payload or {}
        recorded = Recorded.of(payload)
        with clock.frozen(row.at), task_ids(self.case.id, row.seq):
            if row.type == EventType.CASE_STARTED:
                if self.workflow is not None:
                    return self.diverge(row.seq, "order", f"Event {row.seq} start het dossier opnieuw.", row)
                self.workflow = new_workflow(self.definition.spec, self.definition.subs, payload.get("data") or {})
                step = _noop
            else:
                if self.workflow is None:
                    return self.diverge(row.seq, "order", f"Event {row.seq} komt vóór de start van het dossier.", row)
                try:
                    step = input_step(self.workflow, row.type, row.task_name, row.task_index, payload)
                except LookupError:
                    return self._task_not_open(row)
            rows = self.rows
            at = StepCase(self.case.id, self.case.tenant, rows.route_key, rows.case.status, rows.case.due_at,
                          rows.case.school_id)
            result = self.runtime.stepper.advance(self.session, at, self.workflow, step, recorded=recorded,
                                                  recompute_terms=row.type == EventType.CASE_RETRIED)
        if not self._same_services(row, recorded.services, result):
            return False
        try:
            projection.apply(self.rows, row, After(self.workflow, result))
        except NotInProjection:
            return self._task_not_open(row)
        if self.definition.has_timers:
            for timer in self.workflow.get_tasks(state=TaskState.WAITING):
                self.timers_since.setdefault(timer.id, row.at)
        if result.incident:
            self.pending = [(EventType.INCIDENT, {**result.incident, "unrecorded": result.unrecorded}, row.seq)]
        elif self.workflow.is_completed():
            self.pending = [(EventType.CASE_COMPLETED, {"outcome": self.rows.case.outcome}, row.seq)]
        self.last_input = row.seq
        return True

    def _same_services(self, row: Event, recorded: list[dict[str, Any]], result: StepResult) -> bool:
        def calls(log: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
            return [(c.get("task"), c.get("handler"), c.get("params")) for c in log]

        produced = result.services
        if calls(recorded) == calls(produced):
            return True
        attempted = [f"{c[0]}→{c[1]}" for c in calls(produced)]
        incident = result.incident
        if incident and result.unrecorded:  # the call the log had no result for
            attempted.append(f"{incident.get('task')}→{result.unrecorded}")
        elif incident:
            attempted.append(f"incident in {incident.get('task')}: {incident.get('error')}")
        then = ", ".join(f"{c[0]}→{c[1]}" for c in calls(recorded)) or "geen"
        now = ", ".join(attempted) or "geen"
        return self.diverge(row.seq, "services", f"Bij opnieuw afspelen van event {row.seq} roept de route andere "
                                                 f"services aan dan toen (toen: {then}; nu: {now}).", row,
                            recorded=jsonable(recorded), replayed=jsonable(produced))

    def _derived(self, row: Event) -> bool:
        label = LABELS[row.type]
        if not self.pending:
            return self.diverge(self.last_input, "derived_unexpected",
                                f"Het log heeft na event {self.last_input} een {label} (event {row.seq}), maar "
                                "bij opnieuw afspelen ontstaat die niet.", row)
        type_, produced, origin = self.pending.pop(0)
        logged = row.payload or {}
        if type_ != row.type:
            return self.diverge(origin, "derived_differs", f"Bij opnieuw afspelen volgt op event {origin} een "
                                                           f"{LABELS[type_]}, maar het log heeft een {label}.", row)
        if row.type == EventType.CASE_COMPLETED and logged.get("outcome") != produced.get("outcome"):
            return self.diverge(origin, "derived_differs", f"Het dossier eindigt bij opnieuw afspelen met uitkomst "
                                                           f"'{produced.get('outcome')}', in het log met "
                                                           f"'{logged.get('outcome')}'.", row)
        if row.type == EventType.INCIDENT:
            if not same_incident(logged, produced, produced.get("unrecorded")):
                return self.diverge(origin, "derived_differs", f"Het incident na event {origin} is bij opnieuw "
                                                               f"afspelen anders: toen {logged.get('task')}: "
                                                               f"{logged.get('error')}; nu {produced.get('task')}: "
                                                               f"{produced.get('error')}.", row)
            projection.apply(self.rows, row)
        return True

    def _passive(self, row: Event) -> bool:
        if self.workflow is None:
            return self.diverge(row.seq, "order", f"Event {row.seq} komt vóór de start van het dossier.", row)
        try:
            projection.apply(self.rows, row)
        except NotInProjection:
            return self._task_not_open(row)
        if row.type == EventType.TASK_CLAIMED:
            self.emails[row.actor_id] = row.actor
        elif row.type == EventType.TASK_DELEGATED:
            payload = row.payload or {}
            self.emails[payload.get("to")] = payload.get("to_email") or ""
        elif row.type == EventType.DOCUMENT_ADDED:
            payload = row.payload or {}
            self.documents.append({"seq": row.seq, "at": row.at.isoformat(), "actor": row.actor,
                                   **{k: v for k, v in payload.items() if k in ("name", "title", "filename", "kind")}})
        return True

    def _migrated(self, row: Event) -> bool:
        """The case moved to another version of its route: the engine moves as it did then (the same task ids),
        the terms and timer moments come from the event."""
        if self.workflow is None:
            return self.diverge(row.seq, "order", f"Event {row.seq} komt vóór de start van het dossier.", row)
        payload = row.payload or {}
        target = self.session.scalar(select(RouteVersion).where(
            RouteVersion.sha256 == (payload.get("to") or {}).get("sha256")))
        if target is None or target.route.key != self.definition.route["key"]:
            return self.diverge(row.seq, "route_changed", f"Event {row.seq} zet het dossier over naar een "
                                                          "routeversie die niet (meer) bestaat.", row)
        definition = self.specs.get(target)
        if definition.spec is None:
            return self.diverge(row.seq, "route_changed", f"De route van event {row.seq} is onleesbaar: "
                                                          f"{definition.problem}.", row)
        try:
            with clock.frozen(row.at), task_ids(self.case.id, row.seq):
                move_workflow(self.workflow, definition.spec, definition.subs, self.diffs,
                                        payload.get("timers") or {})
        except CannotMove as exc:
            return self.diverge(row.seq, "state", f"Bij opnieuw afspelen kan event {row.seq} het dossier niet "
                                                  f"overzetten: {exc}.", row)
        self.definition = definition
        try:
            projection.apply(self.rows, row, After(self.workflow, StepResult()))
        except NotInProjection:
            return self._task_not_open(row)
        return True

    def _task_not_open(self, row: Event) -> bool:
        open_now = sorted({t.name for t in self.rows.open_tasks()})
        return self.diverge(self.last_seq, "task_not_open",
                            f"Event {row.seq} ({row.type}) gaat over taak '{row.task_name}' (nr. {row.task_index}), "
                            f"maar bij opnieuw afspelen staat die taak na event {self.last_seq} niet open "
                            f"(open: {', '.join(open_now) or 'geen'}).", row, task=row.task_name, open=open_now)

    def diverge(self, seq: int, reason: str, message: str, row: Event | None = None, **details: Any) -> bool:
        """Record the first divergence (always False: the replay stops)."""
        if self.divergence is None:
            self.divergence = {"seq": seq, "event": self._type_of(seq, row), "reason": reason, "message": message,
                               "detected_at": row.seq if row is not None else None, "details": details}
        return False

    def _type_of(self, seq: int, row: Event | None) -> str | None:
        if row is not None and row.seq == seq:
            return row.type
        if self.last_row is not None and self.last_row.seq == seq:
            return self.last_row.type
        return next((s.type for s in self.steps if s.seq == seq), None)

    # -------------------------------------------------------- what the replay knows

    def data(self) -> dict[str, Any] | None:
        return jsonable(current_data(self.workflow)) if self.workflow is not None else None

    def normalised(self) -> dict[str, Any]:
        assert self.workflow is not None
        return statediff.normalise(bpmn.dump_workflow(self.workflow))


# ---------------------------------------------------------------- the public entry points


class Replayer:
    """Replays cases against one database session; reuse one for many cases (``--all``, the benchmark)."""

    def __init__(self, runtime: Runtime, session: Session, specs: SpecCache | None = None) -> None:
        self.runtime, self.session = runtime, session
        self.specs = specs or SpecCache()

    def events(self, case: Case) -> list[Event]:
        return list(self.session.scalars(select(Event).where(Event.case_id == case.id).order_by(Event.seq)))

    def run(self, case: Case, *, at: datetime | None = None, seq: int | None = None,
            rows: list[Event] | None = None) -> Replay:
        """Replay a case; with ``at`` or ``seq`` up to that moment or event, returning the state then."""
        rows = rows if rows is not None else self.events(case)
        if any(row.purged_at is not None for row in rows):
            raise NotReplayable(f"De persoonsgegevens van dossier {case.id} zijn na de bewaartermijn verwijderd; "
                                "de geschiedenis kan niet meer worden afgespeeld. De keten is wel te controleren "
                                "met 'loket audit verify'.")
        definition = self.specs.get(first_version(self.session, case, rows))
        cut = at is not None or seq is not None
        chosen = [r for r in rows if (at is None or r.at <= at) and (seq is None or r.seq <= seq)]
        if cut and not chosen:
            raise Conflict(f"Dossier {case.id} bestond op dat moment nog niet.")
        run = Run(self.runtime, self.session, case, definition, specs=self.specs)
        self._play(run, chosen, complete=len(chosen) == len(rows))
        if run.divergence is None and len(chosen) == len(rows):
            self._compare(run, rows)
        divergence = run.divergence
        if definition.problem:
            divergence = {"seq": None, "event": None, "reason": "route_changed",
                          "message": f"De route {definition.route['key']} v{definition.route['version']} is "
                                     f"niet meer zoals gedeployed: {definition.problem}.", "detected_at": None,
                          "details": {}, "replay": run.divergence}
        state = state_view(run, at) if cut and run.workflow is not None else None
        # The route it runs on now (after a case_migrated, the version it moved to).
        return Replay(case.id, divergence is None, run.applied, divergence, run.definition.route, state)

    def trace(self, case: Case, rows: list[Event]) -> tuple[list[Step], dict[str, Any] | None]:
        """The case data after each event, as far as the replay stays consistent, and the divergence."""
        run = Run(self.runtime, self.session, case, self.specs.get(first_version(self.session, case, rows)), trace=True,
                  specs=self.specs)
        self._play(run, rows, complete=True)
        return run.steps, run.divergence

    def _play(self, run: Run, rows: list[Event], complete: bool) -> None:
        if run.definition.spec is None:
            return
        try:
            for row in rows:
                if not run.feed(row):
                    return
            if complete:
                run.finish()
        except Exception as exc:  # whatever the engine makes of a damaged history: a finding, not a crash
            failed = rows[run.applied] if run.applied < len(rows) else None
            run.diverge(run.last_seq, "replay_failed", f"Opnieuw afspelen liep vast na event {run.last_seq}: "
                                                       f"{type(exc).__name__}: {exc}", failed)

    def _compare(self, run: Run, rows: list[Event]) -> None:
        """Compare the replayed case with the stored one — every projection row and field, the data and the
        engine state — and name the event after which they part."""
        case = run.case
        if run.workflow is None:
            run.diverge(0, "state", "Het dossier heeft geen startevent.")
            return
        found = projection_store.differences(self.session, case, run.rows, run.last_seq)
        engine = engine_differences(case, run.data() or {}, run.normalised())
        if engine:
            # Replay once more, keeping the state after every event, to find where each difference arose.
            start = self.specs.get(first_version(self.session, case, rows))
            again = Run(self.runtime, self.session, case, start, trace=True, snapshots=True, specs=self.specs)
            self._play(again, rows, complete=True)
            found += [{**item, "seq": arose_at(again.steps, item)} for item in engine]
        if not found:
            return
        seq = min(item["seq"] for item in found)
        first = [item for item in found if item["seq"] == seq] + [item for item in found if item["seq"] != seq]
        described = "; ".join(describe(item) for item in first[:3])
        event = next((r.type for r in rows if r.seq == seq), None)
        run.diverge(seq, "state", f"Na event {seq} wijken de opgeslagen en de afgespeelde toestand af: {described}.",
                    None, differences=jsonable(first))
        if run.divergence is not None:
            run.divergence["event"] = event


def replay(runtime: Runtime, session: Session, case: Case) -> Replay:
    """Rebuild the case from its history and compare with the stored case: {consistent, events, divergence}."""
    return Replayer(runtime, session).run(case)


def state_at(runtime: Runtime, session: Session, case: Case, at: datetime | None = None,
             seq: int | None = None) -> Replay:
    """The case as it was at a moment (or right after an event): ``Replay.state``."""
    if at is None and seq is None:
        at = clock.now()
    return Replayer(runtime, session).run(case, at=at, seq=seq)
