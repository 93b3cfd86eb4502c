"""The thuiszitter route on the real database: the SWV's own term decides when a pupil goes to the doorzettingsmacht
(handler swv_term, counted from the first day at home), the monitoring timer fires through the scheduler, and the
history replays as it happened."""

from __future__ import annotations

from datetime import UTC, datetime

import yaml

from engine import clock
from engine.config import PROJECT_ROOT
from engine.models import Case, Tenant
from engine.scheduler import fire_due
from tests.helpers import do, open_names, replayed

DATA = yaml.safe_load((PROJECT_ROOT / "processes" / "scenarios" / "thuiszitter" / "_data.yaml").read_text())


def at(day: str) -> datetime:
    return datetime.fromisoformat(f"{day}T08:00").replace(tzinfo=UTC)


def set_term(db, world, term: str) -> None:
    with db.transaction() as session:
        session.get(Tenant, world.tenant_id).settings = {"terms": {"thuiszitter": {"term": term,
                                                                                   "escalateTo": "bestuurder"}}}


def to_monitoring(runtime, world) -> int:
    """A thuiszitter case (at home since 31 August 2026) up to its plan, monitored every 4 weeks."""
    with clock.frozen(at("2026-09-07")):
        case = runtime.start_case(world["school"], "thuiszitter", DATA["start"])
        do(runtime, world, "school", case.id, "verzuimmelding", DATA["verzuimmelding"])
        do(runtime, world, "leerplicht", case.id, "intake_leerplicht", DATA["intake"])
        do(runtime, world, "consulent", case.id, "casustafel", DATA["casustafel"])
        do(runtime, world, "consulent", case.id, "plan", DATA["plan"])
    assert open_names(runtime, case.id) == []
    return case.id


def test_the_swv_term_sends_the_pupil_to_the_doorzettingsmacht_and_replays(runtime, world, db):
    set_term(db, world, "weken(6)")  # an SWV stricter than the pact: six weeks at home, counted from 31 August
    case_id = to_monitoring(runtime, world)
    with clock.frozen(at("2026-10-06")):  # the timer (7 September + 4 weeks) has fired
        fire_due(runtime)
    assert open_names(runtime, case_id) == ["monitoring"]
    with clock.frozen(at("2026-10-06")):
        do(runtime, world, "consulent", case_id, "monitoring", DATA["thuis"])
    assert open_names(runtime, case_id) == []  # within the term (until 12 October): the next round

    with clock.frozen(at("2026-11-04")):
        fire_due(runtime)
        do(runtime, world, "consulent", case_id, "monitoring", DATA["thuis"])
    assert open_names(runtime, case_id) == ["doorzettingsmacht"]  # past the six weeks: the bestuurder decides
    with runtime.db.read() as session:
        data = session.get(Case, case_id).data
    assert data["thuistermijn"]["einde"] == "2026-10-12" and data["thuistermijn"]["verstreken"] is True

    result = replayed(runtime, case_id)
    assert result.consistent, result.divergence


def test_without_a_term_of_its_own_the_swv_follows_the_pact(runtime, world, db):
    case_id = to_monitoring(runtime, world)
    with clock.frozen(at("2026-10-06")):
        fire_due(runtime)
        do(runtime, world, "consulent", case_id, "monitoring", DATA["thuis"])
    with runtime.db.read() as session:
        data = session.get(Case, case_id).data
    assert data["thuistermijn"] == {"termijn": "weken(13)", "sinds": "2026-08-31", "einde": "2026-11-30",
                                    "verstreken": False, "dagen": 36}
    assert open_names(runtime, case_id) == []
