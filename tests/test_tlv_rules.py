"""The data rules of a TLV (issue 9), each with the value a lawyer would check by hand: deskundigenadviezen
(art. 17a lid 11 WVO), cluster and category, the dates and the SWV's end day and minimum duration, the
responsible SWV and the zorgplicht term. Through the real forms; end to end through the engine and the REST API."""

from __future__ import annotations

import json
from datetime import date

import pytest

from engine import clock, forms
from engine.calendar_settings import setting_row
from engine.config import PROJECT_ROOT
from engine.errors import InvalidData
from engine.form_rules import RuleContext
from engine.models import Tenant
from engine.tlv_rules import earliest_end, zorgplicht_termijnen
from tests.helpers import at, call, do, open_task, to_besluit

DECIDED = date(2026, 11, 30)  # the day the commissie decides in these tests


def form(name: str) -> dict:
    return json.loads((PROJECT_ROOT / "processes" / "forms" / f"tlv-vso-{name}.json").read_text("utf-8"))


def refused(name: str, data: dict, ctx: RuleContext | None = None) -> dict[str, list[str]]:
    with pytest.raises(InvalidData) as info:
        forms.validate(form(name), data, ctx or RuleContext(DECIDED))
    return info.value.details


def advice(discipline: str, auteur: str) -> dict:
    return {"discipline": discipline, "auteur": auteur, "datum": "2026-10-05", "samenvatting": "Advies."}


# ---------------------------------------------------------------- deskundigenadviezen


@pytest.mark.parametrize("first, second", [
    ("orthopedagoog", "arts"), ("psycholoog", "pedagoog"), ("orthopedagoog", "kinderpsychiater"),
    ("psycholoog", "maatschappelijk_werker"), ("orthopedagoog", "kinder_of_jeugdpsycholoog"),
    ("kinder_of_jeugdpsycholoog", "arts"),  # a kinder- of jeugdpsycholoog is a psycholoog too
    ("arts", "orthopedagoog"),  # the order on the form does not matter
])
def test_the_pairs_the_law_names_are_accepted(sample, first, second):
    data = dict(sample["aanmelding"], adviezen=[advice(first, "drs. A. Jansen"), advice(second, "J. Bakker")])
    assert forms.validate(form("aanmelding"), data, RuleContext(DECIDED)) == data


@pytest.mark.parametrize("first, second", [
    ("orthopedagoog", "psycholoog"),  # a second advice from the first group: not a discipline the law names second
    ("orthopedagoog", "orthopedagoog"), ("arts", "pedagoog"), ("arts", "maatschappelijk_werker"),
])
def test_a_pair_without_the_required_disciplines_is_refused_naming_the_rule(sample, first, second):
    data = dict(sample["aanmelding"], adviezen=[advice(first, "drs. A. Jansen"), advice(second, "J. Bakker")])
    (message,) = refused("aanmelding", data)["adviezen"]
    assert message.startswith("Regel deskundigenadviezen (art. 17a lid 11 WVO): het eerste advies is van een "
                              "orthopedagoog of psycholoog")


@pytest.mark.parametrize("discipline", ["ambulant_begeleider", "anders", "kinder_en_jeugdpsychiater"])
def test_disciplines_the_law_does_not_name_are_not_on_the_form(sample, discipline):
    data = dict(sample["aanmelding"], adviezen=[advice("orthopedagoog", "A. Jansen"), advice(discipline, "J. Bakker")])
    assert refused("aanmelding", data)["adviezen.1.discipline"] == [
        "Kies een van: orthopedagoog, psycholoog, kinder_of_jeugdpsycholoog, pedagoog, kinderpsychiater, "
        "maatschappelijk_werker, arts."]


def test_two_advices_by_the_same_person_are_refused_titles_and_case_aside(sample):
    data = dict(sample["aanmelding"], adviezen=[advice("orthopedagoog", "drs. A. Jansen"),
                                                advice("arts", "a. jansen")])
    (message,) = refused("aanmelding", data)["adviezen"]
    assert "elk advies moet van een andere deskundige zijn" in message


def test_the_swv_adds_its_own_expert_at_the_dossiercheck_and_a_complete_dossier_needs_the_pair(sample):
    school_gave = {"adviezen": [advice("orthopedagoog", "drs. A. Jansen")]}
    ctx = RuleContext(DECIDED, case_data=school_gave)
    assert refused("dossiercheck", {"dossier_compleet": True}, ctx)["adviezen_swv"] == [
        "Regel deskundigenadviezen (art. 17a lid 11 WVO): een compleet dossier heeft twee schriftelijke adviezen "
        "van twee verschillende deskundigen (nu: 1)."]
    own = {"dossier_compleet": True, "adviezen_swv": [advice("maatschappelijk_werker", "SWV-deskundige P. Smit")]}
    assert forms.validate(form("dossiercheck"), own, ctx) == own
    same = {"dossier_compleet": True, "adviezen_swv": [advice("arts", "A. Jansen")]}
    assert "dezelfde auteur" in refused("dossiercheck", same, ctx)["adviezen_swv"][0]
    # The SWV's advice of an earlier round still counts in the next.
    later = RuleContext(DECIDED, case_data={**school_gave, "adviezen_swv": own["adviezen_swv"]})
    assert forms.validate(form("dossiercheck"), {"dossier_compleet": True}, later)
    # An incomplete dossier may go back with one advice.
    assert forms.validate(form("dossiercheck"), {"dossier_compleet": False, "ontbrekend": "Tweede advies."}, ctx)


# ---------------------------------------------------------------- cluster and category


def besluit(**fields) -> dict:
    return {"besluit": "toekennen", "soort": "lg", "categorie": "midden", "ingangsdatum": "2026-12-01",
            "einddatum": "2028-07-31", "motivering": "Beide deskundigen adviseren VSO.", **fields}


@pytest.mark.parametrize("soort, categorie", [("zml", "laag"), ("lz", "laag"), ("lg", "midden"), ("mg", "hoog"),
                                              ("cluster_4", "laag")])
def test_each_soort_with_its_category_is_accepted(soort, categorie):
    data = besluit(soort=soort, categorie=categorie)
    assert forms.validate(form("besluit"), data, RuleContext(DECIDED)) == data


@pytest.mark.parametrize("soort, categorie, right", [("cluster_4", "midden", "laag"), ("cluster_4", "hoog", "laag"),
                                                     ("mg", "laag", "hoog"), ("lg", "hoog", "midden"),
                                                     ("zml", "midden", "laag")])
def test_a_wrong_combination_is_refused(soort, categorie, right):
    (message,) = refused("besluit", besluit(soort=soort, categorie=categorie))["categorie"]
    assert message.startswith("Regel cluster en categorie (bekostigingscategorieën): bij ")
    assert f"hoort categorie {right}, niet {categorie}" in message


def test_a_grant_needs_a_soort_and_a_refusal_does_not():
    data = besluit()
    del data["soort"]
    assert refused("besluit", data) == {"soort": ["Dit veld is verplicht."]}
    assert forms.validate(form("besluit"), {"besluit": "afwijzen", "motivering": "Nog niet benut."},
                          RuleContext(DECIDED))


# ---------------------------------------------------------------- dates


def test_ingangsdatum_before_the_decision_needs_a_motivering():
    details = refused("besluit", besluit(ingangsdatum="2026-11-01"))
    assert details["ingangsdatum"] == [
        "Regel ingangsdatum: de TLV gaat niet in vóór de besluitdatum (30 november 2026), tenzij dat gemotiveerd is "
        "(ECLI:NL:RBDHA:2019:14810: geldig vanaf de afgifte)."]
    assert details["motivering_ingangsdatum"] == ["Verplicht als de ingangsdatum vóór de besluitdatum ligt."]
    motivated = besluit(ingangsdatum="2026-11-01", motivering_ingangsdatum="Tijdelijk geplaatst sinds 1 november.")
    assert forms.validate(form("besluit"), motivated, RuleContext(DECIDED)) == motivated
    # The decision day itself is no day before it.
    assert forms.validate(form("besluit"), besluit(ingangsdatum="2026-11-30"), RuleContext(DECIDED))


def test_einddatum_after_the_ingangsdatum():
    assert refused("besluit", besluit(ingangsdatum="2027-08-01", einddatum="2027-07-31"))["einddatum"] == [
        "Regel looptijd: de einddatum moet na de ingangsdatum liggen."]


def test_the_standard_end_day_is_31_july():
    (message,) = refused("besluit", besluit(einddatum="2028-06-30"))["einddatum"]
    assert message == ("Regel einddatum (beleid van het SWV): een TLV eindigt op 31 juli van een schooljaar, "
                       "bijvoorbeeld 31 juli 2028.")


def test_the_minimum_duration_is_one_year():
    # From 1 December 2026 a year runs to 30 November 2027; the first 31 July after that is 31 July 2028.
    assert earliest_end(date(2026, 12, 1), 12) == date(2027, 11, 30)
    assert refused("besluit", besluit(einddatum="2027-07-31"))["einddatum"] == [
        "Regel minimale looptijd (beleid van het SWV): een TLV loopt minstens 12 maanden; vanaf 1 december 2026 is "
        "de vroegste einddatum 31 juli 2028."]
    # From 1 August 2026 exactly one school year is enough (decided 31 July).
    summer = RuleContext(date(2026, 7, 31))
    assert forms.validate(form("besluit"), besluit(ingangsdatum="2026-08-01", einddatum="2027-07-31"), summer)


def test_an_swv_sets_its_own_end_day_and_minimum_or_none():
    own = RuleContext(DECIDED, settings={"tlv": {"einddag": "08-31", "minimale_looptijd_maanden": 24}})
    with pytest.raises(InvalidData) as info:
        forms.validate(form("besluit"), besluit(), own)
    assert "eindigt op 31 augustus" in info.value.details["einddatum"][0]
    with pytest.raises(InvalidData) as info:
        forms.validate(form("besluit"), besluit(einddatum="2028-08-31"), own)
    assert "vroegste einddatum 31 augustus 2029" in info.value.details["einddatum"][0]
    free = RuleContext(DECIDED, settings={"tlv": {"einddag": None, "minimale_looptijd_maanden": 0}})
    assert forms.validate(form("besluit"), besluit(einddatum="2027-03-15"), free)


# ---------------------------------------------------------------- zorgplicht


def test_the_zorgplicht_term_is_6_and_10_legal_weeks():
    # legal-review: from 1 June 2026 the 6 and 10 weeks end on Mon 13 July and Mon 10 August 2026.
    assert zorgplicht_termijnen(date(2026, 6, 1)) == {"termijn": date(2026, 7, 13), "verlengd_tot": date(2026, 8, 10)}
    # From Thu 2 April 2026 six weeks end on Hemelvaart (14 May) and the equated 15 May: Monday 18 May.
    assert zorgplicht_termijnen(date(2026, 4, 2))["termijn"] == date(2026, 5, 18)


def test_a_registration_in_the_future_is_refused(sample):
    data = dict(sample["aanmelding"], datum_aanmelding_ouders="2026-12-01")
    assert refused("aanmelding", data)["datum_aanmelding_ouders"] == [
        "De schriftelijke aanmelding door de ouders kan niet na vandaag (30 november 2026) liggen."]


# ---------------------------------------------------------------- through the engine and the API


def test_a_pupil_from_outside_the_swv_is_refused_and_one_from_inside_goes_on(runtime, world, db, sample):
    with db.transaction() as session:
        tenant = session.get(Tenant, world.tenant_id)
        setting_row(session, tenant, create=True).gemeenten = ["Utrecht", "Stichtse Vecht"]  # type: ignore[union-attr]
    case = runtime.start_case(world["school"], "tlv-vso", sample["start"])
    task = open_task(runtime, case.id, "aanmelding")
    with pytest.raises(InvalidData) as info:
        runtime.complete(world["school"], task.id, dict(sample["aanmelding"], woongemeente="Den Haag"))
    (message,) = info.value.details["woongemeente"]
    assert message.startswith("Regel verantwoordelijk SWV (art. 17a WVO: het SWV waar de leerling woont beslist): "
                              "'s-Gravenhage hoort niet bij SWV sterk-vo (gemeenten: Utrecht, Stichtse Vecht).")
    with pytest.raises(InvalidData) as info:
        runtime.complete(world["school"], task.id, dict(sample["aanmelding"], woongemeente="Atlantis"))
    assert info.value.details["woongemeente"] == ["'Atlantis' is geen Nederlandse gemeente (gemeentelijst van Loket)."]
    do(runtime, world, "school", case.id, "aanmelding", dict(sample["aanmelding"], woongemeente="stichtse vecht"))


def test_the_api_refuses_a_wrong_category_with_the_rule_per_field(runtime, world, client, sample):
    with clock.frozen(at("2026-11-30T10:00")):
        case_id = to_besluit(runtime, world, sample)
        task = open_task(runtime, case_id, "besluit")
        wrong = dict(sample["toekennen"], soort="cluster_4", categorie="hoog", ingangsdatum="2026-11-02")
        response = call(client, world, "commissie", "POST", f"/api/v1/tasks/{task.id}/complete", json={"data": wrong})
    assert response.status_code == 422
    details = response.get_json()["error"]["details"]
    assert details["categorie"][0].startswith("Regel cluster en categorie")
    assert details["ingangsdatum"][0].startswith("Regel ingangsdatum")
    assert details["motivering_ingangsdatum"] == ["Verplicht als de ingangsdatum vóór de besluitdatum ligt."]


def test_a_form_naming_an_unknown_rule_is_refused_when_the_route_is_checked(tmp_path):
    from engine.validate import check
    from tests.test_validate import HANDLERS, variant

    path = variant(tmp_path, "Testroute", "Testroute")
    form = tmp_path / "forms" / "start.json"
    form.write_text(json.dumps({**json.loads(form.read_text()), "x-loket-rules": ["deskundigenadviezen", "tovenarij"]}))
    messages = [p.message for p in check(path, known_handlers=HANDLERS).problems]
    expected = "noemt onbekende regel(s) in x-loket-rules: tovenarij (bekend: "
    # The known rules are listed, whatever rules routes add later.
    assert any(expected in m and "cluster_categorie" in m and "deskundigenadviezen" in m for m in messages)
