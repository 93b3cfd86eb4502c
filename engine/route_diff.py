"""What changed between two versions of a route (issue 11's diff), element by element and field by field.

Elements are matched by id across the two BPMN documents (the modeler keeps ids); an element is changed when its
kind, name, lane, Loket properties (``spiffworkflow:property``), handler and parameters, condition, default flow
or the flows it connects differ. Forms are compared per file and per top-level field. The result is words a
process owner reads before publishing (and ids the editor can colour); nothing here runs route code.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from lxml import etree

from .bpmn import BPMN_NS, NS, parse_xml

_KINDS = {"userTask": "gebruikerstaak", "serviceTask": "servicetaak", "scriptTask": "scripttaak",
          "exclusiveGateway": "gateway", "inclusiveGateway": "gateway", "parallelGateway": "parallelle gateway",
          "startEvent": "startevent", "endEvent": "eindevent", "intermediateCatchEvent": "tussenevent",
          "boundaryEvent": "grensevent", "sequenceFlow": "flow", "lane": "baan", "subProcess": "subproces",
          "callActivity": "aanroep", "task": "taak", "manualTask": "handmatige taak"}


_PROPERTY = "bpmn:extensionElements/spiffworkflow:properties/spiffworkflow:property"


@dataclass
class RouteDiff:
    added: list[str] = field(default_factory=list)  # element ids
    removed: list[str] = field(default_factory=list)
    changed: dict[str, list[str]] = field(default_factory=dict)  # id -> what changed, in words
    labels: dict[str, str] = field(default_factory=dict)  # id -> "gebruikerstaak Besluit TLV"
    forms: list[str] = field(default_factory=list)  # per form and field, in words

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.changed or self.forms)

    def as_dict(self) -> dict[str, Any]:
        return {"added": self.added, "removed": self.removed, "changed": self.changed, "labels": self.labels,
                "forms": self.forms}


def _elements(bpmn_text: str) -> dict[str, dict[str, Any]]:
    root = parse_xml(bpmn_text.encode())
    lanes = {(ref.text or "").strip(): lane.get("name") or lane.get("id")
             for lane in root.iter(f"{{{BPMN_NS}}}lane") for ref in lane.iterfind("bpmn:flowNodeRef", NS)}
    out: dict[str, dict[str, Any]] = {}
    for element in root.iter():
        if not isinstance(element.tag, str) or not element.tag.startswith(f"{{{BPMN_NS}}}"):
            continue
        kind = etree.QName(element).localname
        if kind not in _KINDS or not element.get("id"):
            continue
        props = {p.get("name"): p.get("value") for p in element.iterfind(_PROPERTY, NS)}
        operator = element.find("bpmn:extensionElements/spiffworkflow:serviceTaskOperator", NS)
        condition = element.find("bpmn:conditionExpression", NS)
        out[element.get("id")] = {
            "soort": _KINDS[kind], "naam": element.get("name") or "", "baan": lanes.get(element.get("id"), ""),
            "default": element.get("default") or "",
            "van": element.get("sourceRef") or "", "naar": element.get("targetRef") or "",
            "conditie": (condition.text or "").strip() if condition is not None else "",
            "handler": operator.get("id") if operator is not None else "",
            "parameters": {p.get("id"): p.get("value") for p in operator.iter(f"{{{NS['spiffworkflow']}}}parameter")}
            if operator is not None else {},
            **{f"property {name}": value for name, value in props.items()},
        }
    return out


def _shown(value: Any) -> str:
    if value in ("", None, {}):
        return "(leeg)"
    return json.dumps(value, ensure_ascii=False) if isinstance(value, dict | list) else str(value)


def diff(old_bpmn: str, old_forms: dict[str, Any], new_bpmn: str, new_forms: dict[str, Any]) -> RouteDiff:
    """Old -> new. Raises ValueError when either BPMN does not parse."""
    try:
        old, new = _elements(old_bpmn), _elements(new_bpmn)
    except etree.XMLSyntaxError as exc:
        raise ValueError(f"de BPMN is geen geldige XML: {exc.msg}") from exc
    result = RouteDiff()
    for element_id, values in {**old, **new}.items():
        result.labels[element_id] = f"{values['soort']} {values['naam'] or element_id}".strip()
    result.added = [i for i in new if i not in old]
    result.removed = [i for i in old if i not in new]
    for element_id in (i for i in new if i in old):
        before, after = old[element_id], new[element_id]
        changes = [f"{key}: {_shown(before.get(key))} → {_shown(after.get(key))}"
                   for key in sorted(set(before) | set(after)) if before.get(key) != after.get(key)]
        if changes:
            result.changed[element_id] = changes
    result.forms = _form_changes(old_forms, new_forms)
    return result


def _form_changes(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    out = []
    for name in sorted(set(old) | set(new)):
        if name not in old:
            out.append(f"{name}: nieuw formulier")
            continue
        if name not in new:
            out.append(f"{name}: formulier verwijderd")
            continue
        before = (old[name] or {}).get("properties") or {}
        after = (new[name] or {}).get("properties") or {}
        for field_name in sorted(set(before) | set(after)):
            if field_name not in before:
                out.append(f"{name}: veld {field_name} toegevoegd")
            elif field_name not in after:
                out.append(f"{name}: veld {field_name} verwijderd")
            elif before[field_name] != after[field_name]:
                keys = sorted(k for k in set(before[field_name]) | set(after[field_name])
                              if before[field_name].get(k) != after[field_name].get(k))
                out.append(f"{name}: veld {field_name} gewijzigd ({', '.join(keys)})")
        rest_before = {k: v for k, v in old[name].items() if k != "properties"}
        rest_after = {k: v for k, v in new[name].items() if k != "properties"}
        if rest_before != rest_after:
            keys = sorted(k for k in set(rest_before) | set(rest_after) if rest_before.get(k) != rest_after.get(k))
            out.append(f"{name}: {', '.join(keys)} gewijzigd")
    return out
