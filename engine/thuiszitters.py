"""The Inspectie's quarterly thuiszitters registration (legal-review R4) as anonymous counts per quarter.

Every three months the Inspectie asks each SWV for its thuiszitters: anonymised, with the start at home, the type
(relatief verzuim, absoluut verzuim, vrijstelling), the reason, age and leerjaar, school type, and for those who
are back the end date and where they went. This reads them from the cases of the ``thuiszitter`` route (the
fields its forms ask, see processes.md) and counts them per category: no names, no case numbers, no dates of
birth in the output. A pupil counts in a quarter when he was at home on at least one day of it.
"""

from __future__ import annotations

import calendar
import csv
import io
import re
from collections import Counter
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from .auth import Actor, require_role
from .clock import local_date
from .figures import FIGURE_ROLES
from .models import Case, Route, RouteVersion

ROUTE = "thuiszitter"
UNKNOWN = "onbekend"
# The order of the categories in the output: the totals first, then what the Inspectie's form asks.
DIMENSIONS = ("totaal", "stand", "instroom", "duur", "type", "reden", "schooltype", "leerjaar", "leeftijd",
              "bestemming", "doorzettingsmacht")


@dataclass(frozen=True)
class Quarter:
    year: int
    number: int

    @property
    def label(self) -> str:
        return f"{self.year}-{self.number}"

    @property
    def first(self) -> date:
        return date(self.year, 3 * self.number - 2, 1)

    @property
    def last(self) -> date:
        month = 3 * self.number
        return date(self.year, month, calendar.monthrange(self.year, month)[1])


def parse_quarter(text: str) -> Quarter:
    """``2026-3`` -> the third quarter of 2026 (July to September)."""
    match = re.fullmatch(r"\s*(20\d\d)-([1-4])\s*", text or "")  # Loket's calendar knows this century
    if not match:
        raise ValueError(f"'{text}' is geen kwartaal; schrijf JJJJ-K, bijvoorbeeld 2026-3 (juli t/m september)")
    return Quarter(int(match[1]), int(match[2]))


def registration(session: Session, actor: Actor, quarter: Quarter) -> list[tuple[str, str, int]]:
    """(indeling, waarde, aantal) for the SWV's thuiszitters in ``quarter``, in a fixed order."""
    require_role(actor, *FIGURE_ROLES)
    rows = session.execute(
        select(Case.data, Case.outcome, Case.closed_at)
        .join(RouteVersion, RouteVersion.id == Case.route_version_id).join(Route, Route.id == RouteVersion.route_id)
        .where(Case.tenant_id == actor.tenant_id, Route.key == ROUTE))
    counts: dict[str, Counter[str]] = {dimension: Counter() for dimension in DIMENSIONS}
    for data, outcome, closed_at in rows:
        pupil = _at_home(data or {}, outcome, local_date(closed_at) if closed_at else None, quarter)
        if pupil is not None:
            for dimension, value in pupil.items():
                counts[dimension][value] += 1
    return [(dimension, value, count) for dimension in DIMENSIONS
            for value, count in sorted(counts[dimension].items(), key=lambda item: _order(item[0]))]


def to_csv(quarter: Quarter, rows: list[tuple[str, str, int]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["kwartaal", "indeling", "waarde", "aantal"])
    for dimension, value, count in rows:
        writer.writerow([quarter.label, dimension, value, count])
    return out.getvalue()


def _at_home(data: dict[str, Any], outcome: str | None, closed: date | None,
             quarter: Quarter) -> dict[str, str] | None:
    """The categories of one case, or None when the pupil was not at home during the quarter."""
    since = _date(data.get("thuis_sinds"))
    if since is None or outcome == "geen_thuiszitter" or data.get("vervolg") == "opgelost":
        return None  # not (yet) reported, or leerplicht found no thuiszitter
    ended = _date(data.get("einddatum")) or closed  # a case closed with the pupil still home ends there
    if since > quarter.last or (ended is not None and ended < quarter.first):
        return None
    over = ended is not None and ended <= quarter.last
    until = ended if over and ended is not None else quarter.last
    return {
        "totaal": "thuiszitters",
        "stand": "beeindigd" if over else "thuis",
        "instroom": "nieuw" if since >= quarter.first else "uit eerder kwartaal",
        "duur": _duration(since, until),
        "type": str(data.get("verzuim_type") or UNKNOWN),
        "reden": str(data.get("reden_categorie") or UNKNOWN),
        "schooltype": str(data.get("schooltype") or UNKNOWN),
        "leerjaar": str(data.get("leerjaar") or UNKNOWN),
        "leeftijd": _age(data.get("leerling"), until),
        "bestemming": str(data.get("bestemming") or UNKNOWN) if over else "nog thuis",
        "doorzettingsmacht": "ingezet" if data.get("doorzettingsmacht_ingezet") else "niet ingezet",
    }


def _duration(since: date, until: date) -> str:
    """The Thuiszitterspact's indicator: longer than three months at home (4 weeks: langdurig relatief verzuim)."""
    if until > _plus_months(since, 3):
        return "langer dan 3 maanden"
    if (until - since).days >= 28:
        return "4 weken tot 3 maanden"
    return "korter dan 4 weken"


def _plus_months(day: date, months: int) -> date:
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def _age(pupil: Any, on: date) -> str:
    born = _date(pupil.get("geboortedatum")) if isinstance(pupil, dict) else None
    if born is None:
        return UNKNOWN  # e.g. after the retention period removed the pupil's personal data
    return str(on.year - born.year - ((on.month, on.day) < (born.month, born.day)))


def _date(value: Any) -> date | None:
    try:
        return date.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None


def _order(value: str) -> tuple[int, int, str]:
    """Numbers in numeric order, 'onbekend' last, the rest alphabetically."""
    return (value == UNKNOWN, int(value) if value.isdigit() else 0, value)
