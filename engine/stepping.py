"""Stepping the engine: one input and the engine steps behind it, in the sandbox, with the terms of the user
tasks it made ready. Live actions and audit replay share this; replay serves service and calendar results
from the log instead of calling handlers and the calendar again, and the terms (a task's due and warning moments,
the case's doorlooptijd and the SWV setting it came from) as the input event recorded them: a later change of the
SWV's terms or calendar changes what new cases are told, not the history of the ones that were.
"""

from __future__ import annotations

import json
from collections import Counter as Tally
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.exceptions import WorkflowException
from SpiffWorkflow.util.task import TaskState
from sqlalchemy.orm import Session

from . import bpmn, clock, deadlines, services
from .models import Tenant
from .sandbox import CaseScriptEngine, SandboxError, ServiceCallError
from .vocabulary import CaseStatus
from .workflow import all_tasks, jsonable, ready_user_tasks

# Route-code helpers (the calendar functions) for one SWV, provided by whoever builds the runtime.
Helpers = Callable[[Session, Tenant, int | None], dict[str, Any]]


class RunawayLoop(Exception):
    """A task was activated more often than the configured limit: the route loops without bound."""


class TermError(Exception):
    """A deadline expression could not be computed (e.g. a date outside the shipped school calendar)."""


class NoRecordedResult(LookupError):
    """On replay, the route calls a service for which the log holds no result (it was not called then)."""

    def __init__(self, handler: str) -> None:
        super().__init__(f"geen vastgelegd resultaat om opnieuw af te spelen voor '{handler}'")
        self.handler = handler


@dataclass(frozen=True)
class StepCase:
    """What a step needs to know of its case (the live case row, or the replay's projection of it)."""

    id: int
    tenant: Tenant
    route_key: str
    status: str
    due_at: datetime | None
    school_id: int | None = None  # the case's school: its calendar counts the case's schooldagen


@dataclass
class StepResult:
    """What running the engine produced within one input."""

    services: list[dict[str, Any]] = field(default_factory=list)
    incident: dict[str, Any] | None = None
    # Terms computed for user tasks that became ready: task id -> (due, warn).
    terms: dict[str, tuple[datetime | None, datetime | None]] = field(default_factory=dict)
    case_due: datetime | None = None
    # Results of calendar functions that route code called (werkdagen(10) in a timer, ...), so a replay
    # gets the same answers even after the SWV's calendar changed.
    calendar: list[dict[str, Any]] = field(default_factory=list)
    # Set on replay when the route called a service that the log has no result for.
    unrecorded: str | None = None
    # The SWV's doorlooptijd setting of the route as this step read it (None: it has none); only when the step
    # looked, i.e. while the case has no doorlooptijd yet.
    case_term: dict[str, Any] | None = None
    case_term_read: bool = False

    def logged(self) -> dict[str, Any]:
        """What an input event records of its engine run, beside the submitted data."""
        out: dict[str, Any] = {"services": self.services}
        if self.calendar:
            out["calendar"] = self.calendar
        if self.terms:
            out["terms"] = {task_id: [_iso(due), _iso(warn)] for task_id, (due, warn) in self.terms.items()}
        if self.case_term_read:
            out["case_term"] = self.case_term
        if self.case_due is not None:
            out["case_due"] = self.case_due.isoformat()
        return out


@dataclass(frozen=True)
class Recorded:
    """On replay: what the logged input got from services, the calendar and the SWV's settings then. An event
    logged before terms were recorded has none of ``terms``, ``case_term``, ``case_due``: those are computed
    from today's settings, as they were before."""

    services: list[dict[str, Any]]
    calendar: list[dict[str, Any]] | None
    terms: dict[str, list[str | None]] | None = None
    case_term: dict[str, Any] | None = None
    case_term_read: bool = False
    case_due: str | None = None

    @classmethod
    def of(cls, payload: dict[str, Any]) -> Recorded:
        return cls(list(payload.get("services") or []), payload.get("calendar"), payload.get("terms"),
                   payload.get("case_term"), "case_term" in payload, payload.get("case_due"))


class Stepper:
    """Runs inputs through SpiffWorkflow for one process: the sandbox, the runaway guard and the terms."""

    def __init__(self, helpers: Helpers, max_activations: Callable[[], int]) -> None:
        self.helpers = helpers
        self.max_activations = max_activations  # read per step: the setting may change while a process runs

    def advance(self, session: Session, case: StepCase, workflow: BpmnWorkflow, step: Callable[[], None], *,
                recorded: Recorded | None = None, recompute_terms: bool = False) -> StepResult:
        """Run one input and the engine steps behind it, and compute the terms of the user tasks it made
        ready. Route, handler and term failures become an incident; anything else aborts the action."""
        result = StepResult()
        workflow.script_engine = self._script_engine(session, case, result, recorded)
        activations = Tally(t.task_spec.name for t in all_tasks(workflow) if t.state & TaskState.FINISHED_MASK)
        limit = self.max_activations()
        before = set() if recompute_terms else {t.id for t in ready_user_tasks(workflow)}

        def guard(task: Any) -> None:
            activations[task.task_spec.name] += 1
            if activations[task.task_spec.name] > limit:
                raise RunawayLoop(f"stap '{task.task_spec.name}' is vaker dan {limit} keer geactiveerd")

        try:
            step()
            workflow.do_engine_steps(will_complete_task=guard)
            fresh = [t for t in ready_user_tasks(workflow) if t.id not in before]
            for task in fresh:
                if activations[task.task_spec.name] + 1 > limit:
                    raise RunawayLoop(f"stap '{task.task_spec.name}' is vaker dan {limit} keer geactiveerd")
            self._compute_terms(session, case, fresh, result, recorded)
        except (ServiceCallError, SandboxError, RunawayLoop, TermError, WorkflowException) as exc:
            result.incident = incident(workflow, exc)
            cause = _cause(exc)
            if isinstance(cause, ServiceCallError) and isinstance(cause.original, NoRecordedResult):
                result.unrecorded = cause.original.handler
        return result

    def _script_engine(self, session: Session, case: StepCase, result: StepResult,
                       recorded: Recorded | None) -> CaseScriptEngine:
        replayed = iter(recorded.services) if recorded is not None else None
        helpers = _logged_helpers(self.helpers(session, case.tenant, case.school_id), result.calendar,
                                  recorded.calendar if recorded is not None else None)

        def call_service(task: Any, name: str, params: dict[str, Any]) -> str:
            values = {key: param.get("value") for key, param in params.items()}
            if replayed is not None:
                entry = next(replayed, None)
                if entry is None or entry["handler"] != name:
                    raise ServiceCallError(name, NoRecordedResult(name))
                answer = entry["result"]
            else:
                handler = services.get(name)
                if handler is None:
                    raise ServiceCallError(name, LookupError(f"geen handler geregistreerd voor '{name}'"))
                context = services.ServiceContext(session, case.tenant.id, case.id, clock.now(),
                                                  task.task_spec.name, data=task.data)
                try:
                    # A savepoint, so a handler that fails halfway leaves none of its writes behind.
                    with session.begin_nested():
                        answer = handler(context, **values)
                except Exception as exc:
                    raise ServiceCallError(name, exc) from exc
            answer = jsonable(answer)
            result.services.append({"task": task.task_spec.name, "handler": name, "params": jsonable(values),
                                    "result": answer})
            return json.dumps(answer)

        return CaseScriptEngine(helpers, call_service)

    @staticmethod
    def _compute_terms(session: Session, case: StepCase, fresh: list[Any], result: StepResult,
                       recorded: Recorded | None) -> None:
        terms = deadlines.Terms(session, case.tenant, case.school_id)
        told = (recorded.terms if recorded is not None else None) or {}
        for task in fresh:
            props = bpmn.properties(task.task_spec)
            if not props.get("deadline"):
                continue
            logged = told.get(str(task.id))
            if logged is not None:  # replay: the moments the task was given then
                result.terms[str(task.id)] = (_moment(logged[0]), _moment(logged[1]))
                continue
            try:
                result.terms[str(task.id)] = deadlines.task_deadline(terms, props, task.data)
            except Exception as exc:
                raise TermError(f"termijn van taak '{task.task_spec.name}' kon niet worden berekend: "
                                f"{exc}") from exc
        if case.due_at is not None or case.status == CaseStatus.CLOSED:
            return
        if recorded is not None and recorded.case_term_read:
            config = recorded.case_term  # the SWV's setting then, not now
        else:
            config = deadlines.case_term(case.tenant, case.route_key)
        result.case_term, result.case_term_read = config, True
        if not config:
            return
        starts = config.get("from")
        if starts is None or any(t.task_spec.name == starts for t in fresh):
            if recorded is not None and recorded.case_due is not None:
                result.case_due = _moment(recorded.case_due)
                return
            try:
                data = fresh[0].data if fresh else {}
                result.case_due = deadlines.case_due(terms, config, data)
            except Exception as exc:
                raise TermError(f"doorlooptijd kon niet worden berekend: {exc}") from exc


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def _moment(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def _logged_helpers(helpers: dict[str, Any], log: list[dict[str, Any]],
                    recorded: list[dict[str, Any]] | None) -> dict[str, Any]:
    """Wrap the calendar functions so each answer is logged, and on replay served from the log."""
    served = iter(recorded) if recorded is not None else None

    def wrap(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            asked = jsonable([list(args), kwargs])
            entry = next(served, None) if served is not None else None
            if entry is not None and entry.get("fn") == name and entry.get("args") == asked:
                answer = entry["result"]
            else:
                answer = jsonable(func(*args, **kwargs))
            log.append({"fn": name, "args": asked, "result": answer})
            return answer

        return call

    return {name: wrap(name, func) if callable(func) else func for name, func in helpers.items()}


def _cause(exc: BaseException) -> BaseException:
    # SpiffWorkflow wraps errors in route code; find the cause a person can act on.
    real = exc
    while isinstance(real, WorkflowException) and (real.__cause__ or real.__context__):
        real = real.__cause__ or real.__context__
    return real


def incident(workflow: BpmnWorkflow, exc: BaseException) -> dict[str, Any]:
    """The incident a failed step leaves on its case: which task, what went wrong, when."""
    failed = workflow.get_tasks(state=TaskState.ERROR)
    task = failed[0] if failed else None
    real = _cause(exc)
    if isinstance(real, ServiceCallError):
        message, kind = str(real), type(real.original).__name__
    elif isinstance(real, (SandboxError, RunawayLoop, TermError)):
        message, kind = str(real), type(real).__name__  # Loket's own words, already Dutch
    else:
        message, kind = f"{type(real).__name__}: {real}", type(real).__name__
    spec = getattr(exc, "task_spec", None)
    return {
        "task": task.task_spec.name if task else (spec.name if spec is not None else None),
        "task_id": str(task.id) if task else None,
        "error": message,
        "type": kind,
        "at": clock.now().isoformat(),
    }
