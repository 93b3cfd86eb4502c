"""Documents on the case page: upload on the Documenten tab (type by content, size, roles, scope, CSRF), the list,
and a download that is authorized like the case and logged as a read."""

from __future__ import annotations

import dataclasses
import io

import pytest
from sqlalchemy import select

from engine.models import AccessLog, Document
from tests.helpers import events_of, replayed, verified
from tests.test_documents import DOCX, EXE, PDF
from tests.ui import app_with_documents, csrf, web_client


@pytest.fixture
def app(client, db, world, runtime, tmp_path):
    return app_with_documents(client, db, runtime, tmp_path)


@pytest.fixture
def case_id(runtime, world, sample) -> int:
    return runtime.start_case(world["school"], "tlv-vso", sample["start"]).id


def upload(web, case_id: int, data: bytes, filename: str, kind: str = "opp", token: bool = True):
    form = {"bestand": (io.BytesIO(data), filename), "soort": kind}
    if token:
        form["csrf_token"] = csrf(web, f"/cases/{case_id}?tab=documenten")
    return web.post(f"/cases/{case_id}/documenten", data=form, content_type="multipart/form-data")


def test_upload_list_and_download(app, world, case_id, runtime):
    school = web_client(app, world, "school")
    tab = school.get(f"/cases/{case_id}?tab=documenten").get_data(as_text=True)
    assert "Document toevoegen" in tab and "hoogstens 20 MB" in tab
    answer = upload(school, case_id, PDF, "OPP Sanne.pdf")
    assert answer.status_code == 303 and answer.headers["Location"].endswith("?tab=documenten")
    html = school.get(f"/cases/{case_id}?tab=documenten").get_data(as_text=True)
    assert "Document toegevoegd: OPP Sanne.pdf." in html and "OPP Sanne.pdf" in html and ">opp<" in html

    with runtime.db.read() as session:
        document = session.scalars(select(Document)).one()
    got = web_client(app, world, "consulent").get(f"/documenten/{document.id}")
    assert got.status_code == 200 and got.data == PDF and got.mimetype == "application/pdf"
    assert 'attachment; filename="OPP Sanne.pdf"' in got.headers["Content-Disposition"] or \
        "attachment" in got.headers["Content-Disposition"]
    with runtime.db.read() as session:
        reads = session.execute(select(AccessLog.actor, AccessLog.what, AccessLog.channel)
                                .where(AccessLog.case_id == case_id)).all()
    assert ("consulent@sterk-vo.test", f"document:{document.id}", "web") in reads
    [event] = events_of(runtime, case_id, "document_added")
    assert event.payload["sha256"] == document.sha256 and event.actor == "school@sterk-vo.test"
    assert verified(runtime.db, case_id).intact and replayed(runtime, case_id).consistent


def test_the_type_is_read_from_the_content(app, world, case_id, runtime):
    school = web_client(app, world, "school")
    refused = upload(school, case_id, EXE, "advies.pdf", "advies")
    assert refused.status_code == 415
    html = refused.get_data(as_text=True)
    assert "Dit bestandstype wordt niet aangenomen" in html and 'data-testid="upload-error"' in html
    assert upload(school, case_id, DOCX, "advies.bin", "advies").status_code == 303
    with runtime.db.read() as session:
        assert [d.media_type for d in session.scalars(select(Document))] == [
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document"]


def test_too_large(app, world, case_id, runtime):
    runtime.settings = dataclasses.replace(runtime.settings, max_document_bytes=10_000)
    school = web_client(app, world, "school")
    answer = upload(school, case_id, PDF + b"%" * 20_000, "groot.pdf")
    assert answer.status_code == 413
    assert "groter dan 10 kB" in answer.get_data(as_text=True)
    # Far past the allowance the request itself is refused before it is read.
    huge = upload(school, case_id, PDF + b"%" * 200_000, "heel-groot.pdf", token=True)
    assert huge.status_code == 413
    assert events_of(runtime, case_id, "document_added") == []


def test_roles_scope_and_csrf(app, world, case_id, runtime):
    school = web_client(app, world, "school")
    assert upload(school, case_id, PDF, "opp.pdf").status_code == 303
    with runtime.db.read() as session:
        document_id = session.scalars(select(Document.id)).one()
    auditor = web_client(app, world, "auditor")
    assert "Document toevoegen" not in auditor.get(f"/cases/{case_id}?tab=documenten").get_data(as_text=True)
    assert upload(auditor, case_id, PDF, "opp.pdf").status_code == 403
    other_school = web_client(app, world, "school2")
    assert other_school.get(f"/documenten/{document_id}").status_code == 404
    assert upload(other_school, case_id, PDF, "opp.pdf").status_code == 404
    assert upload(school, case_id, PDF, "opp.pdf", token=False).status_code == 400
    no_file = school.post(f"/cases/{case_id}/documenten", data={"csrf_token": csrf(school, "/cases"), "soort": "opp"},
                          content_type="multipart/form-data")
    assert no_file.status_code == 422 and "Kies een bestand" in no_file.get_data(as_text=True)
    assert len(events_of(runtime, case_id, "document_added")) == 1


def test_a_task_that_asks_for_documents_shows_which_are_there(app, world, case_id, runtime, sample, monkeypatch):
    from tests.helpers import do, open_task
    from tests.ui import post

    shipped = runtime.form

    def asking(version, name):
        form = shipped(version, name)
        return {**form, "x-loket-documents": ["opp", "advies"]} if name == "dossiercheck" else form

    monkeypatch.setattr(runtime, "form", asking)
    do(runtime, world, "school", case_id, "aanmelding", sample["aanmelding"])
    task = open_task(runtime, case_id, "dossiercheck").id
    consulent = web_client(app, world, "consulent")
    html = consulent.get(f"/tasks/{task}").get_data(as_text=True)
    assert 'data-kind="opp" data-present="nee"' in html and 'data-kind="advies" data-present="nee"' in html
    refused = post(consulent, f"/tasks/{task}", {"actie": "afronden", "d.dossier_compleet": "true"},
                   page=f"/tasks/{task}")
    assert refused.status_code == 422
    assert "Voeg eerst een document van het soort &#39;opp&#39; toe" in refused.get_data(as_text=True)
    assert upload(web_client(app, world, "school"), case_id, PDF, "opp.pdf", "opp").status_code == 303
    html = consulent.get(f"/tasks/{task}").get_data(as_text=True)
    assert 'data-kind="opp" data-present="ja"' in html and 'data-kind="advies" data-present="nee"' in html
    # A task whose form asks for none shows nothing of it.
    assert "documents-needed" not in web_client(app, world, "school").get(f"/cases/{case_id}").get_data(as_text=True)
