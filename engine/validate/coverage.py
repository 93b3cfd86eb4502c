"""Rules that try a route's choices and terms on sample values (issue 11): gateways that may find no way out,
deadlines that do not compute, and lanes no user of the SWV can work.

- ``coverage_warnings``: an exclusive gateway without a default flow whose conditions do not provably cover every
  value of the form fields they test (an enum or a boolean). Tried by enumeration: every combination of the tested
  fields' values must make some condition true without reading anything else. A warning (the engine would stop the
  case with an incident), refused by ``--strict`` and at publish.
- ``rule_deadline_samples``: a deadline (or its warning) that raises for a sample case built from the route's
  forms is an error: it would raise in a real case too, when the task opens.
- ``lane_warnings``: a user task whose lane (role) no active user of the SWV holds; only when checking for an SWV.
"""

from __future__ import annotations

import ast
import itertools
from collections.abc import Iterable, Iterator
from datetime import date
from typing import Any

from lxml import etree

from engine.calendar import UNITS, BusinessCalendar
from engine.clock import local_date
from engine.deadlines import end_of_day, evaluate_term, start_of_day
from engine.sandbox import SandboxEnvironment

from .document import Document, Problem, bpmn_tag, condition, outgoing, properties
from .route_code import _code_problem

# More combinations than this are not tried (the gateway is then reported as not provably covered).
MAX_COMBINATIONS = 512
SAMPLE_START = date(2026, 3, 2)  # a Monday outside the school holidays: any term can be counted from it
SAMPLE_REGION = "midden"


def _choice_fields(doc: Document) -> dict[str, list[Any]]:
    """The top-level enum and boolean fields of the route's forms with their possible values (as the task data
    holds them: a form's fields are the task's data)."""
    fields: dict[str, list[Any]] = {}
    for form in doc.forms.values():
        props = (form.schema or {}).get("properties")
        for name, field in (props if isinstance(props, dict) else {}).items():
            if not isinstance(field, dict):
                continue
            if isinstance(field.get("enum"), list) and field["enum"]:
                values = list(field["enum"])
            elif field.get("type") == "boolean":
                values = [True, False]
            else:
                continue
            known = fields.setdefault(name, [])
            known.extend(v for v in values if v not in known)
    return fields


def _names(source: str) -> set[str]:
    try:
        tree = ast.parse(source.strip(), mode="eval")
    except SyntaxError:
        return set()
    return {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}


def _holds(environment: SandboxEnvironment, source: str, values: dict[str, Any]) -> bool:
    """True only when the condition is true reading nothing but ``values``: an unknown name counts as false."""
    try:
        return bool(environment.evaluate(source.strip(), dict(values)))
    except Exception:
        return False


def coverage_warnings(doc: Document) -> Iterator[Problem]:
    choices = _choice_fields(doc)
    environment = SandboxEnvironment()
    for gateway in doc.each("exclusiveGateway"):
        flows = outgoing(doc, gateway.get("id"))
        if gateway.get("default") or len(flows) < 1:
            continue
        conditions = [c for c in (condition(flow) for flow in flows) if c is not None]
        if len(conditions) < len(flows):
            continue  # a flow without a condition and no default: rule_gateways reports it already
        tested = sorted({name for c in conditions for name in _names(c)} & set(choices))
        if not tested:
            yield doc.problem(gateway, "waarschuwing: gateway zonder default-flow, en de condities testen geen "
                                       "keuzeveld (enum of ja/nee) van een formulier: Loket kan niet nagaan dat er "
                                       "altijd een uitgaande flow geldt; geef een default-flow")
            continue
        combinations = list(itertools.islice(itertools.product(*(choices[n] for n in tested)), MAX_COMBINATIONS + 1))
        if len(combinations) > MAX_COMBINATIONS:
            yield doc.problem(gateway, f"waarschuwing: gateway zonder default-flow test te veel combinaties "
                                       f"({', '.join(tested)}); geef een default-flow")
            continue
        for combination in combinations:
            values = dict(zip(tested, combination, strict=True))
            if not any(_holds(environment, c, values) for c in conditions):
                shown = ", ".join(f"{name} = {_shown(value)}" for name, value in values.items())
                yield doc.problem(gateway, f"waarschuwing: gateway zonder default-flow dekt niet elke waarde af: bij "
                                           f"{shown} geldt geen enkele conditie; voeg een flow of een default-flow toe")
                break


def _shown(value: Any) -> str:
    if isinstance(value, bool):
        return "ja" if value else "nee"
    return repr(value) if isinstance(value, str) else str(value)


def sample_data(doc: Document) -> dict[str, Any]:
    """One sample case's data: every top-level field of the route's forms with a plausible value."""
    data: dict[str, Any] = {}
    for form in doc.forms.values():
        props = (form.schema or {}).get("properties")
        for name, field in (props if isinstance(props, dict) else {}).items():
            if isinstance(field, dict):
                data.setdefault(name, _sample(field))
    return data


def _sample(field: dict[str, Any]) -> Any:
    if isinstance(field.get("enum"), list) and field["enum"]:
        return field["enum"][0]
    if "const" in field:
        return field["const"]
    kind = field.get("type")
    kind = kind[0] if isinstance(kind, list) and kind else kind
    if kind == "boolean":
        return True
    if kind in ("integer", "number"):
        return field.get("minimum", 1)
    if kind == "array":
        return []
    if kind == "object":
        props = field.get("properties")
        return {k: _sample(v) for k, v in (props if isinstance(props, dict) else {}).items() if isinstance(v, dict)}
    if field.get("format") == "date":
        return SAMPLE_START.isoformat()
    return "voorbeeld"


def _helpers(calendar: BusinessCalendar, forward: bool, end: Any = None) -> dict[str, Any]:
    def make(unit: str) -> Any:
        def term(amount: int, legal: bool = False) -> str:
            if forward:
                return end_of_day(calendar.add(SAMPLE_START, amount, unit, legal=legal)).isoformat()
            return start_of_day(calendar.subtract(local_date(end), amount, unit)).isoformat()

        return term

    return {unit: make(unit) for unit in UNITS}


def rule_deadline_samples(doc: Document) -> Iterator[Problem]:
    tasks = list(doc.each("userTask"))
    if not any(properties(task).get("deadline", "").strip() for task in tasks):
        return
    calendar = BusinessCalendar(SAMPLE_REGION)
    data = sample_data(doc)
    for task in tasks:
        props = properties(task)
        expression = props.get("deadline", "").strip()
        if not expression or _code_problem(expression, "deadline", False):
            continue  # no deadline, or one rule_route_code already reports
        try:
            due = evaluate_term(expression, _helpers(calendar, True), data, "deadline")
        except Exception as exc:
            yield doc.problem(task, f"deadline '{expression}' rekent niet voor een voorbeelddossier: {_why(exc)}")
            continue
        warning = props.get("deadlineWarning", "").strip()
        if warning and not _code_problem(warning, "deadlineWarning", False):
            try:
                evaluate_term(warning, _helpers(calendar, False, due), data, "deadlineWarning")
            except Exception as exc:
                yield doc.problem(task, f"deadlineWarning '{warning}' rekent niet voor een voorbeelddossier: "
                                        f"{_why(exc)}")


def _why(exc: Exception) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:300]


def lane_warnings(root: etree._Element, file: str, staffed: Iterable[str]) -> Iterator[Problem]:
    """User tasks in a lane whose role no active user of the SWV holds: nobody could pick them up."""
    staffed = set(staffed)
    for lane in root.iter(bpmn_tag("lane")):
        role = (lane.get("name") or "").strip()
        if not role or role in staffed:
            continue
        refs = {(ref.text or "").strip() for ref in lane.iter(bpmn_tag("flowNodeRef"))}
        for task in root.iter(bpmn_tag("userTask")):
            if task.get("id") in refs:
                yield Problem(file, task.get("id"), f"waarschuwing: niemand in dit samenwerkingsverband heeft de rol "
                                                    f"'{role}' (baan {lane.get('id')}): deze taak kan niemand oppakken")
