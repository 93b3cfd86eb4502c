"""A policy change after the fact leaves existing cases' history reproducible: what a case was told then (its
doorlooptijd, its tasks' terms) comes from its events, not from the SWV's settings or calendar now. A new case
gets the new policy. Changes go through the real paths: the terms API, ``loket calendar day-off``, a school's
region as an SWV settings event."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select, update

from engine import clock, tenant_events
from engine.models import Case, Event, Task, Tenant
from tests.helpers import at, call, cli, deploy_schooldagen_route, do, events_of, load_case, replayed, to_besluit

NOVEMBER = "2026-11-02T10:00"  # a Monday


def set_term(client, world, term: dict | None, reason: str = "Besluit bestuur") -> None:
    answer = call(client, world, "procesbeheerder", "PUT", "/api/v1/swv/terms/tlv-vso",
                  {**(term or {"term": None}), "reason": reason})
    assert answer.status_code == 200, answer.get_json()


def verify_clean(db_url: str, case_id: int) -> None:
    result = cli(db_url, "audit", "verify", str(case_id))
    assert result.exit_code == 0, result.output
    assert "afwijking" not in result.output.lower(), result.output


def at_besluit(runtime, world, sample, when: str = NOVEMBER) -> int:
    with clock.frozen(at(when)):
        return to_besluit(runtime, world, sample)


def test_a_changed_doorlooptijd_leaves_running_cases_as_they_were_told(client, runtime, world, sample, db_url):
    set_term(client, world, {"term": "weken(2)", "from": "knooppuntoverleg"})
    old = at_besluit(runtime, world, sample)
    told = load_case(runtime, old).due_at
    assert clock.local_date(told).isoformat() == "2026-11-16"

    set_term(client, world, {"term": "weken(6)", "from": "knooppuntoverleg"}, "Nieuw beleid")
    result = replayed(runtime, old)
    assert result.consistent, result.divergence
    verify_clean(db_url, old)
    assert load_case(runtime, old).due_at == told

    new = at_besluit(runtime, world, sample)
    assert clock.local_date(load_case(runtime, new).due_at).isoformat() == "2026-12-14"
    assert replayed(runtime, new).consistent

    set_term(client, world, None, "Geen eigen doorlooptijd meer")  # removed: nobody's history changes
    for case_id in (old, new):
        result = replayed(runtime, case_id)
        assert result.consistent, result.divergence


def test_a_term_added_later_does_not_give_an_older_case_a_doorlooptijd(client, runtime, world, sample, db_url):
    case_id = at_besluit(runtime, world, sample)
    assert load_case(runtime, case_id).due_at is None
    set_term(client, world, {"term": "weken(2)", "from": "knooppuntoverleg"})
    result = replayed(runtime, case_id)
    assert result.consistent, result.divergence
    verify_clean(db_url, case_id)


def test_a_case_waiting_for_its_clock_gets_the_term_of_the_day_it_starts(client, runtime, world, sample):
    """The doorlooptijd starts at knooppuntoverleg: a case still before it when the policy changes runs on the
    new term (the term of the day its clock starts), and its replay says so too."""
    set_term(client, world, {"term": "weken(2)", "from": "knooppuntoverleg"})
    with clock.frozen(at(NOVEMBER)):
        case = runtime.start_case(world["school"], "tlv-vso", sample["start"])
        do(runtime, world, "school", case.id, "aanmelding", sample["aanmelding"])
    set_term(client, world, {"term": "weken(4)", "from": "knooppuntoverleg"})
    with clock.frozen(at(NOVEMBER)):
        do(runtime, world, "consulent", case.id, "dossiercheck", {"dossier_compleet": True})
    assert clock.local_date(load_case(runtime, case.id).due_at).isoformat() == "2026-11-30"
    set_term(client, world, {"term": "weken(8)", "from": "knooppuntoverleg"})
    result = replayed(runtime, case.id)
    assert result.consistent, result.divergence


@pytest.fixture
def schooldagen_route(runtime, tmp_path):
    return deploy_schooldagen_route(runtime, tmp_path)


def started(runtime, world, when: str = "2027-02-11T09:00") -> tuple[int, Task]:
    """A case of school 16PX00 whose task has a term of schooldagen(3) (midden's voorjaarsvakantie: 20-28 Feb)."""
    with clock.frozen(at(when)):
        case = runtime.start_case(world["consulent"], "termijn", {"wachttijd": "P30D", "school": "16PX00"})
    with runtime.db.read() as session:
        return case.id, session.scalars(select(Task).where(Task.case_id == case.id)).one()


def due_day(runtime, task_id: str) -> str:
    with runtime.db.read() as session:
        return clock.local_date(session.get(Task, task_id).due_at).isoformat()


def test_a_day_off_added_later_leaves_a_tasks_term_as_it_was(schooldagen_route, world, db_url):
    runtime = schooldagen_route
    case_id, task = started(runtime, world)
    assert due_day(runtime, task.id) == "2027-02-16"  # Fri 12, Mon 15, Tue 16

    added = cli(db_url, "calendar", "day-off", "--tenant", "sterk-vo", "--date", "2027-02-15", "--name", "Studiedag")
    assert added.exit_code == 0, added.output
    result = replayed(runtime, case_id)
    assert result.consistent, result.divergence
    verify_clean(db_url, case_id)
    assert due_day(runtime, task.id) == "2027-02-16"

    _, other = started(runtime, world)  # a new case counts the day off
    assert due_day(runtime, other.id) == "2027-02-17"


def test_a_school_moved_to_another_region_keeps_its_cases_terms(schooldagen_route, world):
    runtime = schooldagen_route
    case_id, task = started(runtime, world)
    assert due_day(runtime, task.id) == "2027-02-16"

    with runtime.db.transaction() as session:  # the school is in zuid after all (holiday 13-21 February)
        tenant = session.get(Tenant, world.tenant_id)
        tenant_events.change(session, tenant, "schools.16PX00", {"name": "School 16PX00", "region": "zuid"},
                             tenant_events.Who("beheerder@sterk-vo.test", "cli"))
    result = replayed(runtime, case_id)
    assert result.consistent, result.divergence
    assert due_day(runtime, task.id) == "2027-02-16"
    _, other = started(runtime, world)  # a new case counts zuid's holiday (13-21 February)
    assert due_day(runtime, other.id) == "2027-02-23"


def test_events_logged_before_terms_were_recorded_replay_as_before(client, runtime, world, sample, db):
    """An event without the recorded terms (logged by an older Loket) is replayed with the settings of now."""
    set_term(client, world, {"term": "weken(2)", "from": "knooppuntoverleg"})
    case_id = at_besluit(runtime, world, sample)
    inputs = [e for e in events_of(runtime, case_id) if e.payload and "services" in e.payload]
    assert any("case_due" in e.payload for e in inputs) and any("terms" in e.payload for e in inputs)
    with db.engine.begin() as conn:
        for event in inputs:
            payload = {k: v for k, v in event.payload.items() if k not in ("terms", "case_term", "case_due")}
            conn.execute(update(Event.__table__).where(Event.id == event.id).values(payload=payload))
    result = replayed(runtime, case_id)
    assert result.consistent, result.divergence
    set_term(client, world, {"term": "weken(6)", "from": "knooppuntoverleg"}, "Nieuw beleid")
    result = replayed(runtime, case_id)
    assert not result.consistent  # as before: the old events know no better than today's settings
    assert "due_at" in json.dumps(result.divergence)
    with runtime.db.read() as session:
        assert session.get(Case, case_id).due_at is not None


def test_a_calendar_rule_changed_later_leaves_the_doorlooptijd_as_it_was(client, runtime, world, sample, db_url):
    """The SWV's doorlooptijd in werkdagen counts 5 May as a day off until the SWV makes it a werkdag."""
    set_term(client, world, {"term": "werkdagen(3)", "from": "knooppuntoverleg"})
    may = "2027-05-03T10:00"  # a Monday; Wednesday is 5 May, Thursday Hemelvaartsdag
    old = at_besluit(runtime, world, sample, may)
    told = load_case(runtime, old).due_at
    assert clock.local_date(told).isoformat() == "2027-05-10"  # Tue 4, Fri 7, Mon 10

    changed = cli(db_url, "tenants", "calendar", "sterk-vo", "--5-mei", "werkdag")
    assert changed.exit_code == 0, changed.output
    result = replayed(runtime, old)
    assert result.consistent, result.divergence
    verify_clean(db_url, old)
    assert load_case(runtime, old).due_at == told

    new = at_besluit(runtime, world, sample, may)
    assert clock.local_date(load_case(runtime, new).due_at).isoformat() == "2027-05-07"  # Tue 4, Wed 5, Fri 7
