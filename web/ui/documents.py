"""Documents on the case page: upload (the Documenten tab's form) and download, authorized like the case; a
download is a logged read. The checks are the engine's (``engine.documents``), as for the REST API."""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, request

from engine import documents
from engine.errors import InvalidData, PayloadTooLarge, UnsupportedMediaType
from engine.models import Case, Task

from ..api.documents import attachment, upload
from . import bp, current_actor, hidden_if_forbidden, record_read, runtime
from .case import in_scope, render_case


@bp.route("/cases/<int:case_id>/documenten", methods=["POST"])
@upload
def upload_document(case_id: int) -> Any:
    in_scope(case_id)
    file = request.files.get("bestand")
    if file is None or not file.filename:
        return render_case(case_id, "documenten", 422, upload_error="Kies een bestand om toe te voegen.")
    try:
        document = documents.add(runtime(), current_actor(), case_id, name=file.filename, data=file.read(),
                                 kind=request.form.get("soort") or None)
    except (UnsupportedMediaType, PayloadTooLarge, InvalidData) as exc:
        return render_case(case_id, "documenten", exc.status, upload_error=exc.message)
    flash(f"Document toegevoegd: {document.name}.", "ok")
    return redirect(f"/cases/{case_id}?tab=documenten", 303)


@bp.route("/documenten/<int:document_id>")
def download_document(document_id: int) -> Any:
    rt = runtime()
    with rt.db.read() as session, hidden_if_forbidden():
        document = documents.get(session, current_actor(), document_id)
        path = documents.blob_path(rt, document)
        media_type, name, case_id = document.media_type, document.name, document.case_id
    record_read(f"document:{document_id}", case_id)
    return attachment(path, media_type, name)


@bp.app_template_global()
def documents_needed(task: Task) -> list[tuple[str, bool]]:
    """For the task panel: each kind of document the task's form asks for, and whether the case holds one (the
    panel is only shown for a task the user may read)."""
    rt = runtime()
    with rt.db.read() as session:
        case = session.get(Case, task.case_id)
        kinds = documents.required(rt.form(case.route_version, task.name)) if case is not None else []
        if not kinds:
            return []
        return list(documents.presence(kinds, documents.of_case(session, task.case_id)).items())
