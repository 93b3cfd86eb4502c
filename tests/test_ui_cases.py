"""The case list (/cases) and a new case (/cases/new), per role and scope."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from engine.models import AccessLog, Case
from tests.conftest import make_world
from tests.ui import csrf, give_passwords, post, web_client
from web.ui import cases as cases_page


@pytest.fixture
def app(client, db, world):
    give_passwords(db)
    return client.application


@pytest.fixture
def cases(runtime, world, sample) -> dict[str, int]:
    def start(role: str, first: str, last: str, school: str) -> int:
        data = {**sample["start"], "leerling": {**sample["start"]["leerling"], "voornaam": first, "achternaam": last},
                "school": school}
        return runtime.start_case(world[role], "tlv-vso", data).id

    return {"sanne": start("school", "Sanne", "de Vries", "16PX00"),
            "daan": start("school", "Daan", "Jansen", "16PX00"),
            "noor": start("school2", "Noor", "Bakker", "20LJ00")}


def listed(html: str) -> set[int]:
    return {int(n) for n in re.findall(r'data-case="(\d+)"', html)}


def test_a_school_sees_its_own_cases_and_a_consulent_all(app, world, cases, runtime):
    school = web_client(app, world, "school").get("/cases").get_data(as_text=True)
    assert listed(school) == {cases["sanne"], cases["daan"]}
    assert "Sanne de Vries" in school and "Noor" not in school
    assert "2 dossiers gevonden" in school
    everyone = web_client(app, world, "consulent").get("/cases").get_data(as_text=True)
    assert listed(everyone) == set(cases.values())
    with runtime.db.read() as session:
        assert session.scalar(select(AccessLog.what).where(AccessLog.actor == "school@sterk-vo.test")) == "cases"


def test_search_and_filters(app, world, cases):
    web = web_client(app, world, "consulent")
    assert listed(web.get("/cases?q=vries").get_data(as_text=True)) == {cases["sanne"]}
    assert listed(web.get(f"/cases?q=%23{cases['noor']}").get_data(as_text=True)) == {cases["noor"]}
    assert listed(web.get("/cases?school=20LJ00").get_data(as_text=True)) == {cases["noor"]}
    assert listed(web.get("/cases?status=closed").get_data(as_text=True)) == set()
    assert listed(web.get("/cases?status=open&route=tlv-vso").get_data(as_text=True)) == set(cases.values())
    assert listed(web.get("/cases?route=bestaat-niet").get_data(as_text=True)) == set()
    # Nonsense in the query string is ignored, never a server error.
    assert web.get("/cases?status=%00&pagina=-3&school=" + "x" * 500).status_code == 200
    # A school searching for another school's pupil finds nothing.
    assert listed(web_client(app, world, "school").get("/cases?q=Bakker").get_data(as_text=True)) == set()


def test_paging(app, world, cases, monkeypatch):
    monkeypatch.setattr(cases_page, "PAGE", 2)
    web = web_client(app, world, "consulent")
    first = web.get("/cases").get_data(as_text=True)
    second = web.get("/cases?pagina=2").get_data(as_text=True)
    assert len(listed(first)) == 2 and len(listed(second)) == 1
    assert listed(first) | listed(second) == set(cases.values())
    assert "Pagina 1 van 2" in first and 'href="/cases?pagina=2"' in first


def test_another_swv_sees_none_of_them(app, db, cases):
    other = make_world(db, key="ander-swv")
    give_passwords(db)
    assert listed(web_client(app, other, "consulent").get("/cases").get_data(as_text=True)) == set()


def test_a_school_starts_a_case_for_its_own_school(app, world, runtime):
    web = web_client(app, world, "school")
    choose = web.get("/cases/new").get_data(as_text=True)
    assert 'value="tlv-vso"' in choose
    form = web.get("/cases/new?route=tlv-vso").get_data(as_text=True)
    assert 'data-testid="own-school"' in form and "School 16PX00" in form
    assert 'name="d.school"' not in form  # filled in, not asked
    assert 'name="d.leerling.voornaam"' in form
    answer = post(web, "/cases/new", {"route": "tlv-vso", "d.leerling.voornaam": "Sanne",
                                      "d.leerling.achternaam": "de Vries", "d.leerling.geboortedatum": "2013-04-02"},
                  page="/cases/new?route=tlv-vso")
    assert answer.status_code == 303
    case_id = int(answer.headers["Location"].rsplit("/", 1)[1])
    with runtime.db.read() as session:
        case = session.get(Case, case_id)
        assert case.school_id == world.schools["16PX00"] and case.data["leerling"]["voornaam"] == "Sanne"
    assert f"Dossier {case_id} is gestart." in web.get(f"/cases/{case_id}").get_data(as_text=True)


def test_invalid_start_data_is_shown_per_field_and_kept(app, world, runtime):
    web = web_client(app, world, "school")
    answer = post(web, "/cases/new", {"route": "tlv-vso", "d.leerling.voornaam": "Sanne"},
                  page="/cases/new?route=tlv-vso")
    assert answer.status_code == 422
    html = answer.get_data(as_text=True)
    assert "Dit veld is verplicht." in html and 'value="Sanne"' in html
    with runtime.db.read() as session:
        assert session.scalars(select(Case)).all() == []


def test_who_may_start_what(app, world):
    auditor = web_client(app, world, "auditor")
    assert "Met uw rol kunt u geen dossier starten." in auditor.get("/cases/new").get_data(as_text=True)
    refused = post(auditor, "/cases/new", {"route": "tlv-vso", "d.leerling.voornaam": "X"}, page="/cases/new")
    assert refused.status_code == 200  # not offered: the page says so and starts nothing
    assert "Deze route kunt u niet starten" in refused.get_data(as_text=True)
    consulent = web_client(app, world, "consulent").get("/cases/new?route=tlv-vso").get_data(as_text=True)
    assert 'name="d.school"' in consulent  # a consulent names the school


def test_starting_needs_the_csrf_token(app, world):
    web = web_client(app, world, "school")
    csrf(web, "/cases/new")
    assert web.post("/cases/new", data={"route": "tlv-vso"}).status_code == 400
