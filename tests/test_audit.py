"""Audit: tamper-evident history (verify), replay against the stored state, the state at any moment, the
timeline, and the export; on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import delete, insert, select, text, update

from engine import audit, audit_export, clock, events, services
from engine.errors import Conflict
from engine.models import Case, Event, RouteVersion, Task, Tenant
from tests.helpers import call, cli, do, event_types, open_task, replayed, task_id, to_besluit, verified
from tests.test_audit_export import pdf_text, squeezed

T0 = datetime(2026, 9, 1, 8, 30, tzinfo=UTC)


# ---------------------------------------------------------------- helpers of these tests


def closed_case(runtime, world, sample) -> int:
    case_id = to_besluit(runtime, world, sample, rounds=1)
    do(runtime, world, "commissie", case_id, "besluit", sample["toekennen"])
    do(runtime, world, "school", case_id, "plaatsing", sample["plaatsing"])
    return case_id


def event_ids(db, case_id: int) -> dict[int, int]:
    with db.read() as session:
        return dict(session.execute(select(Event.seq, Event.id).where(Event.case_id == case_id)).all())


# ---------------------------------------------------------------- verify: the chain and tampering


def test_an_untouched_history_verifies(runtime, world, sample, db, db_url):
    case_id = closed_case(runtime, world, sample)
    report_ = verified(db, case_id)
    assert report_.intact and report_.events == 9
    result = cli(db_url, "audit", "verify", str(case_id))
    assert result.exit_code == 0, result.output
    assert f"dossier {case_id}: keten intact (9 events" in result.output


EDITS = {
    "type": "task_claimed",
    "at": "later",
    "actor": "mallory@elders.test",
    "role": "beheerder",
    "task_name": "knooppuntoverleg",
    "task_index": 1,
    "task_id": "00000000-0000-4000-8000-000000000000",
    "actor_id": "other",
    "payload": {"data": {"dossier_compleet": False, "ontbrekend": "alles"}, "services": []},
    "payload_hash": "f" * 64,
    "prev_hash": "e" * 64,
    "hash": "d" * 64,
    "purged_at": "now",
}


@pytest.mark.parametrize("column", sorted(EDITS))
def test_an_edit_in_any_column_is_named(runtime, world, sample, db, column):
    case_id = closed_case(runtime, world, sample)
    value = EDITS[column]
    with db.read() as session:
        row = session.scalar(select(Event).where(Event.case_id == case_id, Event.seq == 3))
        if value == "later":
            value = row.at + timedelta(seconds=1)
        elif value == "now":
            value = row.at
        elif value == "other":
            value = world["auditor"].user_id
    with db.engine.begin() as conn:
        conn.execute(update(Event.__table__).where(Event.case_id == case_id, Event.seq == 3).values({column: value}))
    report_ = verified(db, case_id)
    assert not report_.intact
    assert {b.seq for b in report_.breaks} == {3}, report_.breaks


def test_an_edit_by_plain_sql_is_named(runtime, world, sample, db):
    case_id = closed_case(runtime, world, sample)
    with db.engine.begin() as conn:
        conn.execute(text("UPDATE events SET actor = 'iemand@anders.test' WHERE case_id = :c AND seq = 5"),
                     {"c": case_id})
    breaks = verified(db, case_id).breaks
    assert [(b.seq, b.kind) for b in breaks] == [(5, "edited")]
    assert "gewijzigd" in breaks[0].message


def test_a_deleted_row_is_named_in_the_middle_and_at_the_end(runtime, world, sample, db):
    first, second = closed_case(runtime, world, sample), closed_case(runtime, world, sample)
    with db.engine.begin() as conn:
        conn.execute(delete(Event.__table__).where(Event.case_id == first, Event.seq == 4))
        conn.execute(delete(Event.__table__).where(Event.case_id == second, Event.seq == 9))
    middle = verified(db, first).breaks
    assert [(b.seq, b.kind) for b in middle] == [(4, "missing")]
    end = verified(db, second).breaks
    assert [(b.seq, b.kind) for b in end] == [(9, "missing")]
    assert "ontbreekt" in end[0].message


def test_an_inserted_row_is_named(runtime, world, sample, db):
    case_id = closed_case(runtime, world, sample)
    with db.read() as session:
        last = session.scalar(select(Event).where(Event.case_id == case_id, Event.seq == 9))
        forged = Event(case_id=case_id, tenant_id=last.tenant_id, seq=10, type="task_completed", at=last.at,
                       actor_id=None, actor="mallory", role="commissie", task_id=None, task_name="besluit",
                       task_index=0, payload={"data": {"besluit": "afwijzen"}}, prev_hash=last.hash)
        forged.payload_hash = events.sha256(events.canonical(forged.payload))
        forged.hash = events.chain_hash(last.hash, forged)  # a well-made row: only the head gives it away
        values = {c.name: getattr(forged, c.name) for c in Event.__table__.columns if c.name != "id"}
    with db.engine.begin() as conn:
        conn.execute(insert(Event.__table__).values(values))
    breaks = verified(db, case_id).breaks
    assert [(b.seq, b.kind) for b in breaks] == [(10, "inserted")]
    assert "ingevoegd" in breaks[0].message


def test_a_row_inserted_in_the_middle_is_named(runtime, world, sample, db):
    case_id = closed_case(runtime, world, sample)
    with db.read() as session:
        rows = list(session.scalars(select(Event).where(Event.case_id == case_id).order_by(Event.seq)))
        before = rows[1]
        forged = Event(case_id=case_id, tenant_id=before.tenant_id, seq=3, type="task_claimed", at=before.at,
                       actor_id=None, actor="mallory", role="consulent", task_name="dossiercheck", task_index=0,
                       payload={}, prev_hash=before.hash)
        forged.payload_hash = events.sha256(events.canonical({}))
        forged.hash = events.chain_hash(before.hash, forged)
        values = {c.name: getattr(forged, c.name) for c in Event.__table__.columns if c.name != "id"}
    with db.engine.begin() as conn:
        for seq in range(9, 2, -1):  # make room, one row at a time (unique (case_id, seq))
            conn.execute(update(Event.__table__).where(Event.case_id == case_id, Event.seq == seq)
                         .values(seq=seq + 1))
        conn.execute(insert(Event.__table__).values(values))
    breaks = verified(db, case_id).breaks
    seqs = {b.seq for b in breaks}
    assert 4 in seqs and 10 in seqs  # the first renumbered row, and a row past the case's chain head
    assert any(b.kind == "inserted" for b in breaks)


def test_verify_all_names_each_broken_case_and_event(runtime, world, sample, db, db_url):
    good, bad, worse = (closed_case(runtime, world, sample) for _ in range(3))
    with db.engine.begin() as conn:
        conn.execute(update(Event.__table__).where(Event.case_id == bad, Event.seq == 2).values(role="auditor"))
        conn.execute(delete(Event.__table__).where(Event.case_id == worse, Event.seq == 6))
    result = cli(db_url, "audit", "verify", "--all")
    assert result.exit_code == 1
    assert f"dossier {bad}, event 2:" in result.output
    assert f"dossier {worse}, event 6: event 6 ontbreekt" in result.output
    assert f"dossier {good}," not in result.output
    assert "3 dossiers gecontroleerd, 2 met een gebroken keten" in result.output
    assert cli(db_url, "audit", "verify", str(good)).exit_code == 0
    assert cli(db_url, "audit", "verify", str(bad)).exit_code == 1


# ---------------------------------------------------------------- replay


def test_replay_toekennen_with_claims_is_consistent(runtime, world, sample):
    case_id = to_besluit(runtime, world, sample)
    besluit = open_task(runtime, case_id, "besluit")
    runtime.claim(world["commissie"], besluit.id)
    runtime.unclaim(world["commissie"], besluit.id)
    runtime.claim(world["commissie"], besluit.id)
    runtime.complete(world["commissie"], besluit.id, sample["toekennen"])
    plaatsing = open_task(runtime, case_id, "plaatsing")
    runtime.claim(world["school"], plaatsing.id)
    runtime.complete(world["school"], plaatsing.id, sample["plaatsing"])
    result = replayed(runtime, case_id)
    assert result.to_json() == {"case_id": case_id, "consistent": True, "events": 11, "divergence": None,
                                "route": result.route}
    assert result.route["intact"] and result.route["spec_matches_bpmn"]


def test_replay_afwijzen_is_consistent(runtime, world, sample):
    case_id = to_besluit(runtime, world, sample)
    do(runtime, world, "commissie", case_id, "besluit", sample["afwijzen"])
    result = replayed(runtime, case_id)
    assert result.consistent, result.divergence
    assert result.events == 6


def test_replay_across_three_aanvulling_rounds_to_niet_ontvankelijk(runtime, world, sample):
    case = runtime.start_case(world["school"], "tlv-vso", sample["start"])
    do(runtime, world, "school", case.id, "aanmelding", sample["aanmelding"])
    for round_ in range(3):
        do(runtime, world, "consulent", case.id, "dossiercheck", {"dossier_compleet": False, "ontbrekend": "OPP"})
        do(runtime, world, "school", case.id, "aanvulling", {"aanvulling": f"ronde {round_ + 1}"})
    do(runtime, world, "consulent", case.id, "dossiercheck", {"dossier_compleet": False, "ontbrekend": "OPP"})
    result = replayed(runtime, case.id)
    assert result.consistent, result.divergence
    assert result.events == 10  # start, aanmelding, 4 checks, 3 aanvullingen, case_completed


def test_replay_of_an_incident_and_its_retry(runtime, world, sample, monkeypatch):
    case_id = to_besluit(runtime, world, sample, rounds=2)
    real = services.get("register_tlv")

    def broken(ctx, **params):
        raise ConnectionError("register onbereikbaar")

    monkeypatch.setitem(services._registry, "register_tlv", broken)
    do(runtime, world, "commissie", case_id, "besluit", sample["toekennen"])
    assert replayed(runtime, case_id).consistent  # replayed while the case is in incident
    monkeypatch.setitem(services._registry, "register_tlv", real)
    runtime.retry(world["beheerder"], case_id)
    do(runtime, world, "school", case_id, "plaatsing", sample["plaatsing"])

    calls = []
    monkeypatch.setitem(services._registry, "register_tlv", lambda ctx, **p: calls.append(p) or {"nummer": "X"})
    result = replayed(runtime, case_id)
    assert result.consistent, result.divergence
    assert calls == []  # the handler's result came from the log
    assert event_types(runtime, case_id)[-5:] == [
        "task_completed", "incident", "case_retried", "task_completed", "case_completed"]


def test_a_route_edited_in_place_is_a_divergence_not_a_crash(runtime, world, sample, db):
    case_id = to_besluit(runtime, world, sample, rounds=1)
    do(runtime, world, "commissie", case_id, "besluit", sample["afwijzen"])
    with db.read() as session:
        version_id = session.get(Case, case_id).route_version_id
    with db.engine.begin() as conn:  # someone "fixes" the gateway of the deployed version in the database
        row = conn.execute(select(RouteVersion.spec, RouteVersion.bpmn).where(RouteVersion.id == version_id)).one()
        conn.execute(update(RouteVersion.__table__).where(RouteVersion.id == version_id).values(
            spec=row.spec.replace('besluit == \\"toekennen\\"', 'besluit != \\"toekennen\\"'),
            bpmn=row.bpmn.replace('besluit == "toekennen"', 'besluit != "toekennen"')))
    result = replayed(runtime, case_id)
    assert not result.consistent
    assert result.route["intact"] is False
    assert result.divergence["reason"] == "route_changed"
    then = result.divergence["replay"]  # and what the edited route does differently
    assert then["seq"] == 7 and then["event"] == "task_completed"
    assert "registreer_tlv" in then["message"]  # the edited gateway now goes to the TLV registration


def test_an_edited_spec_alone_is_found_too(runtime, world, sample, db):
    case_id = to_besluit(runtime, world, sample)
    with db.read() as session:
        version_id = session.get(Case, case_id).route_version_id
    with db.engine.begin() as conn:
        spec = conn.execute(select(RouteVersion.spec).where(RouteVersion.id == version_id)).scalar_one()
        conn.execute(update(RouteVersion.__table__).where(RouteVersion.id == version_id)
                     .values(spec=spec.replace("Besluit TLV", "Besluit")))
    result = replayed(runtime, case_id)
    assert not result.consistent and result.route["spec_matches_bpmn"] is False


def test_a_stored_state_edited_afterwards_is_located(runtime, world, sample, db):
    case_id = to_besluit(runtime, world, sample, rounds=1)
    do(runtime, world, "commissie", case_id, "besluit", sample["toekennen"])
    with db.read() as session:
        case = session.get(Case, case_id)
        data = dict(case.data, categorie="hoog")
    with db.engine.begin() as conn:
        conn.execute(update(Case.__table__).where(Case.id == case_id).values(data=data))
    result = replayed(runtime, case_id)
    assert not result.consistent
    divergence = result.divergence
    assert (divergence["reason"], divergence["seq"]) == ("state", 7)  # the besluit set the category
    assert "categorie" in divergence["message"] and '"hoog"' in divergence["message"]


def test_a_damaged_history_is_reported_not_raised(runtime, world, sample, db):
    case_id = to_besluit(runtime, world, sample)
    with db.engine.begin() as conn:  # the logged dossiercheck now names a task that was never open
        conn.execute(update(Event.__table__).where(Event.case_id == case_id, Event.seq == 3)
                     .values(task_name="plaatsing"))
    divergence = replayed(runtime, case_id).divergence
    assert divergence["reason"] == "task_not_open" and divergence["seq"] == 2 and divergence["detected_at"] == 3
    assert "plaatsing" in divergence["message"]


def test_replay_from_the_cli_prints_json_and_sets_the_exit_code(runtime, world, sample, db, db_url):
    case_id = to_besluit(runtime, world, sample)
    result = cli(db_url, "audit", "replay", str(case_id))
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert (body["consistent"], body["events"], body["divergence"]) == (True, 4, None)
    with db.engine.begin() as conn:
        conn.execute(update(Case.__table__).where(Case.id == case_id).values(status="closed"))
    result = cli(db_url, "audit", "replay", str(case_id))
    assert result.exit_code == 1
    assert json.loads(result.stdout)["divergence"]["reason"] == "state"


# ---------------------------------------------------------------- the state at a moment, the timeline


def test_the_state_at_a_moment(runtime, world, sample, db, db_url):
    with clock.frozen(T0):
        case = runtime.start_case(world["school"], "tlv-vso", sample["start"])
    with clock.frozen(T0 + timedelta(days=1)):
        do(runtime, world, "school", case.id, "aanmelding", sample["aanmelding"])
    with clock.frozen(T0 + timedelta(days=2)):
        runtime.claim(world["consulent"], open_task(runtime, case.id, "dossiercheck").id)
    with clock.frozen(T0 + timedelta(days=3)):
        do(runtime, world, "consulent", case.id, "dossiercheck", {"dossier_compleet": True})

    with db.read() as session:
        stored = session.get(Case, case.id)
        moment = audit.state_at(runtime, session, stored, at=T0 + timedelta(days=2, hours=1))
        before = audit.state_at(runtime, session, stored, at=T0 + timedelta(hours=1))
        with pytest.raises(Conflict):
            audit.state_at(runtime, session, stored, at=T0 - timedelta(days=1))
    state = moment.state
    assert moment.consistent and state["events"] == 3 and state["after_event"]["type"] == "task_claimed"
    assert state["status"] == "open"
    [task] = state["tasks"]
    assert (task["name"], task["title"], task["lane"], task["claimed_by"]) == (
        "dossiercheck", "Dossier controleren", "consulent", world["consulent"].email)
    assert task["ready_since"] == (T0 + timedelta(days=1)).isoformat()
    assert task["due_at"] is not None and task["due_at"] > task["ready_since"]  # werkdagen(5)
    assert state["data"]["onderwijsbehoeften"] and "dossier_compleet" not in state["data"]
    assert state["elements"]["aanmelding"] == "done" and state["elements"]["dossiercheck"] == "open"
    assert [t["name"] for t in before.state["tasks"]] == ["aanmelding"]

    result = cli(db_url, "audit", "replay", str(case.id), "--at", (T0 + timedelta(days=1, hours=1)).isoformat())
    assert result.exit_code == 0, result.output
    assert [t["name"] for t in json.loads(result.stdout)["state"]["tasks"]] == ["dossiercheck"]


def test_the_timeline_shows_who_submitted_what_and_what_changed(runtime, world, sample, db):
    case_id = to_besluit(runtime, world, sample)
    do(runtime, world, "commissie", case_id, "besluit", sample["toekennen"])
    with db.read() as session:
        history = audit.timeline(runtime, session, session.get(Case, case_id))
    assert history["intact"] and history["replayed"] and history["divergence"] is None
    besluit = history["events"][-1]
    assert (besluit["type"], besluit["actor"], besluit["role"]) == ("task_completed", world["commissie"].email,
                                                                    "commissie")
    assert besluit["task"]["title"] == "Besluit TLV"
    assert besluit["submitted"]["besluit"] == "toekennen"
    changed = {c["key"]: (c["before"], c["after"]) for c in besluit["changes"]}
    assert changed["besluit"] == (None, "toekennen")
    assert changed["tlv.nummer"][1].startswith("TLV-")  # what the service task added
    check = history["events"][2]
    assert {c["key"] for c in check["changes"]} == {"dossier_compleet"}


# ---------------------------------------------------------------- export


def test_export_json_and_pdf_from_the_cli(runtime, world, sample, db, db_url, tmp_path):
    data = dict(sample["start"], leerling={"voornaam": "Zoë", "achternaam": "Brouwer-Łukasiewicz",
                                           "geboortedatum": "2013-04-02"})
    case = runtime.start_case(world["school"], "tlv-vso", data)
    do(runtime, world, "school", case.id, "aanmelding", sample["aanmelding"])
    do(runtime, world, "consulent", case.id, "dossiercheck", {"dossier_compleet": False,
                                                              "ontbrekend": "Het advies van de arts – ontbreekt"})
    result = cli(db_url, "audit", "export", str(case.id), "--format", "json")
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["swv"]["name"] == "SWV sterk-vo"
    assert document["verification"]["intact"] and document["replay"]["consistent"]
    assert [e["seq"] for e in document["events"]] == [1, 2, 3]
    assert document["route"]["key"] == "tlv-vso"

    target = tmp_path / "rapport.pdf"
    result = cli(db_url, "audit", "export", str(case.id), "--format", "pdf", "--output", str(target))
    assert result.exit_code == 0, result.output
    assert target.read_bytes().startswith(b"%PDF") and len(target.read_bytes()) > 2000

    with db.read() as session:
        document = audit_export.export(runtime, session, session.get(Case, case.id))
    text = squeezed(pdf_text(audit_export.render_pdf(document)))
    assert "->Zoë" in text and "->Brouwer-Łukasiewicz" in text  # every letter as it is, in an embedded font
    assert squeezed("Het advies van de arts – ontbreekt") in text
    assert "Auditrapportdossier" in text and "Toegangslog" in text


# ---------------------------------------------------------------- the case clock, escalations and timers


TIMERS = Path(__file__).parent / "bpmn" / "timers" / "herinnering.bpmn"


def test_replay_across_suspension_extension_warning_and_escalation(runtime, world, sample, db):
    from engine.scheduler import fire_due

    with db.transaction() as session:
        session.get(Tenant, world.tenant_id).settings = {
            "terms": {"tlv-vso": {"term": "weken(2)", "from": "knooppuntoverleg"}}, "max_extensions": 1}
    with clock.frozen(datetime(2027, 1, 11, 8, tzinfo=UTC)):
        case = runtime.start_case(world["school"], "tlv-vso", sample["start"])
        do(runtime, world, "school", case.id, "aanmelding", sample["aanmelding"])
    with clock.frozen(datetime(2027, 1, 12, 8, tzinfo=UTC)):
        runtime.suspend(world["consulent"], case.id, "Wachten op de zienswijze van de ouders.")
    with clock.frozen(datetime(2027, 1, 22, 8, tzinfo=UTC)):
        runtime.resume(world["consulent"], case.id, "Zienswijze ontvangen.")
    with clock.frozen(datetime(2027, 1, 27, 8, tzinfo=UTC)):
        assert fire_due(runtime).fired == 1  # the (shifted) warning of the dossiercheck
    with clock.frozen(datetime(2027, 2, 2, 8, tzinfo=UTC)):
        assert fire_due(runtime).fired == 1  # and its escalation
        do(runtime, world, "consulent", case.id, "dossiercheck", {"dossier_compleet": True})
    with clock.frozen(datetime(2027, 2, 3, 8, tzinfo=UTC)):
        runtime.extend(world["consulent"], case.id, 1, "Deskundige later beschikbaar.")
    assert event_types(runtime, case.id) == ["case_started", "task_completed", "case_suspended", "case_resumed",
                                             "deadline_warned", "deadline_escalated", "task_completed",
                                             "case_extended"]
    assert replayed(runtime, case.id).consistent

    with db.read() as session:
        stored = session.get(Case, case.id)
        suspended = audit.state_at(runtime, session, stored, at=datetime(2027, 1, 15, tzinfo=UTC)).state
        escalated = audit.state_at(runtime, session, stored, seq=6).state
        now = audit.state_at(runtime, session, stored, at=datetime(2027, 6, 1, tzinfo=UTC)).state
        live_check = session.scalar(select(Task).where(Task.case_id == case.id, Task.name == "dossiercheck"))
    assert suspended["status"] == "suspended" and suspended["suspended_since"].startswith("2027-01-12")
    [check] = escalated["tasks"]
    assert check["warned"] and check["escalated"]
    assert check["due_at"] == live_check.due_at.isoformat()  # the term as the engine computed and shifted it
    assert now["due_at"] == stored.due_at.isoformat()  # the case term, extended by a week


def test_replay_of_a_fired_timer_and_a_reassigning_escalation(runtime, world, db):
    from engine import routes
    from engine.scheduler import fire_due

    with db.transaction() as session:
        routes.deploy(session, TIMERS)
    with clock.frozen(datetime(2027, 3, 1, 8, tzinfo=UTC)):
        first = runtime.start_case(world["consulent"], "herinnering", {"wachttijd": "P30D"})
        runtime.claim(world["consulent"], open_task(runtime, first.id, "beoordelen").id)
        second = runtime.start_case(world["consulent"], "herinnering", {"wachttijd": "PT1H"})
    with clock.frozen(datetime(2027, 3, 9, 8, tzinfo=UTC)):
        fire_due(runtime)  # first: warning and a reassigning escalation; second: the timer fires
    with db.read() as session:
        state = audit.state_at(runtime, session, session.get(Case, first.id),
                               at=datetime(2027, 3, 9, 9, tzinfo=UTC)).state
        waiting = audit.state_at(runtime, session, session.get(Case, second.id),
                                 at=datetime(2027, 3, 1, 8, 30, tzinfo=UTC)).state
    [task] = state["tasks"]
    assert (task["name"], task["lane"], task["claimed_by"], task["escalated"]) == ("beoordelen", "commissie",
                                                                                  None, True)
    assert state["timers"][0]["name"] == "wachttijd_om"
    assert waiting["timers"][0]["due_at"].startswith("2027-03-01T09:00")
    runtime.complete(world["commissie"], task_id(runtime, first.id, "beoordelen"), {"oordeel": "Gedaan."})
    runtime.complete(world["commissie"], task_id(runtime, second.id, "opvolgen"), {"oordeel": "Opgevolgd."})
    for case in (first, second):
        result = replayed(runtime, case.id)
        assert result.consistent, result.divergence
    with db.read() as session:
        assert session.get(Case, second.id).outcome == "opgevolgd"


def test_a_timer_started_on_the_real_clock_replays_exactly(runtime, world, db):
    from engine import routes

    with db.transaction() as session:
        routes.deploy(session, TIMERS)
    case = runtime.start_case(world["consulent"], "herinnering", {"wachttijd": "P30D"})
    assert replayed(runtime, case.id).consistent


# ---------------------------------------------------------------- the auditor's API


def test_the_audit_api(client, runtime, world, sample):
    with clock.frozen(T0):
        case_id = to_besluit(runtime, world, sample)
    base = f"/api/v1/cases/{case_id}"
    timeline = call(client, world, "consulent", "GET", f"{base}/events").get_json()
    assert timeline["intact"] and [e["seq"] for e in timeline["events"]] == [1, 2, 3, 4]
    assert timeline["events"][1]["task"] == {"id": timeline["events"][1]["task"]["id"], "name": "aanmelding",
                                             "index": 0, "title": "Aanmelding indienen"}
    state = call(client, world, "school", "GET", f"{base}/state?seq=2").get_json()
    assert [t["name"] for t in state["state"]["tasks"]] == ["dossiercheck"]
    naive = call(client, world, "consulent", "GET", f"{base}/state?at=2026-09-01T10:00:00")
    assert naive.status_code == 422 and "at" in naive.get_json()["error"]["details"]
    early = call(client, world, "consulent", "GET", f"{base}/state?at=2020-01-01T00:00:00Z")
    assert early.status_code == 409 and early.get_json()["error"]["code"] == "conflict"
    replay = call(client, world, "auditor", "POST", f"{base}/replay").get_json()
    assert (replay["consistent"], replay["events"], replay["divergence"]) == (True, 4, None)
    assert call(client, world, "auditor", "GET", f"{base}/verify").get_json()["intact"] is True
    pdf = call(client, world, "auditor", "GET", f"{base}/export?format=pdf")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf" and pdf.data.startswith(b"%PDF")
    other = call(client, world, "school2", "GET", f"{base}/events")
    assert other.status_code == 403


def test_replay_gets_the_calendar_answers_of_the_time(runtime, world, db):
    """A timer counted in schooldagen replays as it was armed, even after the SWV added a day off."""
    from engine import routes
    from engine.deadlines import add_day_off

    with db.transaction() as session:
        routes.deploy(session, Path(__file__).parent / "bpmn" / "timers" / "termijn.bpmn")
    monday = datetime.fromisoformat("2027-03-08T09:00:00+01:00")
    with clock.frozen(monday):
        case = runtime.start_case(world["consulent"], "termijn", {"wachttijd": "n.v.t."})
    with db.read() as session:
        started = session.scalars(select(Event).where(Event.case_id == case.id).order_by(Event.seq)).first()
        assert [c["fn"] for c in started.payload["calendar"]] == ["schooldagen"]
        armed = datetime.fromisoformat(started.payload["calendar"][0]["result"])
        assert armed == datetime.fromisoformat("2027-03-10T23:59:59+01:00")  # Tue and Wed are schooldagen
    with db.transaction() as session:
        add_day_off(session, session.get(Tenant, world.tenant_id), date(2027, 3, 9), "Studiedag")
    with db.read() as session:
        result = audit.replay(runtime, session, session.get(Case, case.id))
    assert result.consistent, result.divergence


def test_the_timeline_is_paged_inside_and_a_page_is_that_slice_of_the_whole(client, runtime, world, sample):
    """A case with a long history (claimed and released 150 times): a page of its timeline is built alone, and is
    exactly that part of the whole, what each input changed included."""
    case_id = to_besluit(runtime, world, sample, rounds=2)
    besluit = task_id(runtime, case_id, "besluit")
    for _ in range(150):
        runtime.claim(world["commissie"], besluit)
        runtime.unclaim(world["commissie"], besluit)
    do(runtime, world, "commissie", case_id, "besluit", sample["toekennen"])
    with runtime.db.read() as session:
        case = session.get(Case, case_id)
        whole = audit.timeline(runtime, session, case)
        total = len(whole["events"])
        completed = max(e["seq"] for e in whole["events"] if e["type"] == "task_completed")
        assert total > 300 and whole["total"] == total
        for offset, limit in [(0, 7), (3, 5), (completed - 1, 1), (completed - 2, 3), (total - 4, 10), (total, 5)]:
            page = audit.timeline(runtime, session, case, offset=offset, limit=limit)
            assert page["events"] == whole["events"][offset:offset + limit]
            assert (page["total"], page["intact"], page["divergence"]) == (total, True, None)
    assert whole["events"][completed - 1]["changes"]  # the besluit's own changes, measured on a page of one
    with runtime.db.read() as session:  # and a page keeps the case data of its own events only, plus one
        case = session.get(Case, case_id)
        replayer = audit._PageReplayer(runtime, session)
        steps, _ = replayer.trace_page(case, replayer.events(case), keep_from=200)
        assert len(steps) == total and [s.seq for s in steps if s.data is not None] == list(range(199, total + 1))

    path = f"/api/v1/cases/{case_id}/events"
    first = call(client, world, "auditor", "GET", path)
    assert first.status_code == 200 and first.headers["X-Total-Count"] == str(total)
    assert [e["seq"] for e in first.json["events"]] == list(range(1, 101))  # a bounded default: 100
    last = call(client, world, "auditor", "GET", f"{path}?offset={total - 3}&limit=500")
    assert [e["seq"] for e in last.json["events"]] == [total - 2, total - 1, total]
    assert last.json["events"] == whole["events"][-3:]
    assert call(client, world, "auditor", "GET", f"{path}?limit=501").status_code == 422
