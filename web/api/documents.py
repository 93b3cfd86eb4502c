"""Documents on a case: upload (multipart), list, download. Authorized like the case; a download is a logged read."""

from __future__ import annotations

from typing import Any

from flask import Response, send_file
from flask_smorest.fields import Upload
from marshmallow import Schema, fields, validate

from engine import access, documents
from engine.errors import InvalidData

from . import Blueprint, StrictSchema, current_actor, runtime

blp = Blueprint("documents", __name__, description="Documenten bij een dossier")


class DocumentSchema(Schema):
    id = fields.Integer()
    case_id = fields.Integer()
    seq = fields.Integer(metadata={"description": "Het nummer van het document_added-event in de geschiedenis."})
    sha256 = fields.String()
    name = fields.String()
    type = fields.String(metadata={"description": "Het mediatype, bepaald aan de inhoud (niet aan de naam)."})
    size = fields.Integer()
    kind = fields.String(allow_none=True, metadata={"description": "Het soort document, bv. opp of advies."})
    added_at = fields.String()
    added_by = fields.String()


class UploadFiles(Schema):
    file = Upload(required=True, metadata={"description": "PDF, PNG, JPEG, docx, xlsx, odt, ods, doc of xls."})


class UploadForm(StrictSchema):
    kind = fields.String(load_default=None, validate=validate.Length(max=40),
                         metadata={"description": "Het soort document (kleine letters), bv. opp of advies."})
    name = fields.String(load_default=None, validate=validate.Length(max=200),
                         metadata={"description": "De naam; standaard de bestandsnaam van de upload."})


def upload(view: Any) -> Any:
    """Marks a view that takes a multipart file upload: ``web.api.intake`` gives it the document size limit
    (``LOKET_MAX_DOCUMENT_BYTES``) instead of the JSON request limit, and does not read its body as JSON."""
    view.loket_upload = True
    return view


@blp.route("/cases/<id:case_id>/documents", methods=["POST"])
@upload
@blp.arguments(UploadForm, location="form")
@blp.arguments(UploadFiles, location="files")
@blp.response(201, DocumentSchema)
def add_document(form: dict[str, Any], files: dict[str, Any], case_id: int) -> dict[str, Any]:
    """Voeg een document toe (multipart/form-data: `file`, en `kind`, `name`); het type wordt aan de inhoud
    bepaald. Een `document_added`-event met sha256, naam, type, grootte en soort komt in de hash-keten."""
    actor = current_actor()
    file = files["file"]
    data = file.read()
    name = form.get("name") or file.filename
    if name is not None and ("\x00" in name or any(0xD800 <= ord(c) <= 0xDFFF for c in name)):
        raise InvalidData("Het verzoek bevat ongeldige velden.", {"name": ["Bevat een teken dat niet kan worden "
                                                                           "opgeslagen (NUL of een losse surrogaat)."]})
    document = documents.add(runtime(), actor, case_id, name=name, data=data, kind=form.get("kind"))
    return documents.document_json(document)


@blp.route("/cases/<id:case_id>/documents")
@blp.response(200, DocumentSchema(many=True))
def list_documents(case_id: int) -> list[dict[str, Any]]:
    """De documenten van het dossier, oudste eerst (een gelogde inzage)."""
    actor = current_actor()
    rt = runtime()
    with rt.db.read() as session:
        body = [documents.document_json(d) for d in documents.list_for(session, actor, case_id)]
    access.record(rt.db, actor, "documents", "api", case_id)
    return body


@blp.route("/documents/<id:document_id>")
@blp.response(200)
@blp.doc(responses={"200": {"description": "Het bestand, als bijlage, met het mediatype dat aan de inhoud is bepaald.",
                            "content": {mime: {"schema": {"type": "string", "format": "binary"}}
                                        for mime in documents.TYPES}}})
def download(document_id: int) -> Response:
    """Download een document; geautoriseerd als het dossier en gelogd als inzage."""
    actor = current_actor()
    rt = runtime()
    with rt.db.read() as session:
        document = documents.get(session, actor, document_id)
        path = documents.blob_path(rt, document)
        media_type, name, case_id = document.media_type, document.name, document.case_id
    access.record(rt.db, actor, f"document:{document_id}", "api", case_id)
    return attachment(path, media_type, name)


def attachment(path: Any, media_type: str, name: str) -> Response:
    """The stored file as a download: never shown inline, never sniffed by the browser."""
    response = send_file(path, mimetype=media_type, as_attachment=True, download_name=name, max_age=0)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response.headers["Cache-Control"] = "private, no-store"
    return response
