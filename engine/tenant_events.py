"""An SWV's configuration as events: every change of its settings, schools and calendar choices is a row in
``tenant_events`` (who, when, what, before, after) and is applied by the one function here, so the tenant's
settings are the projection of its events. Used by the SWV files (engine.swv_load), the terms page and API, and
``loket tenants term``.

A change names a *path*: ``name``, ``area`` (gemeenten and region), ``code`` (the SWV code, in ``settings.tlv``),
``tlv`` (the other TLV rules: einddag, minimum duration, register margin), ``routes``, ``lwoo``, ``commissions``,
``max_extensions``, ``herbeoordeling``, ``labels``, ``calendar`` (5 May, Goede Vrijdag, advisory holidays),
``days_off`` (the SWV's extra days off), ``calendar.<school>`` (a school's own 5 May, Goede Vrijdag, advisory
holidays and days off), ``terms.<route>``, ``intake_windows.<route>`` or ``schools.<code>`` (a school, its
gemeente and region). A value of None removes the setting (a school removed from the file stays, for its cases,
but loses its SWV data)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from . import clock
from .auth import Actor
from .calendar_settings import bump_version, setting_row
from .errors import Conflict
from .models import CalendarSetting, DayOff, School, Tenant
from .models_swv import TenantEvent
from .regions import region_of

# Paths whose value lives in the tenant's settings JSON, under the same key.
SETTINGS_KEYS = ("routes", "lwoo", "commissions", "max_extensions", "herbeoordeling", "labels")
PER_ROUTE = ("terms", "intake_windows")
CHANNELS = ("bestand", "web", "api", "cli")


@dataclass(frozen=True)
class Who:
    """Who makes a change, and through which channel."""

    actor: str
    channel: str
    actor_id: int | None = None
    role: str | None = None

    @classmethod
    def of(cls, actor: Actor, channel: str) -> Who:
        return cls(actor.email, channel, actor.user_id, actor.role)


def check_path(path: str) -> str:
    head, _, tail = path.partition(".")
    if (head in PER_ROUTE or head in ("schools", "calendar")) and tail:
        return path
    if not tail and (head in SETTINGS_KEYS or head in ("name", "area", "code", "tlv", "calendar", "days_off")):
        return path
    raise ValueError(f"onbekende instelling '{path}'")


def _school(session: Session, tenant: Tenant, code: str) -> School | None:
    with session.no_autoflush:
        return session.scalar(select(School).where(School.tenant_id == tenant.id, School.code == code))


def current(session: Session, tenant: Tenant, path: str) -> Any:
    """The value a path has now (None: not set)."""
    settings = dict(tenant.settings or {})
    head, _, tail = check_path(path).partition(".")
    if head == "name":
        return tenant.name
    if head == "area":
        row = setting_row(session, tenant)
        return {"gemeenten": list(row.gemeenten or []) if row is not None else [], "region": tenant.region}
    if head == "code":
        return (settings.get("tlv") or {}).get("code")
    if head == "tlv":
        return {k: v for k, v in (settings.get("tlv") or {}).items() if k != "code"}
    if head == "calendar":
        school = _school(session, tenant, tail) if tail else None
        if tail and school is None:
            return None
        return _calendar(setting_row(session, tenant, school), tail)
    if head == "days_off":
        with session.no_autoflush:
            rows = session.scalars(select(DayOff).where(DayOff.tenant_id == tenant.id).order_by(DayOff.date))
            return {row.date.isoformat(): row.name for row in rows}
    if head == "schools":
        own = (settings.get("schools") or {}).get(tail)
        school = _school(session, tenant, tail)
        if own is None or school is None:
            return None
        return {"name": school.name, **own}
    if head in PER_ROUTE:
        return (settings.get(head) or {}).get(tail)
    return settings.get(head)


def _calendar(row: CalendarSetting | None, school: str) -> dict[str, Any]:
    """A calendar row's rules (a school's: with its own days off; its region and gemeente are ``schools.<code>``)."""
    value: dict[str, Any] = {"may5_off": None, "good_friday_off": None, "advisory": {}}
    if row is not None:
        value = {"may5_off": row.may5_off, "good_friday_off": row.good_friday_off, "advisory": dict(row.advisory or {})}
    if school:
        value["days_off"] = dict(sorted((row.days_off or {}).items())) if row is not None else {}
    return value


def _apply(session: Session, tenant: Tenant, path: str, value: Any) -> None:
    """Make the path hold ``value``: the projection of one event."""
    settings = dict(tenant.settings or {})
    head, _, tail = path.partition(".")
    if head == "name":
        tenant.name = value
    elif head == "area":
        tenant.region = value["region"]
        setting_row(session, tenant, create=True).gemeenten = list(value["gemeenten"])  # type: ignore[union-attr]
        bump_version(tenant)
        return
    elif head == "code":
        tlv = {k: v for k, v in dict(settings.get("tlv") or {}).items() if k != "code"}
        settings["tlv"] = {**tlv, "code": value} if value is not None else tlv
    elif head == "tlv":
        code = (settings.get("tlv") or {}).get("code")
        settings["tlv"] = {**(value or {}), **({"code": code} if code is not None else {})}
    elif head == "calendar":
        school = _school(session, tenant, tail) if tail else None
        if tail and school is None:
            raise ValueError(f"school '{tail}' bestaat niet in {tenant.key}.")
        row = setting_row(session, tenant, school, create=True)
        assert row is not None
        value = value or {}
        row.may5_off, row.good_friday_off = value.get("may5_off"), value.get("good_friday_off")
        row.advisory = dict(value.get("advisory") or {})
        if tail:
            row.days_off = dict(value.get("days_off") or {})
        row.updated_at = clock.now()
        bump_version(tenant)
        return
    elif head == "days_off":
        _apply_days_off(session, tenant, value or {})
        return
    elif head == "schools":
        _apply_school(session, tenant, tail, value)
        settings = dict(tenant.settings or {})  # _apply_school may have bumped the calendar version
        own = dict(settings.get("schools") or {})
        if value is None:
            own.pop(tail, None)
        else:
            own[tail] = {k: v for k, v in value.items() if k != "name"}
        settings["schools"] = own
    elif head in PER_ROUTE:
        per_route = dict(settings.get(head) or {})
        if value is None:
            per_route.pop(tail, None)
        else:
            per_route[tail] = value
        settings[head] = per_route
    elif value is None:
        settings.pop(head, None)
    else:
        settings[head] = value
    tenant.settings = settings


def _apply_days_off(session: Session, tenant: Tenant, value: dict[str, str]) -> None:
    """The SWV's days off become exactly ``value`` (ISO date -> name)."""
    with session.no_autoflush:
        rows = {row.date.isoformat(): row for row in
                session.scalars(select(DayOff).where(DayOff.tenant_id == tenant.id))}
    for day, row in rows.items():
        if day not in value:
            session.delete(row)
        else:
            row.name = value[day]
    for day, name in value.items():
        if day not in rows:
            session.add(DayOff(tenant_id=tenant.id, date=date.fromisoformat(day), name=name))
    bump_version(tenant)


def _apply_school(session: Session, tenant: Tenant, code: str, value: dict[str, Any] | None) -> None:
    if value is None:
        return  # the school row stays: its cases refer to it
    school = _school(session, tenant, code)
    if school is None:
        school = School(tenant_id=tenant.id, code=code, name=value["name"])
        session.add(school)
        session.flush()
    school.name = value["name"]
    if value.get("gemeente") or value.get("region"):
        gemeenten = list(value.get("gemeenten") or []) or ([value["gemeente"]] if value.get("gemeente") else [])
        region, found = region_of(gemeenten, value.get("region")) if gemeenten else (value["region"], [])
        row = setting_row(session, tenant, school, create=True)
        assert row is not None
        row.gemeenten = [m.name for m in found]
        row.region = None if region == tenant.region else region
        row.updated_at = clock.now()
        bump_version(tenant)


def last_seq(session: Session, tenant_id: int) -> int:
    return int(session.scalar(select(func.max(TenantEvent.seq)).where(TenantEvent.tenant_id == tenant_id)) or 0)


def change(session: Session, tenant: Tenant, path: str, value: Any, who: Who, *, reason: str | None = None,
           version: int | None = None, seen_seq: int | None = None) -> TenantEvent | None:
    """Record and apply one change; None when the path already holds ``value`` (nothing to record).
    ``seen_seq``: the last event the person saw; another change since then is a Conflict (nothing changed)."""
    if who.channel not in CHANNELS:
        raise ValueError(f"unknown channel {who.channel!r}")
    seq = last_seq(session, tenant.id)
    if seen_seq is not None and seen_seq != seq:
        raise Conflict("De instellingen van dit SWV zijn intussen door iemand anders gewijzigd; bekijk ze opnieuw.")
    before = current(session, tenant, path)
    if before == value:
        return None
    _apply(session, tenant, path, value)
    event = TenantEvent(tenant_id=tenant.id, seq=seq + 1, at=clock.now(), actor=who.actor, actor_id=who.actor_id,
                        role=who.role, channel=who.channel, path=path, before=before, after=value, reason=reason,
                        version=version)
    session.add(event)
    session.flush()
    return event


def record(session: Session, tenant: Tenant, path: str, value: Any, who: Who, *, version: int | None = None) -> None:
    """An event that changes no setting: the file's load marker (``path`` ``bestand``)."""
    session.add(TenantEvent(tenant_id=tenant.id, seq=last_seq(session, tenant.id) + 1, at=clock.now(),
                            actor=who.actor, actor_id=who.actor_id, role=who.role, channel=who.channel, path=path,
                            before=None, after=value, reason=None, version=version))
    session.flush()


_WHAT = {"name": "naam", "area": "gemeenten en vakantieregio", "code": "SWV-code", "tlv": "TLV-regels",
         "routes": "routes", "lwoo": "lwoo", "commissions": "commissies", "max_extensions": "verlengen",
         "herbeoordeling": "herbeoordeling", "labels": "namen van stappen", "calendar": "kalender",
         "days_off": "vrije dagen", "terms": "doorlooptijd", "intake_windows": "aanmeldvensters", "schools": "school"}


def what(path: str) -> str:
    """A path in Dutch words, for the history page: ``calendar.16PX00`` is 'kalender van school 16PX00'."""
    head, _, tail = path.partition(".")
    if head == "calendar" and tail:
        return f"kalender van school {tail}"
    return f"{_WHAT.get(head, head)} {tail}".strip()


_DAY = {True: "vrij", False: "werkdag", None: "standaard"}
_TLV = {"einddag": "einddag", "minimale_looptijd_maanden": "minimale looptijd (maanden)",
        "register_marge_maanden": "registermarge (maanden)"}


def _calendar_text(value: dict[str, Any]) -> str:
    parts = [f"5 mei {_DAY[value.get('may5_off')]}", f"Goede Vrijdag {_DAY[value.get('good_friday_off')]}"]
    advisory = value.get("advisory") or {}
    parts.append("adviesvakanties: " + (", ".join(f"{name} {'aan' if on else 'uit'}"
                                                  for name, on in sorted(advisory.items())) or "standaard"))
    if "days_off" in value:
        parts.append("vrije dagen: " + (_days_text(value["days_off"]) or "geen"))
    return "; ".join(parts)


def _days_text(days: dict[str, str]) -> str:
    return ", ".join(f"{day} {name}" for day, name in sorted(days.items()))


def short(value: Any, path: str = "") -> str:
    """A setting's value in a few words, in Dutch, for a history line: a term's expression, a school's name, the
    calendar's rules, the area, the days off, the TLV rules, a list."""
    head = path.partition(".")[0]
    if value is None or (value == {} and head in ("days_off", "tlv")):
        return "(geen)"
    if isinstance(value, dict) and "may5_off" in value:
        return _calendar_text(value)
    if isinstance(value, dict) and head == "area":
        gemeenten = ", ".join(value.get("gemeenten") or [])
        return f"regio {value.get('region')}" + (f", gemeenten {gemeenten}" if gemeenten else "")
    if isinstance(value, dict) and head == "days_off":
        return _days_text(value)
    if isinstance(value, dict) and head == "tlv":
        return ", ".join(f"{_TLV.get(k, k)} {'geen' if v is None else v}" for k, v in sorted(value.items()))
    if isinstance(value, dict) and "term" in value:
        start = f" vanaf {value['from']}" if value.get("from") else ""
        return f"{value['term']}{start} -> {value.get('escalateTo')}" + (", wettelijk" if value.get("legal") else "")
    if isinstance(value, dict) and "name" in value:
        return str(value["name"])
    if isinstance(value, list):
        return ", ".join(short(item) if not isinstance(item, dict) else
                         str(item.get("label") or item.get("name") or item) for item in value)
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, sort_keys=True)
    return text if len(text) <= 80 else text[:77] + "..."


def loaded_file(session: Session, tenant_id: int) -> TenantEvent | None:
    """The marker of the SWV file loaded last (version, sha256, what it set), or None."""
    return session.scalar(select(TenantEvent).where(TenantEvent.tenant_id == tenant_id, TenantEvent.path == "bestand")
                          .order_by(TenantEvent.seq.desc()).limit(1))


def history(session: Session, tenant_id: int, prefix: str | None = None, limit: int = 200,
            offset: int = 0) -> list[TenantEvent]:
    """The SWV's changes, newest first (``prefix``: only paths starting with it, e.g. ``terms.``)."""
    query = select(TenantEvent).where(TenantEvent.tenant_id == tenant_id, TenantEvent.path != "bestand")
    if prefix:
        query = query.where(TenantEvent.path.startswith(prefix))
    return list(session.scalars(query.order_by(TenantEvent.seq.desc()).limit(limit).offset(offset)))


def projection(session: Session, tenant_id: int) -> dict[str, Any]:
    """Every path's value as the events leave it, folded in order (what replaying them gives)."""
    state: dict[str, Any] = {}
    for event in session.scalars(select(TenantEvent).where(TenantEvent.tenant_id == tenant_id,
                                                           TenantEvent.path != "bestand")
                                 .order_by(TenantEvent.seq)):
        state[event.path] = event.after
    return state


def differences(session: Session, tenant: Tenant) -> list[str]:
    """The settings paths whose value differs from their events' projection (empty: consistent): a row or setting
    written without its event, by an older Loket or by hand in the database."""
    folded = projection(session, tenant.id)
    return [path for path, value in sorted(folded.items()) if current(session, tenant, path) != value]
