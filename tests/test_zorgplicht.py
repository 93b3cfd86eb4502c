"""The school's own decision on an admission (route zorgplicht-aanmelding) on the decision building blocks: the
term counts from the parents' written registration (decisionReceivedFrom), stands still while the school waits
for the parents, and the school extends it once by 4 weeks with a letter (handler decision_extend). Every date is
what a lawyer computes by hand; replay and the hash chain agree on both backends."""

from __future__ import annotations

import io

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from engine import clock, decision_actions
from engine.errors import Conflict, InvalidData
from engine.models import OutboxMessage
from engine.scheduler import fire_due
from engine.validate import check
from tests.helpers import at, do, load_case, open_names, replayed, verified
from tests.ui import make_app, web_client

START = {"leerling": {"voornaam": "Mila", "achternaam": "Jansen", "geboortedatum": "2013-09-14"}, "school": "16PX00"}
AANMELDING = {"datum_aanmelding_ouders": "2026-01-28", "schriftelijk": True, "leerjaar": 2,
              "school_van_herkomst": "Het Vechtdal College", "ondersteuning_verwacht": True}
BESLUIT = {"ondersteuningsbehoefte": "extra_ondersteuning", "onderzoek": "Gesprek met ouders en mentor."}


def test_the_term_runs_from_the_registration_stands_still_for_the_parents_and_is_extended_once(runtime, world, db):
    with clock.frozen(at("2026-02-02T09:00")):  # the school records on Monday a registration of Wednesday 28 January
        case_id = runtime.start_case(world["school"], "zorgplicht-aanmelding", START).id
        do(runtime, world, "school", case_id, "aanmelding", AANMELDING)
    state = load_case(runtime, case_id).decision
    assert (state["received"], state["due"]) == ("2026-01-28", "2026-03-11")  # 6 weeks from the registration
    with clock.frozen(at("2026-02-03T09:00")):
        do(runtime, world, "school", case_id, "besluit",
           {**BESLUIT, "uitkomst": "informatie_vragen", "gevraagde_informatie": "Het OPP."})
    assert load_case(runtime, case_id).decision["suspended_since"] == "2026-02-03"
    with clock.frozen(at("2026-02-10T09:00")):
        do(runtime, world, "school", case_id, "informatie_ouders",
           {"informatie_ontvangen": True, "ontvangen_op": "2026-02-10", "omschrijving": "OPP ontvangen."})
    state = load_case(runtime, case_id).decision
    assert state["rounds"] == [{"from": "2026-02-03", "to": "2026-02-10", "days": 7}] and state["due"] == "2026-03-18"
    with clock.frozen(at("2026-03-13T09:00")):
        do(runtime, world, "school", case_id, "besluit",
           {**BESLUIT, "uitkomst": "verlengen", "reden_verlenging": "Een observatie in de klas is nodig."})
    case = load_case(runtime, case_id)
    assert case.decision["due"] == "2026-04-15" and case.decision["extension"]["weeks"] == 4
    assert case.data["zorgplicht"]["tien_weken_tot"] == "2026-04-15"  # 10 weeks + 7 days: the extended term's end
    with runtime.db.read() as session:
        [letter] = session.scalars(select(OutboxMessage).where(OutboxMessage.case_id == case_id,
                                                               OutboxMessage.attachment_name.like("verlenging-%")))
        text = PdfReader(io.BytesIO(letter.attachment)).pages[0].extract_text()
    assert "artikel 27 lid 2c" in text and "School 16PX00 (16PX00)" in text and "15-04-2026" in text
    with clock.frozen(at("2026-03-20T09:00")):
        do(runtime, world, "school", case_id, "besluit",
           {**BESLUIT, "uitkomst": "toelaten", "ingangsdatum": "2026-08-24", "motivering": "Past met een arrangement."})
    case = load_case(runtime, case_id)
    assert (case.status, case.outcome, case.decision["late"]) == ("closed", "toegelaten", False)
    assert case.decision["record"]["afzender"] == "School 16PX00 (16PX00)"
    assert open_names(runtime, case_id) == []
    result = replayed(runtime, case_id)
    assert result.consistent, result.divergence
    assert verified(db, case_id).intact


def test_after_ten_weeks_without_a_decision_the_pupil_is_flagged_once_and_replay_agrees(runtime, world, db):
    with clock.frozen(at("2026-02-02T09:00")):  # registered Monday 2 February: 10 weeks end Monday 13 April
        case_id = runtime.start_case(world["school"], "zorgplicht-aanmelding", START).id
        do(runtime, world, "school", case_id, "aanmelding", {**AANMELDING, "datum_aanmelding_ouders": "2026-02-02"})
    with clock.frozen(at("2026-04-13T22:00")):
        fire_due(runtime)
    assert open_names(runtime, case_id) == ["besluit"]
    assert load_case(runtime, case_id).data["tijdelijke_inschrijving"] is False
    with clock.frozen(at("2026-04-14T00:30")):
        fire_due(runtime)
    case = load_case(runtime, case_id)
    assert open_names(runtime, case_id) == ["tijdelijke_inschrijving_taak"] and case.data["tijdelijke_inschrijving"]
    with clock.frozen(at("2026-04-14T09:00")):
        do(runtime, world, "school", case_id, "tijdelijke_inschrijving_taak",
           {"datum_tijdelijke_inschrijving": "2026-04-14"})
    with clock.frozen(at("2026-04-20T09:00")):
        fire_due(runtime)
    assert open_names(runtime, case_id) == ["besluit"]  # flagged once: the timer waits for a moment that does not come
    assert load_case(runtime, case_id).decision["escalated"] is True  # the 6 weeks ended on 16 March
    result = replayed(runtime, case_id)
    assert result.consistent, result.divergence
    assert verified(db, case_id).intact


def test_the_case_page_names_the_zorgplicht_and_the_swv_cannot_verdagen(runtime, world, db, settings):
    with clock.frozen(at("2026-02-02T09:00")):
        case_id = runtime.start_case(world["school"], "zorgplicht-aanmelding", START).id
        do(runtime, world, "school", case_id, "aanmelding", AANMELDING)
        with pytest.raises(Conflict, match="verlengt de route zelf"):  # not the SWV's Awb 4:14 notice
            decision_actions.extend(runtime, world["consulent"], case_id, 4, "Meer tijd nodig.")
        page = web_client(make_app(runtime, settings, db), world, "school").get(f"/cases/{case_id}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Beslistermijn (WVO art. 27 lid 2c)" in html and "Awb 4:13" not in html and "Awb 4:14" not in html


def test_the_school_that_decides_is_warned_a_week_before_its_term_ends(runtime, world):
    with clock.frozen(at("2026-02-02T09:00")):  # 6 weeks end Monday 16 March; the warning from Monday 9 March
        case_id = runtime.start_case(world["school"], "zorgplicht-aanmelding", START).id
        do(runtime, world, "school", case_id, "aanmelding", {**AANMELDING, "datum_aanmelding_ouders": "2026-02-02"})
    with clock.frozen(at("2026-03-09T08:00")):
        fire_due(runtime)
    with runtime.db.read() as session:
        [mail] = session.scalars(select(OutboxMessage).where(OutboxMessage.case_id == case_id,
                                                             OutboxMessage.subject.like("Beslistermijn bijna%")))
        assert mail.to_address == world["school"].email  # not the SWV's commissie: the school decides
        assert "WVO art. 27 lid 2c" in mail.body and "Awb" not in mail.body


def test_a_schools_refusal_is_no_decision_to_object_to_at_the_swv(runtime, world):
    """The GPO and the school's board handle a school's decision on an admission; the SWV's bezwaar (LBT) does not."""
    with clock.frozen(at("2026-02-02T09:00")):
        case_id = runtime.start_case(world["school"], "zorgplicht-aanmelding", START).id
        do(runtime, world, "school", case_id, "aanmelding", {**AANMELDING, "datum_aanmelding_ouders": "2026-02-02"})
        do(runtime, world, "school", case_id, "besluit", {**BESLUIT, "uitkomst": "weigeren", "reden_weigering": "vol",
                                                          "motivering": "Leerjaar 2 is vol."})
        with pytest.raises(InvalidData) as refused:
            runtime.start_case(world["consulent"], "bezwaar", {"indiener": "ouders", "gronden": "Niet eens."},
                               linked_from=case_id)
    assert "niet vanuit een dossier op route 'zorgplicht-aanmelding'" in refused.value.message
    assert load_case(runtime, case_id).decision["record"]["uitkomst"] == "weigering"


def test_decision_received_from_belongs_beside_the_decision_term(tmp_path):
    source = (tmp_path / "forms")
    source.mkdir()
    from engine.config import PROJECT_ROOT

    route = (PROJECT_ROOT / "processes" / "zorgplicht-aanmelding.bpmn").read_text(encoding="utf-8")
    for form in (PROJECT_ROOT / "processes" / "forms").glob("zorgplicht-aanmelding-*.json"):
        (source / form.name).write_text(form.read_text(encoding="utf-8"), encoding="utf-8")
    moved = route.replace('<spiffworkflow:property name="decisionTerm" value="weken(6)" />', "")
    (tmp_path / "zorgplicht-aanmelding.bpmn").write_text(moved, encoding="utf-8")
    result = check(tmp_path / "zorgplicht-aanmelding.bpmn")
    assert any("decisionReceivedFrom zonder decisionTerm" in str(p) for p in result.problems)
