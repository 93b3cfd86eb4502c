"""Route validation: is a BPMN file a route Loket can deploy and run?

``check(path)`` reads ``processes/<key>.bpmn`` and the forms it references, applies Loket's conventions
(lanes are roles, user tasks have forms, gateways can always choose, route code passes the sandbox, loops
can end, service tasks name a registered handler), the BPMN 2.0 schema and SpiffWorkflow's own parser,
and reports every problem it finds in plain Dutch. It never raises for bad input: a process owner edits
routes, and a process owner should get a list of things to fix, not a traceback. Besides problems (which
stop a deploy) it reports warnings (which do not, unless strict): form fields without an upper bound
(``maxLength`` for a text, ``maxItems`` for a list), in the same ``file: field: message`` form, and exclusive
gateways without a default whose conditions may all be false (``coverage``).

This module is the entry point and decides the order in which problems are told; the rules live by job in
``document`` (the file as the rules read it), ``structure``, ``declarations`` (forms, deadlines, outcomes,
retention, handlers), ``route_code`` (the sandbox) and ``schema`` (the XSD and SpiffWorkflow's parser).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from lxml import etree

from engine import services
from engine.bpmn import NS, ParsedRoute, executable_process_ids, parse_xml

from .coverage import coverage_warnings, rule_deadline_samples
from .decisions import rule_decision_term
from .declarations import (
    form_warnings,
    rule_deadlines,
    rule_end_events,
    rule_forms,
    rule_retention,
    rule_separated_duties,
    rule_service_tasks,
)
from .document import Document, Problem, bpmn_tag, local_name, with_ids
from .route_code import rule_route_code
from .schema import schema_problems, spiff_problem
from .structure import (
    rule_executable_process,
    rule_gateways,
    rule_ids_and_references,
    rule_lanes,
    rule_loops,
    rule_properties,
)

__all__ = ["RULES", "CheckResult", "Problem", "RouteSource", "check", "route_sha256"]


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
    # Told but not blocking (a route with only warnings deploys): form fields without an upper bound.
    warnings: list[Problem] = field(default_factory=list)

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


RULES: list[Callable[[Document], Iterable[Problem]]] = [
    rule_executable_process,
    rule_ids_and_references,
    rule_lanes,
    rule_properties,
    rule_forms,
    rule_deadlines,
    rule_separated_duties,
    rule_end_events,
    rule_retention,
    rule_decision_term,
    rule_gateways,
    rule_route_code,
    rule_service_tasks,
    rule_loops,
    rule_deadline_samples,
]


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

    if root.tag != bpmn_tag("definitions"):
        message = f"geen BPMN 2.0-bestand: het hoofdelement is <{local_name(root)}>, verwacht bpmn:definitions"
        return CheckResult(_source(path, bpmn, {}), None, [Problem(file, "", message)])

    handlers = _registered_handlers() if known_handlers is None else set(known_handlers)
    doc = Document(file, root, path.parent / "forms", handlers)
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
    warnings = [*form_warnings(doc), *coverage_warnings(doc)]
    return CheckResult(_source(path, bpmn, forms), parsed if not problems else None, problems, warnings)


def _source(path: Path, bpmn: bytes, forms: dict[str, dict]) -> RouteSource:
    return RouteSource(path.stem, path, bpmn, forms, route_sha256(bpmn, forms))


def _registered_handlers() -> set[str]:
    return set(services.names())  # filled by whoever runs the check (the CLI imports handlers/)


def _in_document_order(problems: list[Problem], root: etree._Element) -> list[Problem]:
    lines: dict[str, int] = {}
    for element_id, element in with_ids(root):
        lines.setdefault(element_id, element.sourceline or 0)
    # File-level problems first; the sort is stable, so rule order breaks ties on one line.
    return sorted(problems, key=lambda problem: lines.get(problem.element, 0) if problem.element else 0)
