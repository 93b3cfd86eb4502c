"""Documents on a case: upload through the REST API (type by content, size, scope), list, download (a logged read),
and the ``document_added`` event in the hash chain and in a replay."""

from __future__ import annotations

import dataclasses
import io
import zipfile

import pytest
from sqlalchemy import select

from engine import documents
from engine.errors import InvalidData
from engine.models import AccessLog, Document, Event
from tests.conftest import make_world
from tests.helpers import call, events_of, replayed, verified

# Small files of each kind, made here: what matters is their first bytes (and, for office files, the archive).
PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
       b"\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00\x00\x00IEND\xaeB`\x82")
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00\xff\xd9"
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 44 + b"PE\x00\x00" + b"\x00" * 64


def _zip(entries: list[tuple[str, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in entries:
            archive.writestr(name, data)
    return buffer.getvalue()


DOCX = _zip([("[Content_Types].xml", b"<Types/>"), ("_rels/.rels", b"<Relationships/>"),
             ("docProps/app.xml", b"<Properties/>"), ("docProps/core.xml", b"<cp/>"),
             ("word/document.xml", b"<w:document/>")])
ODT = _zip([("mimetype", b"application/vnd.oasis.opendocument.text"), ("content.xml", b"<office:document/>")])
PLAIN_ZIP = _zip([("readme.txt", b"hallo")])


@pytest.fixture
def docs_runtime(runtime, tmp_path):
    runtime.settings = dataclasses.replace(runtime.settings, documents_dir=tmp_path / "documents")
    return runtime


@pytest.fixture
def case_id(docs_runtime, world, sample) -> int:
    return docs_runtime.start_case(world["school"], "tlv-vso", sample["start"]).id


def upload(client, world, role, case_id, data: bytes, filename: str = "opp.pdf", **form):
    headers = {"Authorization": f"Bearer {world.tokens[role]}"}
    body = {"file": (io.BytesIO(data), filename), **form}
    return client.post(f"/api/v1/cases/{case_id}/documents", headers=headers, data=body,
                       content_type="multipart/form-data")


def test_upload_list_download_and_the_event_in_the_chain(client, docs_runtime, world, case_id):
    answer = upload(client, world, "school", case_id, PDF, "Het OPP van Sanne.pdf", kind="opp")
    assert answer.status_code == 201, answer.json
    doc = answer.json
    assert doc["type"] == "application/pdf" and doc["size"] == len(PDF) and doc["kind"] == "opp"
    assert doc["name"] == "Het OPP van Sanne.pdf" and doc["added_by"] == "school@sterk-vo.test"

    # Stored once, by its sha256, outside the web root; no temporary file left behind.
    stored = docs_runtime.settings.documents_dir / doc["sha256"][:2] / doc["sha256"]
    assert stored.read_bytes() == PDF
    assert [p.name for p in stored.parent.iterdir()] == [doc["sha256"]]

    listed = call(client, world, "consulent", "GET", f"/api/v1/cases/{case_id}/documents")
    assert listed.status_code == 200 and [d["id"] for d in listed.json] == [doc["id"]]

    got = call(client, world, "auditor", "GET", f"/api/v1/documents/{doc['id']}")
    assert got.status_code == 200 and got.data == PDF
    assert got.mimetype == "application/pdf"
    assert got.headers["Content-Disposition"].startswith("attachment")
    assert got.headers["X-Content-Type-Options"] == "nosniff"

    # The event: its payload in the hash chain, the chain intact, a replay consistent.
    added = events_of(docs_runtime, case_id, "document_added")
    assert len(added) == 1 and added[0].seq == doc["seq"]
    assert added[0].payload == {"sha256": doc["sha256"], "name": "Het OPP van Sanne.pdf", "type": "application/pdf",
                                "size": len(PDF), "kind": "opp"}
    assert verified(docs_runtime.db, case_id).intact
    assert replayed(docs_runtime, case_id).consistent

    # The download and the list are logged reads of the case, by who read them.
    with docs_runtime.db.read() as session:
        reads = session.execute(select(AccessLog.actor, AccessLog.what).where(AccessLog.case_id == case_id)).all()
    assert ("auditor@sterk-vo.test", f"document:{doc['id']}") in reads
    assert ("consulent@sterk-vo.test", "documents") in reads


def test_an_edited_document_payload_breaks_the_chain(client, docs_runtime, world, case_id):
    doc = upload(client, world, "school", case_id, PDF).json
    with docs_runtime.db.transaction() as session:
        event = session.scalar(select(Event).where(Event.case_id == case_id, Event.seq == doc["seq"]))
        event.payload = {**event.payload, "sha256": "0" * 64}
    assert not verified(docs_runtime.db, case_id).intact


@pytest.mark.parametrize(("data", "filename", "media_type"), [
    (PNG, "foto.png", "image/png"),
    (JPEG, "scan.jpeg", "image/jpeg"),
    (DOCX, "advies.docx", documents.DOCX),
    (ODT, "verslag.odt", documents.ODT),
    (PDF, "zonder-extensie", "application/pdf"),  # the name does not decide, the content does
    (PNG, "eigenlijk-een-png.pdf", "image/png"),
])
def test_types_are_read_from_the_content(client, world, case_id, data, filename, media_type):
    answer = upload(client, world, "school", case_id, data, filename)
    assert answer.status_code == 201, answer.json
    assert answer.json["type"] == media_type


@pytest.mark.parametrize(("data", "filename"), [
    (EXE, "advies.pdf"),  # a program that calls itself a PDF
    (b"Dit is gewoon tekst.\n", "advies.docx"),
    (PLAIN_ZIP, "advies.docx"),  # a zip that is no office document
    (b"<html><script>alert(1)</script></html>", "opp.pdf"),
])
def test_other_content_is_refused_whatever_its_name(client, docs_runtime, world, case_id, data, filename):
    answer = upload(client, world, "school", case_id, data, filename)
    assert answer.status_code == 415
    assert answer.json["error"]["code"] == "unsupported_media_type"
    assert "inhoud" in answer.json["error"]["message"]
    assert events_of(docs_runtime, case_id, "document_added") == []


def test_size_limit_of_its_own(client, docs_runtime, world, case_id):
    # Past the JSON request limit (1 MB) an upload is still fine: uploads have their own allowance.
    big = PDF + b"%" * 1_500_000
    assert upload(client, world, "school", case_id, big).status_code == 201
    docs_runtime.settings = dataclasses.replace(docs_runtime.settings, max_document_bytes=100_000)
    answer = upload(client, world, "school", case_id, PDF + b"%" * 200_000)
    assert answer.status_code == 413
    assert answer.json["error"]["code"] == "payload_too_large"
    assert "100 kB" in answer.json["error"]["message"]
    assert len(events_of(docs_runtime, case_id, "document_added")) == 1


def test_bad_requests(client, world, case_id):
    headers = {"Authorization": f"Bearer {world.tokens['school']}"}
    as_json = client.post(f"/api/v1/cases/{case_id}/documents", headers=headers, json={"file": "x"})
    assert as_json.status_code == 415 and as_json.json["error"]["code"] == "unsupported_media_type"
    no_file = client.post(f"/api/v1/cases/{case_id}/documents", headers=headers, data={"kind": "opp"},
                          content_type="multipart/form-data")
    assert no_file.status_code == 422 and "file" in no_file.json["error"]["details"]
    empty = upload(client, world, "school", case_id, b"")
    assert empty.status_code == 422
    bad_kind = upload(client, world, "school", case_id, PDF, kind="Een OPP!")
    assert bad_kind.status_code == 422 and "kind" in bad_kind.json["error"]["details"]
    folders = upload(client, world, "school", case_id, PDF, "../../etc/passwd.pdf")
    assert folders.status_code == 201 and folders.json["name"] == "passwd.pdf"


def test_scope_like_the_case(client, docs_runtime, db, world, case_id):
    doc = upload(client, world, "school", case_id, PDF).json
    other = make_world(db, key="ander-swv")
    # Another SWV: the case and the document do not exist for them.
    assert call(client, other, "consulent", "GET", f"/api/v1/documents/{doc['id']}").status_code == 404
    assert call(client, other, "consulent", "GET", f"/api/v1/cases/{case_id}/documents").status_code == 404
    assert upload(client, other, "beheerder", case_id, PDF).status_code == 404
    # Another school of the same SWV: forbidden, as for the case itself.
    assert call(client, world, "school2", "GET", f"/api/v1/documents/{doc['id']}").status_code == 403
    assert upload(client, world, "school2", case_id, PDF).status_code == 403
    # An auditor reads, never writes.
    refused = upload(client, world, "auditor", case_id, PDF)
    assert refused.status_code == 403 and refused.json["error"]["code"] == "forbidden"
    assert call(client, world, "auditor", "GET", f"/api/v1/documents/{doc['id']}").status_code == 200
    assert call(client, world, "consulent", "GET", "/api/v1/documents/999999").status_code == 404
    # None of the refused reads is in the access log; none of the refused uploads is an event.
    with docs_runtime.db.read() as session:
        readers = set(session.scalars(select(AccessLog.actor).where(AccessLog.case_id == case_id)))
    assert not readers & {"school2@sterk-vo.test", "consulent@ander-swv.test"}
    assert len(events_of(docs_runtime, case_id, "document_added")) == 1


def test_a_failed_action_leaves_the_case_as_it_was(docs_runtime, world, case_id, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("stroomstoring")

    before = events_of(docs_runtime, case_id)
    monkeypatch.setattr(docs_runtime.recorder, "record", broken)
    with pytest.raises(RuntimeError):
        documents.add(docs_runtime, world["school"], case_id, name="opp.pdf", data=PDF, kind="opp")
    monkeypatch.undo()
    assert len(events_of(docs_runtime, case_id)) == len(before)
    with docs_runtime.db.read() as session:
        assert session.scalars(select(Document)).all() == []
    # The blob may stay behind as an orphan; adding the same file again works and reuses it.
    again = documents.add(docs_runtime, world["school"], case_id, name="opp.pdf", data=PDF, kind="opp")
    assert again.event_seq == len(before) + 1
    assert replayed(docs_runtime, case_id).consistent


def test_a_form_can_require_documents(docs_runtime, world, case_id):
    form = {"type": "object", documents.REQUIRED_KEYWORD: ["opp", "advies"]}
    with docs_runtime.db.read() as session:
        with pytest.raises(InvalidData) as refused:
            documents.require(session, case_id, form)
    assert set(refused.value.details) == {"documenten.opp", "documenten.advies"}
    assert "advies" in refused.value.details["documenten.advies"][0]
    documents.add(docs_runtime, world["school"], case_id, name="opp.pdf", data=PDF, kind="opp")
    with docs_runtime.db.read() as session:
        with pytest.raises(InvalidData) as still:
            documents.require(session, case_id, form)
        assert set(still.value.details) == {"documenten.advies"}
        assert documents.presence(documents.required(form), documents.of_case(session, case_id)) == {
            "opp": True, "advies": False}
    documents.add(docs_runtime, world["consulent"], case_id, name="advies.docx", data=DOCX, kind="advies")
    with docs_runtime.db.read() as session:
        documents.require(session, case_id, form)  # all there: no error


def test_completing_a_task_needs_the_documents_its_form_names(client, docs_runtime, world, case_id, sample,
                                                              monkeypatch):
    from tests.helpers import do, open_task

    shipped = docs_runtime.form

    def asking(version, name):  # the dossiercheck's form as a route would declare it: the OPP and an advice
        form = shipped(version, name)
        return {**form, documents.REQUIRED_KEYWORD: ["opp", "advies"]} if name == "dossiercheck" else form

    monkeypatch.setattr(docs_runtime, "form", asking)
    do(docs_runtime, world, "school", case_id, "aanmelding", sample["aanmelding"])
    check = open_task(docs_runtime, case_id, "dossiercheck").id
    refused = call(client, world, "consulent", "POST", f"/api/v1/tasks/{check}/complete",
                   {"data": {"dossier_compleet": True}})
    assert refused.status_code == 422 and refused.json["error"]["code"] == "invalid_data"
    assert set(refused.json["error"]["details"]) == {"documenten.opp", "documenten.advies"}
    assert "opp" in refused.json["error"]["details"]["documenten.opp"][0]
    assert upload(client, world, "school", case_id, PDF, kind="opp").status_code == 201
    assert upload(client, world, "consulent", case_id, DOCX, "advies.docx", kind="advies").status_code == 201
    done = call(client, world, "consulent", "POST", f"/api/v1/tasks/{check}/complete",
                {"data": {"dossier_compleet": True}})
    assert done.status_code == 200, done.json
    assert replayed(docs_runtime, case_id).consistent
