"""Two versions of a route compared in the diagram (issue 11's diff): version 2 drops one task, adds another in
its place and gives a third a deadline (a Loket property, which bpmn-js-differ cannot see). Both versions are
drawn side by side: the removed task is marked in the old one, the added task in the new one, the changed task in
both, and no other task or event carries a mark. Every mark is a word on the shape too, the legend says what each
means, the listing of changed properties stays, and the page passes axe-core's serious/critical rules."""

from __future__ import annotations

from engine import routes
from engine.publish import check_content, publish
from tests.browser.conftest import axe_problems, log_in, screenshot

KEY = "diff-proef"
FORM = {"type": "object", "title": "Taak", "properties": {
    "toelichting": {"type": "string", "title": "Toelichting", "maxLength": 2000}}}


def linear_route(tasks: list[tuple[str, str, dict[str, str]]], lower: str = "") -> str:
    """A valid route: start, the user tasks in a row (id, name, Loket properties besides the form), end; all in
    the consulent's lane, each task 150 px right of the one before (a task keeps its place across versions);
    the task ``lower`` drawn 40 px lower, its flows bent to it."""
    nodes = ["start", *(t[0] for t in tasks), "einde"]
    flows = [(f"f{i}", a, b) for i, (a, b) in enumerate(zip(nodes, nodes[1:], strict=False), start=1)]
    incoming = {b: f for f, _, b in flows}
    outgoing = {a: f for f, a, _ in flows}
    x = {node: 180 + 150 * i for i, node in enumerate(nodes)}
    elements = [f'<bpmn:startEvent id="start"><bpmn:outgoing>{outgoing["start"]}</bpmn:outgoing></bpmn:startEvent>']
    for task_id, name, props in tasks:
        extra = "".join(f'<spiffworkflow:property name="{k}" value="{v}" />' for k, v in props.items())
        elements.append(
            f'<bpmn:userTask id="{task_id}" name="{name}"><bpmn:extensionElements><spiffworkflow:properties>'
            f'<spiffworkflow:property name="formJsonSchemaFilename" value="{KEY}-taak.json" />{extra}'
            f'</spiffworkflow:properties></bpmn:extensionElements><bpmn:incoming>{incoming[task_id]}</bpmn:incoming>'
            f'<bpmn:outgoing>{outgoing[task_id]}</bpmn:outgoing></bpmn:userTask>')
    elements.append(f'<bpmn:endEvent id="einde"><bpmn:incoming>{incoming["einde"]}</bpmn:incoming></bpmn:endEvent>')
    elements += [f'<bpmn:sequenceFlow id="{f}" sourceRef="{a}" targetRef="{b}" />' for f, a, b in flows]
    width = x["einde"]
    shapes = []
    for node in nodes:
        if node in ("start", "einde"):
            shapes.append(f'<bpmndi:BPMNShape id="{node}_di" bpmnElement="{node}">'
                          f'<dc:Bounds x="{x[node] + 32}" y="142" width="36" height="36" /></bpmndi:BPMNShape>')
        else:
            shapes.append(f'<bpmndi:BPMNShape id="{node}_di" bpmnElement="{node}">'
                          f'<dc:Bounds x="{x[node]}" y="{160 if node == lower else 120}" width="100" height="80" />'
                          '</bpmndi:BPMNShape>')
    right = {node: x[node] + (68 if node == "start" else 100) for node in nodes}  # events: 36 px, centred
    left = {node: x[node] + (32 if node == "einde" else 0) for node in nodes}
    y = {node: 200 if node == lower else 160 for node in nodes}
    edges = [f'<bpmndi:BPMNEdge id="{f}_di" bpmnElement="{f}"><di:waypoint x="{right[a]}" y="{y[a]}" />'
             f'<di:waypoint x="{left[b]}" y="{y[b]}" /></bpmndi:BPMNEdge>' for f, a, b in flows]
    refs = "".join(f"<bpmn:flowNodeRef>{n}</bpmn:flowNodeRef>" for n in nodes)
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" \
xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI" xmlns:dc="http://www.omg.org/spec/DD/20100524/DC" \
xmlns:di="http://www.omg.org/spec/DD/20100524/DI" xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" \
id="Definitions_{KEY}" targetNamespace="http://loket.example/routes">
  <bpmn:collaboration id="Collaboration_{KEY}">
    <bpmn:participant id="Participant_{KEY}" name="Diff-proef" processRef="Process_diff" />
  </bpmn:collaboration>
  <bpmn:process id="Process_diff" name="Diff-proef" isExecutable="true">
    <bpmn:laneSet id="LaneSet_{KEY}"><bpmn:lane id="Lane_consulent" name="consulent">{refs}</bpmn:lane></bpmn:laneSet>
    {"".join(elements)}
  </bpmn:process>
  <bpmndi:BPMNDiagram id="Diagram_{KEY}">
    <bpmndi:BPMNPlane id="Plane_{KEY}" bpmnElement="Collaboration_{KEY}">
      <bpmndi:BPMNShape id="Participant_{KEY}_di" bpmnElement="Participant_{KEY}" isHorizontal="true">
        <dc:Bounds x="100" y="60" width="{width}" height="200" /></bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="Lane_consulent_di" bpmnElement="Lane_consulent" isHorizontal="true">
        <dc:Bounds x="130" y="60" width="{width - 30}" height="200" /></bpmndi:BPMNShape>
      {"".join(shapes)}{"".join(edges)}
    </bpmndi:BPMNPlane>
  </bpmndi:BPMNDiagram>
</bpmn:definitions>
"""


OLD = linear_route([("intake", "Intake", {}), ("toets", "Toets", {}), ("advies", "Advies", {})])
# advies is gone, overleg takes its place (and its flows); toets gets a deadline.
NEW_TASKS = [("intake", "Intake", {}), ("toets", "Toets", {"deadline": "werkdagen(10)"}), ("overleg", "Overleg", {})]
NEW = linear_route(NEW_TASKS)
MOVED = linear_route(NEW_TASKS, lower="overleg")  # version 3: only the drawing differs


def marks(page, side: str) -> dict[str, set[str]]:
    """Per kind of mark, the ids of the shapes (not the flows) that carry it in one of the two diagrams."""
    return page.evaluate("""(side) => {
        const out = {};
        for (const kind of ['added', 'removed', 'changed', 'moved']) {
            out[kind] = [...document.querySelectorAll(`#diff-${side} .djs-shape.loket-diff-${kind}`)]
                .map((el) => el.dataset.elementId);
        }
        return out;
    }""", side)


def test_added_removed_and_changed_tasks_are_marked_in_both_diagrams(live, page):
    with live.runtime.db.transaction() as session:
        for bpmn in (OLD, NEW, MOVED):
            publish(session, check_content(KEY, bpmn, {f"{KEY}-taak.json": FORM}), note="proef")
    with live.runtime.db.read() as session:
        assert routes.latest_version(session, KEY).number == 3

    log_in(page, live, "procesbeheerder")
    page.goto(f"{live.url}/routes")
    page.get_by_role("link", name="verschil met v1", exact=True).click()
    page.wait_for_selector('#diff-diagrams[data-ready="true"]')

    old, new = marks(page, "old"), marks(page, "new")
    assert (set(old["removed"]), set(old["added"]), set(old["changed"])) == ({"advies"}, set(), {"toets"})
    assert (set(new["added"]), set(new["removed"]), set(new["changed"])) == ({"overleg"}, set(), {"toets"})
    assert not old["moved"] and not new["moved"]
    # Not by colour alone: each mark is a word on its shape, and the legend says what each means.
    words = {kind: page.locator(f"#diff-{side} .loket-marker--{kind}").all_inner_texts()
             for side, kind in (("old", "removed"), ("new", "added"), ("new", "changed"))}
    assert words == {"removed": ["− verwijderd"], "added": ["+ nieuw"], "changed": ["~ gewijzigd"]}
    legend = page.locator('[data-testid="diff-legend"]').inner_text()
    for word in ("nieuw", "verwijderd", "gewijzigd", "verplaatst"):
        assert word in legend
    # The listing stays: the Loket property that changed, in words.
    assert "property deadline: (leeg) → werkdagen(10)" in page.locator('[data-changed="toets"]').inner_text()
    assert page.locator('[data-removed="advies"]').count() == 1
    assert page.locator('[data-added="overleg"]').count() == 1
    assert axe_problems(page) == []
    screenshot(page, "routes-verschil")

    # Version 3 only moves overleg down: marked as moved in both drawings, and said in words below them.
    page.goto(f"{live.url}/routes/{KEY}/verschil?van=2&naar=3")
    page.wait_for_selector('#diff-diagrams[data-ready="true"]')
    for side in ("old", "new"):
        assert {kind: set(ids) for kind, ids in marks(page, side).items()} == {
            "added": set(), "removed": set(), "changed": set(), "moved": {"overleg"}}
    assert page.locator("#diff-new .loket-marker--moved").all_inner_texts() == ["↔ verplaatst"]
    assert "Alleen verplaatst in de tekening: Overleg (overleg)" in page.locator("#diff-drawing-only").inner_text()
    assert axe_problems(page) == []

