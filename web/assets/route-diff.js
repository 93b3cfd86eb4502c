// Two versions of a route side by side (issue 11's diff): bpmn-js-differ compares the two BPMN models, and the
// engine's own comparison (engine/route_diff.py, in the page as data-engine) adds what the differ cannot see:
// Loket's extension properties (deadline, form, handler, ...). Removed elements are marked in the old diagram,
// added ones in the new, changed and only-moved ones in both. Every mark is a word on the shape and a line style
// (not colour alone); what only the differ found is added to the listing in words below the diagrams.
import NavigatedViewer from "bpmn-js/lib/NavigatedViewer";
import { diff } from "bpmn-js-differ";
import "bpmn-js/dist/assets/diagram-js.css";
import "./route-diff.css";

const WORDS = { added: "+ nieuw", removed: "− verwijderd", changed: "~ gewijzigd", moved: "↔ verplaatst" };
// Which marks each side shows: a removed element exists only in the old model, an added one only in the new.
const SIDES = { old: ["removed", "changed", "moved"], new: ["added", "changed", "moved"] };

async function load(container, url) {
  const answer = await fetch(url, { credentials: "same-origin" });
  if (!answer.ok) throw new Error(`diagram: HTTP ${answer.status}`);
  const viewer = new NavigatedViewer({ container });
  await viewer.importXML(await answer.text());
  viewer.get("canvas").zoom("fit-viewport", "auto");
  return viewer;
}

// The union of the differ's findings and the engine's, each element in one kind only.
function combine(found, engine) {
  const ids = (record) => new Set(Object.keys(record || {}));
  const added = new Set([...ids(found._added), ...(engine.added || [])]);
  const removed = new Set([...ids(found._removed), ...(engine.removed || [])]);
  const changed = new Set([...ids(found._changed), ...(engine.changed || [])]
    .filter((id) => !added.has(id) && !removed.has(id)));
  const moved = new Set([...ids(found._layoutChanged)]
    .filter((id) => !added.has(id) && !removed.has(id) && !changed.has(id)));
  return { added, removed, changed, moved };
}

function mark(viewer, kinds, result) {
  const canvas = viewer.get("canvas");
  const overlays = viewer.get("overlays");
  const registry = viewer.get("elementRegistry");
  for (const kind of kinds) {
    for (const id of result[kind]) {
      const element = registry.get(id);
      if (!element) continue;
      canvas.addMarker(id, `loket-diff-${kind}`);
      if (element.waypoints) continue;  // a flow: its line style says it, and the listing below in words
      const word = document.createElement("span");
      word.className = `loket-marker loket-marker--${kind}`;
      word.textContent = WORDS[kind];
      overlays.add(id, "loket-diff", { position: { top: -16, left: 0 }, html: word });
    }
  }
}

// Pan and zoom one diagram, and the other follows: the same place is in view on both sides.
function follow(viewers) {
  let busy = false;
  for (const viewer of viewers) {
    viewer.get("eventBus").on("canvas.viewbox.changed", ({ viewbox }) => {
      if (busy) return;
      busy = true;
      try {
        for (const other of viewers) {
          if (other !== viewer) other.get("canvas").viewbox({ x: viewbox.x, y: viewbox.y, width: viewbox.width,
                                                               height: viewbox.height });
        }
      } finally {
        busy = false;
      }
    });
  }
}

function label(viewers, id) {
  for (const viewer of viewers) {
    const element = viewer.get("elementRegistry").get(id);
    if (element) return `${element.businessObject.name || id} (${id})`;
  }
  return id;
}

// What the listing (from the engine) does not say yet: changes only the BPMN model shows, and moves.
function listDrawingOnly(root, viewers, found, result, engine) {
  const list = root.querySelector("#diff-drawing-only");
  if (!list) return;
  const known = new Set(engine.changed || []);
  const lines = [];
  for (const id of result.changed) {
    if (known.has(id)) continue;
    const attrs = Object.keys((found._changed[id] || {}).attrs || {});
    lines.push([id, "changed", `Gewijzigd: ${label(viewers, id)}${attrs.length ? ` — ${attrs.join(", ")}` : ""}`]);
  }
  for (const id of result.moved) lines.push([id, "moved", `Alleen verplaatst in de tekening: ${label(viewers, id)}`]);
  for (const [id, kind, text] of lines) {
    const item = document.createElement("li");
    item.className = "utrecht-unordered-list__item";
    item.dataset[kind] = id;
    item.textContent = text;
    list.append(item);
  }
  list.closest("[data-drawing-only]").hidden = lines.length === 0;
}

async function show(root) {
  const engine = JSON.parse(root.dataset.engine || "{}");
  const [oldViewer, newViewer] = await Promise.all([
    load(root.querySelector("#diff-old"), root.dataset.oldUrl),
    load(root.querySelector("#diff-new"), root.dataset.newUrl),
  ]);
  const found = diff(oldViewer.getDefinitions(), newViewer.getDefinitions());
  const result = combine(found, engine);
  mark(oldViewer, SIDES.old, result);
  mark(newViewer, SIDES.new, result);
  follow([oldViewer, newViewer]);
  listDrawingOnly(root, [newViewer, oldViewer], found, result, engine);
  for (const kind of Object.keys(WORDS)) root.dataset[`${kind}Ids`] = [...result[kind]].sort().join(" ");
  root.dataset.ready = "true";
}

const root = document.getElementById("diff-diagrams");
if (root) {
  show(root).catch((error) => {
    root.dataset.ready = "error";
    const note = document.createElement("p");
    note.className = "utrecht-paragraph";
    note.textContent = "De tekeningen konden niet worden getoond; alle verschillen staan hieronder in woorden.";
    root.querySelector(".loket-diff-pair").replaceChildren(note);
    console.error(error);
  });
}
