"""Retention: personal data of closed cases goes after the route's term, the proof stays (verify passes),
and what was purged, when and by which rule is itself on record."""

from __future__ import annotations

import dataclasses
import json
import os
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from engine import audit, audit_export, bpmn, clock, documents
from engine.config import Settings
from engine.definition import load_definition
from engine.models import Case, Event, OutboxMessage, Task, Tenant
from engine.models_web import LoginAttempt, TaskDraft
from engine.replay import NotReplayable
from engine.retention import add_period, run_retention
from tests.helpers import PDF, add_document, cli, do, to_besluit, verified
from tests.ui import give_passwords, web_client

T0 = datetime(2026, 10, 5, 9, 0, tzinfo=UTC)
THREE_YEARS = datetime(2029, 10, 5, 9, 0, tzinfo=UTC)


def decided(runtime, world, sample, besluit: str = "toekennen") -> int:
    """A case decided at T0 and closed a month later (plaatsing), or closed at T0 when afgewezen."""
    with clock.frozen(T0 - timedelta(days=30)):
        case_id = to_besluit(runtime, world, sample)
    with clock.frozen(T0):
        do(runtime, world, "commissie", case_id, "besluit", sample[besluit])
    if besluit == "toekennen":
        with clock.frozen(T0 + timedelta(days=30)):
            do(runtime, world, "school", case_id, "plaatsing", sample["plaatsing"])
    return case_id


def load(db, case_id: int) -> tuple[Case, list[Event]]:
    with db.read() as session:
        case = session.get(Case, case_id)
        rows = list(session.scalars(select(Event).where(Event.case_id == case_id).order_by(Event.seq)))
        return case, rows


def test_add_period():
    assert add_period(datetime(2024, 2, 29, tzinfo=UTC), "P3Y") == datetime(2027, 2, 28, tzinfo=UTC)
    assert add_period(datetime(2026, 1, 31, tzinfo=UTC), "P1M") == datetime(2026, 2, 28, tzinfo=UTC)
    assert add_period(datetime(2026, 1, 1, tzinfo=UTC), "P1Y6M2W3D") == datetime(2027, 7, 18, tzinfo=UTC)
    for bad in ("3 jaar", "P", "PT3H", ""):
        with pytest.raises(ValueError):
            add_period(datetime(2026, 1, 1, tzinfo=UTC), bad)


def test_a_case_is_purged_three_years_after_the_decision_and_still_verifies(runtime, world, sample, db):
    case_id = decided(runtime, world, sample)
    with clock.frozen(T0):
        running = runtime.start_case(world["school"], "tlv-vso", sample["start"])  # an open case: never purged

    early = run_retention(db, THREE_YEARS - timedelta(minutes=1))
    assert early.purged == [] and early.waiting == 1
    result = run_retention(db, THREE_YEARS + timedelta(days=1))
    [purged] = result.purged
    assert purged.case_id == case_id and purged.term_start == T0 and purged.due_at == THREE_YEARS
    assert "P3Y" in purged.rule and "besluit" in purged.rule

    case, rows = load(db, case_id)
    assert case.data == {"besluit": "toekennen", "categorie": "midden", "advies": "tlv_vso",
                         "aanvulling_rondes": 0}
    for name in ("Sanne", "de Vries", "2013-04-02", "OPP-2026-117", "Beide deskundigen"):
        assert name not in case.state and name not in json.dumps([r.payload for r in rows])
    with db.read() as session:  # the anonymised state still loads (the diagram can be drawn)
        definition = load_definition(session.get(Case, case_id).route_version)
        bpmn.load_workflow(case.state, definition.spec, definition.subs)
    assert all(r.payload is None and r.purged_at is not None for r in rows[:-1])
    record = rows[-1]
    assert (record.type, record.actor, record.role) == ("data_purged", "systeem", "systeem")
    assert record.payload["purged_seqs"] == [r.seq for r in rows[:-1]]
    assert record.payload["period"] == "P3Y" and record.payload["from"] == "besluit"
    assert record.payload["term_start"] == T0.isoformat()

    assert verified(db, case_id).intact
    assert verified(db, running.id).intact
    assert load(db, running.id)[0].data["leerling"]["voornaam"] == "Sanne"
    assert run_retention(db, THREE_YEARS + timedelta(days=2)).purged == []  # once is enough


def test_without_a_decision_the_term_runs_from_the_closing(runtime, world, sample, db):
    with clock.frozen(T0):
        case = runtime.start_case(world["school"], "tlv-vso", sample["start"])
        do(runtime, world, "school", case.id, "aanmelding", sample["aanmelding"])
        for _ in range(3):
            do(runtime, world, "consulent", case.id, "dossiercheck", {"dossier_compleet": False, "ontbrekend": "x"})
            do(runtime, world, "school", case.id, "aanvulling", {"aanvulling": "y"})
    with clock.frozen(T0 + timedelta(days=10)):
        do(runtime, world, "consulent", case.id, "dossiercheck", {"dossier_compleet": False, "ontbrekend": "x"})
    assert load(db, case.id)[0].outcome == "buiten_behandeling"
    assert run_retention(db, THREE_YEARS + timedelta(days=5)).purged == []
    [purged] = run_retention(db, THREE_YEARS + timedelta(days=10, seconds=1)).purged
    assert purged.term_start == T0 + timedelta(days=10)


def test_the_cli_run_is_followed_by_a_passing_verify(runtime, world, sample, db, db_url):
    afgewezen = decided(runtime, world, sample, "afwijzen")
    with db.read() as session:
        mail = session.scalars(select(OutboxMessage).where(OutboxMessage.case_id == afgewezen)).all()
        assert mail and "Ondersteuning in het regulier onderwijs" in mail[0].body
    with db.engine.begin() as conn:  # the message went out long ago
        conn.execute(update(OutboxMessage.__table__).where(OutboxMessage.case_id == afgewezen).values(status="sent"))

    dry = cli(db_url, "retention", "run", "--now", "2029-10-06T12:00", "--dry-run")
    assert dry.exit_code == 0 and f"dossier {afgewezen}: zou verwijderen" in dry.output
    assert load(db, afgewezen)[1][0].payload is not None
    result = cli(db_url, "retention", "run", "--now", "2029-10-06T12:00")
    assert result.exit_code == 0, result.output
    assert f"dossier {afgewezen}: verwijderd" in result.output and "1 dossier(s) verwijderd" in result.output
    verify = cli(db_url, "audit", "verify", "--all")
    assert verify.exit_code == 0, verify.output
    with db.read() as session:
        [body] = session.scalars(select(OutboxMessage.body).where(OutboxMessage.case_id == afgewezen))
    assert "Ondersteuning" not in body
    assert "route tlv-vso v1: bewaartermijn P3Y" in cli(db_url, "retention", "show").output


def test_a_purged_case_keeps_its_timeline_but_cannot_be_replayed(runtime, world, sample, db):
    case_id = decided(runtime, world, sample)
    run_retention(db, THREE_YEARS + timedelta(days=1))
    with db.read() as session:
        case = session.get(Case, case_id)
        with pytest.raises(NotReplayable, match="bewaartermijn"):
            audit.replay(runtime, session, case)
        history = audit.timeline(runtime, session, case)
        document = audit_export.export(runtime, session, case)
    assert history["intact"] and not history["replayed"]
    assert history["events"][-1]["details"]["rule"].startswith("route tlv-vso v1")
    assert all(e["submitted"] is None for e in history["events"][:-1])
    assert document["verification"]["intact"] and document["replay"]["consistent"] is None
    assert audit_export.render_pdf(document).startswith(b"%PDF")


def test_emptying_a_payload_without_a_retention_run_is_found(runtime, world, sample, db):
    case_id = decided(runtime, world, sample)
    _, rows = load(db, case_id)
    with db.engine.begin() as conn:  # someone makes the besluit disappear and calls it retention
        conn.execute(update(Event.__table__).where(Event.case_id == case_id, Event.seq == 5)
                     .values(payload=None, purged_at=rows[4].at))
    breaks = verified(db, case_id).breaks
    assert [(b.seq, b.kind) for b in breaks] == [(5, "purge")]


def test_an_swv_sets_its_own_term(runtime, world, sample, db):
    case_id = decided(runtime, world, sample)
    with db.transaction() as session:
        session.get(Tenant, world.tenant_id).settings = {"retention": {"tlv-vso": "P1Y"}}
    [purged] = run_retention(db, T0 + timedelta(days=366)).purged
    assert purged.case_id == case_id and "P1Y" in purged.rule


# ---------------------------------------------------------------- what goes with a purged case, and the sweeps


@pytest.fixture
def documents_dir(runtime, tmp_path):
    """The runtime stores documents in a folder of this test's own."""
    runtime.settings = dataclasses.replace(runtime.settings, documents_dir=tmp_path / "documents")
    return runtime.settings.documents_dir


def stored(runtime, sha256: str):
    return documents.store(runtime).path(sha256)


def test_a_purge_takes_the_documents_and_files_no_other_case_holds(client, runtime, world, sample, db,
                                                                  documents_dir):
    shared = PDF + b"% het OPP, ook in een ander dossier\n"
    with clock.frozen(T0 - timedelta(days=30)):
        case_id = to_besluit(runtime, world, sample)
        own = add_document(runtime, world, "school", case_id, "opp", PDF + b"% alleen hier\n")
        late = add_document(runtime, world, "consulent", case_id, "advies", PDF + b"% net opnieuw geupload\n")
        both = add_document(runtime, world, "school", case_id, "groeidocument", shared)
        other = runtime.start_case(world["school"], "tlv-vso", sample["start"])  # still open: never purged
        kept = add_document(runtime, world, "school", other.id, "opp", shared)
    with clock.frozen(T0):
        do(runtime, world, "commissie", case_id, "besluit", sample["toekennen"])
    with clock.frozen(T0 + timedelta(days=30)):
        do(runtime, world, "school", case_id, "plaatsing", sample["plaatsing"])
    with db.transaction() as session:  # a concept left on a closed task (from before concepts went at completion)
        task = session.scalars(select(Task).where(Task.case_id == case_id, Task.name == "besluit")).one()
        session.add(TaskDraft(task_id=task.id, user_id=world["commissie"].user_id, tenant_id=world.tenant_id,
                              case_id=case_id, data={"toelichting": "Sanne de Vries"}, saved_at=T0))
    moment = THREE_YEARS + timedelta(days=1)
    # An upload of the same bytes touched this file a moment ago: it is about to be referenced again.
    os.utime(stored(runtime, late.sha256), (moment.timestamp() - 60, moment.timestamp() - 60))

    dry = run_retention(db, moment, dry_run=True, settings=runtime.settings)
    assert [p.documents for p in dry.purged] == [3] and all(stored(runtime, d.sha256).exists()
                                                            for d in (own, late, both))
    report = run_retention(db, moment, settings=runtime.settings)
    [purged] = report.purged
    assert purged.case_id == case_id and purged.documents == 3 and report.files == 1

    with db.read() as session:
        assert documents.of_case(session, case_id) == []
        assert [d.id for d in documents.of_case(session, other.id)] == [kept.id]
        assert session.scalars(select(TaskDraft).where(TaskDraft.case_id == case_id)).all() == []
    assert not stored(runtime, own.sha256).exists()  # gone from disk
    assert stored(runtime, both.sha256).read_bytes() == shared  # the open case still holds these bytes
    assert stored(runtime, late.sha256).exists()  # touched within the grace period
    with db.read() as session:  # the open case's document still downloads
        assert documents.blob_path(runtime, documents.get(session, world["school"], kept.id)).exists()
    case, rows = load(db, case_id)
    assert rows[-1].payload["removed"] == ["documenten (3)", "concepten (1)"]
    assert all(r.payload is None for r in rows if r.type == "document_added")  # names and hashes purged too
    assert verified(db, case_id).intact and verified(db, other.id).intact
    assert case.status == "closed" and case.data["besluit"] == "toekennen"  # the minimal register stays

    give_passwords(db)  # in the browser: the purged case still shows, without its documents
    auditor = web_client(client.application, world, "auditor")
    page = auditor.get(f"/cases/{case_id}?tab=documenten")
    assert page.status_code == 200 and "opp.pdf" not in page.get_data(as_text=True)
    assert auditor.get(f"/audit/{case_id}").status_code == 200
    assert auditor.get(f"/documenten/{own.id}").status_code == 404
    assert auditor.get(f"/documenten/{kept.id}").status_code == 200


def test_old_login_attempts_and_concepts_of_closed_tasks_go_on_every_run(runtime, world, sample, db, db_url):
    now = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)
    case = runtime.start_case(world["school"], "tlv-vso", sample["start"])
    with db.transaction() as session:
        for days in (400, 91, 89, 0):
            session.add(LoginAttempt(email="juf@school.nl", at=now - timedelta(days=days), outcome="mislukt"))
        aanmelding = session.scalars(select(Task).where(Task.case_id == case.id)).one()
        session.add(TaskDraft(task_id=aanmelding.id, user_id=world["school"].user_id, tenant_id=world.tenant_id,
                              case_id=case.id, data={"toelichting": "half af"}, saved_at=now))
        session.add(TaskDraft(task_id="00000000-0000-0000-0000-000000000000", user_id=world["school"].user_id,
                              tenant_id=world.tenant_id, case_id=case.id, data={"toelichting": "weg"}, saved_at=now))

    def left() -> tuple[list[int], list[str]]:
        with db.read() as session:
            ages = [(now - a.at.replace(tzinfo=UTC)).days for a in session.scalars(select(LoginAttempt))]
            return sorted(ages), [d.data["toelichting"] for d in session.scalars(select(TaskDraft))]

    dry = run_retention(db, now, dry_run=True, settings=runtime.settings)
    assert (dry.logins, dry.drafts) == (2, 1) and left() == ([0, 89, 91, 400], ["half af", "weg"])
    report = run_retention(db, now, settings=runtime.settings)
    assert (report.logins, report.drafts) == (2, 1)
    assert left() == ([0, 89], ["half af"])  # the open task keeps its concept; the lockout its recent tries

    result = cli(db_url, "retention", "run", "--now", "2027-03-01T13:00")
    assert result.exit_code == 0, result.output
    assert "0 inlogpoging(en) ouder dan 90 dagen, 0 concept(en)" in result.output
    assert "inlogpogingen: 90 dagen bewaard" in cli(db_url, "retention", "show").output
    shorter = dataclasses.replace(runtime.settings, login_attempts_days=30)
    assert run_retention(db, now, settings=shorter).logins == 1 and left()[0] == [0]


def test_the_login_period_is_a_setting_of_at_least_a_day(monkeypatch):
    monkeypatch.setenv("LOKET_LOGIN_ATTEMPTS_DAYS", "365")
    assert Settings().login_attempts_days == 365
    monkeypatch.setenv("LOKET_LOGIN_ATTEMPTS_DAYS", "0")  # never shorter than the lockout looks back
    assert Settings().login_attempts_days == 1
    monkeypatch.delenv("LOKET_LOGIN_ATTEMPTS_DAYS")
    assert Settings().login_attempts_days == 90
