"""The access log: every read of a case, its tasks or its history (API, CLI, export) is recorded, hash-chained
per SWV; auditors read it per case and per user; an auditor reads everything and changes nothing."""

from __future__ import annotations

import threading
from datetime import timedelta, timezone
from urllib.parse import quote

import pytest
from sqlalchemy import delete, select, update

from engine import access, audit, clock
from engine.errors import Forbidden
from engine.models import AccessLog, Case
from tests.conftest import make_world
from tests.helpers import call, cli, open_task, to_besluit


def entries(db, case_id: int | None = None) -> list[AccessLog]:
    with db.read() as session:
        query = select(AccessLog).order_by(AccessLog.id)
        if case_id is not None:
            query = query.where(AccessLog.case_id == case_id)
        return list(session.scalars(query))


def chain(db, tenant_id: int) -> access.AccessReport:
    with db.read() as session:
        return access.verify(session, tenant_id)


def test_api_reads_are_recorded_with_user_role_time_what_and_channel(client, runtime, world, sample, db):
    case_id = to_besluit(runtime, world, sample)
    assert entries(db) == []  # acting on a case is in the event log, not in the access log
    task = open_task(runtime, case_id, "besluit")
    # A moment of the case's past (the API refuses one in the future), as a Dutch client writes it.
    moment = (clock.now() + timedelta(seconds=1)).astimezone(timezone(timedelta(hours=1))).replace(microsecond=0)
    at = moment.isoformat()
    reads = [("school", "GET", f"/api/v1/cases/{case_id}", "case"),
             ("commissie", "GET", f"/api/v1/tasks/{task.id}", "task:besluit"),
             ("consulent", "GET", f"/api/v1/cases/{case_id}/events", "events"),
             ("consulent", "GET", f"/api/v1/cases/{case_id}/state?at={quote(at)}", f"state@{at}"),
             ("auditor", "POST", f"/api/v1/cases/{case_id}/replay", "replay"),
             ("auditor", "GET", f"/api/v1/cases/{case_id}/export?format=pdf", "export:pdf"),
             ("auditor", "GET", f"/api/v1/cases/{case_id}/export", "export:json")]
    for role, method, path, _ in reads:
        response = call(client, world, role, method, path)
        assert response.status_code == 200, (path, response.get_json())
    logged = entries(db, case_id)
    assert [(e.actor, e.role, e.what, e.channel) for e in logged] == [
        (world[role].email, world[role].role, what, "api") for role, _, _, what in reads]
    assert all(e.user_id == world[role].user_id for e, (role, *_) in zip(logged, reads, strict=True))
    assert logged[0].at <= logged[-1].at

    listing = call(client, world, "auditor", "GET", f"/api/v1/cases/{case_id}/access-log?limit=3")
    assert listing.status_code == 200 and listing.headers["X-Total-Count"] == str(len(reads))
    body = listing.get_json()
    assert [e["what"] for e in body] == ["export:json", "export:pdf", "replay"]  # newest first
    assert set(body[0]) == {"id", "at", "case_id", "user_id", "actor", "role", "what", "channel"}
    assert entries(db, case_id)[-1].what == "access-log"  # reading the log is itself logged

    mine = call(client, world, "beheerder", "GET", f"/api/v1/users/{world['consulent'].user_id}/access-log")
    assert [e["what"] for e in mine.get_json()] == [f"state@{at}", "events"]
    assert chain(db, world.tenant_id).intact


def test_the_access_log_is_for_auditors_and_beheerders_of_the_same_swv(client, runtime, world, sample, db):
    case_id = to_besluit(runtime, world, sample)
    for role in ("consulent", "commissie", "school", "procesbeheerder"):
        assert call(client, world, role, "GET", f"/api/v1/cases/{case_id}/access-log").status_code == 403
        assert call(client, world, role, "GET", "/api/v1/users/1/access-log").status_code == 403
        assert call(client, world, role, "POST", f"/api/v1/cases/{case_id}/replay").status_code == 403
    other = make_world(db, key="swv-elders", region="zuid")
    assert call(client, other, "auditor", "GET", f"/api/v1/cases/{case_id}/access-log").status_code == 404
    assert call(client, other, "auditor", "GET",
                f"/api/v1/users/{world['consulent'].user_id}/access-log").status_code == 404
    denied = call(client, world, "school2", "GET", f"/api/v1/cases/{case_id}")  # the other school
    assert denied.status_code == 403
    assert entries(db, case_id) == []  # a refused read showed nothing, so nothing was seen


def test_an_auditor_reads_every_case_and_changes_nothing(client, runtime, world, sample, db):
    case_id = to_besluit(runtime, world, sample)
    task = open_task(runtime, case_id, "besluit")
    assert call(client, world, "auditor", "GET", f"/api/v1/cases/{case_id}").status_code == 200
    assert call(client, world, "auditor", "GET", f"/api/v1/cases/{case_id}/events").status_code == 200
    assert call(client, world, "auditor", "GET", f"/api/v1/cases/{case_id}/state").status_code == 200
    assert call(client, world, "auditor", "POST", "/api/v1/cases",
                {"route": "tlv-vso", "data": sample["start"]}).status_code == 403
    assert call(client, world, "auditor", "POST", f"/api/v1/tasks/{task.id}/claim").status_code == 403
    assert call(client, world, "auditor", "POST", f"/api/v1/tasks/{task.id}/complete",
                {"data": sample["toekennen"]}).status_code == 403
    auditor = world["auditor"]
    for action in (lambda: runtime.retry(auditor, case_id), lambda: runtime.suspend(auditor, case_id, "controle"),
                   lambda: runtime.resume(auditor, case_id), lambda: runtime.extend(auditor, case_id, 2, "x")):
        with pytest.raises(Forbidden):
            action()
    with db.read() as session:
        case = session.get(Case, case_id)
        assert case.event_seq == 4 and case.status == "open"
        assert audit.replay(runtime, session, case).consistent


def test_cli_show_and_export_are_recorded(runtime, world, sample, db, db_url, tmp_path):
    case_id = to_besluit(runtime, world, sample)
    assert cli(db_url, "cases", "show", str(case_id)).exit_code == 0
    assert cli(db_url, "audit", "export", str(case_id), "--format", "pdf", "--output",
               str(tmp_path / "r.pdf")).exit_code == 0
    assert cli(db_url, "audit", "replay", str(case_id)).exit_code == 0
    logged = entries(db, case_id)
    assert [(e.what, e.channel, e.role) for e in logged] == [
        ("case", "cli", "beheerder"), ("export:pdf", "cli", "beheerder"), ("replay", "cli", "beheerder")]
    assert all(e.actor.startswith("cli:") and e.user_id is None for e in logged)
    result = cli(db_url, "audit", "access-log", "--case", str(case_id))
    assert result.exit_code == 0 and "export:pdf" in result.output
    assert entries(db, case_id)[-1].what == "access-log"


def test_tampering_with_the_access_log_is_found(runtime, world, sample, db, db_url):
    case_id = to_besluit(runtime, world, sample)
    for _ in range(5):
        access.record(db, world["consulent"], "case", "api", case_id)
    ids = [e.id for e in entries(db)]
    assert chain(db, world.tenant_id).intact

    with db.engine.begin() as conn:
        conn.execute(update(AccessLog.__table__).where(AccessLog.id == ids[1]).values(actor="niemand@x.test"))
    broken = chain(db, world.tenant_id).breaks
    assert [b.entry_id for b in broken] == [ids[1]]
    result = cli(db_url, "audit", "verify", "--all")
    assert result.exit_code == 1 and f"toegangslog sterk-vo, regel {ids[1]}" in result.output

    with db.engine.begin() as conn:
        conn.execute(update(AccessLog.__table__).where(AccessLog.id == ids[1]).values(actor=world["consulent"].email))
        conn.execute(delete(AccessLog.__table__).where(AccessLog.id == ids[2]))
    # The entry after the hole, and the head that counts one entry more than there are.
    assert [b.entry_id for b in chain(db, world.tenant_id).breaks] == [ids[3], None]

    with db.engine.begin() as conn:
        conn.execute(delete(AccessLog.__table__).where(AccessLog.id.in_([ids[3], ids[4]])))
    # Removing the tail leaves the chain consistent in itself; the head still counts 5 entries.
    breaks = chain(db, world.tenant_id).breaks
    assert [b.entry_id for b in breaks] == [None] and "5 regels" in breaks[0].message


def test_concurrent_readers_keep_one_unbroken_chain(runtime, world, sample, db):
    case_id = to_besluit(runtime, world, sample)
    barrier = threading.Barrier(4)
    errors = []

    def read(role: str) -> None:
        barrier.wait()
        try:
            for _ in range(10):
                access.record(db, world[role], "case", "api", case_id)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=read, args=(role,)) for role in ("consulent", "commissie", "auditor",
                                                                         "beheerder")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    report_ = chain(db, world.tenant_id)
    assert report_.intact and report_.entries == 40


def test_each_swv_has_its_own_chain(runtime, world, sample, db):
    other = make_world(db, key="swv-elders", region="zuid")
    case_id = to_besluit(runtime, world, sample)
    other_case = to_besluit(runtime, other, sample)
    access.record(db, world["consulent"], "case", "api", case_id)
    access.record(db, other["consulent"], "case", "api", other_case)
    access.record(db, world["consulent"], "events", "api", case_id)
    assert chain(db, world.tenant_id).entries == 2 and chain(db, other.tenant_id).entries == 1
    assert chain(db, world.tenant_id).intact and chain(db, other.tenant_id).intact
