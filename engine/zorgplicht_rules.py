"""The form rule of a school's decision on an admission (route ``zorgplicht-aanmelding``), as any route can name
it in ``x-loket-rules``: the loops of the decision are bounded and the extension is the law's only one.

- ``zorgplicht_besluit``: information from the parents asked at most 3 times, the SWV's consulent asked for advice
  at most twice, and the term extended once, by the school, before its 6 weeks are over (WVO art. 27 lid 2c:
  "eenmaal verlengen met ten hoogste vier weken"), the days spent waiting for the parents not counted.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from .form_rules import Messages, RuleContext, rule
from .legal_days import atw_shift
from .tlv_rules import ZORGPLICHT_WEEKS

LIMITS = {"informatie_vragen": ("informatie_rondes", 3, "informatie bij de ouders opvragen"),
          "advies_vragen": ("advies_rondes", 2, "advies vragen aan de consulent")}


def term_end(case_data: dict[str, Any]) -> date | None:
    """The last day of the school's 6 weeks as the case stands (engine's handler ``zorgplicht_termijn``)."""
    found: Any = case_data.get("zorgplicht")
    if not isinstance(found, dict):
        return None
    try:
        registered = date.fromisoformat(str(found.get("aanmelding")))
    except ValueError:
        return None
    return atw_shift(registered + timedelta(weeks=ZORGPLICHT_WEEKS, days=int(found.get("opgeschort_dagen") or 0)))


@rule("zorgplicht_besluit")
def zorgplicht_besluit(data: dict[str, Any], ctx: RuleContext) -> Messages:
    choice = data.get("uitkomst")
    if choice in LIMITS:
        counter, most, what = LIMITS[choice]
        if int(ctx.case_data.get(counter) or 0) >= most:
            yield "uitkomst", f"De school kan hoogstens {most} keer {what}; besluit nu over de toelating."
    if choice == "verlengen":
        if int(ctx.case_data.get("verlengingen") or 0) >= 1:
            yield "uitkomst", ("Regel zorgplicht (WVO art. 27 lid 2c): de termijn is al eens verlengd; eenmaal "
                               "verlengen is wat de wet toestaat.")
            return
        end = term_end(ctx.case_data)
        if end is not None and ctx.today > end:
            yield "uitkomst", (f"Regel zorgplicht (WVO art. 27 lid 2c): verlengen kan alleen binnen de termijn van "
                               f"6 weken, en die eindigde op {end.day}-{end.month:02d}-{end.year}.")
