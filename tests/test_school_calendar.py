"""A case's terms in schooldagen count the school days of the case's school: an SWV in midden with a school in
zuid (its own vakantieregio, carnaval off instead of the advisory voorjaarsvakantie) gives that school's cases
the zuid school days, and the SWV's other schools keep the SWV's."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from engine import clock
from engine.calendar_settings import bump_version, setting_row
from engine.models import Deadline, School, Task, Tenant
from tests.helpers import at, deploy_schooldagen_route, replayed


@pytest.fixture
def route(runtime, tmp_path):
    return deploy_schooldagen_route(runtime, tmp_path)


def school_in_zuid(runtime, world, code: str = "16PX00", carnaval: bool = False) -> None:
    with runtime.db.transaction() as session:
        tenant = session.get(Tenant, world.tenant_id)
        school = session.scalar(select(School).where(School.tenant_id == tenant.id, School.code == code))
        row = setting_row(session, tenant, school, create=True)
        row.region = "zuid"
        if carnaval:  # carnaval 2027 (6-9 Feb) lies before zuid's advisory voorjaarsvakantie: the school takes it off
            row.advisory = {"voorjaarsvakantie:2026-2027": False}
            row.days_off = {"2027-02-08": "Carnaval", "2027-02-09": "Carnaval"}
        bump_version(tenant)


def started(runtime, world, when: str, school: str) -> tuple[int, str, str, str | None]:
    """A case started at ``when`` for ``school``: (case id, the task's due day, warning day, timer day)."""
    with clock.frozen(at(when)):
        case = runtime.start_case(world["consulent"], "termijn", {"wachttijd": "P30D", "school": school})
    with runtime.db.read() as session:
        task = session.scalars(select(Task).where(Task.case_id == case.id)).one()
        timer = session.scalar(select(Deadline).where(Deadline.case_id == case.id, Deadline.kind == "timer"))
        return (case.id, clock.local_date(task.due_at).isoformat(), clock.local_date(task.warn_at).isoformat(),
                clock.local_date(timer.due_at).isoformat() if timer is not None else None)


def test_a_school_in_zuid_counts_its_own_voorjaarsvakantie(route, world):
    runtime = route
    school_in_zuid(runtime, world)
    # Voorjaarsvakantie 2027: midden 20-28 February, zuid 13-21 February. From Thursday 11 February, 3 school days:
    case_id, due, warn, timer = started(runtime, world, "2027-02-11T09:00", "16PX00")
    assert due == "2027-02-23"  # zuid: Fri 12, (13-21 off), Mon 22, Tue 23
    assert warn == "2027-02-22"  # one school day before: Mon 22 (the holiday week does not count back either)
    assert timer == "2027-02-22"  # the route's own timer, schooldagen(2): Fri 12, Mon 22
    other_id, other_due, _, other_timer = started(runtime, world, "2027-02-11T09:00", "20LJ00")
    assert (other_due, other_timer) == ("2027-02-16", "2027-02-15")  # the SWV's midden: Fri 12, Mon 15, Tue 16
    for case in (case_id, other_id):
        result = replayed(runtime, case)
        assert result.consistent, result.divergence


def test_a_school_in_zuid_that_takes_carnaval_off_instead(route, world):
    runtime = route
    school_in_zuid(runtime, world, carnaval=True)
    # From Friday 5 February 2027, 3 school days: the school is off on carnaval Mon 8 and Tue 9 but open in the
    # advisory week 15-19 February it gave up; the SWV (midden) counts Mon 8, Tue 9, Wed 10.
    _, due, _, _ = started(runtime, world, "2027-02-05T09:00", "16PX00")
    assert due == "2027-02-12"  # Wed 10, Thu 11, Fri 12
    _, due, _, _ = started(runtime, world, "2027-02-11T09:00", "16PX00")
    assert due == "2027-02-16"  # Fri 12, Mon 15, Tue 16: no voorjaarsvakantie for this school
    _, swv_due, _, _ = started(runtime, world, "2027-02-05T09:00", "20LJ00")
    assert swv_due == "2027-02-10"
