"""The decision clock of a route that decides (Awb 4:13-4:15), as part of the case's projection.

A route marks its legal decision term with extension properties, so any route that decides can use it:

- ``decisionTerm`` on the user task whose completion is the receipt of the application (``weken(8)``: Awb 4:13
  lid 2), with ``decisionWarning`` (``weken(1)``) and ``decisionEscalateTo`` (a role);
- ``decisionSuspends="true"`` on a user task during which the applicant completes the application: while it
  is open the term stands still (Awb 4:15 lid 1 sub a), each round recorded;
- a service task with the ``decision`` handler takes the decision (its result is the decision record).

The clock is counted in calendar days with the Algemene termijnenwet (a term ending on a Saturday, Sunday,
public holiday or equated day runs to the next day that is none of these): the legal calendar, the same for
every SWV. Its state is the case's ``decision`` column, a projection of the events like every other row, so
replay rebuilds it exactly. The SWV's own, shorter promise is the case's doorlooptijd (``due_at``) beside it.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any
from uuid import UUID

from . import bpmn
from .clock import local_date
from .deadlines import end_of_day, start_of_day
from .legal_days import atw_end, atw_shift
from .vocabulary import DeadlineKind, DeadlineStatus, EventType

if TYPE_CHECKING:
    from .projection import After, EventLike, Projection

TERM = "decisionTerm"
WARNING = "decisionWarning"
ESCALATE_TO = "decisionEscalateTo"
SUSPENDS = "decisionSuspends"
RECEIVED_FROM = "decisionReceivedFrom"
# Awb 7:10: the term counts from a day the case data holds (the end of the objection term), not from the receipt.
FROM = "decisionFrom"
LAW = "decisionLaw"  # the law of a term that is not the Awb's (zorgplicht: "WVO art. 27 lid 2c")
EXTENSION = "decisionExtension"  # "route": the route extends its own term (decision_extend), no Awb 4:14 notice
WARN_TO = "decisionWarnTo"  # the role that decides and is warned (default: the commissie)
HANDLER = "decision"
EXTEND_HANDLER = "decision_extend"
DEADLINE_KINDS = (DeadlineKind.DECISION_WARNING, DeadlineKind.DECISION)
_TERM = re.compile(r"^\s*(weken|kalenderdagen)\(\s*(\d{1,3})\s*\)\s*$")


def term_days(expression: str) -> int:
    """``weken(8)`` -> 56: a legal term in calendar days (werkdagen are no unit of the Awb)."""
    match = _TERM.match(expression or "")
    if match is None:
        raise ValueError(f"'{expression}' is geen termijn in weken(n) of kalenderdagen(n)")
    amount = int(match.group(2))
    return amount * 7 if match.group(1) == "weken" else amount


def term_words(expression: str) -> str:
    """``weken(12)`` -> ``12 weken``: a term as the page says it."""
    match = _TERM.match(expression or "")
    return f"{match.group(2)} {match.group(1)}" if match else expression


def legal_end(start: date, days: int) -> date:
    """The last day of a term of ``days`` calendar days from ``start`` (Awb 4:13, 6:7), by the Atw (art. 1 and 2).
    The decision term's end after a suspension is ``atw_shift`` of its moved base: eight weeks always hold the two
    ordinary days of art. 2."""
    return atw_end(start, start + timedelta(days=days))


# ---------------------------------------------------------------- the projection


def apply_fired(p: Projection, event: EventLike) -> bool:
    """A warning or escalation of the decision term; False when the event is about something else."""
    kind = (event.payload or {}).get("kind")
    if event.task_id is not None or kind not in DEADLINE_KINDS:
        return False
    found = next((d for d in p.pending(kind) if d.task_id is None), None)
    if found is not None:  # a decision after the deadline was due cancelled it: the event records the moment
        p.set(found, "status", DeadlineStatus.FIRED)
        p.set(found, "fired_at", event.at)
        p.set(found, "fired_by", (event.payload or {}).get("worker"))
    _put(p, {**(p.case.decision or {}), "warned" if kind == DeadlineKind.DECISION_WARNING else "escalated": True})
    return True


def extended(p: Projection, event: EventLike) -> None:
    """Awb 4:14: the term moved once, by the period the notice names."""
    payload, state = event.payload or {}, dict(p.case.decision or {})
    base = date.fromisoformat(state["base_end"]) + timedelta(days=int(payload["days"]))
    state.update(base_end=base.isoformat(), due=atw_shift(base).isoformat(),
                 extension={k: payload.get(k) for k in ("weeks", "days", "reason", "from", "to", "notice")})
    _put(p, state)
    _rearm(p, event.at)


def letter_made(p: Projection, event: EventLike) -> None:
    """``decision_letter_made`` (engine.decision_letters): the record's letter has its hash, and the bekendmaking
    and objection term are those of the day the letter was made and sent."""
    payload, state = event.payload or {}, dict(p.case.decision or {})
    made = {"sha256": payload.get("sha256"), "bytes": payload.get("bytes")}
    if str(payload.get("bestand") or "").startswith("verdaging-"):  # the Awb 4:14 notice, not the decision
        extension = dict(state.get("extension") or {})
        extension["notice"] = {**(extension.get("notice") or {}), **made}
        _put(p, {**state, "extension": extension})
        return
    name = payload.get("bestand")
    records = list(state.get("records") or [])
    # A case with more than one decision: the letter belongs to the record it was made from, not to the latest.
    index = next((i for i, r in enumerate(records) if letter_name(r) == name), None)
    record = dict(records[index] if index is not None else state.get("record") or {})
    record["brief"] = {**(record.get("brief") or {}), **made}
    for key in ("bekendmaking", "bezwaar_tot", "rechtsmiddel"):
        if payload.get(key):
            record[key] = payload[key]
    if index is not None:
        records[index] = record
        state["records"] = records
    if index is None or letter_name(state.get("record") or {}) == name:
        state["record"] = record
    _put(p, state)


def letter_name(record: dict[str, Any]) -> str:
    """The file name of a decision record's letter (engine.decision_letters.file_name)."""
    return f"besluit-{record.get('kenmerk')}.pdf"


def record_of(state: dict[str, Any] | None, name: str) -> dict[str, Any] | None:
    """The decision record whose letter is ``name``: any of a case's decisions, not only the latest."""
    found = [r for r in (state or {}).get("records") or [(state or {}).get("record")] if r and letter_name(r) == name]
    return found[-1] if found else None


def after_input(p: Projection, event: EventLike, after: After) -> None:
    """Start, suspend, resume or close the clock as the route's tasks and decision service say."""
    workflow = after.workflow
    state = dict(p.case.decision or {})
    today = local_date(event.at).isoformat()
    if event.type == EventType.TASK_COMPLETED and event.task_id and not state:
        spiff_task = workflow.get_task_from_id(UUID(event.task_id))
        props = bpmn.properties(spiff_task.task_spec) if spiff_task is not None else {}
        if props.get(TERM):
            days = term_days(props[TERM])
            received = _received(spiff_task.data, props.get(RECEIVED_FROM), local_date(event.at))
            base = (_from_day(spiff_task.data, props.get(FROM)) or received) + timedelta(days=days)
            state = {"term": props[TERM], "received": received.isoformat(), "base_end": base.isoformat(),
                     "due": atw_shift(base).isoformat(), "warning": props.get(WARNING),
                     "escalate_to": props.get(ESCALATE_TO), "suspended_since": None, "rounds": [],
                     "extension": None, "decided": None, "outcome": None, "late": None, "record": None}
            if props.get(LAW) or props.get(EXTENSION) or props.get(WARN_TO):  # else the state stays as it was
                state.update(law=props.get(LAW), extension_by=props.get(EXTENSION), warn_to=props.get(WARN_TO))
            _put(p, state)
            _rearm(p, event.at)
    if not state:
        return
    if state.get("decided"):
        for entry in after.result.services:
            if entry.get("handler") == HANDLER:
                _decided_again(p, state, entry.get("result") or {})
        return
    for entry in after.result.services:
        if entry.get("handler") == EXTEND_HANDLER and not state.get("extension"):
            # The route extends its own term (zorgplicht: the school, once, by 4 weeks): as Awb 4:14's notice does.
            found = entry.get("result") or {}
            base = date.fromisoformat(state["base_end"]) + timedelta(days=int(found["days"]))
            state.update(base_end=base.isoformat(), due=atw_shift(base).isoformat(),
                         extension={k: found.get(k) for k in ("weeks", "days", "reason", "from", "to", "notice")})
            _put(p, state)
            _rearm(p, event.at)
        if entry.get("handler") == HANDLER:
            record = entry.get("result") or {}
            state.update(decided=record.get("besluitdatum", today), outcome=record.get("uitkomst"),
                         record=record, suspended_since=None)
            state["late"] = state["decided"] > state["due"]
            _put(p, state)
            _cancel(p)
            return
    suspending = any(_suspends(workflow, t.name) for t in p.open_tasks())
    if suspending and state.get("suspended_since") is None:
        state["suspended_since"] = today
        _put(p, state)
        _cancel(p)
    elif not suspending and state.get("suspended_since") is not None:
        days = (local_date(event.at) - date.fromisoformat(state["suspended_since"])).days
        base = date.fromisoformat(state["base_end"]) + timedelta(days=days)
        state["rounds"] = [*state["rounds"], {"from": state["suspended_since"], "to": today, "days": days}]
        state.update(suspended_since=None, base_end=base.isoformat(), due=atw_shift(base).isoformat())
        _put(p, state)
        if not workflow.is_completed():
            _rearm(p, event.at)


def _decided_again(p: Projection, state: dict[str, Any], record: dict[str, Any]) -> None:
    """A later decision on a decided case (zorgplicht: the school admits the pupil after all, after a dispute). The
    term was met by the first decision, so ``decided`` and ``late`` stay; the new record is the one in force
    (``record``, ``outcome``), and ``records`` keeps every decision, oldest first, each with its own letter."""
    earlier = list(state.get("records") or [state["record"]])
    state.update(records=[*earlier, record], record=record, outcome=record.get("uitkomst"))
    _put(p, state)


def _received(data: dict[str, Any], field: str | None, completed: date) -> date:
    """The day the application was received: the day of the task's completion, or (``decisionReceivedFrom``) the
    date its form names, such as the parents' written registration, when that lies on or before that day."""
    try:
        named = date.fromisoformat(str(data.get(field))) if field and data.get(field) else None
    except ValueError:
        named = None
    return named if named is not None and named <= completed else completed


def _from_day(data: dict[str, Any], name: str | None) -> date | None:
    try:
        return date.fromisoformat(data[name]) if name and isinstance(data.get(name), str) else None
    except ValueError:
        return None


def _suspends(workflow: Any, name: str) -> bool:
    spec = workflow.spec.task_specs.get(name)
    return spec is not None and bpmn.properties(spec).get(SUSPENDS, "false").lower() == "true"


def _put(p: Projection, state: dict[str, Any]) -> None:
    p.set(p.case, "decision", state)


def _cancel(p: Projection) -> None:
    for kind in DEADLINE_KINDS:
        for deadline in list(p.pending(kind)):
            p.set(deadline, "status", DeadlineStatus.CANCELLED)


def _rearm(p: Projection, now: datetime) -> None:
    """One pending warning and escalation for the term as it now stands."""
    _cancel(p)
    state = p.case.decision or {}
    due = date.fromisoformat(state["due"])
    p.add_deadline(DeadlineKind.DECISION, end_of_day(due))
    if state.get("warning"):
        warn = start_of_day(due - timedelta(days=term_days(state["warning"])))
        if warn > now:
            p.add_deadline(DeadlineKind.DECISION_WARNING, warn)


# ---------------------------------------------------------------- reading it


def view(state: dict[str, Any] | None, today: date) -> dict[str, Any] | None:
    """The decision clock as the case JSON and page show it."""
    if not state:
        return None
    due = date.fromisoformat(state["due"])
    suspended_days = sum(r["days"] for r in state.get("rounds") or [])
    if state.get("suspended_since"):
        suspended_days += (today - date.fromisoformat(state["suspended_since"])).days
    running = not state.get("decided") and not state.get("suspended_since")
    extension = state.get("extension")
    return {
        "term": state["term"],
        "received": state["received"],
        "due": (due + timedelta(days=(today - date.fromisoformat(state["suspended_since"])).days)).isoformat()
        if state.get("suspended_since") else state["due"],
        "suspended": bool(state.get("suspended_since")),
        "suspended_since": state.get("suspended_since"),
        "suspended_days": suspended_days,
        "rounds": state.get("rounds") or [],
        "extension": extension,
        "extendable": not extension and running and today <= due and state.get("extension_by") != "route",
        "law": state.get("law"),  # None: the Awb (4:13, 4:14, 4:15)
        "extension_by": state.get("extension_by"),
        "days_left": (due - today).days if running else None,
        "decided": state.get("decided"),
        "outcome": state.get("outcome"),
        "late": state.get("late") if state.get("decided") else (running and today > due),
        "record": state.get("record"),
        "records": state.get("records") or ([state["record"]] if state.get("record") else []),
    }
