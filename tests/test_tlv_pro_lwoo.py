"""TLV PrO and the lwoo aanwijzing through the engine on both backends: the PrO TLV is numbered and registered as
soort pro without a category, an lwoo assignment is a decision of its own kind without a register entry, the
national criteria hold at the dossiercheck and the besluit, and replay and the hash chain agree."""

from __future__ import annotations

import dataclasses

import pytest
from sqlalchemy import select

from engine import clock
from engine.errors import InvalidData
from engine.models_tlv import TlvRegister
from tests.helpers import add_document, at, do, load_case, replayed, verified

START = {"leerling": {"voornaam": "Daan", "achternaam": "Smit", "geboortedatum": "2014-03-18"}, "school": "16PX00"}
TESTS = {"intelligentie": {"instrument": "WISC-V-NL", "datum": "2025-11-10", "totaal_iq": 72},
         "leerachterstanden": [
             {"domein": "begrijpend_lezen", "toets": "Cito LVS", "datum": "2026-01-12", "dl": 55, "dle": 25},
             {"domein": "inzichtelijk_rekenen", "toets": "Cito LVS", "datum": "2026-01-13", "dl": 55, "dle": 24}],
         "woongemeente": "Utrecht", "huidige_school": "Basisschool De Regenboog"}
PRO = {**TESTS, "onderwijskundig_rapport": {"documentnummer": "OKR-1", "datum": "2026-01-20"},
       "zienswijze_ouders": {"standpunt": "eens", "datum": "2026-01-22"}, "instroom": "leerjaar_1"}
LWOO = {**PRO, "intelligentie": {"instrument": "WISC-V-NL", "datum": "2025-11-10", "totaal_iq": 84},
        "leerachterstanden": [
            {"domein": "begrijpend_lezen", "toets": "Cito LVS", "datum": "2026-01-12", "dl": 55, "dle": 38},
            {"domein": "spellen", "toets": "Cito LVS", "datum": "2026-01-13", "dl": 55, "dle": 36}],
        "leerweg": "basis"}
del LWOO["instroom"]


@pytest.fixture
def documents_dir(runtime, tmp_path):
    runtime.settings = dataclasses.replace(runtime.settings, documents_dir=tmp_path / "documents")
    return runtime.settings.documents_dir


def test_a_pro_tlv_is_registered_as_soort_pro_and_only_within_the_criteria(runtime, world, db, documents_dir):
    with clock.frozen(at("2026-02-02T09:00")):
        case_id = runtime.start_case(world["school"], "tlv-pro", START).id
        for kind in ("onderwijskundig_rapport", "zienswijze_ouders"):
            add_document(runtime, world, "school", case_id, kind=kind, name=f"{kind}.pdf")
        do(runtime, world, "school", case_id, "aanmelding", PRO)
        with pytest.raises(InvalidData) as refused:  # IQ 72 and two domains 3 years behind: it does meet them
            do(runtime, world, "consulent", case_id, "dossiercheck", {"dossier_compleet": True,
                                                                       "criteria_voldaan": False})
        assert "volgens de gegevens in het dossier voldoet wel" in refused.value.details["criteria_voldaan"][0]
        do(runtime, world, "consulent", case_id, "dossiercheck", {"dossier_compleet": True, "criteria_voldaan": True})
        do(runtime, world, "commissie", case_id, "besluit", {
            "besluit": "toekennen", "ingangsdatum": "2026-08-01", "einddatum": "2027-07-31",
            "motivering": "Voldoet aan de landelijke criteria."})
    case = load_case(runtime, case_id)
    assert case.data["tlv"]["nummer"] == "TLV-2026-0001" and case.decision["record"]["soort"] == "tlv_pro"
    assert case.decision["received"] == "2026-02-02" and case.decision["outcome"] == "toekenning"
    with runtime.db.read() as session:
        [entry] = session.scalars(select(TlvRegister).where(TlvRegister.case_id == case_id))
        assert (entry.soort, entry.categorie, str(entry.einddatum)) == ("pro", None, "2027-07-31")
    result = replayed(runtime, case_id)
    assert result.consistent, result.divergence
    assert verified(db, case_id).intact


def test_an_lwoo_assignment_is_its_own_decision_and_no_tlv(runtime, world, db, documents_dir):
    with clock.frozen(at("2026-02-02T09:00")):
        case_id = runtime.start_case(world["school"], "lwoo", START).id
        add_document(runtime, world, "school", case_id, kind="onderwijskundig_rapport", name="okr.pdf")
        do(runtime, world, "school", case_id, "aanmelding", LWOO)
        do(runtime, world, "consulent", case_id, "dossiercheck", {"dossier_compleet": True, "criteria_voldaan": True})
        do(runtime, world, "commissie", case_id, "besluit", {"besluit": "toewijzen", "ingangsdatum": "2026-08-01",
                                                             "motivering": "Voldoet aan de landelijke criteria."})
    case = load_case(runtime, case_id)
    assert (case.status, case.outcome) == ("closed", "toegewezen")
    record = case.decision["record"]
    assert record["titel"] == "Aanwijzing leerwegondersteunend onderwijs" and "LBT" in record["rechtsmiddel"]
    with runtime.db.read() as session:
        assert session.scalars(select(TlvRegister).where(TlvRegister.case_id == case_id)).all() == []
    result = replayed(runtime, case_id)
    assert result.consistent, result.divergence
    assert verified(db, case_id).intact
