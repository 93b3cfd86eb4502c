"""zorgplicht_termijn: the moment a pupil must be enrolled temporarily because the school has not decided on the
admission (zorgplicht, WVO art. 27 lid 2c: 6 weeks after the written registration, once extended by 4: 10 weeks),
counted like the decision clock: from the registration, standing still while the school waits for the parents'
information (engine.decision), by the Algemene termijnenwet. The route's timer waits for ``markering_op``; once
the pupil is flagged, that moment is far away (the flag is set once)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from engine import clock
from engine.deadlines import start_of_day
from engine.legal_days import atw_shift
from engine.models import Case
from engine.services import ServiceContext, register

WEEKS = 10
NEVER = "2999-12-31T00:00:00+00:00"  # a timer moment that does not come: the flag is set


@register("zorgplicht_termijn")
def zorgplicht_termijn(ctx: ServiceContext, **_: Any) -> dict[str, Any]:
    case = ctx.session.get(Case, ctx.case_id)
    state = (case.decision if case is not None else None) or {}
    today = clock.local_date(ctx.now)
    received = date.fromisoformat(state.get("received") or str(ctx.data.get("datum_aanmelding_ouders") or today))
    stood_still = sum(int(r.get("days") or 0) for r in state.get("rounds") or [])
    if state.get("suspended_since"):  # the round this step closes is not in the clock yet
        stood_still += (today - date.fromisoformat(state["suspended_since"])).days
    last = atw_shift(received + timedelta(weeks=WEEKS, days=stood_still))  # as the decision clock moves
    flagged = bool(ctx.data.get("tijdelijke_inschrijving"))
    return {"aanmelding": received.isoformat(), "opgeschort_dagen": stood_still, "tien_weken_tot": last.isoformat(),
            "markering_op": NEVER if flagged else start_of_day(last + timedelta(days=1)).isoformat()}
