"""A task's form, rendered from its JSON Schema, and the work on the task: claim, release, save a concept, complete.

The schema decides the widgets: text (a textarea past LONG_TEXT characters), number, date, a choice (radio buttons
for up to RADIO_MAX options, else a select), ja/nee, nested objects as fieldsets and lists of objects with rows to
add and remove. Field names are the data paths (``d.adviezen.0.auteur``), so the engine's per-field messages land
next to their fields. Completing validates in the engine, exactly as the API does; what was typed is shown again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from flask import flash, redirect, render_template, request
from sqlalchemy import select
from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Response

from engine import clock, delegation, drafts, duties, permissions, worklist
from engine.errors import Conflict, InvalidData, LoketError
from engine.models import User
from engine.vocabulary import OPEN_TASK, Role

from . import bp, current_actor, hidden_if_forbidden, is_htmx, record_read, runtime
from .errors import page

PREFIX = "d."
LONG_TEXT = 200
RADIO_MAX = 4
ROW = "__INDEX__"  # stands for a new row's index in the row template; app.js replaces it
MISSING: Any = object()

# How a value of an enum reads in the form: the code with underscores as spaces, first letter a capital.
YES_NO = [("true", "Ja"), ("false", "Nee")]


@dataclass
class Field:
    kind: str  # text, textarea, number, date, radio, select, boolean, object, array
    path: str  # the data path, as the engine names it in messages: "adviezen.0.auteur"
    label: str
    help: str | None = None
    required: bool = False
    value: str = ""
    options: list[tuple[str, str]] = field(default_factory=list)
    children: list[Field] = field(default_factory=list)
    rows: list[list[Field]] = field(default_factory=list)
    template: list[Field] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    max_length: int | None = None
    min_items: int = 0
    max_items: int | None = None

    @property
    def name(self) -> str:
        return PREFIX + self.path

    @property
    def id(self) -> str:
        return "veld-" + self.path.replace(".", "-").replace("_", "-")


def _label(key: str) -> str:
    text = str(key).replace("_", " ")
    return text[:1].upper() + text[1:]


def _kind(schema: dict[str, Any]) -> str:
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "string")
    if "enum" in schema:
        return "radio" if len(schema["enum"]) <= RADIO_MAX else "select"
    if kind == "object":
        return "object"
    if kind == "array":
        return "array"
    if kind == "boolean":
        return "boolean"
    if kind in ("integer", "number"):
        return "number"
    if schema.get("format") == "date":
        return "date"
    limit = schema.get("maxLength")
    if schema.get("format") in ("textarea", "long") or (isinstance(limit, int) and limit > LONG_TEXT):
        return "textarea"
    return "text"


def _text(value: Any) -> str:
    if value is MISSING or value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def build(schema: dict[str, Any], value: Any, errors: dict[str, list[str]], path: list[str],
          required: bool = False, key: str = "") -> Field:
    """The field for ``schema`` at ``path`` with the value to show and the engine's messages for it."""
    kind = _kind(schema)
    dotted = ".".join(path)
    out = Field(kind=kind, path=dotted, label=schema.get("title") or _label(key), help=schema.get("description"),
                required=required, errors=list(errors.get(dotted, [])), max_length=schema.get("maxLength"))
    if kind == "object":
        props = schema.get("properties") or {}
        needed = set(schema.get("required") or [])
        given = value if isinstance(value, dict) else {}
        out.children = [build(sub, given.get(name, MISSING), errors, [*path, name], name in needed, name)
                        for name, sub in props.items() if isinstance(sub, dict)]
    elif kind == "array":
        items = _items(schema)
        out.min_items = int(schema.get("minItems") or 0)
        out.max_items = schema.get("maxItems")
        listed = value if isinstance(value, list) else [{} for _ in range(max(out.min_items, 1))]
        out.rows = [_row(items, item, errors, [*path, str(n)]) for n, item in enumerate(listed)]
        out.template = _row(items, MISSING, {}, [*path, ROW])
    elif kind in ("radio", "select"):
        out.options = [(str(v), _label(str(v))) for v in schema["enum"]]
        out.value = _text(value)
    elif kind == "boolean":
        out.options = YES_NO
        out.value = _text(value)
    else:
        out.value = _text(value)
    return out


def _items(schema: dict[str, Any]) -> dict[str, Any]:
    found = schema.get("items")
    return found if isinstance(found, dict) else {"type": "string"}


def _row(items: dict[str, Any], value: Any, errors: dict[str, list[str]], path: list[str]) -> list[Field]:
    """One row of a list: the fields of its object (or the one field of a list of plain values)."""
    one = build(items, value, errors, path, True)
    return one.children if one.kind == "object" else [one]


def labels(fields: list[Field], out: dict[str, str] | None = None, parent: str = "") -> dict[str, str]:
    """Every field's path with the label a reader knows it by (``Advies 2 · Auteur`` for a row's field)."""
    out = {} if out is None else out
    for f in fields:
        name = f"{parent} · {f.label}" if parent else f.label
        out[f.path] = name
        labels(f.children, out, name)
        for n, row in enumerate(f.rows):
            out[f"{f.path}.{n}"] = f"{f.label} {n + 1}"
            labels(row, out, f"{f.label} {n + 1}")
    return out


def form_fields(schema: dict[str, Any] | None, data: dict[str, Any] | None,
                errors: dict[str, list[str]] | None = None) -> list[Field]:
    if not schema:
        return []
    return build(schema, data or {}, errors or {}, []).children


# ---------------------------------------------------------------- reading a posted form back into data


def _tree(form: MultiDict[str, str]) -> dict[str, Any]:
    """``d.a.0.b=x`` fields as nested dicts, in the order the form sent them (the order the rows stand in)."""
    root: dict[str, Any] = {}
    for name in form:
        if not name.startswith(PREFIX):
            continue
        parts = name[len(PREFIX):].split(".")
        node = root
        for part in parts[:-1]:
            nxt = node.setdefault(part, {})
            if not isinstance(nxt, dict):
                break
            node = nxt
        else:
            node[parts[-1]] = form.get(name, "")
    return root


def _convert(schema: dict[str, Any], node: Any, required: bool) -> Any:
    kind = _kind(schema)
    if kind == "object":
        if not isinstance(node, dict):
            return {} if required else MISSING
        props = schema.get("properties") or {}
        needed = set(schema.get("required") or [])
        out = {}
        for name, sub in props.items():
            if name in node and isinstance(sub, dict):
                value = _convert(sub, node[name], name in needed)
                if value is not MISSING:
                    out[name] = value
        return out if out or required else MISSING
    if kind == "array":
        items = _items(schema)
        rows = [_convert(items, row, True) for row in node.values()] if isinstance(node, dict) else []
        rows = [r for r in rows if r is not MISSING and r != {}]  # a row left empty is no item (an optional list)
        return rows if rows or required else MISSING
    if not isinstance(node, str):
        return MISSING
    text = node.replace("\r\n", "\n")
    if not text.strip():
        return MISSING
    if kind == "boolean":
        return {"true": True, "false": False}.get(text, text)
    if kind == "number":
        wanted = schema.get("type")
        try:
            return int(text.strip())
        except ValueError:
            pass
        if wanted != "integer":
            try:
                return float(text.strip().replace(",", "."))
            except ValueError:
                pass
        return text  # kept as typed: the engine's message says what it must be
    return text


def parse(schema: dict[str, Any] | None, form: MultiDict[str, str]) -> dict[str, Any]:
    """The posted form as the task's data (types per the schema; empty fields left out)."""
    if not schema:
        return {}
    data = _convert(schema, _tree(form), True)
    return data if isinstance(data, dict) else {}


def flat(data: Any, prefix: str = "") -> dict[str, str]:
    """Data as ``path: value`` lines, to show what someone typed on a page without the form."""
    out: dict[str, str] = {}
    if isinstance(data, dict):
        for key, value in data.items():
            out.update(flat(value, f"{prefix}.{key}" if prefix else str(key)))
    elif isinstance(data, list):
        for n, value in enumerate(data):
            out.update(flat(value, f"{prefix}.{n + 1}"))
    else:
        out[prefix] = _text(data)
    return out


# ---------------------------------------------------------------- the panel


def panel_context(task_id: str, data: dict[str, Any] | None = None, errors: dict[str, list[str]] | None = None,
                  message: tuple[str, str] | None = None) -> dict[str, Any]:
    """Everything the task panel shows; the read is logged like the API's ``GET /tasks/{id}``."""
    actor = current_actor()
    rt = runtime()
    with rt.db.read() as session, hidden_if_forbidden():
        task = rt.task_for(session, actor, task_id)
        case = rt.case_for(session, actor, task.case_id)
        schema = rt.form(case.route_version, task.name)
        draft = drafts.load(session, actor, task.id)
        pupil = (case.data or {}).get("leerling")
        info = {"case_id": case.id, "route": case.route_version.title, "school": case.school.name if case.school
                else None, "status": case.status, "initials": worklist.initials(pupil),
                "assignee": task.assignee.email if task.assignee else None}
        open_ = task.status in OPEN_TASK
        apart = duties.kept_apart(session, actor, case, task.name) if open_ else []
        may = open_ and permissions.may_work(actor, task) and not apart
        mine = task.assignee_id is not None and task.assignee_id == actor.user_id
        beheerder = Role.BEHEERDER in actor.roles
        others = worklist.colleagues(session, actor, task) if may and mine else []
    record_read(f"task:{task.name}", case.id)
    shown = data if data is not None else (draft.data if draft is not None and open_ else {})
    fields = form_fields(schema, shown, errors)
    return {
        "task": task, "info": info, "badge": worklist.due_badge(task), "open": open_, "may_work": may, "mine": mine,
        "may_release": open_ and task.assignee_id is not None and (mine or beheerder),
        "kept_apart": apart, "colleagues": others,
        "fields": fields, "labels": labels(fields), "errors": errors or {}, "message": message,
        "draft_saved": draft.saved_at if draft is not None and data is None and open_ else None,
        "format_moment": clock.format_moment,
    }


def _panel(task_id: str, status: int = 200, **kwargs: Any) -> Any:
    context = panel_context(task_id, **kwargs)
    template = "_task_panel.html" if is_htmx() else "task.html"
    return render_template(template, p=context), status


def _changed(response: Any) -> Any:
    """Tell the inbox beside the panel to fetch its list again (a task moved tab, or is gone)."""
    body, status = response
    out = Response(body, status=status, mimetype="text/html")
    out.headers["HX-Trigger"] = "inbox-changed"
    return out


@bp.route("/tasks/<uuid:task_id>")
def task_page(task_id: UUID) -> Any:
    return _panel(str(task_id))


@bp.route("/tasks/<uuid:task_id>/claim", methods=["POST"])
def claim(task_id: UUID) -> Any:
    runtime().claim(current_actor(), str(task_id))
    return _after(str(task_id), ("ok", "U heeft de taak geclaimd."))


@bp.route("/tasks/<uuid:task_id>/vrijgeven", methods=["POST"])
def release(task_id: UUID) -> Any:
    runtime().unclaim(current_actor(), str(task_id))
    return _after(str(task_id), ("ok", "De taak is vrijgegeven; een collega kan haar nu oppakken."))


@bp.route("/tasks/<uuid:task_id>/overdragen", methods=["POST"])
def hand_over(task_id: UUID) -> Any:
    """Delegate a task the user claimed to a colleague of the same role (POST /api/v1/tasks/{id}/delegate too)."""
    tid = str(task_id)
    chosen = request.form.get("collega", "")
    if not chosen.isdigit() or len(chosen) > 9:
        return _panel(tid, 422, message=("error", "Kies de collega aan wie u de taak overdraagt."))
    rt = runtime()
    try:
        delegation.delegate(rt, current_actor(), tid, int(chosen))
    except InvalidData as exc:
        problems = " ".join(m for messages in exc.details.values() for m in messages) or exc.message
        return _panel(tid, 422, message=("error", problems))
    with rt.db.read() as session:
        who = session.scalar(select(User.email).where(User.id == int(chosen))) or "uw collega"
    return _after(tid, ("ok", f"De taak is overgedragen aan {who}."))


def _after(task_id: str, message: tuple[str, str]) -> Any:
    if not is_htmx():
        flash(message[1], message[0])
        return redirect(f"/?taak={task_id}")
    return _changed(_panel(task_id, message=message))


@bp.route("/tasks/<uuid:task_id>", methods=["POST"])
def submit(task_id: UUID) -> Any:
    """*Opslaan als concept* (``actie=concept``) or *Afronden* (``actie=afronden``)."""
    actor = current_actor()
    rt = runtime()
    tid = str(task_id)
    with rt.db.read() as session, hidden_if_forbidden():
        task, case = permissions.task_and_case(session, actor, tid)
        schema = rt.form(case.route_version, task.name)
    data = parse(schema, request.form)
    if request.form.get("actie") == "concept":
        with rt.db.transaction() as session:
            task, _ = permissions.workable(session, actor, tid)
            if task.assignee_id not in (None, actor.user_id):
                raise Conflict("Deze taak is geclaimd door een collega; alleen die kan er een concept van bewaren.")
            drafts.save(session, actor, task, data)
        return _panel(tid, data=data, message=("ok", "Concept bewaard. U kunt later verder gaan waar u was."))
    try:
        done = rt.complete(actor, tid, data)
    except InvalidData as exc:
        return _panel(tid, 422, data=data, errors=exc.details,
                      message=("error", "Het formulier is niet goed ingevuld; zie de meldingen bij de velden."))
    except Conflict as exc:
        return _conflict(tid, data, exc)
    with rt.db.transaction() as session:
        drafts.discard(session, tid)  # the task is done: nobody's concept of it is of use any more
        drafts.discard_closed(session, done.task.case_id)  # nor of a task the step cancelled
    done_message = f"Taak afgerond: {done.task.title} (dossier {done.task.case_id})."
    following = done.next_tasks[0].id if done.next_tasks else None
    if not is_htmx():
        flash(done_message, "ok")
        return redirect(f"/?taak={following}" if following else "/")
    if following:
        return _changed(_panel(following, message=("ok", done_message + " Dit is de volgende taak in dit dossier.")))
    body = render_template("_task_done.html", message=done_message, case_id=done.task.case_id)
    return _changed((body, 200))


def _conflict(task_id: str, data: dict[str, Any], exc: Conflict) -> Response:
    """Someone else was first. What was typed is kept as the user's concept when the task is still open, and shown."""
    actor = current_actor()
    kept = False
    try:
        with runtime().db.transaction() as session:
            task, _ = permissions.workable(session, actor, task_id)
            if task.assignee_id in (None, actor.user_id):
                drafts.save(session, actor, task, data)
                kept = True
    except (LoketError, ValueError):
        pass  # keeping a concept is a courtesy; the 409 itself must reach the user
    note = " Wat u typte is bewaard als concept; laad de taak opnieuw." if kept else " Hieronder staat wat u typte."
    return page(409, exc.message + note, kept=flat(data))
