"""The case page (/cases/<id>): header, clock, the route's steps as they stand, the tabs, opschorten/hervatten/
verlengen for the roles that may, scope (another SWV or school: 404) and the read in the access log."""

from __future__ import annotations

import json
import re
from datetime import date

import pytest
from sqlalchemy import select

from engine.models import AccessLog, Tenant
from tests.conftest import make_world
from tests.helpers import dispute_then_admitted, do, events_of, load_case, replayed
from tests.ui import app_with_documents, give_passwords, post, web_client


@pytest.fixture
def app(client, db, world, runtime, tmp_path):
    return app_with_documents(client, db, runtime, tmp_path)


@pytest.fixture
def case_id(runtime, world, sample) -> int:
    with runtime.db.transaction() as session:
        session.get(Tenant, world.tenant_id).settings = {"terms": {"tlv-vso": {"term": "weken(6)"}},
                                                         "max_extensions": 1}
    case = runtime.start_case(world["school"], "tlv-vso", sample["start"])
    do(runtime, world, "school", case.id, "aanmelding", sample["aanmelding"])
    return case.id


def states(html: str) -> dict[str, str]:
    found = re.search(r"data-states='([^']*)'", html)
    assert found, "geen diagram op de pagina"
    return json.loads(found.group(1).replace("&#34;", '"'))


def test_the_school_sees_its_case_with_header_clock_and_steps(app, world, case_id, runtime):
    page = web_client(app, world, "school").get(f"/cases/{case_id}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert f"Dossier {case_id} · Sanne de Vries" in html
    assert "Lopend" in html and "School 16PX00" in html
    assert "Doorlooptijd tot" in html and "Verlengd" in html and "0 van de 1 keer" in html
    # The steps: the aanmelding done, the dossiercheck now, the besluit not yet — in words and in the diagram.
    assert states(html)["aanmelding"] == "done" and states(html)["dossiercheck"] == "open"
    assert re.search(r'data-step="aanmelding" data-state="done">.*?afgerond', html, re.S)
    assert re.search(r'data-step="besluit" data-state="future">.*?nog niet aan de beurt', html, re.S)
    assert 'Sanne heeft een kleine groep' not in html or "Gegevens" in html
    with runtime.db.read() as session:
        reads = session.execute(select(AccessLog.actor, AccessLog.what, AccessLog.channel)
                                .where(AccessLog.case_id == case_id)).all()
    assert ("school@sterk-vo.test", "case", "web") in reads


@pytest.mark.parametrize(("tab", "text"), [("gegevens", "de Vries"), ("documenten", "nog geen documenten"),
                                           ("termijnen", "Stappen en hun termijnen"),
                                           ("geschiedenis", "Dossier gestart")])
def test_each_tab(app, world, case_id, tab, text):
    html = web_client(app, world, "consulent").get(f"/cases/{case_id}?tab={tab}").get_data(as_text=True)
    assert text in html
    assert f'href="/cases/{case_id}?tab={tab}" aria-current="page"' in html


def test_the_route_diagram_is_served_for_the_viewer(app, world, case_id):
    answer = web_client(app, world, "auditor").get(f"/cases/{case_id}/route.bpmn")
    assert answer.status_code == 200 and answer.mimetype == "application/xml"
    assert b"<bpmn:definitions" in answer.data or b"definitions" in answer.data


def test_out_of_scope_is_not_found(app, db, world, case_id):
    assert web_client(app, world, "school2").get(f"/cases/{case_id}").status_code == 404
    assert web_client(app, world, "school2").get(f"/cases/{case_id}/route.bpmn").status_code == 404
    other = make_world(db, key="ander-swv")
    give_passwords(db)
    assert web_client(app, other, "consulent").get(f"/cases/{case_id}").status_code == 404
    assert web_client(app, world, "consulent").get("/cases/999999").status_code == 404


def test_the_clock_buttons_for_the_roles_that_may(app, world, case_id, runtime):
    school = web_client(app, world, "school").get(f"/cases/{case_id}?tab=termijnen").get_data(as_text=True)
    assert "Opschorten" not in school
    consulent = web_client(app, world, "consulent")
    html = consulent.get(f"/cases/{case_id}?tab=termijnen").get_data(as_text=True)
    assert "Opschorten" in html and "Verlengen" in html

    page = f"/cases/{case_id}?tab=termijnen"
    refused = post(consulent, f"/cases/{case_id}/opschorten", {"reden": ""}, page=page)
    assert refused.status_code == 303
    assert "Geef een reden op" in consulent.get(page).get_data(as_text=True)

    done = post(consulent, f"/cases/{case_id}/opschorten", {"reden": "Wacht op het advies van de arts."}, page=page)
    assert done.status_code == 303 and load_case(runtime, case_id).status == "suspended"
    html = consulent.get(page).get_data(as_text=True)
    assert "Opgeschort" in html and "Hervatten" in html and "opgeschort sinds" in html

    assert post(consulent, f"/cases/{case_id}/hervatten", {}, page=page).status_code == 303
    assert load_case(runtime, case_id).status == "open"
    assert post(consulent, f"/cases/{case_id}/verlengen", {"weken": "2", "reden": "Extra onderzoek."},
                page=page).status_code == 303
    assert load_case(runtime, case_id).extensions_used == 1
    again = post(consulent, f"/cases/{case_id}/verlengen", {"weken": "2", "reden": "Nog eens."}, page=page)
    assert again.status_code == 303
    assert "al 1 keer verlengd" in consulent.get(page).get_data(as_text=True)
    assert [e.type for e in events_of(runtime, case_id)][-3:] == ["case_suspended", "case_resumed", "case_extended"]
    assert replayed(runtime, case_id).consistent

    # A school may not stop the clock, whatever it posts; an auditor changes nothing.
    school_client = web_client(app, world, "school")
    assert post(school_client, f"/cases/{case_id}/opschorten", {"reden": "x"}, page=page).status_code == 403
    auditor = web_client(app, world, "auditor")
    assert post(auditor, f"/cases/{case_id}/opschorten", {"reden": "x"}, page=page).status_code == 403
    assert load_case(runtime, case_id).status == "open"


def test_a_form_without_its_csrf_token_is_refused(app, world, case_id, runtime):
    consulent = web_client(app, world, "consulent")
    answer = consulent.post(f"/cases/{case_id}/opschorten", data={"reden": "zonder token"})
    assert answer.status_code == 400
    assert load_case(runtime, case_id).status == "open"


def test_a_case_decided_twice_shows_every_decision_oldest_first(app, world, runtime):
    """zorgplicht-aanmelding, advies-geschil-toegelaten: the school refuses, the parents go to the
    Geschillencommissie, then the school admits the pupil after all. The page lists both decisions with their date,
    outcome, letter, bekendmaking and objection term; the refusal is not hidden behind the admission."""
    from engine import clock, decision_letters
    from tests.helpers import at
    from tests.test_zorgplicht import AANMELDING, BESLUIT, START

    with clock.frozen(at("2026-02-02T09:00")):
        case_id = runtime.start_case(world["school"], "zorgplicht-aanmelding", START).id
        do(runtime, world, "school", case_id, "aanmelding", {**AANMELDING, "datum_aanmelding_ouders": "2026-02-02"})
    with clock.frozen(at("2026-02-04T10:00")):
        do(runtime, world, "school", case_id, "besluit",
           {**BESLUIT, "uitkomst": "weigeren", "reden_weigering": "andere_school",
            "andere_school": "Het Baken (20LJ00)", "motivering": "Het Baken kan Mila de begeleiding bieden."})
        assert decision_letters.make_due(runtime) == 1
    dispute_then_admitted(runtime, world, case_id)
    # The admission's letter is not made yet: the page says it waits, while the refusal's letter is made.
    with clock.frozen(at("2026-04-21T09:00:05")):
        html = web_client(app, world, "school").get(f"/cases/{case_id}").get_data(as_text=True)
    table = re.search(r'<table[^>]*data-testid="decisions".*?</table>', html, re.S)
    assert table, "geen tabel met de besluiten op de pagina"
    rows = re.findall(r'<tr class="utrecht-table__row" data-testid="decision-row">(.*?)</tr>', table.group(0), re.S)
    assert len(rows) == 2
    refusal, admission = (re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", row)) for row in rows)
    first, second = load_case(runtime, case_id).decision["records"]
    assert "04-02-2026" in refusal and "weigering" in refusal and f"besluit-{case_id}-weigering.pdf" in refusal
    assert "opgemaakt" in refusal and clock.format_date(date.fromisoformat(first["bezwaar_tot"])) in refusal
    assert "bekendgemaakt 04-02-2026" in refusal
    assert "21-04-2026" in admission and "toelating" in admission and f"besluit-{case_id}-toelating.pdf" in admission
    assert "wacht op opmaak" in admission and second.get("brief", {}).get("sha256") is None
    with clock.frozen(at("2026-04-21T09:00:10")):
        assert decision_letters.make_due(runtime) == 1
        html = web_client(app, world, "school").get(f"/cases/{case_id}").get_data(as_text=True)
    second = load_case(runtime, case_id).decision["records"][1]
    rows = re.findall(r'data-testid="decision-row">(.*?)</tr>', html, re.S)
    admission = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", rows[1]))
    assert "bekendgemaakt 21-04-2026" in admission and "wacht op opmaak" not in admission
    assert clock.format_date(date.fromisoformat(second["bezwaar_tot"])) in admission
