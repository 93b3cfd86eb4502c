"""Scenario files: what a process owner writes to try a route, read from YAML and checked against a JSON Schema.

A scenario is start data (the SWV, its schools, the moment and the start form) and a list of steps, each one
action (``complete``, ``claim``, ``let``, ``at``, ``suspend``, ``resume``, ``extend``, ``upload``) or one
``expect``. This module only reads and checks the file: every problem is told in Dutch with the file, the step
number (counted from 1) and what is wrong, before anything runs. Running is ``engine.scenarios``.

Dates stay text here (YAML would turn ``2026-03-02`` into a date object, which neither JSON Schema nor a
person comparing it to a due date wants), and the runner reads them as Dutch days or moments.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from .calendar import UNITS
from .vocabulary import ROLES

# A step does one of these; ``expect`` checks instead of acting.
ACTIONS = ("complete", "claim", "let", "at", "suspend", "resume", "extend", "upload", "expect")
# ``let: 10 werkdagen`` (also "10 werkdagen pass" / "verstrijken"); dagen is kalenderdagen, uren exact hours.
LET_UNITS = (*UNITS, "dagen", "uren")
LET = re.compile(r"^\s*(\d{1,4})\s+(" + "|".join(LET_UNITS) + r")(\s+(pass|verstrijken|voorbij))?\s*$")
DATE = r"^\d{4}-\d{2}-\d{2}$"
MONTHDAY = r"^(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$"  # a day of every year: an intake window's end
MOMENT = r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2})?([+-]\d{2}:\d{2}|Z)?)?$"
# ``as``: a role, or its second user (``consulent2``) for separated duties; ``school`` is the case's school.
ACTOR = "^(" + "|".join(ROLES) + ")2?$"
NAME = r"^[A-Za-z_][A-Za-z0-9_.-]{0,199}$"
DATA_REF = r"^@[A-Za-z0-9_-]{1,100}$"  # a data set of the route's _data.yaml

_data = {"anyOf": [{"type": "object"}, {"type": "string", "pattern": DATA_REF}]}
_task = {"type": "string", "pattern": NAME}
_as = {"type": "string", "pattern": ACTOR}
_refused = {"type": "string", "minLength": 1, "maxLength": 500}
_tasks = {"type": "array", "items": _task, "maxItems": 100}

EXPECT = {
    "type": "object", "additionalProperties": False, "minProperties": 1,
    "properties": {
        "task": _task, "due": {"type": "string", "pattern": MOMENT}, "warn": {"type": "string", "pattern": MOMENT},
        "lane": {"type": "string"}, "claimed_by": _as, "escalated": {"type": "boolean"},
        "open_tasks": _tasks, "status": {"enum": ["open", "suspended", "incident", "closed"]},
        "outcome": {"type": ["string", "null"]}, "escalation": _task, "warning": _task,
        "no_escalation": _task, "no_warning": _task, "case_due": {"type": ["string", "null"], "pattern": MOMENT},
        "data": {"type": "object"}, "done": _tasks,
        # The decision clock of a route that decides (engine.decision): the term, the decision, the objection term.
        "decision_due": {"type": "string", "pattern": DATE}, "objection_due": {"type": "string", "pattern": DATE},
        "decision": {"type": "object", "additionalProperties": False, "minProperties": 1, "properties": {
            "outcome": {"type": "string"}, "late": {"type": "boolean"}}},
        "source": {"type": "object", "additionalProperties": False, "minProperties": 1, "properties": {
            "outcome": {"type": ["string", "null"]}, "legal_hold": {"type": "boolean"},
            "linked_outcome": {"type": ["string", "null"]}}},
    },
    "dependentRequired": {"due": ["task"], "warn": ["task"], "lane": ["task"], "claimed_by": ["task"],
                          "escalated": ["task"]},
}
STEP_SCHEMAS: dict[str, dict[str, Any]] = {
    "complete": {"properties": {"complete": _task, "as": _as, "with": _data, "refused": _refused}},
    "claim": {"properties": {"claim": _task, "as": _as, "refused": _refused}},
    "let": {"properties": {"let": {"type": "string", "pattern": LET.pattern}}},
    "at": {"properties": {"at": {"type": "string", "pattern": MOMENT}}},
    "suspend": {"properties": {"suspend": {"type": "string", "minLength": 1, "maxLength": 500}, "as": _as,
                               "refused": _refused}},
    "resume": {"properties": {"resume": {"type": ["string", "null"], "maxLength": 500}, "as": _as,
                              "refused": _refused}},
    "extend": {"properties": {"extend": {"type": "object", "additionalProperties": False,
                                         "required": ["weeks", "reason"],
                                         "properties": {"weeks": {"type": "integer"}, "reason": {"type": "string"}}},
                              "as": _as, "refused": _refused}},
    "upload": {"properties": {"upload": {"type": "string", "pattern": "^[a-z][a-z0-9_-]{0,39}$"}, "as": _as,
                              "name": {"type": "string", "maxLength": 200}, "refused": _refused}},
    "expect": {"properties": {"expect": EXPECT}},
}
for _name, _schema in STEP_SCHEMAS.items():
    _schema.update({"type": "object", "additionalProperties": False, "required": [_name]})
    _schema["properties"]["note"] = {"type": "string"}  # a remark for the reader, ignored by the runner

SCENARIO_SCHEMA: dict[str, Any] = {
    "type": "object", "additionalProperties": False, "required": ["name", "start"],
    "properties": {
        "name": {"type": "string", "minLength": 1, "maxLength": 200},
        "description": {"type": "string"},
        "route": {"type": "string", "pattern": NAME},
        "swv": {"type": "object", "additionalProperties": False, "properties": {
            "region": {"enum": ["noord", "midden", "zuid"]},
            "schools": {"type": "array", "items": {"type": "string", "pattern": "^[A-Z0-9]{2,32}$"}, "minItems": 1,
                        "maxItems": 20},
            "term": {"type": "object", "additionalProperties": False, "required": ["term"], "properties": {
                "term": {"type": "string"}, "from": _task, "escalate_to": _as, "legal": {"type": "boolean"}}},
            "max_extensions": {"type": "integer", "minimum": 0, "maximum": 10},
            "herbeoordeling": {"type": "object", "additionalProperties": False, "required": ["deadline"],
                               "properties": {"deadline": {"type": "string", "pattern": MONTHDAY},
                "open_weeks_before": {"type": "integer", "minimum": 0, "maximum": 52}}},
            # The SWV's settings a case start checks (engine.swv_settings): the routes it runs, a route's windows.
            "routes": {"type": "array", "items": {"type": "string", "pattern": NAME}, "maxItems": 50},
            "intake_windows": {"type": "object", "additionalProperties": {
                "type": "array", "minItems": 1, "maxItems": 12, "items": {
                    "type": "object", "additionalProperties": False, "required": ["from", "to"], "properties": {
                        "from": {"type": "string", "pattern": MONTHDAY}, "to": {"type": "string", "pattern": MONTHDAY},
                        "label": {"type": "string", "maxLength": 120}}}}},
            "days_off": {"type": "array", "maxItems": 50, "items": {
                "type": "object", "additionalProperties": False, "required": ["date", "name"],
                "properties": {"date": {"type": "string", "pattern": DATE}, "name": {"type": "string"}}}},
        }},
        "start": {"type": "object", "additionalProperties": False, "required": ["at", "data"], "properties": {
            "at": {"type": "string", "pattern": MOMENT}, "as": _as, "data": _data,
            "refused": _refused,  # the start must be refused (a route the SWV does not run, outside a window)
            # Started from the case of another scenario, which runs first in the same world (engine.scenario_sources).
            "from": {"type": "string", "pattern": r"^[a-z0-9][a-z0-9-]{0,63}/[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}$"},
            "confirm_late": {"type": "boolean"},  # a bezwaar received after its term: the user confirms it
            "by": {"enum": ["scheduler"]}}},  # the scheduler opens it (a herbeoordeling; data is then not used)
        "steps": {"type": "array", "maxItems": 500, "items": {"type": "object"}},
    },
}
_VALIDATORS = {name: Draft202012Validator(schema) for name, schema in STEP_SCHEMAS.items()}
_SCENARIO = Draft202012Validator(SCENARIO_SCHEMA)


class ScenarioInvalid(Exception):
    """A scenario file that cannot run; ``problems`` are Dutch lines ``file: stap N: what is wrong``."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class Step:
    number: int  # 1-based, as people count
    action: str  # one of ACTIONS
    spec: dict[str, Any]  # the step as written (data references resolved)

    @property
    def text(self) -> str:
        """The step in one line, as the report names it."""
        value = self.spec[self.action]
        if self.action == "expect":
            return "expect " + ", ".join(f"{k}: {_short(v)}" for k, v in value.items())
        who = f" als {self.spec['as']}" if "as" in self.spec else ""
        return f"{self.action} {_short(value)}{who}".rstrip()


@dataclass(frozen=True)
class Scenario:
    name: str
    file: str  # the path (or name) it came from, for messages
    route: str
    start: dict[str, Any]
    steps: list[Step]
    swv: dict[str, Any] = field(default_factory=dict)


def _short(value: Any) -> str:
    text = value if isinstance(value, str) else ("geen" if value is None else yaml.safe_dump(
        value, default_flow_style=True, allow_unicode=True, width=10_000).strip())
    return text if len(text) <= 80 else text[:77] + "..."


class _Loader(yaml.SafeLoader):
    """YAML without its timestamp type: dates stay the text the author wrote."""


_Loader.yaml_implicit_resolvers = {
    key: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def read_yaml(text: str, file: str) -> Any:
    try:
        return yaml.load(text, Loader=_Loader)  # noqa: S506 (a SafeLoader subclass)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (regel {mark.line + 1}, kolom {mark.column + 1})" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ScenarioInvalid([f"{file}: geen geldige YAML{where}: {problem}"]) from None


def parse(text: str, file: str, route: str | None = None, data_sets: dict[str, Any] | None = None) -> Scenario:
    """Read and check one scenario. ``route``: the route its folder names (the file's own ``route`` must agree);
    ``data_sets``: the route's ``_data.yaml`` for ``@name`` references. Raises ScenarioInvalid."""
    document = read_yaml(text, file)
    if not isinstance(document, dict):
        raise ScenarioInvalid([f"{file}: een scenario is een YAML-object met name, start en steps"])
    problems = [f"{file}: {_where(error.absolute_path)}{dutch(error)}" for error in _errors(_SCENARIO, document)]
    for number, step in enumerate(document.get("steps") or [], start=1) if isinstance(document.get("steps"),
                                                                                      list) else []:
        problems += [f"{file}: stap {number}: {problem}" for problem in step_problems(step)]
    sets = data_sets or {}
    problems += [f"{file}: {where}: {problem}" for where, problem in _references(document, sets)]
    start_refused = isinstance(document.get("start"), dict) and document["start"].get("refused")
    if not start_refused and not document.get("steps"):
        problems.append(f"{file}: 'steps' ontbreekt of is leeg (alleen een geweigerde start heeft geen stappen)")
    if start_refused and document.get("steps"):
        problems.append(f"{file}: na een geweigerde start (start.refused) volgen geen stappen")
    own = document.get("route")
    if route and own and own != route:
        problems.append(f"{file}: route '{own}' hoort niet in de map van route '{route}'")
    if not (route or own):
        problems.append(f"{file}: route ontbreekt (zet 'route: ...' in het bestand of het bestand in "
                        "processes/scenarios/<route>/)")
    if problems:
        raise ScenarioInvalid(problems)
    start = dict(document["start"])
    start["data"] = _resolve(start["data"], sets)
    steps = []
    for number, raw in enumerate(document.get("steps") or [], start=1):
        spec = dict(raw)
        action = next(key for key in ACTIONS if key in spec)
        if "with" in spec:
            spec["with"] = _resolve(spec["with"], sets)
        steps.append(Step(number, action, spec))
    return Scenario(document["name"], file, str(route or own), start, steps, dict(document.get("swv") or {}))


def step_problems(step: Any) -> list[str]:
    """What is wrong with one step (empty: nothing)."""
    if not isinstance(step, dict):
        return ["een stap is een object, bv. 'complete: dossiercheck'"]
    actions = [key for key in ACTIONS if key in step]
    if len(actions) != 1:
        found = f" (nu: {', '.join(actions)})" if actions else ""
        return [f"een stap doet precies één ding{found}: kies uit {', '.join(ACTIONS)}"]
    return [f"{_where(e.absolute_path)}{dutch(e)}" for e in _errors(_VALIDATORS[actions[0]], step)]


def _errors(validator: Draft202012Validator, document: Any) -> list[ValidationError]:
    return sorted(validator.iter_errors(document), key=lambda e: [str(p) for p in e.absolute_path])


def _where(path: Any) -> str:
    parts = [str(p) for p in path]
    if len(parts) >= 2 and parts[0] == "steps" and parts[1].isdigit():  # "steps.2.as" -> "stap 3: as"
        rest = ".".join(parts[2:])
        return f"stap {int(parts[1]) + 1}: " + (f"{rest}: " if rest else "")
    return f"{'.'.join(parts)}: " if parts else ""


_TYPES = {"string": "een tekst", "object": "een object (sleutel: waarde)", "array": "een lijst", "integer":
          "een geheel getal", "boolean": "true of false", "null": "leeg", "number": "een getal"}


def dutch(error: ValidationError) -> str:
    """A JSON Schema error as a process owner reads it."""
    kind, value, schema = error.validator, error.validator_value, error.schema
    if kind == "required":
        missing = [str(name) for name in value if isinstance(error.instance, dict) and name not in error.instance]
        return f"'{missing[0] if missing else value[0]}' ontbreekt"
    if kind == "additionalProperties":
        known = sorted(schema.get("properties") or {})
        extra = sorted(set(error.instance) - set(known)) if isinstance(error.instance, dict) else []
        return f"onbekende sleutel '{', '.join(extra)}'; bekend zijn: {', '.join(known)}"
    if kind == "type":
        kinds = value if isinstance(value, list) else [value]
        return f"moet {' of '.join(_TYPES.get(str(k), str(k)) for k in kinds)} zijn, niet {_short(error.instance)!r}"
    if kind == "enum":
        return f"'{error.instance}' kan niet; kies uit {', '.join(str(v) for v in value)}"
    if kind == "pattern":
        if value == LET.pattern:
            return (f"'{error.instance}' is geen tijdsduur; schrijf bv. '10 werkdagen' (eenheden: "
                    f"{', '.join(LET_UNITS)})")
        if value == MONTHDAY:
            return f"'{error.instance}' is geen dag van het jaar; schrijf MM-DD, bv. 01-01"
        if value in (MOMENT, DATE):
            return f"'{error.instance}' is geen datum; schrijf bv. 2026-03-02 of 2026-03-02T09:00"
        if value == ACTOR:
            return (f"'{error.instance}' is geen rol; kies uit {', '.join(ROLES)} (of de rol met 2: een tweede "
                    "gebruiker)")
        if value == DATA_REF:
            return f"'{error.instance}' is geen verwijzing naar gegevens; schrijf bv. '@aanmelding'"
        return f"'{error.instance}' is geen geldige naam"
    if kind == "anyOf" and schema is _data:
        return "moet gegevens zijn (sleutel: waarde) of een verwijzing als '@aanmelding'"
    if kind in ("minItems", "minProperties"):
        return "mag niet leeg zijn"
    if kind in ("maxItems", "maxLength"):
        return f"te lang (hoogstens {value})"
    if kind in ("minLength",):
        return "mag niet leeg zijn"
    if kind in ("minimum", "maximum"):
        return f"{error.instance} valt buiten het bereik"
    if kind == "dependentRequired":
        return "'due', 'warn', 'lane', 'claimed_by' en 'escalated' horen bij een 'task: ...' in dezelfde expect"
    return error.message


def _references(document: dict[str, Any], sets: dict[str, Any]) -> list[tuple[str, str]]:
    found = []
    start = document.get("start")
    if isinstance(start, dict) and isinstance(start.get("data"), str):
        found.append(("start.data", start["data"]))
    steps = document.get("steps")
    for number, step in enumerate(steps if isinstance(steps, list) else [], start=1):
        if isinstance(step, dict) and isinstance(step.get("with"), str):
            found.append((f"stap {number}: with", step["with"]))
    return [(where, f"gegevens '{ref}' staan niet in _data.yaml van de route"
             + (f" (wel: {', '.join('@' + k for k in sorted(sets))})" if sets else ""))
            for where, ref in found if ref.startswith("@") and ref[1:] not in sets]


def _resolve(value: Any, sets: dict[str, Any]) -> Any:
    return sets[value[1:]] if isinstance(value, str) and value.startswith("@") else value


def load_data_sets(path: Path) -> dict[str, Any]:
    """A route's shared form data (``_data.yaml``): name -> data, for ``with: '@name'``."""
    if not path.exists():
        return {}
    document = read_yaml(path.read_text(encoding="utf-8"), str(path))
    if not isinstance(document, dict) or not all(isinstance(v, dict) for v in document.values()):
        raise ScenarioInvalid([f"{path}: _data.yaml is een object van naam: gegevens"])
    return document
