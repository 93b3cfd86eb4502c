"""swv_term: the SWV's own term for this route (setting ``terms``), counted from a date in the case, and whether
it has passed. The thuiszitter route asks it when the plan is made and at every monitoring round: a pupil at home
longer than the SWV's term (Thuiszitterspact: never more than 3 months) goes to the SWV's doorzettingsmacht, and
the monitoring timer waits no longer than the moment the term is passed (``overschreden_vanaf``). The case's
doorlooptijd counts from the start of the case; this counts from the first day at home, before the report."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from engine.clock import local_date
from engine.deadlines import Terms, case_term, evaluate_term, start_of_day
from engine.models import Case, Route, RouteVersion, Tenant
from engine.services import ServiceContext, register

# Without a term of its own the SWV follows the Thuiszitterspact: nobody longer than 3 months at home.
DEFAULT_TERM = "weken(13)"


@register("swv_term")
def swv_term(ctx: ServiceContext, since: str | None = None, **_: Any) -> dict[str, Any]:
    case = ctx.session.get(Case, ctx.case_id)
    tenant = ctx.session.get(Tenant, ctx.tenant_id)
    if case is None or tenant is None:  # pragma: no cover - the engine calls a handler for a case it holds
        raise ValueError("swv_term: de zaak of het SWV bestaat niet")
    version = ctx.session.get(RouteVersion, case.route_version_id)
    route = ctx.session.get(Route, version.route_id) if version is not None else None
    config = (case_term(tenant, route.key) if route is not None else None) or {}
    expression = str(config.get("term") or DEFAULT_TERM)
    today = local_date(ctx.now)
    try:
        start = date.fromisoformat(since) if since else today
    except ValueError as exc:
        raise ValueError(f"swv_term: '{since}' is geen datum (JJJJ-MM-DD)") from exc
    helpers = Terms(ctx.session, tenant, case.school_id).forward(legal_default=bool(config.get("legal")), start=start)
    end = local_date(evaluate_term(expression, helpers, {}, "termijn van het SWV"))
    return {
        "termijn": expression,
        "sinds": start.isoformat(),
        "einde": end.isoformat(),
        "verstreken": today > end,
        # The first moment past the term, as the calendar functions give moments: a timer can wait for it.
        "overschreden_vanaf": start_of_day(end + timedelta(days=1)).isoformat(),
        "dagen": (today - start).days,
    }
