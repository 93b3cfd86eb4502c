"""Terms in routes, warnings and escalations, opschorting and verlenging, BPMN timers and the scheduler."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from freezegun import freeze_time
from sqlalchemy import func, select

from engine import clock, routes
from engine.config import PROJECT_ROOT
from engine.errors import Conflict, Forbidden
from engine.inbox import inbox
from engine.models import Case, Deadline, Event, OutboxMessage, Task, Tenant
from engine.present import task_json
from engine.scheduler import Scheduler, fire_due
from tests.helpers import at, do, events_of, load_case, loket, open_task

TIMERS = Path(__file__).parent / "bpmn" / "timers" / "herinnering.bpmn"


@pytest.fixture
def timers(runtime):
    with runtime.db.transaction() as session:
        routes.deploy(session, TIMERS)
    return runtime


def outbox(runtime, case_id: int) -> list[OutboxMessage]:
    with runtime.db.read() as session:
        return list(session.scalars(select(OutboxMessage).where(OutboxMessage.case_id == case_id)
                                    .order_by(OutboxMessage.id)))


def task_row(runtime, task_id: str) -> Task:
    with runtime.db.read() as session:
        return session.get(Task, task_id)


def test_task_terms_follow_the_calendar_across_christmas(runtime, world, sample):
    with clock.frozen(at("2026-12-21T10:00")):  # a Monday
        case = runtime.start_case(world["school"], "tlv-vso", sample["start"])
        aanmelding = open_task(runtime, case.id, "aanmelding")
    # weken(6), a policy term: six calendar weeks, to the end of that day, not shifted
    assert aanmelding.due_at == at("2027-02-01T23:59:59")
    with clock.frozen(at("2026-12-22T09:00")):
        do(runtime, world, "school", case.id, "aanmelding", sample["aanmelding"])
        check = open_task(runtime, case.id, "dossiercheck")
    # werkdagen(5) from Tuesday 22 December: 23, 24, (25/26 Christmas, weekend), 28, 29, 30
    assert check.due_at == at("2026-12-30T23:59:59")
    # warning werkdagen(2) before: from the start of Monday 28 December
    assert check.warn_at == at("2026-12-28T00:00")
    assert check.escalate_to == "commissie"
    with runtime.db.read() as session:
        kinds = sorted(session.scalars(select(Deadline.kind).where(Deadline.task_id == check.id,
                                                                   Deadline.status == "pending")))
    assert kinds == ["escalation", "warning"]


def test_frozen_time_warning_then_escalation(runtime, world, sample):
    with freeze_time("2026-12-22T08:00:00Z"):
        case = runtime.start_case(world["school"], "tlv-vso", sample["start"])
        do(runtime, world, "school", case.id, "aanmelding", sample["aanmelding"])
        check = open_task(runtime, case.id, "dossiercheck")

    with freeze_time("2026-12-27T12:00:00Z"):  # before the warning: nothing happens
        assert fire_due(runtime).fired == 0
    with freeze_time("2026-12-28T09:00:00Z"):  # warning period started
        assert fire_due(runtime).fired == 1
        assert fire_due(runtime).fired == 0  # and only once
    warned = events_of(runtime, case.id, "deadline_warned")
    assert [(e.task_name, e.actor, e.role) for e in warned] == [("dossiercheck", "systeem", "systeem")]
    mails = outbox(runtime, case.id)
    assert {m.to_address for m in mails} == {world["consulent"].email, world["consulent2"].email}
    assert "bijna verstreken" in mails[0].subject

    with freeze_time("2026-12-31T09:00:00Z"):  # the term (30 December) has passed
        assert fire_due(runtime).fired == 1
        with runtime.db.read() as session:
            row = session.get(Task, check.id)
            shown = task_json(row)
            assert shown["overdue"] is True and shown["escalated"] is True
            tasks, _ = inbox(session, world["consulent"], scope="all")
            assert tasks[0].id == check.id  # escalated tasks jump to the top
    escalated = events_of(runtime, case.id, "deadline_escalated")
    assert escalated[0].payload["to_role"] == "commissie" and escalated[0].payload["reassigned"] is False
    latest = outbox(runtime, case.id)[-1]
    assert "Termijn verstreken" in latest.subject and "commissie" in latest.body
    assert world["commissie"].email in {m.to_address for m in outbox(runtime, case.id)}


def test_escalation_reassigns_where_the_route_says_so(timers, world):
    runtime = timers
    with clock.frozen(at("2027-03-01T09:00")):  # Monday
        case = runtime.start_case(world["consulent"], "herinnering", {"wachttijd": "P30D"})
        task = open_task(runtime, case.id, "beoordelen")
        runtime.claim(world["consulent"], task.id)
    with clock.frozen(at("2027-03-09T09:00")):
        assert fire_due(runtime).fired == 2  # the warning and the escalation
    row = task_row(runtime, task.id)
    assert (row.lane, row.assignee_id, row.status, row.escalated) == ("commissie", None, "ready", True)
    event = events_of(runtime, case.id, "deadline_escalated")[0]
    assert event.payload["reassigned"] and event.payload["from"]["assignee"] == world["consulent"].email
    with pytest.raises(Forbidden):
        runtime.complete(world["consulent"], task.id, {})
    runtime.complete(world["commissie"], task.id, {"oordeel": "Afgehandeld door de commissie."})


def test_suspend_and_resume_shift_every_deadline(runtime, world, sample):
    with clock.frozen(at("2027-01-11T09:00")):
        case = runtime.start_case(world["school"], "tlv-vso", sample["start"])
        do(runtime, world, "school", case.id, "aanmelding", sample["aanmelding"])
        check = open_task(runtime, case.id, "dossiercheck")
    with clock.frozen(at("2027-01-12T09:00")):
        with pytest.raises(Forbidden):
            runtime.suspend(world["school"], case.id, "wachten op ouders")
        runtime.suspend(world["consulent"], case.id, "Wachten op de zienswijze van de ouders.")
        with pytest.raises(Conflict, match="opgeschort"):
            runtime.complete(world["consulent"], check.id, {"dossier_compleet": True})
    with clock.frozen(at("2027-02-01T09:00")):  # long past the original term: nothing fires while suspended
        assert fire_due(runtime).fired == 0
        runtime.resume(world["consulent"], case.id, "Zienswijze ontvangen.")
    moved = task_row(runtime, check.id)
    assert moved.due_at - check.due_at == timedelta(days=20)
    assert moved.warn_at - check.warn_at == timedelta(days=20)
    with runtime.db.read() as session:
        dues = sorted(session.scalars(select(Deadline.due_at).where(Deadline.task_id == check.id)))
        assert dues == sorted([check.warn_at + timedelta(days=20), check.due_at + timedelta(days=20)])
        assert session.get(Case, case.id).suspended_seconds == 20 * 86400
    assert [e.payload["reason"] for e in events_of(runtime, case.id, "case_suspended")] == [
        "Wachten op de zienswijze van de ouders."]
    assert events_of(runtime, case.id, "case_resumed")[0].payload["shift_seconds"] == 20 * 86400
    runtime.complete(world["consulent"], check.id, {"dossier_compleet": True})


def set_case_term(runtime, world, term: dict) -> None:
    with runtime.db.transaction() as session:
        tenant = session.get(Tenant, world.tenant_id)
        tenant.settings = {"terms": {"tlv-vso": term}, "max_extensions": 1}


def test_case_term_from_a_step_escalates_and_extends_once(runtime, world, sample):
    set_case_term(runtime, world, {"term": "weken(2)", "from": "knooppuntoverleg", "escalateTo": "bestuurder"})
    with clock.frozen(at("2027-01-11T09:00")):
        case = runtime.start_case(world["school"], "tlv-vso", sample["start"])
        do(runtime, world, "school", case.id, "aanmelding", sample["aanmelding"])
        with pytest.raises(Conflict, match="geen doorlooptijd"):  # the term starts at the complete dossier
            runtime.extend(world["consulent"], case.id, 2, "x")
    assert load_case(runtime, case.id).due_at is None  # the refused extension left no term and no trace
    assert events_of(runtime, case.id, "case_extended") == []
    with clock.frozen(at("2027-01-13T09:00")):
        do(runtime, world, "consulent", case.id, "dossiercheck", {"dossier_compleet": True})
    with runtime.db.read() as session:
        assert session.get(Case, case.id).due_at == at("2027-01-27T23:59:59")  # complete dossier + 2 weeks
    with clock.frozen(at("2027-01-20T09:00")):
        extended = runtime.extend(world["consulent"], case.id, 1, "Deskundige later beschikbaar.")
        assert extended.due_at == at("2027-02-03T23:59:59")
        with pytest.raises(Conflict, match="1 keer"):
            runtime.extend(world["consulent"], case.id, 1, "Nog eens")
    with clock.frozen(at("2027-01-28T09:00")):  # the old term passed, the extended one not
        fire_due(runtime)
    with runtime.db.read() as session:
        case_terms = session.execute(select(Deadline.status, Deadline.due_at).where(
            Deadline.case_id == case.id, Deadline.kind == "case")).all()
    assert [due for status, due in case_terms if status == "pending"] == [at("2027-02-03T23:59:59")]
    assert "fired" not in {status for status, _ in case_terms}
    assert world["bestuurder"].email not in {m.to_address for m in outbox(runtime, case.id)}
    with clock.frozen(at("2027-02-04T09:00")):
        fire_due(runtime)
    case_escalations = [e for e in events_of(runtime, case.id, "deadline_escalated") if e.payload["kind"] == "case"]
    assert len(case_escalations) == 1 and case_escalations[0].payload["to_role"] == "bestuurder"
    assert any(m.to_address == world["bestuurder"].email and "Doorlooptijd" in m.subject
               for m in outbox(runtime, case.id))
    extended_event = events_of(runtime, case.id, "case_extended")[0]
    assert extended_event.payload["weeks"] == 1 and extended_event.payload["reason"] == "Deskundige later beschikbaar."


def test_closing_a_case_cancels_its_deadlines(runtime, world, sample):
    case = runtime.start_case(world["school"], "tlv-vso", sample["start"])
    do(runtime, world, "school", case.id, "aanmelding", sample["aanmelding"])
    do(runtime, world, "consulent", case.id, "dossiercheck", {"dossier_compleet": True})
    do(runtime, world, "consulent", case.id, "knooppuntoverleg", sample["knooppuntoverleg"])
    do(runtime, world, "commissie", case.id, "besluit", sample["afwijzen"])
    with runtime.db.read() as session:
        statuses = set(session.scalars(select(Deadline.status).where(Deadline.case_id == case.id)))
    assert statuses == {"cancelled"}


def test_a_bpmn_timer_is_fired_by_the_wake_up_with_the_real_clock(timers, world):
    runtime = timers
    # No periodic sweep comes within the wait (its first run is at start, before the case): only the wake-up
    # planned after the action can fire the timer. How soon it fires is measured by bench/scheduler.py.
    scheduler = Scheduler(runtime, sweep_seconds=3600)
    scheduler.start()
    try:
        case = runtime.start_case(world["consulent"], "herinnering", {"wachttijd": "PT1S"})
        with runtime.db.read() as session:
            due = session.scalar(select(Deadline.due_at).where(Deadline.case_id == case.id, Deadline.kind == "timer"))
        deadline = time.monotonic() + 30  # a safety net against hanging, not a measurement
        while time.monotonic() < deadline and not events_of(runtime, case.id, "timer_fired"):
            time.sleep(0.05)
    finally:
        scheduler.shutdown()
    fired = events_of(runtime, case.id, "timer_fired")
    assert len(fired) == 1
    assert fired[0].at >= due  # never before its moment
    assert open_task(runtime, case.id, "opvolgen").lane == "commissie"  # the boundary path ran
    with runtime.db.read() as session:
        assert session.get(Task, open_task(runtime, case.id, "opvolgen").id)
        assert session.scalar(select(func.count()).select_from(Task).where(
            Task.case_id == case.id, Task.name == "beoordelen", Task.status == "cancelled")) == 1


def test_a_restarted_scheduler_fires_what_passed_while_it_was_down(timers, world):
    runtime = timers
    with clock.frozen(datetime.now(UTC) - timedelta(days=10)):
        cases = [runtime.start_case(world["consulent"], "herinnering", {"wachttijd": "PT1H"}) for _ in range(3)]
    scheduler = Scheduler(runtime, sweep_seconds=30)
    scheduler.start()  # the first sweep runs at start
    try:
        deadline = time.monotonic() + 30  # a safety net against hanging, not a measurement
        while time.monotonic() < deadline and not all(events_of(runtime, c.id, "timer_fired") for c in cases):
            time.sleep(0.05)
    finally:
        scheduler.shutdown()
    for case in cases:
        assert len(events_of(runtime, case.id, "timer_fired")) == 1
        assert len(events_of(runtime, case.id, "deadline_escalated")) == 0  # the timer ended the task first
        assert open_task(runtime, case.id, "opvolgen")


def test_two_scheduler_processes_fire_each_deadline_exactly_once(runtime, world, sample, db_url):
    if db_url.startswith("sqlite"):
        pytest.skip("several scheduler processes are a PostgreSQL deployment; SQLite has one")
    for _ in range(500):
        runtime.start_case(world["school"], "tlv-vso", sample["start"])
    with runtime.db.read() as session:
        pending = session.scalar(select(func.count()).select_from(Deadline).where(Deadline.status == "pending"))
    assert pending == 1000  # a warning and an escalation for each aanmelding
    later = (datetime.now(UTC) + timedelta(days=60)).isoformat()
    env = dict(os.environ, LOKET_DATABASE_URL=db_url)
    procs = [subprocess.Popen([sys.executable, "-c", "import cli; cli.run()", "scheduler", "--once", "--now", later],
                              cwd=PROJECT_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    outputs = [p.communicate(timeout=300) for p in procs]
    assert all(p.returncode == 0 for p in procs), outputs
    with runtime.db.read() as session:
        fired = session.execute(select(Deadline.fired_by, func.count()).where(Deadline.status == "fired")
                                .group_by(Deadline.fired_by)).all()
        per_task = session.execute(select(Event.task_id, Event.type, func.count()).where(
            Event.type.in_(("deadline_warned", "deadline_escalated"))).group_by(Event.task_id, Event.type)).all()
    assert sum(n for _, n in fired) == 1000
    assert len(per_task) == 1000 and all(n == 1 for *_, n in per_task)


def test_scheduler_once_from_the_command_line(runtime, world, sample, db_url):
    if not db_url.startswith("sqlite"):
        pytest.skip("the CLI is exercised once")
    with clock.frozen(at("2027-01-11T09:00")):
        case = runtime.start_case(world["school"], "tlv-vso", sample["start"])
    run = loket("scheduler", "--once", "--now", "2027-02-23T09:00:00+01:00", url=db_url)
    assert run.returncode == 0, run.stderr
    assert "2 termijnen afgehandeld" in run.stdout
    assert [e.type for e in events_of(runtime, case.id, "deadline_escalated")] == ["deadline_escalated"]
    shown = loket("calendar", "add", "--tenant", "sterk-vo", "--from", "2026-12-22", "--amount", "5",
                  "--unit", "werkdagen", url=db_url)
    assert shown.stdout.strip() == "2026-12-30"
    listed = loket("calendar", "show", "--tenant", "sterk-vo", "--year", "2027", url=db_url)
    assert "Koningsdag" in listed.stdout and "Kerstvakantie" in listed.stdout
    outside = loket("calendar", "add", "--tenant", "sterk-vo", "--from", "2029-03-01", "--amount", "5",
                    "--unit", "schooldagen", url=db_url)
    assert outside.returncode == 1 and "2024-2025" in outside.stderr and "Traceback" not in outside.stderr


def test_a_user_acting_during_a_sweep_loses_and_doubles_nothing(runtime, world, sample, db_url):
    if db_url.startswith("sqlite"):
        pytest.skip("on SQLite the sweep holds the write lock, so a user's action simply waits for it")
    with clock.frozen(at("2027-01-11T09:00")):
        cases = [runtime.start_case(world["school"], "tlv-vso", sample["start"]) for _ in range(3)]
    real_fire = runtime.fire
    interfered = []

    def fire(session, deadline, now, worker):
        if not interfered:  # a case worker claims the task while the sweep is busy with its batch
            interfered.append(deadline.task_id)
            runtime.claim(world["school"], deadline.task_id)
        return real_fire(session, deadline, now, worker)

    runtime.fire = fire
    with clock.frozen(at("2027-03-01T09:00")):
        report = fire_due(runtime)
    assert report.fired == 6 and interfered
    for case in cases:
        assert len(events_of(runtime, case.id, "deadline_warned")) == 1
        assert len(events_of(runtime, case.id, "deadline_escalated")) == 1
    assert task_row(runtime, interfered[0]).status == "claimed"  # the user's action stands


def test_an_extra_day_off_counts_at_once_for_school_day_terms(runtime, world):
    from engine.deadlines import Terms, add_day_off

    with runtime.db.transaction() as session, clock.frozen(at("2027-03-08T09:00")):  # Monday
        tenant = session.get(Tenant, world.tenant_id)
        before = Terms(session, tenant).forward()["schooldagen"](3)
        add_day_off(session, tenant, datetime(2027, 3, 10).date(), "Studiedag")
    with runtime.db.transaction() as session, clock.frozen(at("2027-03-08T09:00")):
        after = Terms(session, session.get(Tenant, world.tenant_id)).forward()["schooldagen"](3)
    assert datetime.fromisoformat(before) == at("2027-03-11T23:59:59")  # Tue, Wed, Thu
    assert datetime.fromisoformat(after) == at("2027-03-12T23:59:59")  # the studiedag (Wed) does not count
