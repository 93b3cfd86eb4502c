"""The SWV's settings at a case start, one check for the API, the pages and the scenarios: a route the SWV does not
run is refused (422 on `route`) and not offered; outside every intake window of the route the start is refused
(409) naming the windows; a window may run over New Year."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from sqlalchemy import func, select

from engine import clock, scenario_world, scenarios
from engine.config import PROJECT_ROOT
from engine.models import Case, Tenant
from engine.swv_settings import in_window
from tests.ui import give_passwords, post, web_client

JANUARY = {"tlv-vso": [{"from": "01-01", "to": "01-31", "label": "Instroom"},
                       {"from": "09-01", "to": "09-30", "label": "Zij-instroom"}]}


def _settings(db, world, **changes) -> None:
    with db.transaction() as session:
        tenant = session.get(Tenant, world.tenant_id)
        tenant.settings = {**(tenant.settings or {}), **changes}


def _start(client, world, sample):
    return client.post("/api/v1/cases", json={"route": "tlv-vso", "data": sample["start"]},
                       headers={"Authorization": f"Bearer {world.tokens['school']}"})


def _cases(db) -> int:
    with db.read() as session:
        return session.scalar(select(func.count()).select_from(Case))


def test_a_route_the_swv_does_not_run_is_refused_and_not_offered(client, db, world, sample):
    _settings(db, world, routes=["bezwaar", "thuiszitter"])
    listed = client.get("/api/v1/routes", headers={"Authorization": f"Bearer {world.tokens['school']}"}).get_json()
    assert "tlv-vso" not in {route["key"] for route in listed}
    answer = _start(client, world, sample)
    assert answer.status_code == 422
    error = answer.get_json()["error"]
    assert error["code"] == "invalid_data"
    assert error["details"]["route"] == ["SWV sterk-vo voert de route 'tlv-vso' niet uit."]
    give_passwords(db)
    web = web_client(client.application, world, "school")
    assert 'value="tlv-vso"' not in web.get("/cases/new").get_data(as_text=True)
    refused = post(web, "/cases/new", {"route": "tlv-vso", "d.leerling.voornaam": "Sanne"}, page="/cases/new")
    assert "Deze route kunt u niet starten" in refused.get_data(as_text=True)
    assert _cases(db) == 0
    _settings(db, world, routes=["tlv-vso"])
    assert _start(client, world, sample).status_code == 201


def test_outside_every_intake_window_the_start_is_refused_naming_the_windows(client, db, world, sample):
    _settings(db, world, intake_windows=JANUARY)
    with clock.frozen(datetime(2026, 3, 2, 9, tzinfo=clock.TZ)):
        answer = _start(client, world, sample)
    assert answer.status_code == 409
    message = answer.get_json()["error"]["message"]
    assert message == ("Aanvragen voor route 'tlv-vso' neemt SWV sterk-vo alleen aan in: Instroom (1 januari t/m 31 "
                       "januari); Zij-instroom (1 september t/m 30 september). Vandaag (2 maart) valt daarbuiten.")
    assert _cases(db) == 0
    with clock.frozen(datetime(2026, 1, 31, 23, 30, tzinfo=clock.TZ)):  # the last evening, Dutch time
        assert _start(client, world, sample).status_code == 201


def test_the_start_page_says_the_window_is_closed_and_keeps_what_was_typed(client, db, world):
    _settings(db, world, intake_windows=JANUARY)
    give_passwords(db)
    web = web_client(client.application, world, "school")
    with clock.frozen(datetime(2026, 3, 2, 9, tzinfo=clock.TZ)):
        page = web.get("/cases/new?route=tlv-vso").get_data(as_text=True)
        assert 'data-testid="intake-closed"' in page and "Instroom (1 januari t/m 31 januari)" in page
        assert 'name="d.leerling.voornaam"' not in page  # no form to fill in for nothing
        answer = post(web, "/cases/new", {"route": "tlv-vso", "d.leerling.voornaam": "Sanne",
                                          "d.leerling.achternaam": "de Vries",
                                          "d.leerling.geboortedatum": "2013-04-02"}, page="/cases/new")
    assert answer.status_code == 409
    html = answer.get_data(as_text=True)
    assert "Vandaag (2 maart) valt daarbuiten." in html and 'value="Sanne"' in html
    assert _cases(db) == 0


@pytest.mark.parametrize(("day", "inside"), [(date(2026, 11, 1), True), (date(2026, 12, 31), True),
                                             (date(2027, 1, 1), True), (date(2027, 4, 30), True),
                                             (date(2027, 5, 1), False), (date(2026, 10, 31), False)])
def test_a_window_may_run_over_new_year(day, inside):
    assert in_window(day, {"from": "11-01", "to": "04-30"}) is inside


@pytest.fixture(scope="module")
def tlv_vso() -> scenarios.RouteUnderTest:
    folder = PROJECT_ROOT / "processes"
    forms = {p.name: p.read_text("utf-8") for p in (folder / "forms").glob("tlv-vso-*.json")}
    return scenario_world.route_from_files("tlv-vso", (folder / "tlv-vso.bpmn").read_text("utf-8"), forms)


SCENARIO = """
name: Buiten het venster
start:
  at: {at}
  data: {{leerling: {{voornaam: Sanne, achternaam: de Vries, geboortedatum: "2013-04-02"}}, school: 16PX00}}
  {refused}
swv:
  intake_windows:
    tlv-vso: [{{from: "01-01", to: "01-31", label: Instroom}}]
{steps}
"""


def test_a_scenario_can_expect_the_start_to_be_refused_outside_the_window(tlv_vso):
    refused = scenarios.run_text(SCENARIO.format(at="2026-03-02T09:00", refused="refused: 'alleen aan in: Instroom'",
                                                 steps=""), tlv_vso, "buiten.yaml")
    assert refused.ok, refused.reason()
    assert "geweigerd, zoals verwacht" in refused.steps[0].message
    started = scenarios.run_text(SCENARIO.format(at="2026-01-05T09:00", refused="refused: alleen aan in",
                                                 steps=""), tlv_vso, "binnen.yaml")
    assert not started.ok and "maar de zaak startte" in started.steps[0].message
    inside = scenarios.run_text(SCENARIO.format(at="2026-01-05T09:00", refused="",
                                                steps="steps:\n  - expect: {open_tasks: [aanmelding]}"),
                                tlv_vso, "binnen.yaml")
    assert inside.ok, inside.reason()
