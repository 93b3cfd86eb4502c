"""What a route declares about its steps: forms, deadlines, outcomes, retention and service handlers."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError
from lxml import etree

from engine import criteria_rules, form_rules, tlv_rules, zorgplicht_rules  # noqa: F401  (the rule modules register their rules)
from engine.bpmn import NS
from engine.retention import add_period
from engine.vocabulary import ROLES

from .document import ROLE_LIST, SPIFF, Document, Form, Problem, bpmn_tag, properties


def rule_forms(doc: Document) -> Iterator[Problem]:
    for task in doc.each("userTask"):
        name = properties(task).get("formJsonSchemaFilename")
        if name is None:
            message = "gebruikerstaak zonder formulier (property formJsonSchemaFilename ontbreekt)"
            yield doc.problem(task, message)
        else:
            yield from _form_problems(doc, task, name)
    for start in doc.each("startEvent"):  # a start form is optional
        name = properties(start).get("formJsonSchemaFilename")
        if name is not None:
            yield from _form_problems(doc, start, name)


def _form_problems(doc: Document, element: etree._Element, name: str) -> Iterator[Problem]:
    if not name.strip():
        yield doc.problem(element, "property formJsonSchemaFilename is leeg: noem een bestand in forms/")
    elif Path(name).name != name or name.startswith(".") or "\\" in name:
        # Only plain file names: a route must not read files outside its forms folder.
        yield doc.problem(element, f"formulier '{name}' moet een bestandsnaam in forms/ zijn, zonder map")
    else:
        problem = _form(doc, name).problem
        if problem:
            yield doc.problem(element, problem)


def _form(doc: Document, name: str) -> Form:
    """A form file, read once per check however many tasks name it."""
    if name not in doc.forms:
        doc.forms[name] = _load_form(doc.forms_dir / name, name, doc.forms_dir)
    return doc.forms[name]


def _load_form(path: Path, name: str, forms_dir: Path) -> Form:
    try:
        schema = json.loads(path.read_bytes())
    except FileNotFoundError:
        return Form(None, f"formulier '{name}' bestaat niet in {forms_dir.as_posix()}/")
    except OSError as exc:
        return Form(None, f"formulier '{name}' is niet te lezen: {exc.strerror or exc}")
    except json.JSONDecodeError as exc:
        return Form(None, f"formulier '{name}' is geen geldige JSON (regel {exc.lineno}): {exc.msg}")
    except ValueError as exc:  # not UTF-8/16/32
        return Form(None, f"formulier '{name}' is geen geldige JSON: {exc}")
    if not isinstance(schema, dict):
        return Form(None, f"formulier '{name}' moet een JSON-object zijn (een JSON Schema)")
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        where = "/".join(str(part) for part in exc.path)
        at = f" bij {where}" if where else ""
        return Form(schema, f"formulier '{name}' is geen geldig JSON Schema{at}: {exc.message}")
    if schema.get("type") != "object":
        return Form(schema, f"formulier '{name}' moet \"type\": \"object\" hebben")
    unknown = [rule for rule in form_rules.declared(schema) if rule not in form_rules.names()]
    if unknown:  # else the first user to complete the task would meet a fault of the route
        return Form(schema, f"formulier '{name}' noemt onbekende regel(s) in {form_rules.KEYWORD}: "
                            f"{', '.join(unknown)} (bekend: {', '.join(form_rules.names())})")
    return Form(schema, None)


# Bounds that protect the server: one form should never carry megabytes. Beyond these a bound is no bound.
ROOMY_LENGTH = 100_000
ROOMY_ITEMS = 1_000
_SUBSCHEMAS = ("then", "else", "allOf", "anyOf", "oneOf", "$defs", "additionalProperties")


def form_warnings(doc: Document) -> Iterator[Problem]:
    """Texts and lists in the route's forms without an upper bound: a warning (the route still deploys),
    in the form file, naming the field."""
    for name, form in sorted(doc.forms.items()):
        if form.schema is not None and form.problem is None:
            file = str(doc.forms_dir / name)
            for field, message in _unbounded(form.schema, ""):
                yield Problem(file, field, f"waarschuwing: {message}")


def _unbounded(node: object, path: str) -> Iterator[tuple[str, str]]:
    if isinstance(node, list):  # allOf, anyOf, oneOf
        for sub in node:
            yield from _unbounded(sub, path)
        return
    if not isinstance(node, dict):
        return
    kind = node.get("type")
    kinds = kind if isinstance(kind, list) else [kind]
    fixed = "enum" in node or "const" in node  # a fixed set of values is bounded already
    if "string" in kinds and not fixed:
        limit = node.get("maxLength")
        if limit is None:
            yield path, ("tekstveld zonder maxLength: geef een bovengrens (bijvoorbeeld 200 voor een naam, "
                         "10000 voor vrije tekst), anders kan één formulier onbeperkt groot worden")
        elif isinstance(limit, int) and limit > ROOMY_LENGTH:
            yield path, f"maxLength {limit} is geen echte grens: kies hoogstens {ROOMY_LENGTH}"
    if "array" in kinds and not fixed:
        limit = node.get("maxItems")
        if limit is None:
            yield path, ("lijst zonder maxItems: geef een bovengrens (bijvoorbeeld 50), "
                         "anders kan één formulier onbeperkt groot worden")
        elif isinstance(limit, int) and limit > ROOMY_ITEMS:
            yield path, f"maxItems {limit} is geen echte grens: kies hoogstens {ROOMY_ITEMS}"
    properties = node.get("properties")
    if isinstance(properties, dict):
        for name, sub in properties.items():
            yield from _unbounded(sub, f"{path}.{name}" if path else name)
    yield from _unbounded(node.get("items"), f"{path}[]")
    prefix = node.get("prefixItems")
    for n, sub in enumerate(prefix if isinstance(prefix, list) else []):
        yield from _unbounded(sub, f"{path}[{n}]")
    for key in _SUBSCHEMAS:  # "if", "not" and "contains" only test values; they define no field
        sub = node.get(key)
        yield from _unbounded(list(sub.values()) if key == "$defs" and isinstance(sub, dict) else sub, path)


def rule_deadlines(doc: Document) -> Iterator[Problem]:
    # The expressions themselves are checked with the other route code (rule_route_code).
    for task in doc.each("userTask"):
        props = properties(task)
        if "deadline" in props and not props["deadline"].strip():
            yield doc.problem(task, "deadline is leeg: schrijf bijvoorbeeld werkdagen(10)")
        for name in ("deadlineWarning", "escalateTo", "deadlineLegal"):
            if name in props and "deadline" not in props:
                yield doc.problem(task, f"{name} zonder deadline: zet ook property deadline")
        if "escalateTo" in props and props["escalateTo"] not in ROLES:
            yield doc.problem(task, f"escalateTo '{props['escalateTo']}' is geen Loket-rol ({ROLE_LIST})")
        if "deadlineLegal" in props and props["deadlineLegal"] not in ("true", "false"):
            yield doc.problem(task, f"deadlineLegal moet true of false zijn, niet '{props['deadlineLegal']}'")


def rule_separated_duties(doc: Document) -> Iterator[Problem]:
    """separateFrom names other user tasks of the same process, whose doers may not do this one (engine.duties)."""
    for process in doc.processes:
        tasks = {task.get("id") for task in process.iter(bpmn_tag("userTask"))}
        for task in process.iter(bpmn_tag("userTask")):
            value = properties(task).get("separateFrom")
            if value is None:
                continue
            names = [name.strip() for name in value.split(",")]
            if not any(names):
                yield doc.problem(task, "separateFrom is leeg: noem de gebruikerstaken, bv. dossiercheck,besluit")
                continue
            for name in names:
                if name == task.get("id"):
                    yield doc.problem(task, f"separateFrom noemt de taak zelf ('{name}')")
                elif name not in tasks:
                    yield doc.problem(task, f"separateFrom '{name}' is geen gebruikerstaak van deze route "
                                            f"(bekend: {', '.join(sorted(tasks))})")


def rule_end_events(doc: Document) -> Iterator[Problem]:
    for end in doc.each("endEvent"):
        outcome = properties(end).get("outcome")
        if outcome is not None and not outcome.strip():
            yield doc.problem(end, "outcome is leeg: noem de uitkomst (bijv. toegekend) of laat hem weg")
        follow_up = properties(end).get("followUp")
        if follow_up is not None and not re.fullmatch(r"[a-z][a-z0-9-]{0,63}", follow_up):
            yield doc.problem(end, f"followUp '{follow_up}' is geen routenaam: noem de route die volgt "
                                   "(kleine letters, cijfers en -, bijv. tlv-vso)")
        elif follow_up is not None and outcome is None:
            yield doc.problem(end, "followUp zonder outcome: de zaakpagina biedt het vervolg bij die uitkomst aan")


def rule_retention(doc: Document) -> Iterator[Problem]:
    """How long a route keeps personal data (AVG): a period Loket can count, from a step the route has."""
    for process in doc.processes:
        props = properties(process)
        period, start = props.get("retentionPeriod"), props.get("retentionFrom")
        if period is not None:
            try:
                add_period(datetime(2000, 1, 1, tzinfo=UTC), period)
            except ValueError as exc:
                yield doc.problem(process, f"retentionPeriod: {exc}")
        elif start or props.get("retentionKeep"):
            yield doc.problem(process, "retentionFrom/retentionKeep zonder retentionPeriod: geef de bewaartermijn")
        tasks = {task.get("id") for task in process.iter(bpmn_tag("userTask"))}
        if start and start not in tasks:
            yield doc.problem(process, f"retentionFrom '{start}' is geen gebruikerstaak van deze route "
                                       f"(bekend: {', '.join(sorted(tasks))})")


def rule_service_tasks(doc: Document) -> Iterator[Problem]:
    known = ", ".join(sorted(doc.handlers)) or "geen"
    for task in doc.each("serviceTask"):
        operator = task.find(f"bpmn:extensionElements/{SPIFF}:serviceTaskOperator", NS)
        if operator is None:
            message = f"servicetaak zonder spiffworkflow:serviceTaskOperator: kies een handler ({known})"
            yield doc.problem(task, message)
            continue
        handler = operator.get("id")
        if not handler:
            message = f"servicetaak zonder handler (serviceTaskOperator heeft geen id; bekend: {known})"
            yield doc.problem(task, message)
        elif handler not in doc.handlers:
            yield doc.problem(task, f"servicetaak noemt onbekende handler '{handler}' (bekend: {known})")
        for parameter in operator.iter(f"{{{NS[SPIFF]}}}parameter"):
            label = parameter.get("id") or "?"
            for attribute in ("id", "value", "type"):
                # Without a value SpiffWorkflow silently drops the parameter; without id or type it crashes.
                if parameter.get(attribute) is None:
                    yield doc.problem(task, f"parameter '{label}' heeft geen {attribute}")
