"""Changed versions of tlv-vso for the migration tests (engine, API, page, browser): each is the shipped route with
one change a process owner makes, published as the route's next version."""

from __future__ import annotations

import json
import re

from lxml import etree

from engine import publish as publishing
from engine.config import PROJECT_ROOT

PROCESSES = PROJECT_ROOT / "processes"
BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"


def shipped(route: str = "tlv-vso") -> tuple[str, dict]:
    text = (PROCESSES / f"{route}.bpmn").read_text(encoding="utf-8")
    forms = {p.name: json.loads(p.read_text(encoding="utf-8")) for p in (PROCESSES / "forms").glob(f"{route}-*.json")}
    return text, forms


def longer_dossiercheck(text: str) -> str:
    """The dossiercheck gets 7 werkdagen instead of 5 (and its warning 3 instead of 2)."""
    block = re.search(r'<bpmn:userTask id="dossiercheck".*?</bpmn:userTask>', text, re.S)
    assert block is not None
    changed = block.group(0).replace('value="werkdagen(5)"', 'value="werkdagen(7)"').replace(
        'value="werkdagen(2)"', 'value="werkdagen(3)"')
    return text.replace(block.group(0), changed)


def renamed_knooppunt(text: str) -> str:
    """The knooppuntoverleg is called 'overleg' (another element id, the same place in the route)."""
    text = re.sub(r"(?<![-\w])knooppuntoverleg(?![-\w.])", "overleg", text)
    return text.replace('name="Knooppuntoverleg"', 'name="Overleg met ouders en school"')


def without_hoorzitting(text: str) -> str:
    """The parents are no longer heard as a task of their own: 'oneens' goes straight to the besluit."""
    root = etree.fromstring(text.encode())
    for element in list(root.iter()):
        if element.get("id") in ("hoorzitting_ouders", "f_hoorzitting_besluit") or element.get("bpmnElement") in (
                "hoorzitting_ouders", "f_hoorzitting_besluit"):
            element.getparent().remove(element)
        elif element.text == "hoorzitting_ouders" or element.text == "f_hoorzitting_besluit":
            element.getparent().remove(element)
    for flow in root.iter(f"{{{BPMN_NS}}}sequenceFlow"):
        if flow.get("id") == "f_gw_ouders_oneens":
            flow.set("targetRef", "besluit")
    for task in root.iter(f"{{{BPMN_NS}}}userTask"):
        if task.get("id") == "besluit":
            incoming = etree.SubElement(task, f"{{{BPMN_NS}}}incoming")
            incoming.text = "f_gw_ouders_oneens"
            task.remove(incoming)
            task.insert(len(task.findall(f"{{{BPMN_NS}}}extensionElements")) + len(task.findall(
                f"{{{BPMN_NS}}}documentation")), incoming)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8").decode()


def condition_on_new_data(text: str) -> str:
    """The besluit gateway reads 'spoedplaatsing', which no form of the route asks for."""
    return text.replace('>besluit == "toekennen"<', '>besluit == "toekennen" and spoedplaatsing != True<')


def longer_plan(text: str) -> str:
    """thuiszitter: the plan gets 10 werkdagen instead of 5 (the monitoring timer is unchanged)."""
    block = re.search(r'<bpmn:userTask id="plan".*?</bpmn:userTask>', text, re.S)
    assert block is not None
    return text.replace(block.group(0), block.group(0).replace('value="werkdagen(5)"', 'value="werkdagen(10)"'))


def longer_monitoring(text: str) -> str:
    """thuiszitter: the monitoring timer waits a week longer."""
    changed = re.sub(r"(<bpmn:timeDate>[^<]*)", lambda m: m.group(1).replace(
        "weken(monitoring_weken)", "weken(monitoring_weken + 1)"), text)
    assert changed != text
    return changed


def dossiercheck_by_commissie(text: str) -> str:
    """The commissie checks the dossier instead of the consulent (the task moves to another lane)."""
    text = text.replace("        <bpmn:flowNodeRef>dossiercheck</bpmn:flowNodeRef>\n", "", 1)
    return text.replace("        <bpmn:flowNodeRef>besluit</bpmn:flowNodeRef>\n",
                        "        <bpmn:flowNodeRef>besluit</bpmn:flowNodeRef>\n"
                        "        <bpmn:flowNodeRef>dossiercheck</bpmn:flowNodeRef>\n", 1)


def no_waiting_list(forms: dict) -> dict:
    """The plaatsing form no longer offers 'wachtlijst' (the route itself unchanged)."""
    changed = json.loads(json.dumps(forms))
    field = changed["tlv-vso-plaatsing.json"]["properties"]["plaatsing_uitkomst"]
    field["enum"] = [value for value in field["enum"] if value != "wachtlijst"]
    return changed


def publish_variant(db, change, note: str = "Aangepast voor het ondersteuningsplan 2027.",
                    route: str = "tlv-vso", forms_change=None) -> int:
    """Publish ``change`` applied to the shipped route (and ``forms_change`` to its forms) as its next version;
    its number."""
    text, forms = shipped(route)
    if forms_change is not None:
        forms = forms_change(forms)
    changed = change(text)
    assert changed != text or forms_change is not None, "the variant changes nothing (the shipped route changed?)"
    with db.transaction() as session:
        result = publishing.check_content(route, changed, forms)
        assert not result.problems, result.problems
        return publishing.publish(session, result, note=note).number
