"""The BPMN 2.0 schema and SpiffWorkflow's own parser: the checks that speak after Loket's own rules."""

from __future__ import annotations

import copy
import threading
from collections.abc import Iterator

from lxml import etree
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.spiff.parser import VALIDATOR

from engine.bpmn import BPMN_NS, ParsedRoute, parse_route

from .document import Document, Problem

_schema_lock = threading.Lock()  # an lxml XMLSchema keeps its error log on the object


def schema_problems(doc: Document) -> Iterator[Problem]:
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


def spiff_problem(doc: Document) -> tuple[ParsedRoute | None, Problem | None]:
    """Parse with SpiffWorkflow, as deployment will. It stops at its first error."""
    try:
        return parse_route(doc.root, doc.file), None
    except ValidationException as exc:
        message = exc.args[0] if exc.args else str(exc)
        where = f" (regel {exc.line_number})" if isinstance(exc.line_number, int) else ""
        return None, doc.problem(exc.id or "", f"SpiffWorkflow kan de route niet lezen{where}: {message}")
    except Exception as exc:  # anything the library throws is a problem with the file, not a crash
        return None, doc.problem("", f"SpiffWorkflow kan de route niet lezen: {type(exc).__name__}: {exc}")
