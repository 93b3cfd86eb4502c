"""An SWV's and a school's business calendar, built from the database (``calendar_settings``, ``days_off``).

A school inherits everything from its SWV and may set its own region (a school in another vakantieregio),
its own 5 May and Goede Vrijdag rule, switch advisory holidays on or off and have its own days off.
Calendars are cached per process; every change bumps ``calendar_version`` in the tenant's settings, which
every process sees on the tenant row it loads anyway.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from . import clock
from .calendar import REGIONS, BusinessCalendar, CalendarRules, load_school_holidays
from .models import CalendarSetting, DayOff, School, Tenant

# "--zonder carnaval": in zuid the advisory voorjaarsvakantie is the carnavalsvakantie.
ADVISORY_ALIASES = {"carnaval": "voorjaarsvakantie", "carnavalsvakantie": "voorjaarsvakantie"}

# Keyed by the tenant's creation moment too: a database emptied and filled again (tests, a restored backup) may
# give a new SWV an old id and version, and must not get the old SWV's calendar.
_calendars: dict[tuple[str, int, str, int | None, str, int], BusinessCalendar] = {}


def bump_version(tenant: Tenant) -> None:
    """Tell every process that this SWV's calendars changed."""
    settings = dict(tenant.settings or {})
    settings["calendar_version"] = int(settings.get("calendar_version", 0)) + 1
    tenant.settings = settings


def setting_row(session: Session, tenant: Tenant, school: School | None = None,
                create: bool = False) -> CalendarSetting | None:
    """The settings row of the SWV (``school`` None) or of one school; made empty when ``create``."""
    school_id = school.id if school else None
    query = select(CalendarSetting).where(CalendarSetting.tenant_id == tenant.id)
    query = query.where(CalendarSetting.school_id.is_(None) if school_id is None
                        else CalendarSetting.school_id == school_id)
    with session.no_autoflush:
        row = session.scalar(query)
    if row is None and create:
        row = CalendarSetting(tenant_id=tenant.id, school_id=school_id, gemeenten=[], region=None, may5_off=None,
                              good_friday_off=None, advisory={}, days_off={}, updated_at=clock.now())
        session.add(row)
    return row


def rules_from(swv: CalendarSetting | None, school: CalendarSetting | None = None) -> CalendarRules:
    """The rules that hold: the school's where it set one, else the SWV's, else Loket's defaults."""
    def first(attribute: str) -> bool:
        for row in (school, swv):
            value = getattr(row, attribute, None) if row is not None else None
            if value is not None:
                return bool(value)
        return True  # in education 5 May and Goede Vrijdag are days off unless the SWV says otherwise

    advisory: dict[str, bool] = {}
    for row in (swv, school):
        if row is not None:
            advisory.update({k: bool(v) for k, v in (row.advisory or {}).items()})
    return CalendarRules(first("may5_off"), first("good_friday_off"), frozenset(advisory.items()))


def calendar_for(session: Session, tenant: Tenant, school: School | None = None) -> BusinessCalendar:
    """The calendar of the SWV, or of one of its schools, cached per process and calendar version."""
    version = int((tenant.settings or {}).get("calendar_version", 0))
    key = (str(session.get_bind().engine.url), tenant.id, str(tenant.created_at), school.id if school else None,
           tenant.region, version)
    found = _calendars.get(key)
    if found is None:
        swv_row = setting_row(session, tenant)
        school_row = setting_row(session, tenant, school) if school is not None else None
        with session.no_autoflush:
            extra = {d.date: d.name for d in session.scalars(select(DayOff).where(DayOff.tenant_id == tenant.id))}
        if school_row is not None:
            extra.update({date.fromisoformat(d): name for d, name in (school_row.days_off or {}).items()})
        region = (school_row.region if school_row is not None else None) or tenant.region
        found = _calendars[key] = BusinessCalendar(region, extra, rules_from(swv_row, school_row))
    return found


def advisory_key(text: str) -> str:
    """``meivakantie-week2`` or ``voorjaarsvakantie:2026-2027`` (``carnaval`` for voorjaarsvakantie), checked
    against the data file. Raises ValueError in Dutch."""
    name, _, schooljaar = text.strip().lower().partition(":")
    name = ADVISORY_ALIASES.get(name, name)
    data = load_school_holidays()
    if name not in data.advisory:
        raise ValueError(f"'{text}' is geen adviesvakantie; kies uit {', '.join(data.advisory)} (of carnaval).")
    if schooljaar and schooljaar not in data.schooljaren:
        raise ValueError(f"schooljaar '{schooljaar}' is onbekend; Loket kent {', '.join(data.schooljaren)}.")
    return f"{name}:{schooljaar}" if schooljaar else name


def describe(session: Session, tenant: Tenant) -> dict[str, Any]:
    """The SWV's calendar settings and each school's own, as ``loket tenants show`` prints them."""
    swv_row = setting_row(session, tenant)
    rules = rules_from(swv_row)
    data = load_school_holidays()
    schools = []
    for school in session.scalars(select(School).where(School.tenant_id == tenant.id).order_by(School.code)):
        row = setting_row(session, tenant, school)
        own = rules_from(swv_row, row)
        schools.append({
            "code": school.code, "name": school.name,
            "gemeente": ", ".join(row.gemeenten) if row is not None and row.gemeenten else None,
            "region": (row.region if row is not None else None) or tenant.region,
            "own_region": row is not None and row.region not in (None, tenant.region),
            "rules": own, "days_off": dict(sorted((row.days_off or {}).items())) if row is not None else {},
            "differs": own != rules,
        })
    return {
        "region": tenant.region,
        "gemeenten": list(swv_row.gemeenten) if swv_row is not None else [],
        "rules": rules,
        "advisory_defaults": dict(data.advisory),
        "days_off": [(d.date, d.name) for d in session.scalars(
            select(DayOff).where(DayOff.tenant_id == tenant.id).order_by(DayOff.date))],
        "schools": schools,
    }


def check_region(region: str) -> str:
    if region not in REGIONS:
        raise ValueError(f"Onbekende regio {region!r}: kies uit {', '.join(REGIONS)}.")
    return region
