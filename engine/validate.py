"""Route validation: is a BPMN file a route Loket can deploy and run?

``check(path)`` reads ``processes/<key>.bpmn`` and the forms it references, applies Loket's conventions
(lanes are roles, user tasks have forms, gateways can always choose, route code passes the sandbox, loops
can end, service tasks name a registered handler), the BPMN 2.0 schema and SpiffWorkflow's own parser,
and reports every problem it finds in plain Dutch. It never raises for bad input: a process owner edits
routes, and a process owner should get a list of things to fix, not a traceback.
"""

from __future__ import annotations

import ast
import builtins
import copy
import hashlib
import json
import re
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError
from lxml import etree
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.spiff.parser import VALIDATOR

from engine import services
from engine.bpmn import BPMN_NS, NS, ParsedRoute, executable_process_ids, parse_route, parse_xml
from engine.models import ROLES
from engine.retention import add_period
from engine.sandbox import BASE_GLOBALS, check_source


@dataclass(frozen=True)
class Problem:
    file: str  # the path as given
    element: str  # element id, or "" for the file as a whole
    message: str  # Dutch, plain: what is wrong and, where possible, how to fix it

    def __str__(self) -> str:
        if self.element:
            return f"{self.file}: {self.element}: {self.message}"
        return f"{self.file}: {self.message}"


@dataclass(frozen=True)
class RouteSource:
    key: str  # file stem, e.g. "tlv-vso"
    path: Path
    bpmn: bytes
    forms: dict[str, dict]  # filename -> JSON Schema, only the forms the route references
    sha256: str  # see route_sha256()


@dataclass
class CheckResult:
    source: RouteSource | None
    parsed: ParsedRoute | None  # only when there are no problems
    problems: list[Problem]

    @property
    def ok(self) -> bool:
        return not self.problems


def route_sha256(bpmn: bytes, forms: dict[str, dict]) -> str:
    """The version id of a route: sha256 over the BPMN bytes, a NUL byte, and the forms as canonical JSON.

    The NUL separates the two parts unambiguously (XML cannot contain one); the forms are serialized with
    sorted keys and no whitespace, so reformatting a form file does not make a new version.
    """
    digest = hashlib.sha256(bpmn)
    digest.update(b"\0")
    digest.update(json.dumps(forms, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode())
    return digest.hexdigest()


# --- the document being checked ---------------------------------------------------------------------

SPIFF = "spiffworkflow"
ROLE_LIST = ", ".join(ROLES)
# Containers whose direct children are flow elements (tasks, events, gateways, sequence flows).
_OMG = "{http://www.omg.org/spec/"  # BPMN model, BPMN DI, DC and DI namespaces
_CONTAINERS = {f"{{{BPMN_NS}}}{tag}" for tag in ("process", "subProcess", "transaction", "adHocSubProcess")}


def _tag(name: str) -> str:
    return f"{{{BPMN_NS}}}{name}"


def _local(element: etree._Element) -> str:
    return etree.QName(element).localname


@dataclass
class _Form:
    schema: dict | None  # the parsed JSON object, if it is one
    problem: str | None  # what is wrong with the file, if anything


@dataclass
class _Doc:
    """One BPMN document and what the rules need to know about it."""

    file: str
    root: etree._Element
    forms_dir: Path
    handlers: set[str]
    processes: list[etree._Element] = field(default_factory=list)  # the executable ones
    forms: dict[str, _Form] = field(default_factory=dict)
    # Ids that an own rule already explains (beyond the problems' own elements): SpiffWorkflow's and the
    # schema's report on them is a consequence, and ours is the clearer message.
    covered: set[str] = field(default_factory=set)

    def problem(self, element: etree._Element | str, message: str) -> Problem:
        element_id = element if isinstance(element, str) else _owner_id(element)
        return Problem(self.file, element_id, message)

    def each(self, tag: str) -> Iterator[etree._Element]:
        """Every ``bpmn:<tag>`` in the executable process(es), subprocesses included, in document order."""
        for process in self.processes:
            yield from process.iter(_tag(tag))

    def form(self, name: str) -> _Form:
        if name not in self.forms:
            self.forms[name] = _load_form(self.forms_dir / name, name, self.forms_dir)
        return self.forms[name]


def _with_ids(root: etree._Element) -> Iterator[tuple[str, etree._Element]]:
    """(id, element) of BPMN model and diagram elements; extension elements' ids are a space of their own."""
    for element in root.iter():
        if isinstance(element.tag, str) and element.tag.startswith(_OMG) and element.get("id"):
            yield element.get("id"), element


def _owner_id(element: etree._Element) -> str:
    """The id of the flow element (task, event, gateway, flow) that holds ``element``, or of the element."""
    node: etree._Element | None = element
    while node is not None:
        parent = node.getparent()
        if parent is not None and parent.tag in _CONTAINERS and node.get("id"):
            return node.get("id")
        node = parent
    return element.get("id", "")


def _properties(element: etree._Element) -> dict[str, str]:
    """Loket's extension properties, read the way SpiffWorkflow reads them (malformed ones skipped)."""
    props = {}
    for prop in element.iterfind(f"bpmn:extensionElements/{SPIFF}:properties//{SPIFF}:property", NS):
        if prop.get("name") is not None and prop.get("value") is not None:
            props[prop.get("name")] = prop.get("value")
    return props


def _outgoing(doc: _Doc, node_id: str) -> list[etree._Element]:
    return [flow for flow in doc.each("sequenceFlow") if flow.get("sourceRef") == node_id]


def _condition(flow: etree._Element) -> str | None:
    """A flow's condition, or None; an empty conditionExpression counts as none (as in SpiffWorkflow)."""
    expression = flow.find("bpmn:conditionExpression", NS)
    if expression is None or not (expression.text or "").strip():
        return None
    return expression.text


# --- rules: each yields the problems of one convention --------------------------------------------


def rule_executable_process(doc: _Doc) -> Iterator[Problem]:
    ids = [process.get("id") or "?" for process in doc.processes]
    if not ids:
        message = 'geen uitvoerbaar proces in dit bestand (zet isExecutable="true" op het proces)'
        yield doc.problem("", message)
    elif len(ids) > 1:
        listed = ", ".join(ids)
        message = f"meer dan één uitvoerbaar proces in dit bestand ({listed}): een route is één proces"
        yield doc.problem("", message)


def rule_ids_and_references(doc: _Doc) -> Iterator[Problem]:
    # SpiffWorkflow finds elements by id; a duplicate or a dangling reference gives baffling errors later.
    seen: set[str] = set()
    for element_id, _ in _with_ids(doc.root):
        if element_id in seen:
            yield doc.problem(element_id, f"id '{element_id}' komt meer dan één keer voor: maak hem uniek")
        seen.add(element_id)
    for flow in doc.each("sequenceFlow"):
        for attribute in ("sourceRef", "targetRef"):
            ref = flow.get(attribute)
            if not ref or ref not in seen:
                doc.covered.add(flow.get("sourceRef") or "")
                message = f"{attribute} '{ref or ''}' verwijst naar een element dat niet bestaat"
                yield doc.problem(flow, message)


def rule_lanes(doc: _Doc) -> Iterator[Problem]:
    in_lane: set[str] = set()
    for lane in doc.each("lane"):
        name = lane.get("name") or ""
        if name not in ROLES:
            hint = next((role for role in ROLES if role == name.strip().lower()), None)
            fix = f"; bedoel je '{hint}'?" if hint else ""
            message = f"lane '{name}' hoort bij geen Loket-rol ({ROLE_LIST}){fix}"
            yield doc.problem(lane.get("id") or "", message)
        in_lane.update((ref.text or "").strip() for ref in lane.iterfind("bpmn:flowNodeRef", NS))
    for task in doc.each("userTask"):
        if task.get("id") not in in_lane:
            yield doc.problem(
                task, "gebruikerstaak staat in geen lane: zet hem in de lane van de rol die hem uitvoert"
            )


def rule_properties(doc: _Doc) -> Iterator[Problem]:
    # SpiffWorkflow reads name and value with attrib[...]: a missing one is a KeyError deep in the parser.
    for process in doc.processes:
        for prop in process.iter(f"{{{NS[SPIFF]}}}property"):
            if prop.get("name") is None or prop.get("value") is None:
                missing = "name" if prop.get("name") is None else "value"
                label = prop.get("name") or "?"
                yield doc.problem(prop, f"property '{label}' heeft geen {missing}")


def rule_forms(doc: _Doc) -> Iterator[Problem]:
    for task in doc.each("userTask"):
        name = _properties(task).get("formJsonSchemaFilename")
        if name is None:
            message = "gebruikerstaak zonder formulier (property formJsonSchemaFilename ontbreekt)"
            yield doc.problem(task, message)
        else:
            yield from _form_problems(doc, task, name)
    for start in doc.each("startEvent"):  # a start form is optional
        name = _properties(start).get("formJsonSchemaFilename")
        if name is not None:
            yield from _form_problems(doc, start, name)


def _form_problems(doc: _Doc, element: etree._Element, name: str) -> Iterator[Problem]:
    if not name.strip():
        yield doc.problem(element, "property formJsonSchemaFilename is leeg: noem een bestand in forms/")
    elif Path(name).name != name or name.startswith(".") or "\\" in name:
        # Only plain file names: a route must not read files outside its forms folder.
        yield doc.problem(element, f"formulier '{name}' moet een bestandsnaam in forms/ zijn, zonder map")
    else:
        problem = doc.form(name).problem
        if problem:
            yield doc.problem(element, problem)


def _load_form(path: Path, name: str, forms_dir: Path) -> _Form:
    try:
        schema = json.loads(path.read_bytes())
    except FileNotFoundError:
        return _Form(None, f"formulier '{name}' bestaat niet in {forms_dir.as_posix()}/")
    except OSError as exc:
        return _Form(None, f"formulier '{name}' is niet te lezen: {exc.strerror or exc}")
    except json.JSONDecodeError as exc:
        return _Form(None, f"formulier '{name}' is geen geldige JSON (regel {exc.lineno}): {exc.msg}")
    except ValueError as exc:  # not UTF-8/16/32
        return _Form(None, f"formulier '{name}' is geen geldige JSON: {exc}")
    if not isinstance(schema, dict):
        return _Form(None, f"formulier '{name}' moet een JSON-object zijn (een JSON Schema)")
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        where = "/".join(str(part) for part in exc.path)
        at = f" bij {where}" if where else ""
        return _Form(schema, f"formulier '{name}' is geen geldig JSON Schema{at}: {exc.message}")
    if schema.get("type") != "object":
        return _Form(schema, f"formulier '{name}' moet \"type\": \"object\" hebben")
    return _Form(schema, None)


def rule_deadlines(doc: _Doc) -> Iterator[Problem]:
    # The expressions themselves are checked with the other route code (rule_route_code).
    for task in doc.each("userTask"):
        props = _properties(task)
        if "deadline" in props and not props["deadline"].strip():
            yield doc.problem(task, "deadline is leeg: schrijf bijvoorbeeld werkdagen(10)")
        for name in ("deadlineWarning", "escalateTo", "deadlineLegal"):
            if name in props and "deadline" not in props:
                yield doc.problem(task, f"{name} zonder deadline: zet ook property deadline")
        if "escalateTo" in props and props["escalateTo"] not in ROLES:
            yield doc.problem(task, f"escalateTo '{props['escalateTo']}' is geen Loket-rol ({ROLE_LIST})")
        if "deadlineLegal" in props and props["deadlineLegal"] not in ("true", "false"):
            yield doc.problem(task, f"deadlineLegal moet true of false zijn, niet '{props['deadlineLegal']}'")


def rule_end_events(doc: _Doc) -> Iterator[Problem]:
    for end in doc.each("endEvent"):
        outcome = _properties(end).get("outcome")
        if outcome is not None and not outcome.strip():
            yield doc.problem(end, "outcome is leeg: noem de uitkomst (bijv. toegekend) of laat hem weg")


def rule_retention(doc: _Doc) -> Iterator[Problem]:
    """How long a route keeps personal data (AVG): a period Loket can count, from a step the route has."""
    for process in doc.processes:
        props = _properties(process)
        period, start = props.get("retentionPeriod"), props.get("retentionFrom")
        if period is not None:
            try:
                add_period(datetime(2000, 1, 1, tzinfo=UTC), period)
            except ValueError as exc:
                yield doc.problem(process, f"retentionPeriod: {exc}")
        elif start or props.get("retentionKeep"):
            yield doc.problem(process, "retentionFrom/retentionKeep zonder retentionPeriod: geef de bewaartermijn")
        tasks = {task.get("id") for task in process.iter(_tag("userTask"))}
        if start and start not in tasks:
            yield doc.problem(process, f"retentionFrom '{start}' is geen gebruikerstaak van deze route "
                                       f"(bekend: {', '.join(sorted(tasks))})")


def rule_gateways(doc: _Doc) -> Iterator[Problem]:
    for gateway in (*doc.each("exclusiveGateway"), *doc.each("inclusiveGateway")):
        flows = _outgoing(doc, gateway.get("id"))
        flow_ids = [flow.get("id") for flow in flows]
        default = gateway.get("default")
        if default and default not in flow_ids:
            yield doc.problem(gateway, f"default-flow '{default}' is geen uitgaande flow van deze gateway")
            default = None
        if len(flows) < 2:
            continue
        # SpiffWorkflow needs a condition on every flow but the default one, or it refuses the gateway.
        bare = [flow.get("id") for flow in flows if _condition(flow) is None and flow.get("id") != default]
        if not bare:
            continue
        doc.covered.update(bare)
        if default:
            gist = "uitgaande flow zonder conditie (alleen de default-flow mag er een missen)"
        else:
            gist = "gateway zonder default en niet elke uitgaande flow heeft een conditie"
        yield doc.problem(gateway, f"{gist}: {', '.join(bare)}")


def rule_service_tasks(doc: _Doc) -> Iterator[Problem]:
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


def rule_loops(doc: _Doc) -> Iterator[Problem]:
    # A loop without an exit runs until the engine's activation limit (or SpiffWorkflow's recursion limit).
    graph: dict[str, list[str]] = {}
    for flow in doc.each("sequenceFlow"):
        source, target = flow.get("sourceRef") or "", flow.get("targetRef") or ""
        graph.setdefault(source, []).append(target)
        graph.setdefault(target, [])
    elements = {node_id: element for process in doc.processes for node_id, element in _with_ids(process)}
    order = {element_id: index for index, element_id in enumerate(elements)}
    for component in _cycles(graph):
        if not any(_exits(elements.get(node), graph[node], component) for node in component):
            first = min(component, key=lambda node: order.get(node, len(order)))
            path = " → ".join(_cycle_through(first, graph, component))
            yield doc.problem(
                first,
                f"lus zonder uitgang: {path}; zet in de lus een exclusieve gateway met een uitgaande flow "
                "die de lus verlaat (en een teller die het aantal rondes begrenst)",
            )


def _exits(element: etree._Element | None, targets: list[str], component: set[str]) -> bool:
    if element is None or element.tag not in (_tag("exclusiveGateway"), _tag("inclusiveGateway")):
        return False
    return any(target not in component for target in targets)


def _cycle_through(start: str, graph: dict[str, list[str]], component: set[str]) -> list[str]:
    """One shortest cycle from ``start`` back to itself inside ``component``: something to point at."""
    previous: dict[str, str] = {}
    queue = [start]
    for node in queue:
        for target in graph[node]:
            if target == start:
                path = [node]
                while path[-1] != start:
                    path.append(previous[path[-1]])
                return [*reversed(path), start]
            if target in component and target not in previous:
                previous[target] = node
                queue.append(target)
    return [start]


def _cycles(graph: dict[str, list[str]]) -> list[set[str]]:
    """The strongly connected components that contain a cycle (Tarjan's algorithm, without recursion)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[set[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        work.append((node, iter(graph[node])))

    for start in graph:
        if start in index:
            continue
        work: list[tuple[str, Iterator[str]]] = []
        visit(start)
        while work:
            node, children = work[-1]
            for child in children:
                if child not in index:
                    visit(child)
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
                if low[node] == index[node]:
                    component: set[str] = set()
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.add(member)
                        if member == node:
                            break
                    if len(component) > 1 or node in graph[node]:
                        found.append(component)
    return found


# --- route code: every expression and script runs in the sandbox ----------------------------------

# (element, its child holding code, what to call the code in a message, is it a script)
_CODE: list[tuple[str, str, str, bool]] = [
    ("sequenceFlow", "conditionExpression", "conditie", False),
    ("timerEventDefinition", "timeDate", "timer-expressie", False),
    ("timerEventDefinition", "timeDuration", "timer-expressie", False),
    ("timerEventDefinition", "timeCycle", "timer-expressie", False),
    ("conditionalEventDefinition", "condition", "event-conditie", False),
    ("standardLoopCharacteristics", "loopCondition", "lus-conditie", False),
    ("multiInstanceLoopCharacteristics", "loopCardinality", "lus-expressie", False),
    ("multiInstanceLoopCharacteristics", "completionCondition", "lus-conditie", False),
    ("scriptTask", "script", "script", True),
]

# ISO 8601 as SpiffWorkflow's timers read it: durations, date-times, intervals and cycles.
_DURATION = (
    r"P(?=\d|T\d)(?:\d+Y)?(?:\d+M)?(?:\d+W)?(?:\d+D)?"  # P14D, P1Y2M, P2W
    r"(?:T(?=\d)(?:\d+H)?(?:\d+M)?(?:\d+(?:[.,]\d+)?S)?)?"  # PT5M, P1DT12H
)
_DATETIME = r"\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:Z|[+-]\d{2}(?::?\d{2})?)?)?"
_POINT = rf"(?:{_DATETIME}|{_DURATION})"
_ISO_TEXT = re.compile(rf"(?:R\d*/)?{_POINT}(?:/{_POINT})?")
_ISO_NAME = re.compile(_DURATION)

# Builtins that compile under RestrictedPython but are not in the sandbox: calling them fails at run time.
_RISKY_BUILTINS = (
    "open", "eval", "exec", "compile", "globals", "locals", "vars", "getattr", "setattr", "delattr", "input",
    "breakpoint", "help", "exit", "quit", "memoryview", "type", "object", "super", "dir", "print",
)
_UNAVAILABLE = {
    name for name in _RISKY_BUILTINS if name not in BASE_GLOBALS["__builtins__"] and hasattr(builtins, name)
}


def rule_route_code(doc: _Doc) -> Iterator[Problem]:
    for tag, child, what, script in _CODE:
        for element in doc.each(tag):
            for code in element.iterfind(f"bpmn:{child}", NS):
                yield from _code_problems(doc, code, code.text, what, script)
    for task in doc.each("userTask"):
        props = _properties(task)
        for name in ("deadline", "deadlineWarning"):
            if props.get(name, "").strip():
                yield from _code_problems(doc, task, props[name], name, False)
    for task in doc.each("serviceTask"):
        operator = task.find(f"bpmn:extensionElements/{SPIFF}:serviceTaskOperator", NS)
        for parameter in operator.iter(f"{{{NS[SPIFF]}}}parameter") if operator is not None else ():
            if parameter.get("value") is not None:
                what = f"parameter '{parameter.get('id') or '?'}'"
                yield from _code_problems(doc, task, parameter.get("value"), what, False)
    for process in doc.processes:
        for name in ("preScript", "postScript"):
            for code in process.iter(f"{{{NS[SPIFF]}}}{name}"):
                if (code.text or "").strip():
                    yield from _code_problems(doc, code, code.text, name, True)


def _code_problems(
    doc: _Doc, element: etree._Element, source: str | None, what: str, script: bool
) -> Iterator[Problem]:
    if not (source or "").strip():
        if what != "conditie":  # an empty condition is a missing one: rule_gateways speaks about that
            yield doc.problem(element, f"{what} is leeg")
        return
    problem = _code_problem(source, what, script)
    if problem:
        yield doc.problem(element, problem)


def _code_problem(source: str, what: str, script: bool) -> str | None:
    """Why this route code would fail or be refused, or None."""
    if not script:
        iso = _unquoted_iso(source)
        if iso:  # SpiffWorkflow would evaluate it as Python and raise NameError (or compute a number)
            return f'{what} {iso} is niet gequote: schrijf "{iso}"'
    code = source if script else source.strip()
    try:
        tree = ast.parse(code, mode="exec" if script else "eval")
    except SyntaxError as exc:
        return f"{what} is geen geldige Python (regel {exc.lineno}): {exc.msg}"
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            # RestrictedPython compiles an import (it fails only when run): refuse it here, plainly.
            return (
                f"{what} bevat een import (regel {node.lineno}); dat mag niet in route-code: "
                "zet werk met bijwerkingen in een handler"
            )
        if isinstance(node, ast.ClassDef):  # the sandbox has no __build_class__
            return f"{what} definieert een class (regel {node.lineno}); dat kan niet in route-code"
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in _UNAVAILABLE:
            name = node.func.id
            return f"{what} roept {name}() aan (regel {node.lineno}); dat is niet beschikbaar in route-code"
    reason = check_source(code, script=script)
    if reason:
        return f"{what} wordt geweigerd door de sandbox: {reason}"
    return None


def _unquoted_iso(source: str) -> str | None:
    """The ISO 8601 literal written without quotes in this expression, if any."""
    text = source.strip()
    if _ISO_TEXT.fullmatch(text):  # P14D, R3/PT1H, 2026-01-01T00:00:00Z, ...
        return text
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError:
        return None
    for node in ast.walk(tree):  # a duration inside a larger expression, e.g. start + P14D
        if isinstance(node, ast.Name) and _ISO_NAME.fullmatch(node.id):
            return node.id
    return None


RULES: list[Callable[[_Doc], Iterable[Problem]]] = [
    rule_executable_process,
    rule_ids_and_references,
    rule_lanes,
    rule_properties,
    rule_forms,
    rule_deadlines,
    rule_end_events,
    rule_retention,
    rule_gateways,
    rule_route_code,
    rule_service_tasks,
    rule_loops,
]


# --- the BPMN schema and SpiffWorkflow's parser ---------------------------------------------------

_schema_lock = threading.Lock()  # an lxml XMLSchema keeps its error log on the object


def schema_problems(doc: _Doc) -> Iterator[Problem]:
    """BPMN 2.0 XSD (with SpiffWorkflow's extension schema): catches misspelt and misplaced elements."""
    tree = etree.ElementTree(copy.deepcopy(doc.root))
    VALIDATOR.preprocess(tree)  # rewrites a bpmn-js quirk, as SpiffWorkflow does before validating
    with _schema_lock:
        VALIDATOR.validator.validate(tree)
        errors = list(VALIDATOR.validator.error_log)
    for error in errors:
        element = _element_at(doc.root, error.path)
        message = error.message.split(" Expected is")[0].replace(f"{{{BPMN_NS}}}", "bpmn:")
        message = f"voldoet niet aan het BPMN-schema (regel {error.line}): {message}"
        yield doc.problem(element if element is not None else "", message)


def _element_at(root: etree._Element, path: str | None) -> etree._Element | None:
    try:
        found = root.getroottree().xpath(path, namespaces={k: v for k, v in root.nsmap.items() if k})
    except (etree.XPathError, TypeError):
        return None
    return found[0] if found and isinstance(found[0], etree._Element) else None


def spiff_problem(doc: _Doc) -> tuple[ParsedRoute | None, Problem | None]:
    """Parse with SpiffWorkflow, as deployment will. It stops at its first error."""
    try:
        return parse_route(doc.root, doc.file), None
    except ValidationException as exc:
        message = exc.args[0] if exc.args else str(exc)
        where = f" (regel {exc.line_number})" if isinstance(exc.line_number, int) else ""
        return None, doc.problem(exc.id or "", f"SpiffWorkflow kan de route niet lezen{where}: {message}")
    except Exception as exc:  # anything the library throws is a problem with the file, not a crash
        return None, doc.problem("", f"SpiffWorkflow kan de route niet lezen: {type(exc).__name__}: {exc}")


# --- check -----------------------------------------------------------------------------------------


def check(path: Path, known_handlers: set[str] | None = None) -> CheckResult:
    """Check one route file and the forms it references; never raises for bad input."""
    path = Path(path)
    file = str(path)
    try:
        bpmn = path.read_bytes()
    except FileNotFoundError:
        return CheckResult(None, None, [Problem(file, "", "bestand bestaat niet")])
    except IsADirectoryError:
        return CheckResult(None, None, [Problem(file, "", "is een map, geen BPMN-bestand")])
    except OSError as exc:
        message = f"bestand is niet te lezen: {exc.strerror or exc}"
        return CheckResult(None, None, [Problem(file, "", message)])

    try:
        root = parse_xml(bpmn)  # DTDs and entities are refused here
    except etree.XMLSyntaxError as exc:
        doctype = re.search(rb"<!DOCTYPE", bpmn, re.IGNORECASE)
        if doctype:  # external entities can read server files: refused, whatever the DOCTYPE holds
            line = bpmn.count(b"\n", 0, doctype.start()) + 1
            message = f"DOCTYPE en entiteiten zijn niet toegestaan in een route (regel {line}): verwijder ze"
        else:
            message = f"geen geldige XML (regel {exc.lineno}): {exc.msg}"
        return CheckResult(_source(path, bpmn, {}), None, [Problem(file, "", message)])
    except Exception as exc:  # e.g. lxml refusing an unsupported encoding
        return CheckResult(_source(path, bpmn, {}), None, [Problem(file, "", f"geen geldige XML: {exc}")])

    if root.tag != _tag("definitions"):
        message = f"geen BPMN 2.0-bestand: het hoofdelement is <{_local(root)}>, verwacht bpmn:definitions"
        return CheckResult(_source(path, bpmn, {}), None, [Problem(file, "", message)])

    handlers = _registered_handlers() if known_handlers is None else set(known_handlers)
    doc = _Doc(file, root, path.parent / "forms", handlers)
    executable = executable_process_ids(root)
    doc.processes = [p for p in root.findall("bpmn:process", NS) if p.get("id") in executable]
    problems = [problem for rule in RULES for problem in rule(doc)]

    # Schema and SpiffWorkflow speak second: drop what an own rule already explains, more plainly.
    explained = {problem.element for problem in problems} | doc.covered
    problems += [p for p in schema_problems(doc) if not p.element or p.element not in explained]
    explained |= {problem.element for problem in problems}
    parsed = None
    if len(doc.processes) == 1:  # otherwise there is no one process to parse (already a problem)
        parsed, problem = spiff_problem(doc)
        if problem and (not problem.element or problem.element not in explained):
            problems.append(problem)

    forms = {name: form.schema for name, form in doc.forms.items() if form.schema is not None}
    problems = _in_document_order(problems, root)
    return CheckResult(_source(path, bpmn, forms), parsed if not problems else None, problems)


def _source(path: Path, bpmn: bytes, forms: dict[str, dict]) -> RouteSource:
    return RouteSource(path.stem, path, bpmn, forms, route_sha256(bpmn, forms))


def _registered_handlers() -> set[str]:
    services.load()
    return set(services.names())


def _in_document_order(problems: list[Problem], root: etree._Element) -> list[Problem]:
    lines: dict[str, int] = {}
    for element_id, element in _with_ids(root):
        lines.setdefault(element_id, element.sourceline or 0)
    # File-level problems first; the sort is stable, so rule order breaks ties on one line.
    return sorted(problems, key=lambda problem: lines.get(problem.element, 0) if problem.element else 0)

