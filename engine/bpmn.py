"""BPMN in and out of SpiffWorkflow: safe parsing, spec storage, case state without its spec."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from lxml import etree
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.serializer.default.workflow import BpmnWorkflowConverter, WorkflowConverter
from SpiffWorkflow.bpmn.specs import BpmnProcessSpec
from SpiffWorkflow.bpmn.specs.event_definitions import timer as _spiff_timer
from SpiffWorkflow.spiff.parser import SpiffBpmnParser
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG

from . import clock

# SpiffWorkflow's timers read datetime.now() themselves; make them read Loket's clock.
_spiff_timer.datetime = clock.ClockDatetime

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
SPIFF_NS = "http://spiffworkflow.org/bpmn/schema/1.0/core"
NS = {"bpmn": BPMN_NS, "spiffworkflow": SPIFF_NS}

# External entities, DTDs and network access off: a route file is untrusted input.
SAFE_XML_PARSER = etree.XMLParser(
    resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False, huge_tree=False
)


def parse_xml(content: bytes) -> etree._Element:
    """Parse untrusted XML; raises ``etree.XMLSyntaxError``. A DOCTYPE is refused outright."""
    root = etree.fromstring(content, parser=SAFE_XML_PARSER)
    if root.getroottree().docinfo.doctype:
        raise etree.XMLSyntaxError("DOCTYPE is niet toegestaan in een route", None, 1, 1, "")
    return root


class CaseWorkflowConverter(BpmnWorkflowConverter):
    """Serializes a case's workflow without its spec; restores it onto a cached spec."""

    def to_dict(self, workflow: BpmnWorkflow) -> dict[str, Any]:
        dct = WorkflowConverter.to_dict(self, workflow)
        dct["subprocesses"] = self.mapping_to_dict(workflow.subprocesses)
        dct["bpmn_events"] = self.registry.convert(workflow.bpmn_events)
        return dct

    def restore(self, dct: dict[str, Any], spec: BpmnProcessSpec, subprocess_specs: dict) -> BpmnWorkflow:
        workflow = self.target_class(spec, subprocess_specs, deserializing=True)
        workflow.tasks = self.mapping_from_dict(dct["tasks"], UUID, workflow=workflow)
        workflow.task_tree = workflow.tasks.get(UUID(dct["root"]))
        self.set_default_attributes(workflow, dct)
        self.subprocesses_from_dict(dct["subprocesses"], workflow)
        workflow.bpmn_events = self.registry.restore(dct.pop("bpmn_events", []))
        return workflow


_registry = BpmnWorkflowSerializer.configure(SPIFF_CONFIG)
SERIALIZER = BpmnWorkflowSerializer(_registry)
_workflow_converter = CaseWorkflowConverter(BpmnWorkflow, _registry)


@dataclass(frozen=True)
class ParsedRoute:
    process_id: str
    title: str
    spec: BpmnProcessSpec
    subprocess_specs: dict[str, BpmnProcessSpec]


def parse_route(root: etree._Element, filename: str) -> ParsedRoute:
    """Parse a BPMN document holding one executable process (raises SpiffWorkflow's ValidationException)."""
    parser = SpiffBpmnParser()
    parser.add_bpmn_xml(etree.ElementTree(root), filename)
    process_ids = executable_process_ids(root)
    if len(process_ids) != 1:
        raise ValueError(f"verwacht precies één uitvoerbaar proces, gevonden: {len(process_ids)}")
    process_id = process_ids[0]
    spec = parser.get_spec(process_id)
    subs = parser.get_subprocess_specs(process_id)
    title = root.find(f"bpmn:process[@id='{process_id}']", NS).get("name") or process_id
    return ParsedRoute(process_id, title, spec, subs)


def executable_process_ids(root: etree._Element) -> list[str]:
    processes = root.findall("bpmn:process", NS)
    executable = [p.get("id") for p in processes if p.get("isExecutable", "true").lower() == "true"]
    return executable


def dump_spec(parsed: ParsedRoute) -> str:
    return json.dumps(
        {
            "spec": SERIALIZER.to_dict(parsed.spec),
            "subprocess_specs": {k: SERIALIZER.to_dict(v) for k, v in parsed.subprocess_specs.items()},
        }
    )


@dataclass(frozen=True)
class Loaded:
    """A deployed version as the engine uses it: spec, subprocess specs and forms."""

    spec: BpmnProcessSpec
    subprocess_specs: dict[str, BpmnProcessSpec]
    forms: dict[str, Any]
    has_timers: bool

    def form(self, filename: str | None) -> dict[str, Any] | None:
        return self.forms.get(filename) if filename else None


_cache: dict[str, Loaded] = {}
_lock = threading.Lock()


def loaded(version: Any) -> Loaded:
    """A deployed version, restored once per process. Keyed by content hash (versions are immutable); the
    large columns (spec, forms) are only read from the database on a cache miss."""
    found = _cache.get(version.sha256)
    if found is None:
        with _lock:
            found = _cache.get(version.sha256)
            if found is None:
                raw = json.loads(version.spec)
                spec = SERIALIZER.from_dict(raw["spec"])
                subs = {k: SERIALIZER.from_dict(v) for k, v in raw["subprocess_specs"].items()}
                timers = any(has_timer(s) for s in [spec, *subs.values()])
                found = _cache[version.sha256] = Loaded(spec, subs, dict(version.forms), timers)
    return found


def has_timer(spec: BpmnProcessSpec) -> bool:
    return any(isinstance(getattr(ts, "event_definition", None), _spiff_timer.TimerEventDefinition)
               for ts in spec.task_specs.values())


def clear_cache() -> None:
    _cache.clear()


def dump_workflow(workflow: BpmnWorkflow) -> str:
    return json.dumps(_workflow_converter.to_dict(workflow), separators=(",", ":"))


def load_workflow(text: str, spec: BpmnProcessSpec, subprocess_specs: dict) -> BpmnWorkflow:
    return _workflow_converter.restore(json.loads(text), spec, subprocess_specs)


def properties(task_spec: Any) -> dict[str, str]:
    """Loket's extension properties of a task spec (``spiffworkflow:properties``)."""
    extensions = getattr(task_spec, "extensions", None) or {}
    return extensions.get("properties") or {}


# Separated duties: ``<spiffworkflow:property name="separateFrom" value="dossiercheck,knooppuntoverleg" />`` on a
# user task means whoever completed one of those tasks of the case may not do this one (engine.duties).
SEPARATE_FROM = "separateFrom"


def separate_from(task_spec: Any) -> tuple[str, ...]:
    """The task ids named by a task's ``separateFrom`` property, in the order written, each once."""
    value = properties(task_spec).get(SEPARATE_FROM) or ""
    return tuple(dict.fromkeys(name.strip() for name in value.split(",") if name.strip()))
