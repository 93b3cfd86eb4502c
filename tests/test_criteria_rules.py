"""The national criteria of praktijkonderwijs and lwoo (engine.criteria_rules) and the kinds of decision a route
can take (engine.decision_record KINDS): what a consulent, a commission and a parent would see."""

from __future__ import annotations

import io
from datetime import date

import pytest
from pypdf import PdfReader

from engine import letters
from engine.criteria_rules import LWOO, PRO, leerachterstand, verdict
from engine.decision_record import build, outcomes
from engine.form_rules import RuleContext, check


def la(domein: str, dl: int, dle: int, datum: str = "2026-01-12") -> dict:
    return {"domein": domein, "toets": "Cito LVS", "datum": datum, "dl": dl, "dle": dle}


def pupil(iq: int, *achterstanden: dict, problems: bool = False, tested: str = "2025-11-10") -> dict:
    return {"intelligentie": {"instrument": "WISC-V-NL", "datum": tested, "totaal_iq": iq},
            "leerachterstanden": list(achterstanden), "sociaal_emotioneel": {"aanwezig": problems}}


def rules(name: str, data: dict, case_data: dict | None = None, today: date = date(2026, 2, 2)) -> list:
    return list(check({"x-loket-rules": [name]}, data, RuleContext(today, case_data=case_data or {})))


def test_leerachterstand_is_dl_minus_dle_over_dl():
    assert leerachterstand(la("spellen", 55, 25)) == 0.55
    assert leerachterstand(la("spellen", 60, 30)) == 0.5  # end of groep 8, three years behind
    assert leerachterstand({"domein": "spellen", "dl": 0, "dle": 0}) is None


@pytest.mark.parametrize("iq, meets", [(54, False), (55, True), (80, True), (81, False)])
def test_pro_needs_an_iq_of_55_to_80(iq, meets):
    ok, reasons = verdict(PRO, pupil(iq, la("begrijpend_lezen", 60, 30), la("spellen", 60, 28)))
    assert ok is meets
    assert reasons[0].startswith(f"IQ {iq} ligt")


def test_pro_needs_two_domains_three_years_behind_one_of_them_reading_or_arithmetic():
    assert verdict(PRO, pupil(70, la("begrijpend_lezen", 60, 30), la("spellen", 60, 28)))[0]
    # technisch lezen and spellen only: neither is begrijpend lezen nor inzichtelijk rekenen
    ok, reasons = verdict(PRO, pupil(70, la("technisch_lezen", 60, 20), la("spellen", 60, 28)))
    assert not ok and "technisch lezen, spellen" in reasons[1]
    assert not verdict(PRO, pupil(70, la("begrijpend_lezen", 60, 31), la("spellen", 60, 28)))[0]  # LA 0,48


def test_lwoo_takes_75_to_90_or_91_to_120_with_sociaal_emotionele_problematiek():
    behind = (la("inzichtelijk_rekenen", 60, 40), la("spellen", 60, 42))  # LA 0,33 and 0,30
    assert verdict(LWOO, pupil(82, *behind))[0]
    assert not verdict(LWOO, pupil(100, *behind))[0]
    ok, reasons = verdict(LWOO, pupil(100, *behind, problems=True))
    assert ok and "sociaal-emotionele problematiek (aanwezig)" in reasons[0]
    assert not verdict(LWOO, pupil(121, *behind, problems=True))[0]
    assert not verdict(LWOO, pupil(82, la("inzichtelijk_rekenen", 60, 30), la("spellen", 60, 30)))[0]  # LA 0,50: PrO


def test_a_test_is_at_most_two_years_old_on_the_day_of_the_request():
    assert rules("onderzoek_actueel", pupil(70, la("spellen", 60, 30), tested="2024-02-02")) == []
    [(field, message)] = rules("onderzoek_actueel", pupil(70, la("spellen", 60, 30), tested="2024-02-01"))
    assert field == "intelligentie.datum" and "hoogstens 2 jaar oud" in message
    future = rules("onderzoek_actueel", pupil(70, la("spellen", 60, 30, datum="2026-02-03")))
    assert future == [("leerachterstanden.0.datum", "De datum van het onderzoek kan niet na vandaag liggen.")]
    twice = rules("onderzoek_actueel", pupil(70, la("spellen", 60, 30), la("spellen", 60, 31)))
    assert twice[0][0] == "leerachterstanden.1.domein"


def test_the_consulents_judgement_must_agree_with_the_test_data():
    case = pupil(86, la("begrijpend_lezen", 55, 26))
    [(field, message)] = rules("pro_criteria", {"dossier_compleet": True, "criteria_voldaan": True}, case)
    assert field == "criteria_voldaan" and "IQ 86 ligt niet in 55-80" in message
    assert rules("pro_criteria", {"dossier_compleet": True, "criteria_voldaan": False}, case) == []
    assert rules("pro_criteria", {"dossier_compleet": False, "ontbrekend": "OKR"}, case) == []


def test_a_pupil_who_meets_the_pro_criteria_gets_no_lwoo():
    case = pupil(78, la("begrijpend_lezen", 60, 28), la("spellen", 60, 25))
    messages = [m for _, m in rules("lwoo_criteria", {"dossier_compleet": True, "criteria_voldaan": True}, case)]
    assert any("TLV praktijkonderwijs" in m for m in messages)


def test_the_commission_grants_only_what_meets_the_criteria():
    assert rules("criteria_besluit", {"besluit": "toekennen"}, {"criteria_voldaan": False})[0][0] == "besluit"
    assert rules("criteria_besluit", {"besluit": "afwijzen"}, {"criteria_voldaan": False}) == []
    assert rules("criteria_besluit", {"besluit": "toekennen"}, {"criteria_voldaan": True}) == []
    assert rules("criteria_besluit", {"besluit": "toewijzen"}, {})[0][0] == "besluit"  # lwoo is assigned


def test_an_lwoo_assignment_that_ends_ends_after_it_begins():
    grant = {"besluit": "toewijzen", "ingangsdatum": "2026-08-01"}
    assert rules("aanwijzing_looptijd", grant) == []  # no einddatum: the whole vmbo
    assert rules("aanwijzing_looptijd", {**grant, "einddatum": "2026-08-01"})[0][0] == "einddatum"
    assert rules("aanwijzing_looptijd", {**grant, "einddatum": "2028-07-31"}) == []


def _record(kind: str, outcome: str, data: dict | None = None) -> dict:
    data = {"leerling": {"voornaam": "Daan", "achternaam": "Smit", "geboortedatum": "2014-03-18"},
            "motivering": "Zie het dossier.", "ingangsdatum": "2026-08-01", "einddatum": "2027-07-31", **(data or {})}
    return build(outcome=outcome, day=date(2026, 3, 20), swv="Sterk VO Utrecht", case_id=12,
                 school="Het Atelier (20LJ00)", data=data, clock_state={"due": "2026-03-30"}, kind=kind)


def test_each_kind_of_decision_names_what_it_decides():
    pro = _record("tlv_pro", "toekenning", {"tlv": {"nummer": "TLV-2026-0003"}})
    assert pro["titel"] == "Toekenning toelaatbaarheidsverklaring praktijkonderwijs"
    assert "praktijkonderwijs met nummer TLV-2026-0003" in pro["besluit"] and "31-07-2027" in pro["besluit"]
    assert "LBT" in pro["rechtsmiddel"] and pro["soort"] == "tlv_pro"
    assert "leerwegondersteunend onderwijs" in _record("lwoo", "afwijzing")["besluit"]
    assert outcomes("toelating") == ("toelating", "weigering")
    with pytest.raises(ValueError, match="kies toelating, weigering"):
        _record("toelating", "toekenning")


def test_a_schools_decision_on_admission_is_in_the_schools_name_with_its_own_remedies():
    rec = _record("toelating", "weigering", {"andere_school": "Het Baken (20LJ01)"})
    assert rec["besluit"] == ("Het Atelier (20LJ00) laat Daan Smit niet toe als leerling. Het Baken (20LJ01) is "
                              "bereid Daan Smit toe te laten.")
    assert "Geschillencommissie passend onderwijs" in rec["rechtsmiddel"] and "LBT" not in rec["rechtsmiddel"]
    assert [r["wie"] for r in rec["ontvangers"]] == ["ouders"]  # the school decides; it is no addressee
    reader = PdfReader(io.BytesIO(letters.decision_pdf(rec, compress=False)))
    text = reader.pages[0].extract_text()
    assert reader.metadata.author == "Het Atelier (20LJ00)"
    assert "bevoegd gezag van Het Atelier" in text and "commissie toelaatbaarheid" not in text
