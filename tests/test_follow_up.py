"""Follow-up cases (an end event's ``followUp``): a closed case offers the route that follows on its page, the new
case is linked to it (relation vervolg) and both show the link; opdc's TLV request leads to tlv-vso, tlv-vso's
arrangement instead of a TLV to arrangement. The validator refuses a followUp that names no route."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime

import yaml
from sqlalchemy import select

from engine import clock, links
from engine.config import PROJECT_ROOT
from engine.models import AccessLog, Case
from engine.scheduler import fire_due
from engine.validate import check
from tests.conftest import START_DATA
from tests.helpers import do, replayed
from tests.ui import make_app, web_client

DATA = yaml.safe_load((PROJECT_ROOT / "processes" / "scenarios" / "opdc" / "_data.yaml").read_text())


def tlv_requested(runtime, world) -> int:
    """A crisis placement that ends in a TLV request after its single evaluation."""
    with clock.frozen(datetime(2027, 1, 11, 8, tzinfo=UTC)):
        case = runtime.start_case(world["school"], "opdc", DATA["crisis_start"])
        do(runtime, world, "consulent", case.id, "crisisplaatsing", {**DATA["crisis"], "duur_weken": 2})
    with clock.frozen(datetime(2027, 1, 26, 8, tzinfo=UTC)):
        fire_due(runtime)
        do(runtime, world, "consulent", case.id, "evaluatie", {"datum": "2027-01-26", "verslag": "VSO nodig.",
                                                                "vervolg": "afronden"})
        do(runtime, world, "consulent", case.id, "afsluiting", {
            "bestemming": "tlv_aanvragen", "datum_einde": "2027-01-29", "ouders_gehoord": True,
            "eindverslag": "De school vraagt een TLV VSO aan."})
    return case.id


def test_a_placement_ending_in_a_tlv_request_offers_the_linked_tlv_case(runtime, world, settings, db):
    source = tlv_requested(runtime, world)
    app = make_app(runtime, settings, db)
    school = web_client(app, world, "school")
    page = school.get(f"/cases/{source}").get_data(as_text=True)
    assert f'href="/cases/new?route=tlv-vso&amp;van={source}"' in page and "TLV VSO starten" in page

    # The new-case form starts with the placement's pupil (a read of that case, logged).
    form = school.get(f"/cases/new?route=tlv-vso&van={source}").get_data(as_text=True)
    assert 'value="Jansen"' in form and 'value="2011-06-30"' in form
    with runtime.db.read() as session:
        assert session.scalar(select(AccessLog.id).where(AccessLog.case_id == source, AccessLog.what == "case"))
    other = web_client(app, world, "school2").get(f"/cases/new?route=tlv-vso&van={source}").get_data(as_text=True)
    assert "Jansen" not in other  # another school's pupil is not shown

    # The school starts the TLV request from the placement: both cases show the link.
    case = runtime.start_case(world["school"], "tlv-vso", {**START_DATA, "leerling": DATA["start"]["leerling"]},
                              linked_from=source)
    with runtime.db.read() as session:
        assert session.get(Case, case.id).data["bron"] == {"dossier": source, "route": "opdc", "relatie": "vervolg"}
        assert [(k["case_id"], k["relation"], k["direction"]) for k in links.of_case(session, source)] == [
            (case.id, "vervolg", "to")]
        assert links.follow_up_route(session, world["school"], session.get(Case, source)) is None  # started
    page = school.get(f"/cases/{source}").get_data(as_text=True)
    assert 'data-testid="start-follow-up"' not in page and f'href="/cases/{case.id}"' in page
    assert replayed(runtime, source).consistent


def test_a_follow_up_must_name_a_route(tmp_path):
    shutil.copytree(PROJECT_ROOT / "processes" / "forms", tmp_path / "forms")
    bpmn = (PROJECT_ROOT / "processes" / "opdc.bpmn").read_text().replace('value="tlv-vso"', 'value="TLV VSO"')
    (tmp_path / "opdc.bpmn").write_text(bpmn)
    result = check(tmp_path / "opdc.bpmn")
    assert [p.message for p in result.problems] == [
        "followUp 'TLV VSO' is geen routenaam: noem de route die volgt (kleine letters, cijfers en -, bijv. tlv-vso)"]


def test_a_tlv_request_that_becomes_an_arrangement_offers_the_arrangement(runtime, world, sample, settings, db):
    case = runtime.start_case(world["school"], "tlv-vso", sample["start"])
    do(runtime, world, "school", case.id, "aanmelding", sample["aanmelding"])
    do(runtime, world, "consulent", case.id, "dossiercheck", {"dossier_compleet": True})
    do(runtime, world, "consulent", case.id, "knooppuntoverleg", {**sample["knooppuntoverleg"],
                                                                   "advies": "arrangement", "uitkomst": "arrangement"})
    page = web_client(make_app(runtime, settings, db), world, "school").get(f"/cases/{case.id}").get_data(as_text=True)
    assert f'href="/cases/new?route=arrangement&amp;van={case.id}"' in page and "Arrangement starten" in page
