"""Legal hold (issue 9): while an objection or appeal runs, retention keeps a case whatever its term; a beheerder
sets and lifts it with a reason, by CLI or REST, and both are events on the chain. An SWV may shorten the route's
retention term, never lengthen it without a reason on record."""

from __future__ import annotations

from datetime import timedelta

import pytest

from engine import clock, legal_hold
from engine.errors import Conflict, Forbidden, InvalidData
from engine.models import Tenant
from engine.retention import run_retention
from tests.helpers import at, call, cli, do, event_types, to_besluit, verified
from tests.test_retention import THREE_YEARS, decided, load
from tests.ui import make_app, web_client


def test_a_held_case_outlives_its_term_and_goes_at_the_first_run_after_the_hold_is_lifted(runtime, world, sample, db):
    case_id = decided(runtime, world, sample)  # decided 5 Oct 2026: the dossier's term ends 5 Oct 2029
    legal_hold.set_hold(runtime, world["beheerder"], case_id, "Bezwaar ouders ontvangen 12-10-2026")
    report = run_retention(db, THREE_YEARS + timedelta(days=1))
    assert report.purged == [] and report.held == 1
    legal_hold.lift_hold(runtime, world["beheerder"], case_id, "Uitspraak Raad van State, beroep ongegrond")
    [purged] = run_retention(db, THREE_YEARS + timedelta(days=2)).purged
    assert purged.case_id == case_id
    types = event_types(runtime, case_id)
    assert types[-3:] == ["legal_hold_set", "legal_hold_lifted", "data_purged"]
    _case, rows = load(db, case_id)
    assert [r.actor for r in rows if r.type.startswith("legal_hold")] == ["beheerder@sterk-vo.test"] * 2
    assert verified(db, case_id).intact  # the hold events are on the chain like every other


def test_only_a_beheerder_holds_with_a_reason_and_not_twice(runtime, world, sample, db):
    case_id = decided(runtime, world, sample, "afwijzen")
    with pytest.raises(Forbidden):
        legal_hold.set_hold(runtime, world["commissie"], case_id, "Bezwaar")
    with pytest.raises(InvalidData) as info:
        legal_hold.set_hold(runtime, world["beheerder"], case_id, "  ")
    assert "reason" in info.value.details
    with pytest.raises(Conflict, match="niet onder een juridische bewaarplicht"):
        legal_hold.lift_hold(runtime, world["beheerder"], case_id, "Klaar")
    legal_hold.set_hold(runtime, world["beheerder"], case_id, "Beroep bij de rechtbank")
    with pytest.raises(Conflict, match="al onder een juridische bewaarplicht"):
        legal_hold.set_hold(runtime, world["beheerder"], case_id, "Nog een keer")


def test_rest_and_case_json_show_the_hold(runtime, world, sample, client):
    case_id = decided(runtime, world, sample, "afwijzen")
    response = call(client, world, "beheerder", "POST", f"/api/v1/cases/{case_id}/legal-hold",
                    json={"reason": "Bezwaar ouders, LBT-advies gevraagd"})
    assert response.status_code == 200
    hold = response.get_json()["legal_hold"]
    assert hold["reason"] == "Bezwaar ouders, LBT-advies gevraagd" and hold["by"] == "beheerder@sterk-vo.test"
    assert call(client, world, "consulent", "POST", f"/api/v1/cases/{case_id}/legal-hold/lift",
                json={"reason": "x"}).status_code == 403
    lifted = call(client, world, "beheerder", "POST", f"/api/v1/cases/{case_id}/legal-hold/lift",
                  json={"reason": "Bezwaar ingetrokken"})
    assert lifted.status_code == 200 and lifted.get_json()["legal_hold"] is None


def test_the_cli_holds_and_releases(runtime, world, sample, db, db_url):
    case_id = decided(runtime, world, sample, "afwijzen")
    held = cli(db_url, "tlv", "hold", str(case_id), "--reason", "Bezwaar ontvangen")
    assert held.exit_code == 0, held.output
    assert f"dossier {case_id}: juridische bewaarplicht ingesteld" in held.output
    again = cli(db_url, "tlv", "hold", str(case_id), "--reason", "Bezwaar ontvangen")
    assert again.exit_code != 0 and "al onder een juridische bewaarplicht" in str(again.exception or again.output)
    released = cli(db_url, "tlv", "release", str(case_id), "--reason", "Bezwaar ongegrond")
    assert released.exit_code == 0, released.output


def test_an_swv_may_shorten_the_term_but_not_lengthen_it_without_a_reason(runtime, world, sample, db):
    case_id = decided(runtime, world, sample, "afwijzen")
    with db.transaction() as session:
        session.get(Tenant, world.tenant_id).settings = {"retention": {"tlv-vso": "P5Y"}}
    [purged] = run_retention(db, THREE_YEARS + timedelta(days=1)).purged  # the route's P3Y, not P5Y
    assert purged.case_id == case_id
    assert "P3Y" in purged.rule and "eigen termijn P5Y van het SWV genegeerd" in purged.rule


def test_a_longer_term_with_a_reason_on_record_holds(runtime, world, sample, db):
    decided(runtime, world, sample, "afwijzen")
    with db.transaction() as session:
        session.get(Tenant, world.tenant_id).settings = {
            "retention": {"tlv-vso": "P5Y"}, "retention_reasons": {"tlv-vso": "Besluit bestuur 2026-03: LBT-dossiers"}}
    assert run_retention(db, THREE_YEARS + timedelta(days=1)).purged == []


def test_the_case_page_shows_the_zorgplicht_beside_the_tlv_clock_and_the_hold(runtime, world, sample, db, settings):
    aanmelding = dict(sample["aanmelding"], datum_aanmelding_ouders="2026-06-01")
    with clock.frozen(at("2026-09-01T10:00")):
        case_id = to_besluit(runtime, world, dict(sample, aanmelding=aanmelding))
        do(runtime, world, "commissie", case_id, "besluit", dict(sample["toekennen"], ingangsdatum="2026-09-01",
                                                                   einddatum="2028-07-31"))
    legal_hold.set_hold(runtime, world["beheerder"], case_id, "Bezwaar ouders ontvangen")
    page = web_client(make_app(runtime, settings, db), world, "consulent").get(f"/cases/{case_id}")
    html = page.get_data(as_text=True)
    # Registered Mon 1 June 2026: 6 weeks Mon 13 July, 10 weeks Mon 10 August; decided 1 September: too late.
    assert "besluit school uiterlijk 13-07-2026, verlengd tot 10-08-2026" in html
    assert "TLV past er niet binnen" in html
    assert "juridische bewaarplicht" in html and "Bezwaar ouders ontvangen" in html
