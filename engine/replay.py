"""Replay: rebuild a case from its definition version and its events, and compare it with what is stored.

Each input event goes through the engine's own ``input_step`` and ``_advance``, with the clock frozen at the
event's time and service results served from the log (handlers are not called again). Events that never
touch the workflow (claims, deadlines, opschorting, verlenging) only move the replay's bookkeeping, so the
state at any moment can be shown: open tasks with lanes and claims, data, terms, status. Derived events
(incident, case_completed) must come out of the replay exactly where the log has them.

The definition is loaded freshly from the stored version text, never from the engine's cache keyed by
sha256, and the stored BPMN and forms must still hash to the version's sha256: a route edited in place is
reported as a divergence, as is anything else that makes the replay differ, rather than as a crash.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import select
from sqlalchemy.orm import Session

from . import bpmn, clock, statediff
from .cases import Runtime, input_step, jsonable, new_workflow
from .errors import Conflict
from .events import canonical
from .models import Case, Event, RouteVersion

# What each event type does on replay.
INPUTS = {"case_started", "task_completed", "case_retried", "timer_fired", "case_resumed"}
PASSIVE = {"task_claimed", "task_unclaimed", "deadline_warned", "deadline_escalated", "case_suspended",
           "case_extended", "document_added", "data_purged"}
DERIVED = {"incident", "case_completed"}

LABELS = {"incident": "incident", "case_completed": "afronding van het dossier"}

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


# ---------------------------------------------------------------- the definition


@dataclass
class Definition:
    spec: Any
    subs: dict[str, Any]
    titles: dict[str, str]
    route: dict[str, Any]
    problem: str | None = None  # why the stored version is not what was deployed
    has_timers: bool = False


class SpecCache:
    """Definitions loaded from the stored version text, once per version within one audit run."""

    def __init__(self) -> None:
        self._loaded: dict[int, Definition] = {}

    def get(self, version: RouteVersion) -> Definition:
        definition = self._loaded.get(version.id)
        if definition is None:
            definition = self._loaded[version.id] = load_definition(version)
        return definition


_definitions: dict[str, Definition] = {}


def load_definition(version: RouteVersion) -> Definition:
    """The version as stored now, checked against its deployment hash. Memoised by the hash of the stored
    texts themselves, so a definition edited in place is a different key and is checked afresh."""
    key = hashlib.sha256("\0".join([version.sha256, version.route.key, str(version.number), version.bpmn,
                                     version.spec, canonical(version.forms)]).encode()).hexdigest()
    found = _definitions.get(key)
    if found is None:
        if len(_definitions) > 64:
            _definitions.clear()
        found = _definitions[key] = _load_definition(version)
    return replace(found, route=dict(found.route))


def _load_definition(version: RouteVersion) -> Definition:
    from .validate import route_sha256

    route = {"key": version.route.key, "version": version.number, "sha256": version.sha256,
             "intact": True, "spec_matches_bpmn": True}
    problems = []
    if route_sha256(version.bpmn.encode(), version.forms) != version.sha256:
        route["intact"] = False
        problems.append("de opgeslagen BPMN of formulieren horen niet meer bij de versie-hash (na het deployen "
                        "gewijzigd)")
    try:
        raw = json.loads(version.spec)
        # Compare before restoring: the serializer consumes the dicts it restores from.
        matches = _spec_matches_bpmn(version, raw)
        spec = bpmn.SERIALIZER.from_dict(raw["spec"])
        subs = {key: bpmn.SERIALIZER.from_dict(value) for key, value in raw["subprocess_specs"].items()}
    except Exception as exc:  # a damaged stored spec is a finding, not a crash
        route["intact"] = route["spec_matches_bpmn"] = False
        problems.append(f"de opgeslagen definitie is onleesbaar ({type(exc).__name__})")
        return Definition(None, {}, {}, route, "; ".join(problems))
    if not matches:
        route["spec_matches_bpmn"] = False
        problems.append("de uitvoerbare definitie komt niet overeen met de opgeslagen BPMN")
    specs = [*spec.task_specs.values(), *(ts for sub in subs.values() for ts in sub.task_specs.values())]
    titles = {ts.name: getattr(ts, "bpmn_name", None) or ts.name for ts in specs}
    timers = any(bpmn.has_timer(s) for s in (spec, *subs.values()))
    return Definition(spec, subs, titles, route, "; ".join(problems) or None, timers)


def _spec_matches_bpmn(version: RouteVersion, stored: dict[str, Any]) -> bool:
    """Parse the stored BPMN again and compare with the stored executable spec (the file name aside)."""
    try:
        parsed = bpmn.parse_route(bpmn.parse_xml(version.bpmn.encode()), f"{version.route.key}.bpmn")
        fresh = json.loads(bpmn.dump_spec(parsed))
    except Exception:
        return False
    return _without_file(fresh) == _without_file(stored)


def _without_file(raw: dict[str, Any]) -> dict[str, Any]:
    out = {"spec": dict(raw.get("spec") or {}, file=None), "subprocess_specs": {}}
    for key, value in (raw.get("subprocess_specs") or {}).items():
        out["subprocess_specs"][key] = dict(value, file=None)
    return out


# ---------------------------------------------------------------- one replay run


class _ReplayCase:
    """The case as the replay sees it: status and terms as replayed so far; everything else is read (never
    written) from the stored case, so a replay cannot change the real row."""

    def __init__(self, case: Case) -> None:
        self._case = case
        self.status = "open"
        self.due_at: datetime | None = None
        self.suspended_at: datetime | None = None
        self.incident: dict[str, Any] | None = None
        self.outcome: str | None = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._case, name)


def _noop() -> None:
    return None


def _ready(workflow: BpmnWorkflow) -> list[Any]:
    return workflow.get_tasks(state=TaskState.READY, manual=True)


@dataclass
class _Step:
    """What the replay knew after one event (kept for the timeline and to locate a divergence)."""

    seq: int
    type: str
    data: dict[str, Any] | None
    status: str
    state: dict[str, Any] | None = None


@dataclass
class _Run:
    runtime: Runtime
    session: Session
    case: Case
    definition: Definition
    trace: bool = False  # keep the case data after each event (timeline)
    snapshots: bool = False  # keep the normalised state after each event (locating a divergence)

    workflow: BpmnWorkflow | None = None
    pending: list[tuple[str, dict[str, Any], int]] = field(default_factory=list)
    tasks: dict[Any, dict[str, Any]] = field(default_factory=dict)
    timers_since: dict[Any, datetime] = field(default_factory=dict)
    applied: int = 0
    last_seq: int = 0
    last_input: int = 0
    last_row: Any = None
    divergence: dict[str, Any] | None = None
    steps: list[_Step] = field(default_factory=list)
    documents: list[dict[str, Any]] = field(default_factory=list)
    extensions: int = 0
    case_escalated: bool = False

    def __post_init__(self) -> None:
        self.rc = _ReplayCase(self.case)

    # -------------------------------------------------------- feeding events

    def feed(self, row: Event) -> bool:
        """Apply one event; False once the replay has diverged (it stops there)."""
        if row.type in DERIVED:
            ok = self._derived(row)
        elif self.pending:  # the replay produced an incident or an ending that the log does not have
            ok = self._pending_missing()
        elif row.type in INPUTS:
            ok = self._input(row)
        elif row.type in PASSIVE:
            ok = self._passive(row)
        else:
            ok = self._diverge(row.seq, "unknown_event", f"Onbekend eventtype '{row.type}': dit dossier kan met "
                                                         "deze versie van Loket niet worden afgespeeld.", row)
        if ok:
            self.applied += 1
            self.last_seq, self.last_row = row.seq, row
            if self.trace or self.snapshots:
                self.steps.append(_Step(row.seq, row.type, self.current_data(), self.rc.status,
                                        self._normalised() if self.snapshots and self.workflow else None))
        return ok

    def finish(self) -> bool:
        """After the last event: a derived event the replay produced must not be missing from the log."""
        return not self.pending or self._pending_missing()

    def _pending_missing(self) -> bool:
        """Report the derived event the log lacks (always False: the replay stops)."""
        type_, produced, origin = self.pending[0]
        if type_ == "incident" and _unlogged_call(produced):
            handler = str(produced.get("error")).split(":")[0]
            return self._diverge(origin, "services", f"Bij opnieuw afspelen van event {origin} roept de route "
                                                     f"service '{handler}' aan (taak {produced.get('task')}), die "
                                                     "toen niet is aangeroepen.")
        detail = f" ({produced.get('task')}: {produced.get('error')})" if type_ == "incident" else (
            f" (uitkomst {produced.get('outcome')})")
        return self._diverge(origin, "derived_missing", f"Bij opnieuw afspelen volgt op event {origin} een "
                                                        f"{LABELS[type_]}{detail}, maar het log heeft dat niet.")

    def _input(self, row: Event) -> bool:
        payload = row.payload or {}
        recorded = list(payload.get("services") or [])
        with clock.frozen(row.at):
            if row.type == "case_started":
                if self.workflow is not None:
                    return self._diverge(row.seq, "order", f"Event {row.seq} start het dossier opnieuw.", row)
                self.workflow = new_workflow(self.definition.spec, self.definition.subs, payload.get("data") or {})
                step: Callable[[], None] = _noop
            else:
                if self.workflow is None:
                    return self._diverge(row.seq, "order", f"Event {row.seq} komt vóór de start van het dossier.",
                                         row)
                if row.type == "case_resumed":
                    self._resume(row, payload)
                try:
                    step = input_step(self.workflow, row.type, row.task_name, row.task_index, payload)
                except LookupError:
                    return self._task_not_open(row)
            # The ready user tasks before this input: only inputs change them, so they are the ones tracked.
            before = set(self.tasks)
            outcome = self.runtime._advance(self.session, self.rc, self.workflow, step, recorded=recorded,
                                            recorded_calendar=payload.get("calendar"),
                                            recompute_terms=row.type == "case_retried")
        if not self._same_services(row, recorded, outcome):
            return False
        self._after_input(row, outcome, before)
        self.last_input = row.seq
        return True

    def _after_input(self, row: Event, outcome: Any, before: set[Any]) -> None:
        workflow, rc = self.workflow, self.rc
        ready = {t.id: t for t in _ready(workflow)}
        for task_id in list(self.tasks):
            if task_id not in ready:
                del self.tasks[task_id]
        terms = getattr(outcome, "terms", None) or {}
        for task_id, task in ready.items():
            entry = self.tasks.get(task_id)
            if entry is None:
                entry = self.tasks[task_id] = {"ready_since": row.at, "lane": task.task_spec.lane, "claimed_by": None,
                                               "due_at": None, "warn_at": None, "escalated": False, "warned": False}
            if str(task_id) in terms and (task_id not in before or entry["due_at"] is None):
                entry["due_at"], entry["warn_at"] = terms[str(task_id)]
        if self.definition.has_timers:
            for timer in workflow.get_tasks(state=TaskState.WAITING):
                self.timers_since.setdefault(timer.id, row.at)
        if getattr(outcome, "case_due", None) is not None:
            rc.due_at = outcome.case_due
        if outcome.incident:
            rc.status, rc.incident = "incident", outcome.incident
            self.pending = [("incident", outcome.incident, row.seq)]
        elif workflow.is_completed():
            rc.status, rc.incident, rc.outcome = "closed", None, Runtime._end_outcome(workflow)
            self.pending = [("case_completed", {"outcome": rc.outcome}, row.seq)]
        else:
            rc.status, rc.incident = ("suspended" if rc.suspended_at else "open"), None

    def _resume(self, row: Event, payload: dict[str, Any]) -> None:
        shift = timedelta(seconds=payload.get("shift_seconds") or 0)
        for entry in self.tasks.values():
            for key in ("due_at", "warn_at"):
                if entry[key] is not None:
                    entry[key] += shift
        if self.rc.due_at is not None:
            self.rc.due_at += shift
        self.rc.suspended_at = None

    def _same_services(self, row: Event, recorded: list[dict[str, Any]], outcome: Any) -> bool:
        def calls(log: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
            return [(c.get("task"), c.get("handler"), c.get("params")) for c in log]

        produced = outcome.services
        if calls(recorded) == calls(produced):
            return True
        attempted = [f"{c[0]}→{c[1]}" for c in calls(produced)]
        incident = outcome.incident
        if incident and _unlogged_call(incident):  # the call the log had no result for
            attempted.append(f"{incident.get('task')}→{str(incident.get('error')).split(':')[0]}")
        elif incident:
            attempted.append(f"incident in {incident.get('task')}: {incident.get('error')}")
        then = ", ".join(f"{c[0]}→{c[1]}" for c in calls(recorded)) or "geen"
        now = ", ".join(attempted) or "geen"
        return self._diverge(row.seq, "services", f"Bij opnieuw afspelen van event {row.seq} roept de route andere "
                                                  f"services aan dan toen (toen: {then}; nu: {now}).", row,
                             recorded=jsonable(recorded), replayed=jsonable(produced))

    def _derived(self, row: Event) -> bool:
        label = LABELS[row.type]
        if not self.pending:
            return self._diverge(self.last_input, "derived_unexpected",
                                 f"Het log heeft na event {self.last_input} een {label} (event {row.seq}), maar "
                                 "bij opnieuw afspelen ontstaat die niet.", row)
        type_, produced, origin = self.pending.pop(0)
        logged = row.payload or {}
        if type_ != row.type:
            return self._diverge(origin, "derived_differs", f"Bij opnieuw afspelen volgt op event {origin} een "
                                                            f"{LABELS[type_]}, maar het log heeft een {label}.", row)
        if row.type == "case_completed" and logged.get("outcome") != produced.get("outcome"):
            return self._diverge(origin, "derived_differs", f"Het dossier eindigt bij opnieuw afspelen met uitkomst "
                                                            f"'{produced.get('outcome')}', in het log met "
                                                            f"'{logged.get('outcome')}'.", row)
        if row.type == "incident" and not _same_incident(logged, produced):
            return self._diverge(origin, "derived_differs", f"Het incident na event {origin} is bij opnieuw afspelen "
                                                            f"anders: toen {logged.get('task')}: "
                                                            f"{logged.get('error')}; nu {produced.get('task')}: "
                                                            f"{produced.get('error')}.", row)
        return True

    def _passive(self, row: Event) -> bool:
        payload = row.payload or {}
        rc = self.rc
        if row.type in ("task_claimed", "task_unclaimed", "deadline_warned") or (
                row.type == "deadline_escalated" and row.task_name):
            entry = self._entry_for(row)
            if entry is None:
                return self._task_not_open(row)
            if row.type == "task_claimed":
                entry["claimed_by"] = row.actor
            elif row.type == "task_unclaimed":
                entry["claimed_by"] = None
            elif row.type == "deadline_warned":
                entry["warned"] = True
            else:
                entry["escalated"] = True
                if payload.get("reassigned"):
                    entry["lane"], entry["claimed_by"] = payload.get("to_role"), None
        elif row.type == "deadline_escalated":
            self.case_escalated = True
        elif row.type == "case_suspended":
            rc.suspended_at, rc.status = row.at, "suspended"
        elif row.type == "case_extended":
            if payload.get("to"):
                rc.due_at = datetime.fromisoformat(payload["to"])
            self.extensions += 1
        elif row.type == "document_added":
            self.documents.append({"seq": row.seq, "at": row.at.isoformat(), "actor": row.actor,
                                   **{k: v for k, v in payload.items() if k in ("name", "title", "filename", "kind")}})
        return True

    def _entry_for(self, row: Event) -> dict[str, Any] | None:
        if self.workflow is None:
            return None
        same = self.workflow.get_tasks(state=TaskState.READY, spec_name=row.task_name, manual=True)
        if not same:
            return None
        # A claim names the task by its index among the open tasks of that name; with one open (the usual
        # case) that is unambiguous.
        index = row.task_index if row.task_index is not None and row.task_index < len(same) else 0
        return self.tasks.get(same[index].id)

    def _task_not_open(self, row: Event) -> bool:
        open_now = sorted({t.task_spec.name for t in _ready(self.workflow)}) if self.workflow else []
        return self._diverge(self.last_seq, "task_not_open",
                             f"Event {row.seq} ({row.type}) gaat over taak '{row.task_name}' (nr. {row.task_index}), "
                             f"maar bij opnieuw afspelen staat die taak na event {self.last_seq} niet open "
                             f"(open: {', '.join(open_now) or 'geen'}).", row, task=row.task_name, open=open_now)

    def _diverge(self, seq: int, reason: str, message: str, row: Event | None = None, **details: Any) -> bool:
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

    def current_data(self) -> dict[str, Any] | None:
        if self.workflow is None:
            return None
        return jsonable(Runtime._current_data(self.workflow))

    def _normalised(self) -> dict[str, Any]:
        return statediff.normalise(bpmn.dump_workflow(self.workflow))

    def state_json(self, at: datetime | None) -> dict[str, Any]:
        rc, workflow, titles = self.rc, self.workflow, self.definition.titles
        tasks = []
        for task_id, entry in self.tasks.items():
            task = workflow.get_task_from_id(task_id)
            tasks.append({"name": task.task_spec.name, "title": titles.get(task.task_spec.name),
                          "lane": entry["lane"], "claimed_by": entry["claimed_by"],
                          "ready_since": _iso(entry["ready_since"]), "due_at": _iso(entry["due_at"]),
                          "warn_at": _iso(entry["warn_at"]), "warned": entry["warned"],
                          "escalated": entry["escalated"]})
        timers = []
        for timer in workflow.get_tasks(state=TaskState.WAITING) if workflow else []:
            value = timer.internal_data.get("event_value")
            if isinstance(value, dict):
                value = value.get("next")
            if value is not None:
                timers.append({"name": timer.task_spec.name, "title": titles.get(timer.task_spec.name),
                               "due_at": value, "waiting_since": _iso(self.timers_since.get(timer.id))})
        return {
            "at": _iso(at),
            "after_event": ({"seq": self.last_row.seq, "type": self.last_row.type, "at": _iso(self.last_row.at)}
                            if self.last_row is not None else None),
            "events": self.applied,
            "status": rc.status,
            "outcome": rc.outcome,
            "incident": rc.incident,
            "data": self.current_data() or {},
            "tasks": tasks,
            "timers": timers,
            "due_at": _iso(rc.due_at),
            "case_escalated": self.case_escalated,
            "extensions": self.extensions,
            "suspended_since": _iso(rc.suspended_at),
            "documents": self.documents,
            "elements": _element_states(workflow) if workflow else {},
        }


def _unlogged_call(incident: dict[str, Any]) -> bool:
    """Did the replay stop at a service call for want of a logged result (rather than on a real error)?"""
    return incident.get("type") == "LookupError" and _NO_RESULT in str(incident.get("error", ""))


# What the engine's replayed call_service says when the log holds no result for a call.
_NO_RESULT = "geen vastgelegd resultaat"


def _same_incident(logged: dict[str, Any], produced: dict[str, Any]) -> bool:
    if logged.get("task") != produced.get("task"):
        return False
    if logged.get("error") == produced.get("error"):
        return True
    # A handler that failed then is not called again on replay: the replay stops at the same service call
    # for want of a logged result, which is the same incident.
    handler = str(logged.get("error", "")).split(":")[0]
    return _unlogged_call(produced) and str(produced.get("error", "")).startswith(f"{handler}:")


def _element_states(workflow: BpmnWorkflow) -> dict[str, str]:
    """Per BPMN element its most current state: for drawing the diagram as it was."""
    rank = {"ERROR": 5, "READY": 4, "STARTED": 4, "WAITING": 3, "COMPLETED": 2}
    label = {"ERROR": "error", "READY": "open", "STARTED": "open", "WAITING": "waiting", "COMPLETED": "done"}
    out: dict[str, tuple[int, str]] = {}
    for task in workflow.get_tasks(state=TaskState.ANY_MASK):
        bpmn_id = getattr(task.task_spec, "bpmn_id", None)
        name = TaskState.get_name(task.state)
        if not bpmn_id or name not in rank:
            continue
        if bpmn_id not in out or rank[name] > out[bpmn_id][0]:
            out[bpmn_id] = (rank[name], label[name])
    return {key: value for key, (_, value) in sorted(out.items())}


def _iso(value: Any) -> str | None:
    if value is None:
        return None
    return value.isoformat() if isinstance(value, datetime) else str(value)


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
        definition = self.specs.get(case.route_version)
        cut = at is not None or seq is not None
        chosen = [r for r in rows if (at is None or r.at <= at) and (seq is None or r.seq <= seq)]
        if cut and not chosen:
            raise Conflict(f"Dossier {case.id} bestond op dat moment nog niet.")
        run = _Run(self.runtime, self.session, case, definition)
        self._play(run, chosen, complete=len(chosen) == len(rows))
        if run.divergence is None and len(chosen) == len(rows):
            self._compare(run, rows)
        divergence = run.divergence
        if definition.problem:
            divergence = {"seq": None, "event": None, "reason": "route_changed",
                          "message": f"De route {definition.route['key']} v{definition.route['version']} is "
                                     f"niet meer zoals gedeployed: {definition.problem}.", "detected_at": None,
                          "details": {}, "replay": run.divergence}
        state = run.state_json(at) if cut and run.workflow is not None else None
        return Replay(case.id, divergence is None, run.applied, divergence, definition.route, state)

    def trace(self, case: Case, rows: list[Event]) -> tuple[list[_Step], dict[str, Any] | None]:
        """The case data after each event, as far as the replay stays consistent, and the divergence."""
        definition = self.specs.get(case.route_version)
        run = _Run(self.runtime, self.session, case, definition, trace=True)
        self._play(run, rows, complete=True)
        return run.steps, run.divergence

    def _play(self, run: _Run, rows: list[Event], complete: bool) -> None:
        if run.definition.spec is None:
            return
        try:
            for row in rows:
                if not run.feed(row):
                    return
            if complete:
                run.finish()
        except Exception as exc:  # whatever the engine makes of a damaged history: a finding, not a crash
            row = rows[run.applied] if run.applied < len(rows) else None
            run._diverge(run.last_seq, "replay_failed", f"Opnieuw afspelen liep vast na event {run.last_seq}: "
                                                         f"{type(exc).__name__}: {exc}", row)

    def _compare(self, run: _Run, rows: list[Event]) -> None:
        """Compare the replayed case with the stored one; name the event after which they part."""
        case = run.case
        if run.workflow is None:
            run._diverge(0, "state", "Het dossier heeft geen startevent.")
            return
        found = _differences(case, run)
        if not found:
            return
        # Replay once more, keeping the state after every event, to find where each difference arose.
        again = _Run(self.runtime, self.session, case, run.definition, trace=True, snapshots=True)
        self._play(again, rows, complete=True)
        seq = min((_arose_at(again.steps, item) for item in found), default=run.last_input)
        described = "; ".join(_describe(item) for item in found[:3])
        run._diverge(seq, "state", f"Na event {seq} wijken de opgeslagen en de afgespeelde toestand af: {described}.",
                     None, differences=jsonable(found))
        run.divergence["event"] = next((s.type for s in again.steps if s.seq == seq), None)


def _differences(case: Case, run: _Run) -> list[dict[str, Any]]:
    found = []
    if case.status != run.rc.status:
        found.append({"what": "status", "path": ["status"], "stored": case.status, "replayed": run.rc.status})
    if run.rc.status == "closed" and case.outcome != run.rc.outcome:
        found.append({"what": "status", "path": ["outcome"], "stored": case.outcome, "replayed": run.rc.outcome})
    for item in statediff.differences(case.data or {}, run.current_data() or {}, limit=10):
        found.append({"what": "data", **item})
    try:
        stored = statediff.normalise(case.state)
    except (ValueError, TypeError) as exc:
        return found + [{"what": "state", "path": [], "stored": f"onleesbaar: {exc}", "replayed": None}]
    for item in statediff.differences(stored, run._normalised(), limit=10):
        found.append({"what": "state", **item})
    return found


def _arose_at(steps: list[_Step], item: dict[str, Any]) -> int:
    """The event after which the replayed value behind a difference took its final form."""
    def value(step: _Step) -> Any:
        path = item["path"]
        if item["what"] == "status":
            return step.status
        if item["what"] == "data":
            return _dig(step.data, path)
        if step.state is None:
            return None
        if path and path[0] == "tasks" and len(path) > 1:
            tasks = step.state.get("tasks", {})
            name = path[1]
            final = steps[-1].state.get("tasks", {}) if steps[-1].state else {}
            if name not in final:  # only in the stored state: look at where its parent changed
                name = _nearest_parent(item, final)
            return tasks.get(name)
        return _dig(step.state, path[:1])

    if not steps:
        return 0
    final = value(steps[-1])
    seq = steps[0].seq
    previous: Any = object()
    for step in steps:
        current = value(step)
        if current != previous and current == final:
            seq = step.seq
        previous = current
    return seq


def _nearest_parent(item: dict[str, Any], final_tasks: dict[str, Any]) -> str | None:
    stored = item.get("stored")
    parent = stored.get("parent") if isinstance(stored, dict) else None
    return parent if parent in final_tasks else None


def _dig(value: Any, path: list[str]) -> Any:
    for key in path:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def _describe(item: dict[str, Any]) -> str:
    path = item["path"]
    if item["what"] == "status":
        return f"{path[0]} opgeslagen '{item['stored']}', afgespeeld '{item['replayed']}'"
    if item["what"] == "data":
        return f"gegeven {'.'.join(path)}: opgeslagen {_short(item['stored'])}, afgespeeld {_short(item['replayed'])}"
    if path and path[0] == "tasks" and len(path) > 1:
        where = f"taak {path[1]}"
        if item.get("only"):
            side = "opgeslagen" if item["only"] == "stored" else "afgespeelde"
            return f"{where} bestaat alleen in de {side} toestand"
        field_ = ".".join(path[2:])
        stored, replayed = item["stored"], item["replayed"]
        if field_ == "state":
            stored, replayed = TaskState.get_name(stored), TaskState.get_name(replayed)
        return f"{where}, {field_}: opgeslagen {_short(stored)}, afgespeeld {_short(replayed)}"
    return f"{'.'.join(path) or 'toestand'}: opgeslagen {_short(item['stored'])}, afgespeeld {_short(item['replayed'])}"


def _short(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 80 else text[:77] + "..."


def replay(runtime: Runtime, session: Session, case: Case) -> Replay:
    """Rebuild the case from its history and compare with the stored case: {consistent, events, divergence}."""
    return Replayer(runtime, session).run(case)


def state_at(runtime: Runtime, session: Session, case: Case, at: datetime | None = None,
             seq: int | None = None) -> Replay:
    """The case as it was at a moment (or right after an event): ``Replay.state``."""
    if at is None and seq is None:
        at = clock.now()
    return Replayer(runtime, session).run(case, at=at, seq=seq)


def timeline(runtime: Runtime, session: Session, case: Case) -> dict[str, Any]:
    """Every event with actor, role, time, the data submitted and what changed in the case data."""
    from .audit import check_chain

    replayer = Replayer(runtime, session)
    rows = replayer.events(case)
    chain = check_chain(case.id, case.event_seq, case.last_hash, rows)
    broken = {b.seq for b in chain.breaks}
    purged = any(row.purged_at is not None for row in rows)
    steps, divergence = ([], None) if purged else replayer.trace(case, rows)
    after = {step.seq: step.data for step in steps}
    titles = replayer.specs.get(case.route_version).titles
    out, before = [], {}
    for row in rows:
        payload = copy.deepcopy(row.payload) if row.payload is not None else None
        changes = None
        if row.seq in after:
            current = after[row.seq] or {}
            changes = statediff.changes(before, current) if row.type in INPUTS else []
            before = current
        out.append({
            "seq": row.seq, "type": row.type, "at": row.at.isoformat(), "actor": row.actor, "actor_id": row.actor_id,
            "role": row.role,
            "task": ({"id": row.task_id, "name": row.task_name, "index": row.task_index,
                      "title": titles.get(row.task_name, row.task_name)} if row.task_name else None),
            "submitted": (payload or {}).get("data") if payload is not None else None,
            "services": (payload or {}).get("services") if payload is not None else None,
            "details": ({k: v for k, v in payload.items() if k not in ("data", "services")}
                        if payload is not None else None),
            "changes": changes,
            "purged_at": row.purged_at.isoformat() if row.purged_at else None,
            "hash": row.hash,
            "intact": row.seq not in broken,
        })
    return {"case_id": case.id, "intact": chain.intact, "replayed": not purged, "divergence": divergence,
            "events": out}
