"""The TLV as an Awb decision (issue 9): the decision clock (Awb 4:13-4:15), the decision record and its
objection term, and the route's outcomes. Every date below is what a lawyer computes by hand."""

from __future__ import annotations

import hashlib
from datetime import date

import pytest
from sqlalchemy import select

from engine import clock, decision_actions, decision_letters
from engine.decision_record import objection_until
from engine.errors import Conflict, Forbidden, InvalidData
from engine.models import Deadline, OutboxMessage
from engine.scheduler import fire_due
from tests.helpers import at, do, events_of, load_case, open_names, replayed, verified

MON = "2026-02-02T09:00"  # receipt of the application: a Monday; 8 weeks later is Monday 30 March 2026


def received(runtime, world, sample, when: str = MON, start: dict | None = None, aanmelding: dict | None = None):
    with clock.frozen(at(when)):
        case = runtime.start_case(world["school"], "tlv-vso", start or sample["start"])
        do(runtime, world, "school", case.id, "aanmelding", aanmelding or sample["aanmelding"])
    return case.id


def decide(runtime, world, sample, case_id: int, when: str, data: dict) -> None:
    with clock.frozen(at(when)):
        if "dossiercheck" in open_names(runtime, case_id):
            do(runtime, world, "consulent", case_id, "dossiercheck", {"dossier_compleet": True})
        if "knooppuntoverleg" in open_names(runtime, case_id):
            do(runtime, world, "consulent", case_id, "knooppuntoverleg", sample["knooppuntoverleg"])
        do(runtime, world, "commissie", case_id, "besluit", data)


def consistent(runtime, db, case_id: int) -> None:
    result = replayed(runtime, case_id)
    assert result.consistent, result.divergence
    assert verified(db, case_id).intact


def decision_deadlines(runtime, case_id: int) -> list[tuple[str, str]]:
    with runtime.db.read() as session:
        rows = session.scalars(select(Deadline).where(Deadline.case_id == case_id, Deadline.status == "pending",
                                                      Deadline.kind.in_(("decision", "decision_warning"))))
        return sorted((d.kind, clock.local_date(d.due_at).isoformat()) for d in rows)


def test_the_term_is_eight_weeks_from_receipt_and_an_aanvulling_round_suspends_it_by_its_length(
        runtime, world, sample, db):
    case_id = received(runtime, world, sample)
    clock_ = load_case(runtime, case_id).decision
    assert (clock_["received"], clock_["due"]) == ("2026-02-02", "2026-03-30")
    assert decision_deadlines(runtime, case_id) == [("decision", "2026-03-30"), ("decision_warning", "2026-03-23")]
    with clock.frozen(at("2026-02-03T10:00")):  # Tuesday: the consulent asks for an aanvulling
        do(runtime, world, "consulent", case_id, "dossiercheck", {"dossier_compleet": False, "ontbrekend": "OPP"})
    clock_ = load_case(runtime, case_id).decision
    assert clock_["suspended_since"] == "2026-02-03"
    assert decision_deadlines(runtime, case_id) == []  # nothing warns while the term stands still
    with clock.frozen(at("2026-02-17T15:00")):  # two weeks later the school completes the application
        do(runtime, world, "school", case_id, "aanvulling", {"aanvulling": "OPP bijgevoegd."})
    clock_ = load_case(runtime, case_id).decision
    assert clock_["rounds"] == [{"from": "2026-02-03", "to": "2026-02-17", "days": 14}]
    assert (clock_["suspended_since"], clock_["due"]) == (None, "2026-04-13")  # 30 March + 14 days
    assert decision_deadlines(runtime, case_id) == [("decision", "2026-04-13"), ("decision_warning", "2026-04-06")]
    decide(runtime, world, sample, case_id, "2026-04-10T11:00", sample["afwijzen"])
    case = load_case(runtime, case_id)
    assert (case.outcome, case.decision["decided"], case.decision["late"]) == ("afgewezen", "2026-04-10", False)
    assert decision_deadlines(runtime, case_id) == []
    consistent(runtime, db, case_id)


def test_an_extension_moves_the_term_once_and_a_decision_after_it_is_flagged(runtime, world, sample, db):
    case_id = received(runtime, world, sample)
    with clock.frozen(at("2026-02-05T09:00")):
        do(runtime, world, "consulent", case_id, "dossiercheck", {"dossier_compleet": True})
        do(runtime, world, "consulent", case_id, "knooppuntoverleg", sample["knooppuntoverleg"])
    with clock.frozen(at("2026-03-20T10:00")):
        with pytest.raises(Forbidden):
            decision_actions.extend(runtime, world["school"], case_id, 4, "Extra advies nodig.")
        with pytest.raises(InvalidData):
            decision_actions.extend(runtime, world["commissie"], case_id, 4, " ")
        decision_actions.extend(runtime, world["commissie"], case_id, 4, "Een tweede deskundige wordt gehoord.")
        with pytest.raises(Conflict, match="één verdaging"):
            decision_actions.extend(runtime, world["commissie"], case_id, 2, "Nog eens.")
    clock_ = load_case(runtime, case_id).decision
    # 30 March + 4 weeks = Monday 27 April 2026, Koningsdag: the Atw moves the end to Tuesday 28 April.
    assert clock_["due"] == "2026-04-28"
    assert clock_["extension"]["from"] == "2026-03-30" and clock_["extension"]["to"] == "2026-04-28"
    [event] = events_of(runtime, case_id, "decision_term_extended")
    assert event.payload["reason"] == "Een tweede deskundige wordt gehoord." and event.payload["weeks"] == 4
    with clock.frozen(at("2026-03-20T10:00:08")):
        assert decision_letters.make_due(runtime) == 1  # the notice's PDF, made after the extension's transaction
    with runtime.db.read() as session:
        notice = session.scalars(select(OutboxMessage).where(OutboxMessage.case_id == case_id,
                                                             OutboxMessage.attachment_name.is_not(None))).one()
        assert notice.attachment.startswith(b"%PDF") and "28-04-2026" in notice.body
    [made] = events_of(runtime, case_id, "decision_letter_made")
    assert made.payload["bestand"] == f"verdaging-{case_id}.pdf"
    assert load_case(runtime, case_id).decision["extension"]["notice"]["sha256"] == made.payload["sha256"] == \
        hashlib.sha256(notice.attachment).hexdigest()
    with clock.frozen(at("2026-04-20T09:00")):
        fire_due(runtime)  # (the besluit task's own SWV term fires here too)
    assert decision_deadlines(runtime, case_id) == [("decision", "2026-04-28"), ("decision_warning", "2026-04-21")]
    with clock.frozen(at("2026-04-21T09:00")):
        fire_due(runtime)  # the warning, a week before the end
    with clock.frozen(at("2026-04-28T22:00")):
        fire_due(runtime)  # the last day: nothing yet
    assert decision_deadlines(runtime, case_id) == [("decision", "2026-04-28")]
    with clock.frozen(at("2026-04-29T09:00")):
        fire_due(runtime)  # the escalation, the day after the end
    kinds = [e.payload.get("kind") for e in events_of(runtime, case_id) if e.type.startswith("deadline_")
             and e.task_id is None]
    assert kinds == ["decision_warning", "decision"]
    decide(runtime, world, sample, case_id, "2026-04-30T10:00", sample["afwijzen"])
    case = load_case(runtime, case_id)
    assert case.decision["late"] is True and case.decision["record"]["te_laat"] is True
    assert case.decision["record"]["bezwaar_tot"] == "2026-06-11"  # Thursday 30 April + 6 weeks
    consistent(runtime, db, case_id)


def test_no_extension_after_the_term(runtime, world, sample):
    case_id = received(runtime, world, sample)
    with clock.frozen(at("2026-03-31T09:00")), pytest.raises(Conflict, match="verstreken"):
        decision_actions.extend(runtime, world["commissie"], case_id, 2, "Te laat.")


@pytest.mark.parametrize("bekendmaking, until", [
    (date(2026, 4, 3), date(2026, 5, 18)),  # Fri 15 May 2026 is equated with a holiday (Besluit gelijkstelling)
    (date(2027, 3, 26), date(2027, 5, 10)),  # Fri 7 May 2027, idem
    (date(2028, 3, 17), date(2028, 5, 1)),  # Fri 28 April 2028, idem
    (date(2026, 11, 13), date(2026, 12, 28)),  # Fri 25 Dec 2026, then Sat and Sun: Mon 28 Dec
    (date(2026, 3, 6), date(2026, 4, 17)),  # an ordinary Friday
])
def test_the_objection_term_runs_six_weeks_from_the_bekendmaking_by_the_atw(bekendmaking, until):
    assert objection_until(bekendmaking) == until


def test_a_toekenning_on_a_friday_before_a_royal_decree_day(runtime, world, sample, db):
    start = {**sample["start"], "leerling": {**sample["start"]["leerling"], "geboortedatum": "2010-03-01"}}
    case_id = received(runtime, world, sample, "2027-02-15T09:00", start=start)
    decide(runtime, world, sample, case_id, "2027-03-26T14:00", {**sample["toekennen"], "ingangsdatum": "2027-04-01"})
    case = load_case(runtime, case_id)
    record = case.decision["record"]
    assert (record["uitkomst"], record["besluitdatum"], record["bekendmaking"]) == ("toekenning", "2027-03-26",
                                                                                   "2027-03-26")
    assert record["bezwaar_tot"] == "2027-05-10"
    assert "10-05-2027" in record["rechtsmiddel"] and "LBT" in record["rechtsmiddel"]
    # The pupil is 17 on the day of the decision: a recipient beside the parents and the school.
    assert [r["wie"] for r in record["ontvangers"]] == ["ouders", "school", "leerling"]
    assert record["brief"]["bestand"] == f"besluit-{case_id}-toekenning.pdf"
    assert "TLV-" in record["besluit"]
    with runtime.db.read() as session:
        [mail] = session.scalars(select(OutboxMessage).where(OutboxMessage.case_id == case_id)).all()
        assert mail.attachment is None and mail.attachment_name == record["brief"]["bestand"]  # made after commit
        assert "toegekend" in mail.subject
    with clock.frozen(at("2027-03-26T14:00:08")):  # the scheduler's next delivery round
        assert decision_letters.make_due(runtime) == 1
    with runtime.db.read() as session:
        [mail] = session.scalars(select(OutboxMessage).where(OutboxMessage.case_id == case_id)).all()
        assert mail.attachment.startswith(b"%PDF")
    [made] = events_of(runtime, case_id, "decision_letter_made")
    assert made.payload["sha256"] == hashlib.sha256(mail.attachment).hexdigest()
    assert load_case(runtime, case_id).decision["record"]["brief"]["sha256"] == made.payload["sha256"]
    assert open_names(runtime, case_id) == ["plaatsing"]
    consistent(runtime, db, case_id)


def test_a_pupil_under_16_is_no_recipient(runtime, world, sample):
    case_id = received(runtime, world, sample)
    decide(runtime, world, sample, case_id, "2026-03-02T10:00", sample["afwijzen"])
    assert [r["wie"] for r in load_case(runtime, case_id).decision["record"]["ontvangers"]] == ["ouders", "school"]


def test_buiten_behandeling_is_a_decision_with_the_same_notice(runtime, world, sample, db):
    case_id = received(runtime, world, sample)
    for n, (asked, answered) in enumerate([("02-03", "02-09"), ("02-10", "02-16"), ("02-17", "02-23")]):
        with clock.frozen(at(f"2026-{asked}T09:00")):
            do(runtime, world, "consulent", case_id, "dossiercheck", {"dossier_compleet": False, "ontbrekend": "OPP"})
        with clock.frozen(at(f"2026-{answered}T09:00")):
            do(runtime, world, "school", case_id, "aanvulling", {"aanvulling": f"ronde {n + 1}"})
    with clock.frozen(at("2026-02-24T09:00")):
        do(runtime, world, "consulent", case_id, "dossiercheck", {"dossier_compleet": False, "ontbrekend": "OPP"})
    case = load_case(runtime, case_id)
    assert (case.status, case.outcome) == ("closed", "buiten_behandeling")
    assert [r["days"] for r in case.decision["rounds"]] == [6, 6, 6]
    record = case.decision["record"]
    assert record["uitkomst"] == "buiten_behandeling" and "4:5" in record["besluit"]
    assert record["bezwaar_tot"] == "2026-04-07"  # Tue 24 Feb + 6 weeks; Easter Monday 6 April is earlier
    with clock.frozen(at("2026-02-24T09:00:10")):
        decision_letters.make_due(runtime)
    with runtime.db.read() as session:
        [mail] = session.scalars(select(OutboxMessage).where(OutboxMessage.case_id == case_id)).all()
    assert "buiten behandeling" in mail.subject and mail.attachment.startswith(b"%PDF")
    consistent(runtime, db, case_id)


@pytest.mark.parametrize("uitkomst, outcome", [("arrangement", "arrangement"), ("intrekken", "ingetrokken")])
def test_the_knooppuntoverleg_can_end_the_case_without_a_tlv_decision(runtime, world, sample, db, uitkomst, outcome):
    case_id = received(runtime, world, sample)
    with clock.frozen(at("2026-02-05T09:00")):
        do(runtime, world, "consulent", case_id, "dossiercheck", {"dossier_compleet": True})
        do(runtime, world, "consulent", case_id, "knooppuntoverleg",
           {**sample["knooppuntoverleg"], "uitkomst": uitkomst})
    case = load_case(runtime, case_id)
    assert (case.status, case.outcome, case.decision["decided"]) == ("closed", outcome, None)
    assert decision_deadlines(runtime, case_id) == []
    consistent(runtime, db, case_id)


def test_no_outside_participant_without_the_parents_consent(runtime, world, sample):
    case_id = received(runtime, world, sample)
    with clock.frozen(at("2026-02-05T09:00")):
        do(runtime, world, "consulent", case_id, "dossiercheck", {"dossier_compleet": True})
        data = {**sample["knooppuntoverleg"], "toestemming_ouders": False,
                "deelnemers": [{"naam": "M. de Boer", "rol": "consulent", "soort": "swv"},
                               {"naam": "dr. K. Smit", "rol": "jeugdarts", "soort": "extern"}]}
        with pytest.raises(InvalidData) as refused:
            do(runtime, world, "consulent", case_id, "knooppuntoverleg", data)
        assert "toestemming van de ouders" in refused.value.details["deelnemers"][0]
        do(runtime, world, "consulent", case_id, "knooppuntoverleg", {**data, "toestemming_ouders": True})
    assert open_names(runtime, case_id) == ["besluit"]


def test_parents_who_disagree_are_heard_before_the_besluit(runtime, world, sample, db):
    oneens = {**sample["aanmelding"], "zienswijze_ouders": {
        "standpunt": "oneens", "datum": "2026-01-22", "ouders_gehoord": True,
        "toelichting": "De ouders willen dat Sanne op haar school blijft."}}
    case_id = received(runtime, world, sample, aanmelding=oneens)
    with clock.frozen(at("2026-02-05T09:00")):
        do(runtime, world, "consulent", case_id, "dossiercheck", {"dossier_compleet": True})
        do(runtime, world, "consulent", case_id, "knooppuntoverleg", sample["knooppuntoverleg"])
    assert open_names(runtime, case_id) == ["hoorzitting_ouders"]
    with clock.frozen(at("2026-02-12T09:00")):
        do(runtime, world, "commissie", case_id, "hoorzitting_ouders",
           {"datum": "2026-02-12", "ouders_gehoord": True, "verslag": "De ouders lichtten hun standpunt toe."})
    assert open_names(runtime, case_id) == ["besluit"]
    consistent(runtime, db, case_id)


def test_plaatsing_waiting_list_asks_again_until_placed(runtime, world, sample, db):
    case_id = received(runtime, world, sample)
    decide(runtime, world, sample, case_id, "2026-03-02T10:00", sample["toekennen"])
    with clock.frozen(at("2026-03-03T10:00")):
        do(runtime, world, "school", case_id, "plaatsing", {"plaatsing_uitkomst": "wachtlijst"})
    assert open_names(runtime, case_id) == ["plaatsing"]  # asked again, with a new four-week term
    with clock.frozen(at("2026-03-31T10:00")):
        do(runtime, world, "school", case_id, "plaatsing", sample["plaatsing"])
    case = load_case(runtime, case_id)
    assert (case.status, case.outcome) == ("closed", "toegekend")
    consistent(runtime, db, case_id)


def test_niet_geplaatst_ends_the_case(runtime, world, sample):
    case_id = received(runtime, world, sample)
    decide(runtime, world, sample, case_id, "2026-03-02T10:00", sample["toekennen"])
    with clock.frozen(at("2026-03-03T10:00")):
        with pytest.raises(InvalidData):  # geplaatst needs the school and the date
            do(runtime, world, "school", case_id, "plaatsing", {"plaatsing_uitkomst": "geplaatst"})
        do(runtime, world, "school", case_id, "plaatsing", {"plaatsing_uitkomst": "niet_geplaatst"})
    assert load_case(runtime, case_id).outcome == "toegekend_niet_geplaatst"


def test_the_case_json_shows_the_clock_and_the_api_extends_it(client, world, sample, runtime):
    from tests.helpers import call

    case_id = received(runtime, world, sample)
    with clock.frozen(at("2026-03-02T09:00")):
        body = call(client, world, "consulent", "GET", f"/api/v1/cases/{case_id}").get_json()
        assert body["decision"]["due"] == "2026-03-30" and body["decision"]["days_left"] == 28
        assert body["decision"]["extendable"] is True
        refused = call(client, world, "school", "POST", f"/api/v1/cases/{case_id}/decision-term/extend",
                       json={"weeks": 2, "reason": "x"})
        assert refused.status_code == 403
        done = call(client, world, "commissie", "POST", f"/api/v1/cases/{case_id}/decision-term/extend",
                    json={"weeks": 2, "reason": "Wachten op het advies van de jeugdarts."})
        assert done.status_code == 200, done.get_json()
        assert done.get_json()["decision"]["due"] == "2026-04-13"  # 30 March + 2 weeks


def test_the_case_page_and_the_inbox_show_the_decision_term_and_the_page_extends_it(client, world, sample, runtime,
                                                                                     db):
    from tests.ui import give_passwords, post, web_client

    give_passwords(db)
    case_id = received(runtime, world, sample)
    with clock.frozen(at("2026-03-02T09:00")):
        commissie = web_client(client.application, world, "commissie")
        page = f"/cases/{case_id}?tab=termijnen"
        html = commissie.get(page).get_data(as_text=True)
        assert "Beslistermijn (Awb 4:13)" in html and "30-03-2026" in html and "nog 28 dagen" in html
        assert "Beslistermijn verdagen" in html
        done = post(commissie, f"/cases/{case_id}/beslistermijn-verdagen",
                    {"weken": "2", "reden": "Advies van de jeugdarts volgt."}, page=page)
        assert done.status_code == 303
        html = commissie.get(page).get_data(as_text=True)
        assert "13-04-2026" in html and "Advies van de jeugdarts volgt." in html
        assert "Beslistermijn verdagen" not in html  # once
        consulent = web_client(client.application, world, "consulent")
        inbox = consulent.get("/").get_data(as_text=True)
        assert "beslissen uiterlijk 13-04-2026" in inbox


@pytest.mark.parametrize("old, new, element, gist", [
    ('name="decisionTerm" value="weken(8)"', 'name="decisionTerm" value="werkdagen(40)"', "aanmelding",
     "geen termijn in weken(n) of kalenderdagen(n)"),
    ('name="decisionSuspends" value="true"', 'name="decisionSuspends" value="ja"', "aanvulling",
     "decisionSuspends moet true of false zijn"),
    ('name="decisionEscalateTo" value="bestuurder"', 'name="decisionEscalateTo" value="directeur"', "aanmelding",
     "geen Loket-rol"),
    ("""value='"afwijzing"'""", """value='"nee"'""", "beschikking_afwijzing", "zonder geldige outcome-parameter"),
])
def test_the_validator_knows_the_decision_properties(tmp_path, old, new, element, gist):
    import shutil

    from engine.config import PROJECT_ROOT
    from engine.validate import check

    source = (PROJECT_ROOT / "processes" / "tlv-vso.bpmn").read_text(encoding="utf-8")
    assert old in source
    shutil.copytree(PROJECT_ROOT / "processes" / "forms", tmp_path / "forms")
    path = tmp_path / "tlv-vso.bpmn"
    path.write_text(source.replace(old, new, 1), encoding="utf-8")
    problems = check(path, known_handlers={"decision", "notify", "register_tlv"}).problems
    assert any(p.element == element and gist in p.message for p in problems), problems


def test_a_scenario_checks_the_decision_clock_and_says_what_it_found_instead():
    """``expect: {decision_due, decision: {outcome, late}, objection_due}`` in a scenario (engine.scenario_steps)."""
    from engine import scenarios
    from engine.config import PROJECT_ROOT
    from engine.scenario_format import load_data_sets
    from tests.test_scenarios import route

    sets = load_data_sets(PROJECT_ROOT / "processes" / "scenarios" / "tlv-vso" / "_data.yaml")
    text = """
name: Beslistermijn
start: {at: 2026-02-02T09:00, data: "@start"}
steps:
  - complete: aanmelding
    with: "@aanmelding"
  - expect: {decision_due: 2026-03-30}
  - complete: dossiercheck
    with: "@compleet"
  - complete: knooppuntoverleg
    with: "@knooppuntoverleg"
  - at: 2026-04-02T10:00
  - complete: besluit
    as: commissie
    with: {besluit: toekennen, soort: lg, categorie: midden, ingangsdatum: "2026-04-02", einddatum: "2027-07-31",
           motivering: Beide deskundigen adviseren VSO.}
  - expect: {decision: {outcome: toekenning, late: %s}, objection_due: %s}
"""
    passed = scenarios.run_text(text % ("true", "2026-05-18"), route("tlv-vso"), data_sets=sets)
    assert passed.ok, passed.reason()  # Thu 2 April + 6 weeks is Hemelvaart; 15 May is equated: Mon 18 May
    failed = scenarios.run_text(text % ("false", "2026-05-15"), route("tlv-vso"), data_sets=sets)
    assert "besluit te laat (2026-04-02, termijn tot 2026-03-30), verwacht op tijd" in failed.reason()
    assert "bezwaartermijn: verwacht tot 2026-05-15, maar hij loopt tot 18-05-2026" in failed.reason()
    early = scenarios.run_text((text % ("true", "2026-05-18")).replace("decision_due: 2026-03-30",
                                                                      "decision_due: 2026-03-27"),
                               route("tlv-vso"), data_sets=sets)
    assert "stap 2" in early.reason() and "beslistermijn: verwacht 2026-03-27, maar het is 30-03-2026" in early.reason()
