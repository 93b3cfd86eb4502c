"""An SWV's configuration changes as events, never an edit in place (issue 12): the calendar (5 mei, Goede
Vrijdag, advisory holidays), its municipalities and region, its extra days off, its schools and their calendars
and the TLV rules, changed with the CLI, each leave a change in the SWV's history (who, when, before, after),
``loket tenants show`` lists them, and a row changed behind Loket's back is named. Both backends."""

from __future__ import annotations

from sqlalchemy import select

from engine.db import Database
from engine.models import CalendarSetting, Tenant
from engine.tenant_events import differences, history


def _changes(db_url: str) -> list[tuple[str, object, object]]:
    database = Database(db_url)
    try:
        with database.read() as session:
            tenant = session.scalar(select(Tenant).where(Tenant.key == "sterk-vo"))
            assert tenant is not None
            return [(e.path, e.before, e.after) for e in reversed(history(session, tenant.id))]
    finally:
        database.dispose()


def test_a_calendar_change_is_an_event_in_the_history(loket, db_url):
    loket("tenants", "add", "sterk-vo", "--name", "Sterk VO", "--gemeente", "Utrecht")
    shown = loket("tenants", "calendar", "sterk-vo", "--5-mei", "werkdag", "--zonder", "meivakantie-week2")
    assert "5 mei: werkdag en schooldag" in shown.stdout  # the output as before
    [(path, before, after)] = _changes(db_url)
    assert path == "calendar"
    assert before == {"may5_off": None, "good_friday_off": None, "advisory": {}}
    assert after == {"may5_off": False, "good_friday_off": None, "advisory": {"meivakantie-week2": False}}
    listed = loket("tenants", "show", "sterk-vo").stdout
    assert "laatste wijzigingen: 1" in listed and "via cli: calendar: " in listed
    assert "5 mei werkdag" in listed and "waarschuwing" not in listed


def test_area_days_off_schools_and_tlv_rules_are_events(loket, db_url):
    loket("tenants", "add", "sterk-vo", "--name", "Sterk VO", "--gemeente", "Utrecht")
    loket("tenants", "calendar", "sterk-vo", "--gemeente", "Amersfoort")
    loket("calendar", "day-off", "--tenant", "sterk-vo", "--date", "2026-10-12", "--name", "Studiedag")
    loket("schools", "add", "16PX00", "--tenant", "sterk-vo", "--name", "Het Lyceum", "--gemeente", "Maastricht")
    loket("tenants", "calendar", "sterk-vo", "--school", "16PX00", "--goede-vrijdag", "werkdag")
    loket("calendar", "day-off", "--tenant", "sterk-vo", "--school", "16PX00", "--date", "2026-11-02",
          "--name", "Studiedag")
    loket("tlv", "settings", "sterk-vo", "--einddag", "geen", "--register-marge", "24")
    changes = _changes(db_url)
    assert [path for path, _, _ in changes] == ["area", "days_off", "schools.16PX00", "calendar.16PX00",
                                                "calendar.16PX00", "tlv"]
    assert changes[0][1:] == ({"gemeenten": ["Utrecht"], "region": "midden"},
                              {"gemeenten": ["Amersfoort"], "region": "midden"})
    assert changes[1][1:] == ({}, {"2026-10-12": "Studiedag"})
    assert changes[2][2] == {"name": "Het Lyceum", "gemeente": "Maastricht", "region": "zuid"}
    assert changes[4][2]["days_off"] == {"2026-11-02": "Studiedag"}
    assert changes[4][2]["good_friday_off"] is False
    assert changes[5][1:] == ({}, {"einddag": None, "register_marge_maanden": 24})
    listed = loket("tenants", "show", "sterk-vo", "--history", "20").stdout
    assert "regio zuid (eigen regio), gemeente Maastricht" in listed
    assert "vrije dag 2026-10-12: Studiedag" in listed and "waarschuwing" not in listed
    # the same change again records nothing
    loket("tlv", "settings", "sterk-vo", "--register-marge", "24")
    assert len(_changes(db_url)) == 6


def test_a_calendar_row_changed_behind_lokets_back_is_named(loket, db_url):
    loket("tenants", "add", "sterk-vo", "--name", "Sterk VO", "--gemeente", "Utrecht")
    loket("tenants", "calendar", "sterk-vo", "--5-mei", "werkdag")
    database = Database(db_url)
    try:
        with database.transaction() as session:
            row = session.scalar(select(CalendarSetting).where(CalendarSetting.school_id.is_(None)))
            assert row is not None
            row.may5_off = True
        with database.read() as session:
            tenant = session.scalar(select(Tenant).where(Tenant.key == "sterk-vo"))
            assert differences(session, tenant) == ["calendar"]
    finally:
        database.dispose()
    assert "wijken af van hun gebeurtenissen: calendar" in loket("tenants", "show", "sterk-vo").stdout


def test_a_schools_own_region_set_with_the_calendar_command_is_a_change_of_the_school(loket, db_url):
    loket("tenants", "add", "sterk-vo", "--name", "Sterk VO", "--gemeente", "Utrecht")
    loket("schools", "add", "16PX00", "--tenant", "sterk-vo", "--name", "Het Lyceum")
    loket("tenants", "calendar", "sterk-vo", "--school", "16PX00", "--gemeente", "Maastricht")
    assert [(p, b, a) for p, b, a in _changes(db_url)][-1] == (
        "schools.16PX00", {"name": "Het Lyceum"}, {"name": "Het Lyceum", "gemeente": "Maastricht", "region": "zuid"})
    listed = loket("tenants", "show", "sterk-vo").stdout
    assert "regio zuid (eigen regio), gemeente Maastricht" in listed and "waarschuwing" not in listed
    loket("tenants", "calendar", "sterk-vo", "--school", "16PX00", "--region", "midden")  # back to the SWV's
    assert "16PX00   Het Lyceum: regio midden\n" in loket("tenants", "show", "sterk-vo").stdout
