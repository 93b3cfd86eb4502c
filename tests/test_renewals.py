"""Herbeoordeling on time (issue 12, engine/renewals.py): the scheduler opens a herbeoordeling for every TLV in the
register that ends, linked to the case that granted it, on the day the SWV's own deadline says, once per TLV (also
with two schedulers at once, and not for a TLV already renewed by hand or already ended), on both backends."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

import pytest

from engine import clock, renewals
from engine.errors import Conflict
from engine.models import Tenant
from tests.helpers import at, cli, events_of, load_case, open_task, replayed, verified
from tests.test_retention import decided

# The granted TLV (tests' sample) runs to Monday 31 July 2028: the SWV's default deadline is Saturday 1 April 2028,
# and the herbeoordeling opens 12 weeks before it, on Saturday 8 January 2028.
OPENS = at("2028-01-08T06:00")


def sweep(runtime, moment: datetime) -> renewals.RenewalReport:
    with clock.frozen(moment):
        return renewals.sweep(runtime, moment)


def test_the_sweep_opens_a_herbeoordeling_once_on_the_day_it_is_due(runtime, world, sample, db):
    source = decided(runtime, world, sample)
    with db.read() as session:  # a TLV VSO, or one a herbeoordeling granted; a TLV PrO is not renewed this way
        assert renewals.sources(session) == ("tlv-vso", "herbeoordeling")
    assert sweep(runtime, OPENS - timedelta(hours=7)).opened == []  # Friday 7 January: not yet
    report = sweep(runtime, OPENS)
    [(number, case_id)] = report.opened
    assert number == "TLV-2026-0001"
    case = load_case(runtime, case_id)
    assert case.route_version.route.key == "herbeoordeling" and case.school_id == load_case(runtime, source).school_id
    assert case.data["aanvraag_uiterlijk"] == "2028-04-01" and case.data["huidige_tlv"]["einddatum"] == "2028-07-31"
    assert case.data["leerling"]["achternaam"] == "de Vries"
    task = open_task(runtime, case_id, "aanvraag")
    assert task.lane == "school" and clock.format_moment(task.due_at) == "01-04-2028 23:59"
    started = events_of(runtime, case_id, "case_started")[0]
    assert started.actor == "systeem" and started.payload["link"]["relation"] == "herbeoordeling"
    assert events_of(runtime, source, "case_linked")[0].payload["case_id"] == case_id
    assert sweep(runtime, OPENS + timedelta(days=1)).opened == []  # once per TLV
    for case_id_ in (source, case_id):
        assert verified(db, case_id_).intact and replayed(runtime, case_id_).consistent


def test_a_tlv_renewed_by_hand_ended_or_of_an_swv_without_the_route_gets_none(runtime, world, sample, db):
    source = decided(runtime, world, sample)
    with clock.frozen(OPENS - timedelta(days=30)):
        by_hand = runtime.start_case(world["consulent"], "herbeoordeling", {}, linked_from=source)
        with pytest.raises(Conflict, match=f"al een herbeoordeling gestart \\(dossier {by_hand.id}\\)"):
            runtime.start_case(world["consulent"], "herbeoordeling", {}, linked_from=source)
    assert sweep(runtime, OPENS).opened == []
    other = decided(runtime, world, sample)
    with db.transaction() as session:
        tenant = session.get(Tenant, world.tenant_id)
        tenant.settings = {**tenant.settings, "routes": ["tlv-vso", "bezwaar"]}
    assert sweep(runtime, OPENS).opened == []  # the SWV does not run herbeoordeling
    with db.transaction() as session:
        tenant = session.get(Tenant, world.tenant_id)
        tenant.settings = {k: v for k, v in tenant.settings.items() if k != "routes"}
    assert sweep(runtime, at("2028-08-01T06:00")).opened == []  # ended on 31 July 2028: nothing to renew
    assert [case for _number, case in sweep(runtime, OPENS).opened] != []  # the other one, still due
    assert load_case(runtime, other).outcome == "toegekend"


def test_the_swvs_own_deadline_sets_the_day(runtime, world, sample, db):
    decided(runtime, world, sample)
    with db.transaction() as session:
        tenant = session.get(Tenant, world.tenant_id)
        tenant.settings = {**tenant.settings, "herbeoordeling": {"deadline": "03-01", "open_weeks_before": 8}}
    # 1 March 2028 minus 8 weeks (2028 is a leap year): Wednesday 5 January 2028.
    assert sweep(runtime, at("2028-01-04T23:00")).opened == []
    [(_number, case_id)] = sweep(runtime, at("2028-01-05T06:00")).opened
    assert load_case(runtime, case_id).data["aanvraag_uiterlijk"] == "2028-03-01"


def test_two_schedulers_at_once_open_it_once(runtime, world, sample):
    decided(runtime, world, sample)
    reports: list[renewals.RenewalReport] = []
    start = threading.Barrier(2)

    def run() -> None:
        start.wait()
        reports.append(renewals.sweep(runtime, OPENS))

    with clock.frozen(OPENS):
        threads = [threading.Thread(target=run) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert sum(len(r.opened) for r in reports) == 1 and all(not r.skipped for r in reports)
    assert sweep(runtime, OPENS).opened == []


def test_loket_scheduler_once_opens_them(runtime, world, sample, db_url):
    if not db_url.startswith("sqlite"):
        pytest.skip("the CLI is exercised once; the engine tests cover PostgreSQL")
    decided(runtime, world, sample)
    answer = cli(db_url, "scheduler", "--once", "--now", "2028-01-08T06:00")
    assert answer.exit_code == 0, answer.output
    assert "1 herbeoordeling(en) geopend" in answer.output
