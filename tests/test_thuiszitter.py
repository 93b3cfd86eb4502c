"""The thuiszitter route on the real database: the SWV's own term decides when a pupil goes to the doorzettingsmacht
(handler swv_term, counted from the first day at home), the monitoring timer fires through the scheduler, and the
history replays as it happened."""

from __future__ import annotations

from datetime import UTC, datetime

import yaml

from engine import clock
from engine.config import PROJECT_ROOT
from engine.models import Case, Tenant
from engine.scheduler import fire_due
from tests.helpers import do, open_names, replayed

DATA = yaml.safe_load((PROJECT_ROOT / "processes" / "scenarios" / "thuiszitter" / "_data.yaml").read_text())


def at(day: str) -> datetime:
    return datetime.fromisoformat(f"{day}T08:00").replace(tzinfo=UTC)


def set_term(db, world, term: str) -> None:
    with db.transaction() as session:
        session.get(Tenant, world.tenant_id).settings = {"terms": {"thuiszitter": {"term": term,
                                                                                   "escalateTo": "bestuurder"}}}


def to_monitoring(runtime, world) -> int:
    """A thuiszitter case (at home since 31 August 2026) up to its plan, monitored every 4 weeks."""
    with clock.frozen(at("2026-09-07")):
        case = runtime.start_case(world["school"], "thuiszitter", DATA["start"])
        do(runtime, world, "school", case.id, "verzuimmelding", DATA["verzuimmelding"])
        do(runtime, world, "leerplicht", case.id, "intake_leerplicht", DATA["intake"])
        do(runtime, world, "consulent", case.id, "casustafel", DATA["casustafel"])
        do(runtime, world, "consulent", case.id, "plan", DATA["plan"])
    assert open_names(runtime, case.id) == []
    return case.id


def test_the_swv_term_sends_the_pupil_to_the_doorzettingsmacht_and_replays(runtime, world, db):
    set_term(db, world, "weken(6)")  # an SWV stricter than the pact: six weeks at home, counted from 31 August
    case_id = to_monitoring(runtime, world)
    with clock.frozen(at("2026-10-06")):  # the timer (7 September + 4 weeks) has fired
        fire_due(runtime)
    assert open_names(runtime, case_id) == ["monitoring"]
    with clock.frozen(at("2026-10-06")):
        do(runtime, world, "consulent", case_id, "monitoring", DATA["thuis"])
    assert open_names(runtime, case_id) == []  # within the term (until 12 October): the next round

    with clock.frozen(at("2026-10-12")):  # the last day of the term: no round yet
        fire_due(runtime)
    assert open_names(runtime, case_id) == []
    with clock.frozen(at("2026-10-13")):  # the round comes as the term is passed, not four weeks on (3 November)
        fire_due(runtime)
        do(runtime, world, "consulent", case_id, "monitoring", DATA["thuis"])
    assert open_names(runtime, case_id) == ["doorzettingsmacht"]  # past the six weeks: the bestuurder decides
    with runtime.db.read() as session:
        data = session.get(Case, case_id).data
    assert data["thuistermijn"]["einde"] == "2026-10-12" and data["thuistermijn"]["verstreken"] is True

    result = replayed(runtime, case_id)
    assert result.consistent, result.divergence


def test_without_a_term_of_its_own_the_swv_follows_the_pact(runtime, world, db):
    case_id = to_monitoring(runtime, world)
    with clock.frozen(at("2026-10-06")):
        fire_due(runtime)
        do(runtime, world, "consulent", case_id, "monitoring", DATA["thuis"])
    with runtime.db.read() as session:
        data = session.get(Case, case_id).data
    assert data["thuistermijn"] == {"termijn": "weken(13)", "sinds": "2026-08-31", "einde": "2026-11-30",
                                    "verstreken": False, "dagen": 36,
                                    "overschreden_vanaf": "2026-11-30T23:00:00+00:00"}  # 1 December, 00:00 in NL
    assert open_names(runtime, case_id) == []


# ---------------------------------------------------------------- the Inspectie's quarterly registration


def reported(runtime, world, day: str, since: str, outcome: str = "casustafel", weeks: int = 4) -> int:
    """A case reported on ``day`` for a pupil at home since ``since``; up to the plan unless leerplicht solves it."""
    with clock.frozen(at(day)):
        case = runtime.start_case(world["school"], "thuiszitter", DATA["start"])
        do(runtime, world, "school", case.id, "verzuimmelding", {**DATA["verzuimmelding"], "thuis_sinds": since})
        do(runtime, world, "leerplicht", case.id, "intake_leerplicht", {**DATA["intake"], "vervolg": outcome})
        if outcome == "casustafel":
            do(runtime, world, "consulent", case.id, "casustafel", DATA["casustafel"])
            do(runtime, world, "consulent", case.id, "plan", {**DATA["plan"], "monitoring_weken": weeks})
    return case.id


def test_the_quarterly_registration_counts_who_was_home_in_the_quarter(runtime, world, db, db_url, tmp_path):
    from engine.thuiszitters import parse_quarter, registration

    still_home = reported(runtime, world, "2026-09-07", "2026-08-31")
    back = reported(runtime, world, "2026-09-01", "2026-05-04", weeks=1)  # at home since May, back in September
    with clock.frozen(at("2026-09-09")):
        fire_due(runtime)
        do(runtime, world, "consulent", back, "monitoring", DATA["hervat"])
        do(runtime, world, "consulent", back, "afsluiting", {"bestemming": "vso", "einddatum": "2026-09-14"})
    reported(runtime, world, "2026-09-08", "2026-09-01", outcome="opgelost")  # no thuiszitter: not counted
    reported(runtime, world, "2026-10-05", "2026-10-01")  # the next quarter
    assert open_names(runtime, still_home) == [] and open_names(runtime, back) == []

    def counts(quarter: str) -> dict[tuple[str, str], int]:
        with db.read() as session:
            return {(d, v): n for d, v, n in registration(session, world["consulent"], parse_quarter(quarter))}

    third = counts("2026-3")
    assert third[("totaal", "thuiszitters")] == 2
    assert third[("stand", "thuis")] == 1 and third[("stand", "beeindigd")] == 1
    assert third[("instroom", "nieuw")] == 1 and third[("instroom", "uit eerder kwartaal")] == 1
    assert third[("duur", "langer dan 3 maanden")] == 1 and third[("duur", "4 weken tot 3 maanden")] == 1
    assert third[("bestemming", "vso")] == 1 and third[("bestemming", "nog thuis")] == 1
    assert third[("type", "relatief_verzuim")] == 2 and third[("leeftijd", "14")] == 2
    fourth = counts("2026-4")
    assert fourth[("totaal", "thuiszitters")] == 2 and fourth[("instroom", "nieuw")] == 1
    assert counts("2026-2")[("totaal", "thuiszitters")] == 1  # home since May, reported later: still counted

    if not db_url.startswith("sqlite"):
        return  # the command line is exercised once
    from tests.helpers import loket

    out = loket("figures", "thuiszitters", "--tenant", "sterk-vo", "--kwartaal", "2026-3", url=db_url)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0] == "kwartaal,indeling,waarde,aantal" and "2026-3,totaal,thuiszitters,2" in lines
    assert "Daan" not in out.stdout and "2012-05-14" not in out.stdout  # anonymous
    written = loket("figures", "thuiszitters", "--tenant", "sterk-vo", "--kwartaal", "2026-3",
                    "--output", str(tmp_path / "q3.csv"), url=db_url)
    assert written.returncode == 0 and (tmp_path / "q3.csv").read_text() == out.stdout
    wrong = loket("figures", "thuiszitters", "--tenant", "sterk-vo", "--kwartaal", "2026-5", url=db_url)
    assert wrong.returncode == 1 and "fout: '2026-5' is geen kwartaal" in wrong.stderr
    assert "Traceback" not in wrong.stderr


def test_the_registration_over_the_api_for_those_who_steer(runtime, world, client):
    from tests.helpers import call

    reported(runtime, world, "2026-09-07", "2026-08-31")
    resp = call(client, world, "bestuurder", "GET", "/api/v1/figures/thuiszitters?kwartaal=2026-3")
    assert resp.status_code == 200, resp.get_json()
    body = resp.get_json()
    assert (body["kwartaal"], body["van"], body["tot_en_met"]) == ("2026-3", "2026-07-01", "2026-09-30")
    assert {"indeling": "totaal", "waarde": "thuiszitters", "aantal": 1} in body["rijen"]
    assert "Daan" not in resp.get_data(as_text=True)
    for bad in ("2026-5", "0000-1", "26-3"):
        wrong = call(client, world, "bestuurder", "GET", f"/api/v1/figures/thuiszitters?kwartaal={bad}")
        assert wrong.status_code == 422 and "JJJJ-K" in wrong.get_data(as_text=True), bad
    for who in ("school", "leerplicht"):  # a school and leerplicht see their own cases, not the SWV's figures
        assert call(client, world, who, "GET", "/api/v1/figures/thuiszitters?kwartaal=2026-3").status_code == 403
