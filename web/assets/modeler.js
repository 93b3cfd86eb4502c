// The route editor (/routes/<key>/drafts/<id>): bpmn-js's Modeler, a side panel for Loket's own properties of the
// selected element (read and written as spiffworkflow extension elements through the modeler's own API, so undo
// works and the XML keeps them), the forms as JSON with a live preview (htmx, the task page's renderer), and a save
// that validates: every problem is listed in Dutch and marked on its element in the diagram.
import Modeler from "bpmn-js/lib/Modeler";
import "bpmn-js/dist/assets/diagram-js.css";
import "bpmn-js/dist/assets/bpmn-js.css";
import "bpmn-js/dist/assets/bpmn-font/css/bpmn-embedded.css";
import "./modeler.css";

const SPIFF_URI = "http://spiffworkflow.org/bpmn/schema/1.0/core";
const text = (name) => ({ name, type: "String", isAttr: true });
const body = (name) => ({ name, superClass: ["Element"], properties: [{ name: "value", type: "String", isBody: true }] });
// What Loket reads of SpiffWorkflow's extension elements; everything else in the file passes through untouched.
const spiffworkflow = {
  name: "SpiffWorkflow", prefix: "spiffworkflow", uri: SPIFF_URI, xml: { tagAlias: "lowerCase" }, associations: [],
  types: [
    { name: "Properties", superClass: ["Element"], properties: [{ name: "properties", type: "Property", isMany: true }] },
    { name: "Property", superClass: ["Element"], properties: [text("name"), text("value")] },
    { name: "ServiceTaskOperator", superClass: ["Element"],
      properties: [text("id"), text("resultVariable"), { name: "parameterList", type: "Parameters" }] },
    { name: "Parameters", superClass: ["Element"], properties: [{ name: "parameters", type: "Parameter", isMany: true }] },
    { name: "Parameter", superClass: ["Element"], properties: [text("id"), text("type"), text("value")] },
    body("InstructionsForEndUser"), body("PreScript"), body("PostScript"),
  ],
};

const TERMS = [["", "—"], ["false", "Beleidstermijn (kalender van het SWV)"], ["true", "Wettelijke termijn (Algemene termijnenwet)"]];

function csrf() {
  const meta = document.querySelector('meta[name="csrf-token"]');
  return meta ? meta.content : "";
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "text") node.textContent = value;
    else node.setAttribute(key, value === true ? "" : value);
  }
  node.append(...children.filter(Boolean));
  return node;
}

class Editor {
  constructor(root) {
    this.root = root;
    this.version = Number(root.dataset.version);
    this.choices = JSON.parse(root.dataset.choices);
    this.forms = JSON.parse(document.getElementById("loket-forms").textContent);
    this.modeler = new Modeler({ container: "#loket-canvas", moddleExtensions: { spiffworkflow } });
    this.marked = [];
    this.panel = document.getElementById("loket-panel");
    this.status = document.getElementById("loket-status");
  }

  get(name) { return this.modeler.get(name); }

  async start() {
    const answer = await fetch(this.root.dataset.bpmnUrl, { credentials: "same-origin" });
    if (!answer.ok) throw new Error(`diagram: HTTP ${answer.status}`);
    await this.modeler.importXML(await answer.text());
    this.get("canvas").zoom("fit-viewport", "auto");
    this.get("eventBus").on("selection.changed", ({ newSelection }) => this.showPanel(newSelection[0]));
    this.get("eventBus").on("commandStack.changed", () => { this.root.dataset.dirty = "true"; });
    this.showProblems(JSON.parse(this.root.dataset.problems || "[]"));
    this.showChanges(JSON.parse(this.root.dataset.changes || "{}"));
    this.setupForms();
    document.getElementById("loket-save").addEventListener("click", () => this.save());
    document.getElementById("loket-publish").addEventListener("click", () => this.publish());
    window.loketModeler = this.modeler;  // for the browser test and the curious: the modeler's own API
    this.root.dataset.ready = "true";
  }

  // ------------------------------------------------------------ Loket's properties on the business object

  props(bo, create = false) {
    const moddle = this.get("moddle");
    if (!bo.extensionElements) {
      if (!create) return null;
      bo.extensionElements = moddle.create("bpmn:ExtensionElements", { values: [] });
      bo.extensionElements.$parent = bo;
    }
    let container = bo.extensionElements.values.find((v) => v.$type === "spiffworkflow:Properties");
    if (!container && create) {
      container = moddle.create("spiffworkflow:Properties", { properties: [] });
      container.$parent = bo.extensionElements;
      bo.extensionElements.values.push(container);
    }
    return container || null;
  }

  prop(bo, name) {
    const container = this.props(bo);
    const found = container && (container.properties || []).find((p) => p.name === name);
    return found ? found.value : "";
  }

  setProp(element, bo, name, value) {
    const container = this.props(bo, true);
    container.properties = container.properties || [];
    const index = container.properties.findIndex((p) => p.name === name);
    if (value === "" || value === null || value === undefined) {
      if (index >= 0) container.properties.splice(index, 1);
    } else if (index >= 0) {
      container.properties[index].value = String(value);
    } else {
      const property = this.get("moddle").create("spiffworkflow:Property", { name, value: String(value) });
      property.$parent = container;
      container.properties.push(property);
    }
    // Through the modeler, so the change is on the command stack (undo) and the diagram redraws.
    this.get("modeling").updateProperties(element, { extensionElements: bo.extensionElements });
  }

  operator(bo, create = false) {
    const ext = bo.extensionElements || (create ? (this.props(bo, true), bo.extensionElements) : null);
    if (!ext) return null;
    let op = ext.values.find((v) => v.$type === "spiffworkflow:ServiceTaskOperator");
    if (!op && create) {
      op = this.get("moddle").create("spiffworkflow:ServiceTaskOperator", {});
      op.$parent = ext;
      ext.values.push(op);
    }
    return op || null;
  }

  userTasks() {
    return this.get("elementRegistry").filter((e) => e.type === "bpmn:UserTask").map((e) => e.id);
  }

  // ------------------------------------------------------------ the side panel

  field(label, id, control, hint) {
    control.id = id;
    const parts = [el("div", { class: "utrecht-form-field__label" }, el("label", { class: "utrecht-form-label", for: id, text: label }))];
    if (hint) {
      parts.push(el("div", { class: "utrecht-form-field-description", id: `${id}-uitleg`, text: hint }));
      control.setAttribute("aria-describedby", `${id}-uitleg`);
    }
    return el("div", { class: "utrecht-form-field utrecht-form-field--text" }, ...parts, el("div", { class: "utrecht-form-field__input" }, control));
  }

  select(options, value, onChange) {
    const node = el("select", { class: "utrecht-select utrecht-select--html-select" });
    for (const option of options) {
      const [key, label] = Array.isArray(option) ? option : [option, option];
      node.append(el("option", { value: key, text: label, selected: key === value }));
    }
    if (value && !options.some((o) => (Array.isArray(o) ? o[0] : o) === value)) {
      node.append(el("option", { value, text: `${value} (onbekend)`, selected: true }));
    }
    node.addEventListener("change", () => onChange(node.value));
    return node;
  }

  input(value, onChange) {
    const node = el("input", { class: "utrecht-textbox utrecht-textbox--html-input", value: value || "" });
    node.addEventListener("change", () => onChange(node.value.trim()));
    return node;
  }

  propSelect(element, bo, name, label, options, hint) {
    return this.field(label, `prop-${name}`, this.select([["", "—"], ...options], this.prop(bo, name),
      (v) => this.setProp(element, bo, name, v)), hint);
  }

  propInput(element, bo, name, label, hint) {
    return this.field(label, `prop-${name}`, this.input(this.prop(bo, name), (v) => this.setProp(element, bo, name, v)), hint);
  }

  showPanel(element) {
    const panel = this.panel;
    panel.replaceChildren();
    if (!element) {
      panel.append(el("p", { class: "utrecht-paragraph", text: "Kies een element in het diagram." }));
      return;
    }
    const bo = element.businessObject;
    panel.dataset.element = element.id;
    panel.append(el("p", { class: "utrecht-paragraph" }, el("strong", { text: bo.name || element.id }),
      ` (${element.type.replace("bpmn:", "")}, id ${element.id})`));
    const roles = this.choices.roles;
    const forms = Object.keys(this.forms).sort();
    if (element.type === "bpmn:Lane") {
      panel.append(this.field("Rol van deze baan", "prop-lane-role", this.select([["", "—"], ...roles], bo.name || "",
        (v) => this.get("modeling").updateProperties(element, { name: v })), "Wie de taken in deze baan doet."));
    } else if (element.type === "bpmn:UserTask") {
      panel.append(
        this.propSelect(element, bo, "formJsonSchemaFilename", "Formulier", forms),
        this.propInput(element, bo, "deadline", "Termijn (deadline)", "Bijvoorbeeld werkdagen(10), weken(6) of schooldagen(5)."),
        this.propInput(element, bo, "deadlineWarning", "Waarschuwing vooraf", "Bijvoorbeeld werkdagen(2): zo lang voor de termijn afloopt."),
        this.propSelect(element, bo, "escalateTo", "Escaleren naar", roles),
        this.propSelect(element, bo, "deadlineLegal", "Soort termijn", TERMS.slice(1)),
      );
      const others = this.userTasks().filter((id) => id !== element.id);
      const chosen = new Set(this.prop(bo, "separateFrom").split(",").map((s) => s.trim()).filter(Boolean));
      const box = el("fieldset", { class: "utrecht-form-fieldset" },
        el("legend", { class: "utrecht-form-fieldset__legend", text: "Functiescheiding: niet door wie ook deed" }));
      for (const id of others) {
        const check = el("input", { type: "checkbox", id: `sep-${id}`, class: "utrecht-checkbox", checked: chosen.has(id) });
        check.addEventListener("change", () => {
          if (check.checked) chosen.add(id); else chosen.delete(id);
          this.setProp(element, bo, "separateFrom", [...chosen].join(","));
        });
        box.append(el("div", {}, check, el("label", { for: `sep-${id}`, text: ` ${id}` })));
      }
      panel.append(box);
    } else if (element.type === "bpmn:ServiceTask") {
      this.servicePanel(element, bo);
    } else if (element.type === "bpmn:EndEvent") {
      panel.append(this.propInput(element, bo, "outcome", "Uitkomst", "Bijvoorbeeld toegekend of afgewezen."));
    } else if (element.type === "bpmn:StartEvent") {
      panel.append(this.propSelect(element, bo, "formJsonSchemaFilename", "Startformulier", forms));
    } else if (element.type === "bpmn:Participant" || element.type === "bpmn:Process") {
      const process = element.type === "bpmn:Participant" ? bo.processRef : bo;
      if (process) {
        panel.append(
          this.propInput(element, process, "retentionPeriod", "Bewaartermijn", "Bijvoorbeeld P3Y (drie jaar) of P6M."),
          this.propSelect(element, process, "retentionFrom", "Bewaartermijn loopt vanaf", this.userTasks()),
          this.propInput(element, process, "retentionKeep", "Na de termijn bewaren (velden)", "Komma's ertussen, bv. besluit,categorie."),
        );
      }
    } else {
      panel.append(el("p", { class: "utrecht-paragraph", text: "Dit element heeft geen eigen Loket-eigenschappen." }));
    }
  }

  servicePanel(element, bo) {
    const op = this.operator(bo);
    const handlers = this.choices.handlers;
    const update = () => this.get("modeling").updateProperties(element, { extensionElements: bo.extensionElements });
    this.panel.append(this.field("Handler", "prop-handler", this.select([["", "—"], ...handlers], op ? op.id || "" : "", (v) => {
      this.operator(bo, true).id = v;
      update();
    })));
    const params = op && op.parameterList ? op.parameterList.parameters || [] : [];
    for (const [n, parameter] of params.entries()) {
      this.panel.append(this.field(`Parameter ${parameter.id} (route-code)`, `prop-param-${n}`, this.input(parameter.value, (v) => {
        parameter.value = v;
        update();
      })));
    }
    const name = this.input("", () => {});
    const add = el("button", { type: "button", class: "utrecht-button utrecht-button--secondary-action", text: "Parameter toevoegen" });
    add.addEventListener("click", () => {
      if (!name.value.trim()) return;
      const moddle = this.get("moddle");
      const operator = this.operator(bo, true);
      if (!operator.parameterList) {
        operator.parameterList = moddle.create("spiffworkflow:Parameters", { parameters: [] });
        operator.parameterList.$parent = operator;
      }
      const parameter = moddle.create("spiffworkflow:Parameter", { id: name.value.trim(), type: "str", value: '""' });
      parameter.$parent = operator.parameterList;
      operator.parameterList.parameters.push(parameter);
      update();
      this.showPanel(element);
    });
    this.panel.append(this.field("Naam van een nieuwe parameter", "prop-param-new", name), add);
  }

  // ------------------------------------------------------------ forms

  setupForms() {
    this.formSelect = document.getElementById("form-name");
    this.formText = document.getElementById("form-schema");
    this.refreshFormNames(Object.keys(this.forms).sort()[0]);
    this.formSelect.addEventListener("change", () => this.showForm());
    this.formText.addEventListener("input", () => {
      try {
        this.forms[this.formSelect.value] = JSON.parse(this.formText.value);
        this.formText.removeAttribute("aria-invalid");
      } catch (error) {
        this.formText.setAttribute("aria-invalid", "true");
      }
    });
    document.getElementById("form-add").addEventListener("click", () => {
      const input = document.getElementById("form-new");
      let name = input.value.trim();
      if (!name) return;
      if (!name.endsWith(".json")) name += ".json";
      if (!this.forms[name]) this.forms[name] = { type: "object", title: name.replace(/\.json$/, ""), properties: {} };
      input.value = "";
      this.refreshFormNames(name);
    });
  }

  refreshFormNames(chosen) {
    this.formSelect.replaceChildren(...Object.keys(this.forms).sort().map((n) => el("option", { value: n, text: n, selected: n === chosen })));
    this.choices.forms = Object.keys(this.forms).sort();
    this.showForm();
  }

  showForm() {
    const schema = this.forms[this.formSelect.value];
    this.formText.value = schema ? JSON.stringify(schema, null, 2) : "";
    this.formText.removeAttribute("aria-invalid");
    if (window.htmx) window.htmx.trigger(this.formText, "loket-form-shown");
  }

  // ------------------------------------------------------------ save, validate, publish

  say(message, kind = "info") {
    this.status.replaceChildren(el("div", { class: `utrecht-alert utrecht-alert--${kind}` }, el("p", { class: "utrecht-paragraph", text: message })));
  }

  showProblems(problems) {
    const canvas = this.get("canvas");
    const registry = this.get("elementRegistry");
    for (const [id, marker] of this.marked) canvas.removeMarker(id, marker);
    this.marked = [];
    const list = document.getElementById("loket-problems");
    list.replaceChildren();
    for (const p of problems) {
      const marker = p.severity === "fout" ? "loket-problem" : "loket-warning";
      if (p.element && registry.get(p.element)) {
        canvas.addMarker(p.element, marker);
        this.marked.push([p.element, marker]);
      }
      const where = p.element || p.file;
      const item = el("li", { class: `utrecht-unordered-list__item loket-problem-item loket-problem-item--${p.severity}`, "data-element": p.element });
      item.append(el("strong", { text: p.severity === "fout" ? "Fout" : "Waarschuwing" }), `: ${where}: ${p.message} `);
      if (p.element && registry.get(p.element)) {
        const show = el("button", { type: "button", class: "utrecht-button utrecht-button--subtle", text: "Toon in diagram" });
        show.addEventListener("click", () => this.get("selection").select(registry.get(p.element)));
        item.append(show);
      }
      list.append(item);
    }
    this.root.dataset.problems = JSON.stringify(problems);
  }

  // Elements added or changed since the version the draft came from (as saved): a marker and a word on each.
  showChanges(changes) {
    const canvas = this.get("canvas");
    const overlays = this.get("overlays");
    const registry = this.get("elementRegistry");
    for (const [id, marker] of this.changeMarks || []) canvas.removeMarker(id, marker);
    overlays.remove({ type: "loket-change" });
    this.changeMarks = [];
    for (const [kind, word] of [["added", "nieuw"], ["changed", "gewijzigd"]]) {
      for (const id of changes[kind] || []) {
        if (!registry.get(id)) continue;
        canvas.addMarker(id, `loket-${kind}`);
        this.changeMarks.push([id, `loket-${kind}`]);
        overlays.add(id, "loket-change", { position: { top: -14, left: 0 },
          html: el("span", { class: `loket-marker loket-marker--${kind}`, text: word }) });
      }
    }
  }

  async save() {
    for (const [name] of Object.entries(this.forms)) {
      if (name === this.formSelect.value && this.formText.getAttribute("aria-invalid") === "true") {
        this.say(`Formulier ${name} is geen geldige JSON; verbeter het eerst.`, "warning");
        return false;
      }
    }
    const { xml } = await this.modeler.saveXML({ format: true });
    const answer = await fetch(this.root.dataset.saveUrl, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf() },
      body: JSON.stringify({ bpmn: xml, forms: this.forms, version: this.version }),
    });
    const result = await answer.json();
    if (!answer.ok) {
      this.say(result.error ? result.error.message : `Opslaan mislukt (HTTP ${answer.status}).`, "warning");
      return false;
    }
    this.version = result.version;
    this.root.dataset.version = String(result.version);
    this.root.dataset.dirty = "false";
    this.showProblems(result.problems);
    this.showChanges(result.changes || {});
    const errors = result.problems.filter((p) => p.severity === "fout").length;
    const warnings = result.problems.length - errors;
    this.say(result.problems.length ? `Opgeslagen (versie ${result.version}): ${errors} fout(en), ${warnings} waarschuwing(en).`
      : `Opgeslagen (versie ${result.version}): geen problemen gevonden.`, result.problems.length ? "warning" : "ok");
    return true;
  }

  async publish() {
    if (this.root.dataset.dirty === "true" && !(await this.save())) return;
    const note = document.getElementById("publish-note").value.trim();
    const answer = await fetch(this.root.dataset.publishUrl, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf() },
      body: JSON.stringify({ note, version: this.version }),
    });
    const result = await answer.json();
    if (!answer.ok) {
      const details = (result.error && result.error.details && result.error.details.problems) || [];
      this.say([result.error ? result.error.message : `Publiceren mislukt (HTTP ${answer.status}).`, ...details].join(" "), "warning");
      return;
    }
    window.location.assign(result.location);
  }
}

const root = document.getElementById("loket-editor");
if (root) {
  new Editor(root).start().catch((error) => {
    root.dataset.ready = "error";
    root.prepend(el("p", { class: "utrecht-paragraph", text: "De editor kon niet worden geladen." }));
    console.error(error);
  });
}
