"""The auditor's pages: /audit (cases with a search, what a user read) and /audit/<case> (timeline with what
changed, the diagram after a chosen event, Herspelen with the first divergence, the chain check, the access log,
the PDF and JSON export); for auditor and beheerder only, every read logged."""

from __future__ import annotations

import json
import re

import pytest
from sqlalchemy import select, update

from engine.models import AccessLog, Event, Task
from tests.conftest import make_world
from tests.helpers import do
from tests.ui import give_passwords, post, web_client


@pytest.fixture
def app(client, db, world):
    give_passwords(db)
    return client.application


@pytest.fixture
def case_id(runtime, world, sample) -> int:
    case = runtime.start_case(world["school"], "tlv-vso", sample["start"])
    do(runtime, world, "school", case.id, "aanmelding", sample["aanmelding"])
    return case.id


def states(html: str) -> dict[str, str]:
    return json.loads(re.search(r"data-states='([^']*)'", html).group(1).replace("&#34;", '"'))


def reads(runtime, case_id=None, actor=None) -> list[str]:
    query = select(AccessLog.what)
    if case_id is not None:
        query = query.where(AccessLog.case_id == case_id)
    if actor is not None:
        query = query.where(AccessLog.actor == actor)
    with runtime.db.read() as session:
        return list(session.scalars(query.order_by(AccessLog.id)))


def test_only_auditor_and_beheerder(app, world, case_id):
    for role in ("school", "consulent", "commissie"):
        web = web_client(app, world, role)
        assert web.get("/audit").status_code == 403
        assert web.get(f"/audit/{case_id}").status_code == 403
        assert web.get(f"/audit/{case_id}/export.pdf").status_code == 403
    assert web_client(app, world, "beheerder").get(f"/audit/{case_id}").status_code == 200
    assert "/audit" in web_client(app, world, "auditor").get("/cases").get_data(as_text=True)


def test_the_index_searches_cases_and_shows_what_a_user_read(app, world, case_id, runtime):
    web_client(app, world, "school").get(f"/cases/{case_id}")
    auditor = web_client(app, world, "auditor")
    html = auditor.get("/audit?q=vries").get_data(as_text=True)
    assert f'href="/audit/{case_id}"' in html and "Sanne de Vries" in html
    assert f'href="/audit/{case_id}"' not in auditor.get("/audit?q=nobody").get_data(as_text=True)
    school_id = world["school"].user_id
    html = auditor.get(f"/audit?gebruiker={school_id}").get_data(as_text=True)
    assert "school@sterk-vo.test: 1 inzage" in html and 'data-testid="user-reads"' in html


def test_the_timeline_shows_who_when_and_what_changed(app, world, case_id, runtime):
    auditor = web_client(app, world, "auditor")
    html = auditor.get(f"/audit/{case_id}").get_data(as_text=True)
    assert "Dossier gestart" in html and "Taak afgerond: Aanmelding" in html or "Taak afgerond" in html
    assert "school@sterk-vo.test" in html and ">school<" in html
    assert "→" in html and "onderwijsbehoeften" in html  # what the aanmelding changed, before -> after
    assert "Hash-keten:" in html and "<strong>intact</strong>" in html
    assert 'data-testid="access-log"' in html
    assert "events" in reads(runtime, case_id, "auditor@sterk-vo.test")


def test_the_diagram_after_a_chosen_event(app, world, case_id):
    auditor = web_client(app, world, "auditor")
    now = states(auditor.get(f"/audit/{case_id}").get_data(as_text=True))
    assert now["aanmelding"] == "done" and now["dossiercheck"] == "open"
    then = auditor.get(f"/audit/{case_id}?event=1").get_data(as_text=True)
    assert "Het diagram na event 1" in then
    assert states(then)["aanmelding"] == "open" and states(then)["dossiercheck"] == "future"


def test_herspelen_consistent_and_the_first_divergence(app, world, case_id, runtime):
    auditor = web_client(app, world, "auditor")
    html = post(auditor, f"/audit/{case_id}/herspelen", page=f"/audit/{case_id}").get_data(as_text=True)
    assert "Herspeeld: consistent." in html
    with runtime.db.transaction() as session:  # someone edits a projection row behind the engine's back
        session.execute(update(Task).where(Task.case_id == case_id, Task.name == "dossiercheck")
                        .values(lane="commissie"))
    html = post(auditor, f"/audit/{case_id}/herspelen", page=f"/audit/{case_id}").get_data(as_text=True)
    assert "Herspeeld: niet consistent." in html and "Eerste afwijking na event" in html
    assert "replay" in reads(runtime, case_id)


def test_a_broken_chain_shows(app, world, case_id, runtime):
    with runtime.db.transaction() as session:
        session.execute(update(Event).where(Event.case_id == case_id, Event.seq == 1).values(actor="iemand@anders.nl"))
    html = web_client(app, world, "auditor").get(f"/audit/{case_id}").get_data(as_text=True)
    assert "<strong>verbroken</strong>" in html and "(keten verbroken)" in html


def test_export_downloads_are_logged(app, world, case_id, runtime):
    auditor = web_client(app, world, "auditor")
    pdf = auditor.get(f"/audit/{case_id}/export.pdf")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf" and pdf.data.startswith(b"%PDF")
    assert "attachment" in pdf.headers["Content-Disposition"]
    exported = json.loads(auditor.get(f"/audit/{case_id}/export.json").data)
    assert exported["case"]["id"] == case_id and exported["verification"]["intact"]
    assert {"export:pdf", "export:json"} <= set(reads(runtime, case_id, "auditor@sterk-vo.test"))


def test_another_swv_is_not_found(app, db, case_id):
    other = make_world(db, key="ander-swv")
    give_passwords(db)
    auditor = web_client(app, other, "auditor")
    assert auditor.get(f"/audit/{case_id}").status_code == 404
    assert auditor.get(f"/audit/{case_id}/export.json").status_code == 404
    assert f'href="/audit/{case_id}"' not in auditor.get("/audit").get_data(as_text=True)


def test_the_timeline_is_paged_and_the_chooser_offers_every_event(app, world, case_id, monkeypatch):
    from web.ui import audit as audit_page

    monkeypatch.setattr(audit_page, "PAGE", 1)
    auditor = web_client(app, world, "auditor")
    first = auditor.get(f"/audit/{case_id}").get_data(as_text=True)
    second = auditor.get(f"/audit/{case_id}?pagina=2").get_data(as_text=True)
    assert re.findall(r'data-seq="(\d+)"', first) == ["1"]
    assert re.findall(r'data-seq="(\d+)"', second) == ["2"]
    assert "Pagina 1 van 2 (2 events)" in first
    assert '<option value="2"' in first  # every event can be chosen, whatever the page
    assert "onderwijsbehoeften" in second  # what the second event changed, measured against the first
