"""Route code: every condition, timer expression, script and parameter must be Python the sandbox accepts,
and an ISO 8601 literal must be quoted."""

from __future__ import annotations

import ast
import builtins
import re
from collections.abc import Iterator

from lxml import etree

from engine.bpmn import NS
from engine.sandbox import BASE_GLOBALS, check_source

from .document import SPIFF, Document, Problem, properties

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


def rule_route_code(doc: Document) -> Iterator[Problem]:
    for tag, child, what, script in _CODE:
        for element in doc.each(tag):
            for code in element.iterfind(f"bpmn:{child}", NS):
                yield from _code_problems(doc, code, code.text, what, script)
    for task in doc.each("userTask"):
        props = properties(task)
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
    doc: Document, element: etree._Element, source: str | None, what: str, script: bool
) -> Iterator[Problem]:
    if source is None or not source.strip():
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
