"""Need to know (issue 10): each role reads what its work needs, decided in one place (engine.visibility) for case
reads, events, state, tasks, the inbox and the case list. Another SWV's case is unknown (404); a case of the
user's own SWV outside its need to know is forbidden (403)."""

from __future__ import annotations

import shutil
from datetime import timedelta

import pytest

from engine import clock, routes
from engine.config import PROJECT_ROOT
from engine.scheduler import fire_due
from tests.conftest import make_world
from tests.helpers import at, call, do, open_task

# Who reads a TLV case of school 16PX00 that has no escalation and no task in a lane of leerplicht.
READS_A_TLV = {"school": 200, "school2": 403, "consulent": 200, "commissie": 200, "auditor": 200, "beheerder": 200,
               "leerplicht": 403, "procesbeheerder": 403, "bestuurder": 403}
READS = ["/api/v1/cases/{case}", "/api/v1/cases/{case}/events", "/api/v1/cases/{case}/state",
         "/api/v1/tasks/{task}"]


@pytest.fixture
def tlv(runtime, world, sample) -> tuple[int, str]:
    """A TLV case at its dossiercheck: the case id and the open task's id."""
    with clock.frozen(at("2026-11-02T09:00")):
        case = runtime.start_case(world["school"], "tlv-vso", sample["start"])
        do(runtime, world, "school", case.id, "aanmelding", sample["aanmelding"])
    return case.id, open_task(runtime, case.id, "dossiercheck").id


def read(client, world, who: str, path: str, case_id: int, task_id: str):
    return call(client, world, who, "GET", path.format(case=case_id, task=task_id))


def test_leerplicht_no_longer_reads_a_tlv_dossier_it_is_no_party_to(client, world, tlv):
    """The finding: a leerplicht user read the full dossier, advice summaries included (200)."""
    case_id, _ = tlv
    resp = call(client, world, "leerplicht", "GET", f"/api/v1/cases/{case_id}")
    assert resp.status_code == 403
    assert resp.get_json()["error"] == {"code": "forbidden", "message": "U heeft geen toegang tot dit dossier.",
                                        "details": {}}


@pytest.mark.parametrize("path", READS)
@pytest.mark.parametrize("who", sorted(READS_A_TLV))
def test_each_role_reads_what_its_work_needs(client, world, tlv, who, path):
    resp = read(client, world, who, path, *tlv)
    assert resp.status_code == READS_A_TLV[who], resp.get_json()


@pytest.mark.parametrize("path", READS)
def test_another_swv_does_not_know_the_case(client, world, tlv, db, path):
    other = make_world(db, "ander-swv")
    world.tokens["vreemd"] = other.tokens["consulent"]
    resp = read(client, world, "vreemd", path, *tlv)
    assert resp.status_code == 404


def listed(client, world, who: str) -> tuple[list[int], list[str]]:
    cases = call(client, world, who, "GET", "/api/v1/cases").get_json()["cases"]
    tasks = call(client, world, who, "GET", "/api/v1/tasks?scope=all").get_json()
    return [c["id"] for c in cases], [t["name"] for t in tasks]


def test_the_case_list_and_the_inbox_show_the_same_cases_as_a_read(client, world, tlv):
    case_id, _ = tlv
    for who, status in READS_A_TLV.items():
        expected = ([case_id], ["dossiercheck"]) if status == 200 else ([], [])
        assert listed(client, world, who) == expected, who


def test_the_bestuurder_reads_a_case_once_it_escalates(runtime, client, world, tlv, sample):
    case_id, task_id = tlv
    with clock.frozen(at("2026-11-02T09:00")):
        quiet = runtime.start_case(world["school"], "tlv-vso", sample["start"]).id
    with clock.frozen(at("2026-11-02T09:00") + timedelta(weeks=3)):
        fire_due(runtime)  # the dossiercheck's term (5 werkdagen) is over; the new case's aanmelding is not
    assert open_task(runtime, case_id, "dossiercheck").escalated
    assert call(client, world, "bestuurder", "GET", f"/api/v1/cases/{case_id}").status_code == 200
    assert call(client, world, "bestuurder", "GET", f"/api/v1/cases/{quiet}").status_code == 403
    assert listed(client, world, "bestuurder")[0] == [case_id]


@pytest.fixture
def verzuim(runtime, tmp_path):
    """A small route with a leerplicht lane: the school files, leerplicht assesses."""
    source = PROJECT_ROOT / "tests" / "bpmn" / "valid"
    shutil.copytree(source / "forms", tmp_path / "forms")
    text = (source / "ok.bpmn").read_text()
    text = text.replace('name="consulent"', 'name="leerplicht"').replace('id="ok"', 'id="verzuim"')
    (tmp_path / "verzuim.bpmn").write_text(text)
    with runtime.db.transaction() as session:
        routes.deploy(session, tmp_path / "verzuim.bpmn")
    return runtime


def test_leerplicht_reads_the_cases_it_is_a_party_to(verzuim, client, world, tlv):
    case = verzuim.start_case(world["school"], "verzuim", {"leerling": "Sanne"})
    path = f"/api/v1/cases/{case.id}"
    assert call(client, world, "leerplicht", "GET", path).status_code == 403  # nothing in its lane yet
    do(verzuim, world, "school", case.id, "aanvraag", {"toelichting": "Veel verzuim sinds oktober."})
    assert call(client, world, "leerplicht", "GET", path).status_code == 200
    assert listed(client, world, "leerplicht") == ([case.id], ["beoordeling"])
    do(verzuim, world, "leerplicht", case.id, "beoordeling", {"oordeel": "afwijzen"})
    assert call(client, world, "leerplicht", "GET", path).status_code == 200  # a party before stays one
    assert call(client, world, "leerplicht", "GET", f"/api/v1/cases/{tlv[0]}").status_code == 403
    assert call(client, world, "procesbeheerder", "GET", path).status_code == 403


def test_an_auditor_reads_everything_and_changes_nothing(client, world, tlv, sample):
    case_id, task_id = tlv
    assert call(client, world, "auditor", "GET", f"/api/v1/cases/{case_id}").status_code == 200
    writes = [("POST", "/api/v1/cases", {"route": "tlv-vso", "data": sample["start"]}),
              ("POST", f"/api/v1/tasks/{task_id}/claim", None),
              ("POST", f"/api/v1/tasks/{task_id}/complete", {"data": {"dossier_compleet": True}}),
              ("POST", f"/api/v1/tasks/{task_id}/delegate", {"user": "consulent@sterk-vo.test"}),
              ("POST", f"/api/v1/cases/{case_id}/suspend", {"reason": "even wachten"}),
              ("POST", f"/api/v1/cases/{case_id}/extend", {"weeks": 2, "reason": "langer"}),
              ("POST", f"/api/v1/cases/{case_id}/retry", None)]
    for method, path, body in writes:
        assert call(client, world, "auditor", method, path, body).status_code == 403, path


def test_a_procesbeheerder_sees_routes_not_dossiers(client, world, tlv):
    routes_seen = call(client, world, "procesbeheerder", "GET", "/api/v1/routes")
    assert routes_seen.status_code == 200 and "tlv-vso" in [r["key"] for r in routes_seen.get_json()]
    assert listed(client, world, "procesbeheerder") == ([], [])


def test_figures_are_anonymous_counts_for_those_who_steer(runtime, client, world, tlv, sample):
    with clock.frozen(at("2026-11-02T09:00")):
        runtime.start_case(world["school"], "tlv-vso", sample["start"])
    with clock.frozen(at("2026-11-02T09:00") + timedelta(weeks=3)):
        fire_due(runtime)
        resp = call(client, world, "procesbeheerder", "GET", "/api/v1/figures")
    assert resp.status_code == 200, resp.get_json()
    assert resp.get_json() == [{
        "route": "tlv-vso", "cases": {"open": 2}, "outcomes": {},
        "open_tasks": [{"step": "aanmelding", "open": 1, "overdue": 0, "escalated": 0},
                       {"step": "dossiercheck", "open": 1, "overdue": 1, "escalated": 1}]}]
    assert "Sanne" not in resp.get_data(as_text=True) and '"id"' not in resp.get_data(as_text=True)
    for who, status in (("bestuurder", 200), ("auditor", 200), ("school", 403), ("leerplicht", 403)):
        assert call(client, world, who, "GET", "/api/v1/figures").status_code == status, who
