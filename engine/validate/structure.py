"""Structure rules: one executable process, unique ids and whole references, lanes that are roles,
well-formed properties, gateways that can always choose, and loops that can end."""

from __future__ import annotations

from collections.abc import Iterator

from lxml import etree

from engine.bpmn import NS
from engine.vocabulary import ROLES

from .document import (
    ROLE_LIST,
    SPIFF,
    Document,
    Problem,
    bpmn_tag,
    condition,
    outgoing,
    with_ids,
)


def rule_executable_process(doc: Document) -> Iterator[Problem]:
    ids = [process.get("id") or "?" for process in doc.processes]
    if not ids:
        message = 'geen uitvoerbaar proces in dit bestand (zet isExecutable="true" op het proces)'
        yield doc.problem("", message)
    elif len(ids) > 1:
        listed = ", ".join(ids)
        message = f"meer dan één uitvoerbaar proces in dit bestand ({listed}): een route is één proces"
        yield doc.problem("", message)


def rule_ids_and_references(doc: Document) -> Iterator[Problem]:
    # SpiffWorkflow finds elements by id; a duplicate or a dangling reference gives baffling errors later.
    seen: set[str] = set()
    for element_id, _ in with_ids(doc.root):
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


def rule_lanes(doc: Document) -> Iterator[Problem]:
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


def rule_properties(doc: Document) -> Iterator[Problem]:
    # SpiffWorkflow reads name and value with attrib[...]: a missing one is a KeyError deep in the parser.
    for process in doc.processes:
        for prop in process.iter(f"{{{NS[SPIFF]}}}property"):
            if prop.get("name") is None or prop.get("value") is None:
                missing = "name" if prop.get("name") is None else "value"
                label = prop.get("name") or "?"
                yield doc.problem(prop, f"property '{label}' heeft geen {missing}")


def rule_gateways(doc: Document) -> Iterator[Problem]:
    for gateway in (*doc.each("exclusiveGateway"), *doc.each("inclusiveGateway")):
        flows = outgoing(doc, gateway.get("id"))
        flow_ids = [flow.get("id") for flow in flows]
        default = gateway.get("default")
        if default and default not in flow_ids:
            yield doc.problem(gateway, f"default-flow '{default}' is geen uitgaande flow van deze gateway")
            default = None
        if len(flows) < 2:
            continue
        # SpiffWorkflow needs a condition on every flow but the default one, or it refuses the gateway.
        bare = [flow.get("id") for flow in flows if condition(flow) is None and flow.get("id") != default]
        if not bare:
            continue
        doc.covered.update(bare)
        if default:
            gist = "uitgaande flow zonder conditie (alleen de default-flow mag er een missen)"
        else:
            gist = "gateway zonder default en niet elke uitgaande flow heeft een conditie"
        yield doc.problem(gateway, f"{gist}: {', '.join(bare)}")


def rule_loops(doc: Document) -> Iterator[Problem]:
    # A loop without an exit runs until the engine's activation limit (or SpiffWorkflow's recursion limit).
    graph: dict[str, list[str]] = {}
    for flow in doc.each("sequenceFlow"):
        source, target = flow.get("sourceRef") or "", flow.get("targetRef") or ""
        graph.setdefault(source, []).append(target)
        graph.setdefault(target, [])
    elements = {node_id: element for process in doc.processes for node_id, element in with_ids(process)}
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
    if element is None or element.tag not in (bpmn_tag("exclusiveGateway"), bpmn_tag("inclusiveGateway")):
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
