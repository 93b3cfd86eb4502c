"""Linked cases (issue 12): a case started from another one is recorded on both (events, so replay reproduces
them), shown on both (case JSON ``links``, the API, the case page), and only where the relation allows it: a
bezwaar from a case with a decision record, within its objection term unless the user confirms a late one.

The linked route here is a small one of the tests' own (tests/bpmn/links/koppel.bpmn: relation bezwaar, from
tlv-vso only, one task); the real bezwaar route has its own scenarios."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from engine import clock, legal_hold, routes
from engine.errors import Conflict, Forbidden, InvalidData
from tests.conftest import PROCESSES, make_world
from tests.helpers import call, do, event_types, events_of, load_case, replayed, to_besluit, verified
from tests.test_retention import T0, decided
from tests.ui import make_app, post, web_client

ROUTE = Path(__file__).parent / "bpmn" / "links" / "koppel.bpmn"
GRONDEN = {"gronden": "De ouders vinden dat cluster 4 niet past."}
# Decided on Monday 5 October 2026: the objection term runs six weeks from the day after, to Monday 16 November.
WITHIN = T0 + timedelta(days=7)
LATE = T0 + timedelta(days=43)


@pytest.fixture
def linked(runtime, db):
    with db.transaction() as session:
        routes.deploy(session, ROUTE)
    return runtime


def start_from(runtime, actor, source: int, moment=WITHIN, data=None, **kwargs):
    with clock.frozen(moment):
        return runtime.start_case(actor, "koppel", data or GRONDEN, linked_from=source, **kwargs)


def test_a_linked_start_is_recorded_on_both_cases_and_replays(linked, world, sample, db):
    runtime = linked
    source = decided(runtime, world, sample, "afwijzen")
    case = start_from(runtime, world["consulent"], source)
    data = load_case(runtime, case.id).data
    assert data["bron"] == {"dossier": source, "route": "tlv-vso", "relatie": "bezwaar"}
    assert data["leerling"]["achternaam"] == "de Vries"  # the pupil comes with it
    assert data["bestreden_besluit"]["uitkomst"] == "afwijzing"
    assert data["bezwaartermijn_einde"] == "2026-11-16" and data["te_laat"] is False
    started = events_of(runtime, case.id, "case_started")[0]
    assert started.payload["link"] == {"case_id": source, "route": "tlv-vso", "relation": "bezwaar"}
    assert event_types(runtime, source)[-2:] == ["case_linked", "legal_hold_set"]
    assert events_of(runtime, source, "case_linked")[0].payload == {"case_id": case.id, "route": "koppel",
                                                                    "relation": "bezwaar"}
    assert load_case(runtime, case.id).school_id == load_case(runtime, source).school_id
    with db.read() as session:
        assert "Bezwaar loopt" in legal_hold.current(session, source)["reason"]
    # The decision on the objection: the source records the outcome; its own outcome stands.
    with clock.frozen(WITHIN + timedelta(days=30)):
        do(runtime, world, "consulent", case.id, "behandelen", {})
    closed = events_of(runtime, source, "linked_case_closed")[0].payload
    assert closed == {"case_id": case.id, "route": "koppel", "relation": "bezwaar", "outcome": "ongegrond"}
    assert load_case(runtime, source).outcome == "afgewezen"
    for case_id in (source, case.id):
        assert verified(db, case_id).intact
        assert replayed(runtime, case_id).consistent


def test_the_relation_decides_where_a_link_may_start(linked, world, sample):
    runtime = linked
    with pytest.raises(InvalidData) as info:
        with clock.frozen(WITHIN):
            runtime.start_case(world["consulent"], "koppel", GRONDEN)
    assert "linked_case_id" in info.value.details  # this route starts only from another case
    with clock.frozen(T0 - timedelta(days=30)):
        undecided = to_besluit(runtime, world, sample)
    with pytest.raises(InvalidData, match="geen besluit"):
        start_from(runtime, world["consulent"], undecided)
    source = decided(runtime, world, sample, "afwijzen")
    with pytest.raises(InvalidData, match="bestaat niet"):
        start_from(runtime, world["consulent"], 999_999)
    with pytest.raises(InvalidData) as early:
        start_from(runtime, world["consulent"], source, data={**GRONDEN, "datum_ontvangst": "2026-10-01"})
    assert "datum_ontvangst" in early.value.details  # before the decision was made known
    with pytest.raises(Forbidden):  # the source must be visible to the user: another school's case is not
        start_from(runtime, world["school2"], source)
    first = start_from(runtime, world["consulent"], source)
    with pytest.raises(Conflict, match=f"loopt al een bezwaar \\(dossier {first.id}\\)"):
        start_from(runtime, world["consulent"], source)
    with pytest.raises(InvalidData, match="niet vanuit een dossier op route 'koppel'"):
        start_from(runtime, world["consulent"], first.id)


def test_a_late_objection_needs_the_users_confirmation(linked, world, sample):
    runtime = linked
    source = decided(runtime, world, sample, "afwijzen")
    with pytest.raises(InvalidData) as info:
        start_from(runtime, world["consulent"], source, moment=LATE)
    assert "confirm_late" in info.value.details
    assert "16-11-2026" in info.value.message and "Awb 6:11" in info.value.message
    # Received in time and registered late is in time: the date of receipt counts (Awb 6:9).
    on_time = start_from(runtime, world["consulent"], source, moment=LATE,
                         data={**GRONDEN, "datum_ontvangst": "2026-11-16"})
    assert load_case(runtime, on_time.id).data["te_laat"] is False


def test_a_confirmed_late_objection_starts_marked_late(linked, world, sample):
    runtime = linked
    source = decided(runtime, world, sample, "afwijzen")
    case = start_from(runtime, world["consulent"], source, moment=LATE, confirm_late=True)
    assert load_case(runtime, case.id).data["te_laat"] is True


def test_the_api_starts_linked_and_shows_the_link_on_both(linked, world, sample, client, db):
    runtime = linked
    source = decided(runtime, world, sample, "afwijzen")
    with clock.frozen(WITHIN):
        answer = call(client, world, "consulent", "POST", "/api/v1/cases",
                      json={"route": "koppel", "data": GRONDEN, "linked_case_id": source})
        assert answer.status_code == 201, answer.get_json()
        new = answer.get_json()
        [link] = new["links"]
        assert (link["case_id"], link["route"], link["relation"], link["direction"]) == (
            source, "tlv-vso", "bezwaar", "from")
        body = call(client, world, "consulent", "GET", f"/api/v1/cases/{source}").get_json()
        [back] = body["links"]
        assert (back["case_id"], back["route"], back["direction"], back["status"]) == (
            new["id"], "koppel", "to", "open")
        assert body["legal_hold"] is not None
        again = call(client, world, "consulent", "POST", "/api/v1/cases",
                     json={"route": "koppel", "data": GRONDEN, "linked_case_id": source})
        assert again.status_code == 409 and "loopt al een bezwaar" in again.get_json()["error"]["message"]
        other = make_world(db, key="ander-swv")
        foreign = call(client, other, "consulent", "POST", "/api/v1/cases",
                       json={"route": "koppel", "data": GRONDEN, "linked_case_id": source})
        assert foreign.status_code == 422  # another SWV's case is unknown, as if it did not exist
        assert "linked_case_id" in foreign.get_json()["error"]["details"]
        wrong = call(client, world, "consulent", "POST", "/api/v1/cases",
                     json={"route": "koppel", "data": GRONDEN, "linked_case_id": "12"})
        assert wrong.status_code == 422


def test_the_case_page_shows_the_link_on_both(linked, world, sample, settings, db):
    runtime = linked
    source = decided(runtime, world, sample, "afwijzen")
    case = start_from(runtime, world["consulent"], source)
    app = make_app(runtime, settings, db)
    browser = web_client(app, world, "consulent")
    with clock.frozen(WITHIN):
        page = browser.get(f"/cases/{case.id}").get_data(as_text=True)
        assert f'href="/cases/{source}"' in page and "bezwaar tegen het besluit in" in page
        page = browser.get(f"/cases/{source}").get_data(as_text=True)
        assert f'href="/cases/{case.id}"' in page and "Bezwaar loopt" in page


def test_a_decided_case_offers_bezwaar_maken_and_the_start_page_asks_to_confirm_a_late_one(runtime, world, sample,
                                                                                          settings, db):
    source = decided(runtime, world, sample, "afwijzen")
    app = make_app(runtime, settings, db)
    browser = web_client(app, world, "consulent")
    with clock.frozen(LATE):
        page = browser.get(f"/cases/{source}").get_data(as_text=True)
        assert f'href="/cases/new?route=bezwaar&amp;van={source}"' in page and "Bezwaar maken" in page
        form = browser.get(f"/cases/new?route=bezwaar&van={source}").get_data(as_text=True)
        assert "Gestart vanuit" in form and f'name="van" value="{source}"' in form
        data = {"route": "bezwaar", "van": str(source), "d.indiener": "ouders", "d.gronden": "Niet eens."}
        late = post(browser, "/cases/new", data, page=f"/cases/new?route=bezwaar&van={source}")
        assert late.status_code == 422
        body = late.get_data(as_text=True)
        assert 'data-testid="late-objection"' in body and "16-11-2026" in body and "Niet eens." in body
        started = post(browser, "/cases/new", {**data, "te_laat_bevestigd": "ja"},
                       page=f"/cases/new?route=bezwaar&van={source}")
        assert started.status_code == 303
        case_id = int(started.headers["Location"].rsplit("/", 1)[1])
        assert load_case(runtime, case_id).data["te_laat"] is True
        page = browser.get(f"/cases/{source}").get_data(as_text=True)
        assert "Bezwaar maken" not in page and "Bezwaar loopt" in page  # one bezwaar at a time


def test_a_scenario_names_the_scenario_it_starts_from(tmp_path):
    from engine import scenarios
    from engine.scenario_format import ScenarioInvalid

    route = scenarios.route_from_files("bezwaar", (PROCESSES / "bezwaar.bpmn").read_bytes(), {
        p.name: p.read_text() for p in (PROCESSES / "forms").glob("bezwaar-*.json")})
    text = ("name: x\nstart: {at: 2026-03-02, from: tlv-vso/bestaat-niet, data: {indiener: ouders, gronden: x}}\n"
            "steps: [{expect: {status: open}}]\n")
    with pytest.raises(ScenarioInvalid, match="scenario 'tlv-vso/bestaat-niet' bestaat niet"):
        scenarios.run(scenarios.parse(text, "x.yaml", "bezwaar"), route, directory=PROCESSES / "scenarios")
    early = text.replace("bestaat-niet", "afgewezen").replace("2026-03-02", "2026-02-03")
    result = scenarios.run(scenarios.parse(early, "x.yaml", "bezwaar"), route, directory=PROCESSES / "scenarios")
    assert not result.ok and "vóór het einde van het bronscenario" in result.reason()


def test_replay_finds_a_link_row_that_its_events_do_not_hold(linked, world, sample, db):
    from sqlalchemy import delete

    from engine.models_links import CaseLink

    runtime = linked
    source = decided(runtime, world, sample, "afwijzen")
    case = start_from(runtime, world["consulent"], source)
    with db.transaction() as session:
        session.execute(delete(CaseLink).where(CaseLink.to_case_id == case.id))  # a row removed by hand
    for case_id in (source, case.id):
        replay = replayed(runtime, case_id)
        assert not replay.consistent
        assert f"koppeling.dossier {source} -> {case.id}: opgeslagen null, afgespeeld \"bezwaar\"" in (
            replay.divergence["message"])


def test_the_cli_starts_a_case_linked(runtime, world, sample, db_url):
    if not db_url.startswith("sqlite"):
        pytest.skip("the CLI is exercised once; the engine tests cover PostgreSQL")
    import json

    from tests.helpers import cli

    source = decided(runtime, world, sample, "afwijzen")
    data = json.dumps({"indiener": "school", "gronden": "Niet eens.", "datum_ontvangst": "2026-10-12"})
    answer = cli(db_url, "cases", "start", "bezwaar", "--tenant", "sterk-vo", "--data", data,
                 "--linked-from", str(source))
    assert answer.exit_code == 0, answer.output
    assert '"relation": "bezwaar"' in answer.output and f'"case_id": {source}' in answer.output
    again = cli(db_url, "cases", "start", "bezwaar", "--tenant", "sterk-vo", "--data", data,
                "--linked-from", str(source))
    assert again.exit_code != 0 and "loopt al een bezwaar" in (again.output + str(again.exception))


def test_a_decision_on_objection_gets_its_letter_with_the_beroep_clause(runtime, world, sample):
    from engine import decision_letters

    source = decided(runtime, world, sample, "afwijzen")
    case = start_from_route(runtime, world["consulent"], source)
    with clock.frozen(WITHIN + timedelta(days=1)):
        do(runtime, world, "consulent", case.id, "ontvangst", {"behandeling": "volledig_toewijzen"})
        do(runtime, world, "bestuurder", case.id, "toewijzing", {
            "motivering": "Het nieuwe advies toont aan dat VSO nodig is.",
            "nieuw_besluit": "Sanne krijgt een TLV VSO, categorie laag, tot en met 31 juli 2028."})
        assert decision_letters.make_due(runtime) >= 1
    made = events_of(runtime, case.id, "decision_letter_made")
    assert len(made) == 1 and made[0].payload["sha256"]
    record = load_case(runtime, case.id).decision["record"]
    assert record["soort"] == "bezwaar" and record["uitkomst"] == "gegrond"
    assert "beroep instellen bij de rechtbank" in record["rechtsmiddel"]
    assert "herroept het bestreden besluit" in record["besluit"]


def start_from_route(runtime, actor, source: int):
    with clock.frozen(WITHIN):
        return runtime.start_case(actor, "bezwaar", {"indiener": "ouders", "gronden": "Niet eens."},
                                  linked_from=source)


def test_the_bezwaar_term_is_twelve_weeks_with_or_without_the_lbts_advice_and_replays(runtime, world, sample, db):
    """Awb 7:10 lid 1: twelve weeks from the end of the objection term (Monday 16 November 2026: to Monday 8
    February 2027) when an advisory committee as in art. 7:13 is ingesteld, which the LBT is for every SWV; also
    when the SWV grants the objection in full and so asks no advice (LBT-reglement art. 2 lid 2). Six weeks would
    call a decision late that the law holds on time."""
    from sqlalchemy import select

    from engine.models import Deadline
    from engine.vocabulary import DeadlineKind, DeadlineStatus

    toewijzen = start_from_route(runtime, world["consulent"], decided(runtime, world, sample, "afwijzen"))
    lbt = start_from_route(runtime, world["consulent"], decided(runtime, world, sample, "afwijzen"))
    with clock.frozen(WITHIN + timedelta(days=1)):
        do(runtime, world, "consulent", toewijzen.id, "ontvangst", {"behandeling": "volledig_toewijzen"})
        do(runtime, world, "consulent", lbt.id, "ontvangst",
           {"behandeling": "lbt", "datum_adviesaanvraag": (WITHIN + timedelta(days=1)).date().isoformat()})
    for case_id in (toewijzen.id, lbt.id):
        state = load_case(runtime, case_id).decision
        assert (state["term"], state["due"]) == ("weken(12)", "2027-02-08")
        with db.read() as session:
            pending = session.scalars(select(Deadline).where(
                Deadline.case_id == case_id, Deadline.status == DeadlineStatus.PENDING,
                Deadline.kind.in_([DeadlineKind.DECISION, DeadlineKind.DECISION_WARNING]))).all()
        assert sorted((d.kind, clock.local_date(d.due_at).isoformat()) for d in pending) == [
            (DeadlineKind.DECISION, "2027-02-08"), (DeadlineKind.DECISION_WARNING, "2027-01-25")]
        assert replayed(runtime, case_id).consistent
