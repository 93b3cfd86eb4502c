"""The route document under check, and what every rule needs to read it: ids, owners, Loket's properties."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from lxml import etree

from engine.bpmn import BPMN_NS, NS
from engine.vocabulary import ROLES

SPIFF = "spiffworkflow"
ROLE_LIST = ", ".join(ROLES)
_OMG = "{http://www.omg.org/spec/"  # BPMN model, BPMN DI, DC and DI namespaces
# Containers whose direct children are flow elements (tasks, events, gateways, sequence flows).
_CONTAINERS = {f"{{{BPMN_NS}}}{tag}" for tag in ("process", "subProcess", "transaction", "adHocSubProcess")}


@dataclass(frozen=True)
class Problem:
    file: str  # the path as given
    element: str  # element id, or "" for the file as a whole
    message: str  # Dutch, plain: what is wrong and, where possible, how to fix it

    def __str__(self) -> str:
        if self.element:
            return f"{self.file}: {self.element}: {self.message}"
        return f"{self.file}: {self.message}"


def bpmn_tag(name: str) -> str:
    return f"{{{BPMN_NS}}}{name}"


def local_name(element: etree._Element) -> str:
    return etree.QName(element).localname


@dataclass
class Form:
    schema: dict | None  # the parsed JSON object, if it is one
    problem: str | None  # what is wrong with the file, if anything


@dataclass
class Document:
    """One BPMN document and what the rules need to know about it."""

    file: str
    root: etree._Element
    forms_dir: Path
    handlers: set[str]
    processes: list[etree._Element] = field(default_factory=list)  # the executable ones
    forms: dict[str, Form] = field(default_factory=dict)
    # Ids that an own rule already explains (beyond the problems' own elements): SpiffWorkflow's and the
    # schema's report on them is a consequence, and ours is the clearer message.
    covered: set[str] = field(default_factory=set)

    def problem(self, element: etree._Element | str, message: str) -> Problem:
        element_id = element if isinstance(element, str) else owner_id(element)
        return Problem(self.file, element_id, message)

    def each(self, tag: str) -> Iterator[etree._Element]:
        """Every ``bpmn:<tag>`` in the executable process(es), subprocesses included, in document order."""
        for process in self.processes:
            yield from process.iter(bpmn_tag(tag))


def with_ids(root: etree._Element) -> Iterator[tuple[str, etree._Element]]:
    """(id, element) of BPMN model and diagram elements; extension elements' ids are a space of their own."""
    for element in root.iter():
        if isinstance(element.tag, str) and element.tag.startswith(_OMG) and element.get("id"):
            yield element.get("id"), element


def owner_id(element: etree._Element) -> str:
    """The id of the flow element (task, event, gateway, flow) that holds ``element``, or of the element."""
    node: etree._Element | None = element
    while node is not None:
        parent = node.getparent()
        if parent is not None and parent.tag in _CONTAINERS and node.get("id"):
            return node.get("id")
        node = parent
    return element.get("id", "")


def properties(element: etree._Element) -> dict[str, str]:
    """Loket's extension properties, read the way SpiffWorkflow reads them (malformed ones skipped)."""
    props = {}
    for prop in element.iterfind(f"bpmn:extensionElements/{SPIFF}:properties//{SPIFF}:property", NS):
        if prop.get("name") is not None and prop.get("value") is not None:
            props[prop.get("name")] = prop.get("value")
    return props


def outgoing(doc: Document, node_id: str) -> list[etree._Element]:
    return [flow for flow in doc.each("sequenceFlow") if flow.get("sourceRef") == node_id]


def condition(flow: etree._Element) -> str | None:
    """A flow's condition, or None; an empty conditionExpression counts as none (as in SpiffWorkflow)."""
    expression = flow.find("bpmn:conditionExpression", NS)
    if expression is None or not (expression.text or "").strip():
        return None
    return expression.text
