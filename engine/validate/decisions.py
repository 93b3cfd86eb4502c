"""What a route that decides declares (engine.decision): the legal decision term on the task whose completion is
the receipt of the application, the tasks that suspend it, and the decision service's outcome."""

from __future__ import annotations

from collections.abc import Iterator

from engine import decision, decision_record
from engine.bpmn import NS
from engine.vocabulary import ROLES

from .document import ROLE_LIST, SPIFF, Document, Problem, properties

_ON_TERM = (decision.WARNING, decision.ESCALATE_TO, decision.RECEIVED_FROM, decision.FROM, decision.LAW,
            decision.EXTENSION, decision.WARN_TO)


def rule_decision_term(doc: Document) -> Iterator[Problem]:
    starts = []
    for kind in ("serviceTask", "scriptTask", "startEvent", "endEvent", "exclusiveGateway"):
        for element in doc.each(kind):
            for name in (decision.TERM, decision.SUSPENDS, *_ON_TERM):
                if name in properties(element):
                    yield doc.problem(element, f"{name} hoort op een gebruikerstaak")
    for task in doc.each("userTask"):
        props = properties(task)
        if decision.TERM in props:
            starts.append(task)
            try:
                decision.term_days(props[decision.TERM])
            except ValueError as exc:
                yield doc.problem(task, f"{decision.TERM}: {exc} (een wettelijke termijn telt kalenderdagen)")
            if props.get(decision.WARNING):
                try:
                    decision.term_days(props[decision.WARNING])
                except ValueError as exc:
                    yield doc.problem(task, f"{decision.WARNING}: {exc}")
            for name in (decision.ESCALATE_TO, decision.WARN_TO):
                if name in props and props[name] not in ROLES:
                    yield doc.problem(task, f"{name} '{props[name]}' is geen Loket-rol ({ROLE_LIST})")
        else:
            for name in _ON_TERM:
                if name in props:
                    yield doc.problem(task, f"{name} zonder {decision.TERM}: zet de beslistermijn op dezelfde taak")
        if decision.EXTENSION in props and props[decision.EXTENSION] != "route":
            yield doc.problem(task, f"{decision.EXTENSION} kent alleen 'route' (de route verlengt haar termijn zelf, "
                                    f"met handler decision_extend), niet '{props[decision.EXTENSION]}'")
        if decision.SUSPENDS in props and props[decision.SUSPENDS] not in ("true", "false"):
            yield doc.problem(task, f"{decision.SUSPENDS} moet true of false zijn, niet '{props[decision.SUSPENDS]}'")
        if decision.TERM in props and props.get(decision.SUSPENDS) == "true":
            yield doc.problem(task, f"{decision.SUSPENDS} op de taak die de beslistermijn start: kies een andere taak")
    for extra in starts[1:]:
        yield doc.problem(extra, f"{decision.TERM} staat al op taak '{starts[0].get('id')}': één ontvangst per route")
    for task in doc.each("serviceTask"):
        operator = task.find(f"bpmn:extensionElements/{SPIFF}:serviceTaskOperator", NS)
        if operator is None or operator.get("id") != decision.HANDLER:
            continue
        outcome, kind = None, decision_record.DEFAULT_KIND
        for param in operator.iterfind(f"{SPIFF}:parameters/{SPIFF}:parameter", NS):
            if param.get("id") == "outcome":
                outcome = (param.get("value") or "").strip().strip("\"'")
            if param.get("id") == "kind":
                kind = (param.get("value") or "").strip().strip("\"'")
        if kind not in decision_record.KINDS:
            choices = ", ".join(f'"{k}"' for k in decision_record.KINDS)
            yield doc.problem(task, f"besluit met onbekende kind-parameter '{kind}': kies {choices} (als tekst)")
            continue
        if outcome not in decision_record.outcomes(kind):
            choices = ", ".join(f'"{o}"' for o in decision_record.outcomes(kind))
            yield doc.problem(task, f"besluit zonder geldige outcome-parameter: kies {choices} (als tekst)")
