"""Herbeoordeling on time (issue 12): the scheduler opens a ``herbeoordeling`` case for every TLV in the register
(engine.tlv_register) that ends, linked to the case that granted it (engine.links), once per TLV.

The SWV sets its own deadline for a renewal request (``settings.herbeoordeling``: ``{"deadline": "04-01",
"open_weeks_before": 12}``; without it 1 April and 12 weeks, as SWV 23.01's "uiterste inleverdatum verlenging
TLV-VSO 1 april"): the request is due on the last such day on or before the TLV's einddatum (31 July 2027: 1 April
2027), and the case opens that many weeks before it (7 January 2027), so the school has the time the SWV promises.

The sweep is idempotent: a TLV whose case already has a herbeoordeling (opened by the sweep or started by hand)
gets none, nor does one that has ended. Each TLV is opened in a transaction of its own; on PostgreSQL its register
row is claimed (``FOR UPDATE SKIP LOCKED``) and the link checked again under the claim, so two schedulers (only
one leads, engine.leader, but a takeover may overlap a sweep) open it once; SQLite's write lock serialises them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from . import clock, retention, swv_settings
from .auth import system_actor
from .errors import LoketError
from .models import Case, Event, Route, RouteVersion, Tenant
from .models_links import CaseLink
from .models_tlv import TlvRegister
from .routes import latest_version
from .vocabulary import EventType

if TYPE_CHECKING:
    from .cases import Runtime

log = logging.getLogger("loket.herbeoordeling")

ROUTE = "herbeoordeling"
DEFAULT = {"deadline": "04-01", "open_weeks_before": 12}


@dataclass
class RenewalReport:
    opened: list[tuple[str, int]] = field(default_factory=list)  # (TLV number, the new case)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (TLV number, why)

    def __str__(self) -> str:
        return f"{len(self.opened)} herbeoordeling(en) geopend, {len(self.skipped)} overgeslagen"


def setting(tenant: Tenant) -> tuple[int, int, int]:
    """The SWV's deadline (month, day) and how many weeks before it the case opens."""
    own = {**DEFAULT, **((tenant.settings or {}).get(ROUTE) or {})}
    month, day = (int(part) for part in str(own["deadline"]).split("-"))
    return month, day, int(own.get("open_weeks_before") or 0)


def deadline_for(tenant: Tenant, end: date) -> date:
    """The last day to ask for a renewal of a TLV that ends on ``end``: the SWV's deadline on or before it."""
    month, day, _weeks = setting(tenant)
    year = end.year if (month, day) <= (end.month, end.day) else end.year - 1
    if (month, day) == (2, 29):  # a deadline on a leap day falls on 28 February in other years
        return date(year, 2, 29) if year % 4 == 0 and (year % 100 or year % 400 == 0) else date(year, 2, 28)
    return date(year, month, day)


def opens_on(tenant: Tenant, end: date) -> date:
    _month, _day, weeks = setting(tenant)
    return deadline_for(tenant, end) - timedelta(weeks=weeks)


def _renewed(entry_case: Any) -> Any:
    return exists().where(CaseLink.from_case_id == entry_case, CaseLink.relation == ROUTE)


def sources(session: Session) -> tuple[str, ...]:
    """The routes whose TLVs the deployed herbeoordeling renews (its ``linkFrom``; a TLV PrO is not renewed this
    way), or none when the route is not deployed."""
    key = session.scalar(select(Route.id).where(Route.key == ROUTE))
    if key is None:
        return ()
    props = retention.declared(latest_version(session, ROUTE))
    return tuple(s.strip() for s in (props.get("linkFrom") or "").split(",") if s.strip())


def due(session: Session, tenant: Tenant, today: date, routes: tuple[str, ...]) -> list[TlvRegister]:
    """The tenant's TLVs whose herbeoordeling should be open today and is not: granted on one of ``routes``, not
    ended, opening day reached, no herbeoordeling linked to their case yet, and a case whose data is still there."""
    _month, _day, weeks = setting(tenant)
    horizon = today + timedelta(days=366 + 7 * weeks)  # a deadline lies less than a year before the einddatum
    purged = exists().where(Event.case_id == TlvRegister.case_id, Event.type == EventType.DATA_PURGED)
    granted_on = (select(Case.id).join(RouteVersion, RouteVersion.id == Case.route_version_id)
                  .join(Route, Route.id == RouteVersion.route_id).where(Route.key.in_(routes)))
    rows = session.scalars(select(TlvRegister).where(
        TlvRegister.tenant_id == tenant.id, TlvRegister.case_id.in_(granted_on), TlvRegister.einddatum >= today,
        TlvRegister.einddatum <= horizon, ~_renewed(TlvRegister.case_id), ~purged,
    ).order_by(TlvRegister.einddatum, TlvRegister.id))
    return [entry for entry in rows if entry.einddatum is not None and opens_on(tenant, entry.einddatum) <= today]


def sweep(runtime: Runtime, now: datetime | None = None) -> RenewalReport:
    """Open every herbeoordeling that is due at ``now`` (default: the clock), each in its own transaction."""
    now = now or clock.now()
    today = clock.local_date(now)
    report = RenewalReport()
    with runtime.db.read() as session:
        routes = sources(session)
        tenants = [t for t in session.scalars(select(Tenant).order_by(Tenant.id)) if swv_settings.runs(t, ROUTE)]
        work = [(tenant.id, entry.id) for tenant in tenants if routes for entry in due(session, tenant, today, routes)]
    for tenant_id, entry_id in work:
        _open(runtime, tenant_id, entry_id, now, report)
    if report.opened or report.skipped:
        log.info("herbeoordeling: %s", report)
    return report


def _open(runtime: Runtime, tenant_id: int, entry_id: int, now: datetime, report: RenewalReport) -> None:
    number = "?"
    try:
        with clock.frozen(now), runtime.action() as session:
            claim = select(TlvRegister).where(TlvRegister.id == entry_id)
            if not runtime.db.is_sqlite:
                claim = claim.with_for_update(skip_locked=True)
            entry = session.scalar(claim)
            if entry is None or entry.case_id is None:  # another scheduler holds it, or it went meanwhile
                return
            number = entry.nummer
            if session.scalar(select(_renewed(entry.case_id))):  # opened meanwhile (checked under the claim)
                return
            # The case's school, pupil and the TLV come from the case that granted it (engine.links).
            case = runtime.start_in(session, system_actor(tenant_id), ROUTE, {}, linked_from=entry.case_id,
                                    system=True)
            report.opened.append((number, case.id))
    except LoketError as exc:  # the route cannot start for this TLV (not deployed, refused): told, tried next time
        report.skipped.append((number, exc.message))
        log.warning("herbeoordeling voor TLV %s niet geopend: %s", number, exc.message)
