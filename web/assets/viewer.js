// The route diagram on the case and audit pages: bpmn-js's NavigatedViewer (pan and zoom, no editing) draws the
// route's BPMN and marks each step as it stands: done, current, waiting or not yet. Every mark is a word on the
// step too (and the page lists the steps in text), so nothing is told by colour alone.
import NavigatedViewer from "bpmn-js/lib/NavigatedViewer";
import "bpmn-js/dist/assets/diagram-js.css";
import "./viewer.css";

const LABELS = { done: "✓ afgerond", open: "▶ nu", waiting: "◐ wacht", error: "✗ fout" };

async function show(container) {
  const states = JSON.parse(container.dataset.states || "{}");
  const viewer = new NavigatedViewer({ container });
  const answer = await fetch(container.dataset.bpmnUrl, { credentials: "same-origin" });
  if (!answer.ok) throw new Error(`diagram: HTTP ${answer.status}`);
  await viewer.importXML(await answer.text());
  const canvas = viewer.get("canvas");
  const overlays = viewer.get("overlays");
  const registry = viewer.get("elementRegistry");
  canvas.zoom("fit-viewport", "auto");
  for (const [id, state] of Object.entries(states)) {
    if (!registry.get(id) || !(state in LABELS)) continue;
    canvas.addMarker(id, `loket-${state}`);
    const label = document.createElement("span");
    label.className = `loket-marker loket-marker--${state}`;
    label.textContent = LABELS[state];
    overlays.add(id, { position: { top: -14, left: 0 }, html: label });
  }
  container.dataset.ready = "true";
}

document.querySelectorAll("[data-bpmn-url]").forEach((container) => {
  show(container).catch((error) => {
    container.dataset.ready = "error";
    const note = document.createElement("p");
    note.className = "utrecht-paragraph";
    note.textContent = "Het diagram kon niet worden getoond; de stappen staan hieronder.";
    container.replaceChildren(note);
    console.error(error);
  });
});
