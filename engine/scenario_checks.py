"""What a scenario's ``expect`` compares, as pure functions of what the case shows: its open tasks with their
terms, a moment (a day or a minute), the decision clock and the case data. Each returns the Dutch problems found,
so one failed step can name everything that differs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any

from . import clock, decision
from .clock import TZ, format_moment


@dataclass(frozen=True)
class TaskView:
    name: str
    lane: str | None
    due: datetime | None
    warn: datetime | None
    escalated: bool
    assignee: str | None

    def __str__(self) -> str:
        due = f", termijn tot {moment(self.due)}" if self.due else ""
        flags = (", geëscaleerd" if self.escalated else "") + (f", geclaimd door {self.assignee}"
                                                              if self.assignee else "")
        return f"{self.name} ({self.lane or '-'}{due}{flags})"


def moment(value: datetime | None) -> str:
    """A moment as the report writes it: ``vr 13-02-2026 23:59`` (Dutch time)."""
    if value is None:
        return "-"
    return f"{clock.weekday(clock.local_date(value))} {format_moment(value)}"


def parse_when(text: str) -> datetime:
    """``2026-03-02T14:00`` (Dutch time without a zone) or ``2026-03-02`` (that day at 09:00, office hours)."""
    if len(text) == 10:
        return datetime.combine(datetime.fromisoformat(text).date(), time(9, 0), TZ).astimezone(UTC)
    return clock.parse_local(text.replace(" ", "T")).astimezone(UTC)


def task_problems(wanted: dict[str, Any], found: list[TaskView], tasks: list[TaskView]) -> list[str]:
    name = wanted["task"]
    if not found:
        return [f"taak {name} staat niet open; open zijn: {', '.join(str(t) for t in tasks) or 'geen taken'}"]
    task = found[0]
    problems = []
    if "due" in wanted:
        problems += moment_problem(f"termijn van {name}", wanted["due"], task.due)
    if "warn" in wanted:
        problems += moment_problem(f"waarschuwing van {name}", wanted["warn"], task.warn)
    if "lane" in wanted and task.lane != wanted["lane"]:
        problems.append(f"taak {name} staat bij {task.lane}, niet bij {wanted['lane']}")
    if "escalated" in wanted and task.escalated != wanted["escalated"]:
        problems.append(f"taak {name} is {'' if task.escalated else 'niet '}geëscaleerd")
    if "claimed_by" in wanted and (task.assignee or "").split("-")[0] != wanted["claimed_by"]:
        problems.append(f"taak {name} is geclaimd door {task.assignee or 'niemand'}, niet door {wanted['claimed_by']}")
    return problems


def moment_problem(what: str, wanted: str | None, actual: datetime | None) -> list[str]:
    """A date compares with the Dutch day; a date and time with the minute."""
    if wanted is None or actual is None:
        return [] if wanted is None and actual is None else [
            f"{what}: verwacht {wanted or 'geen'}, maar het is {moment(actual) if actual else 'geen'}"]
    if len(wanted) == 10:
        same = clock.local_date(actual).isoformat() == wanted
    else:
        same = abs((parse_when(wanted) - actual).total_seconds()) < 60
    return [] if same else [f"{what}: verwacht {wanted}, maar het is {moment(actual)}"]


def decision_problems(wanted: dict[str, Any], state: dict[str, Any] | None, today: date) -> list[str]:
    """The decision clock as the case shows it today: its end (moved by a running aanvulling round), the decision
    and the objection term of its record."""
    shown = decision.view(state, today)
    if shown is None:
        return ["beslistermijn verwacht, maar de zaak heeft er (nog) geen: de aanvraag is niet ontvangen"]
    problems = []
    if "decision_due" in wanted and shown["due"] != wanted["decision_due"]:
        problems.append(f"beslistermijn: verwacht {wanted['decision_due']}, maar het is "
                        f"{clock.format_date(date.fromisoformat(shown['due']))}"
                        + (" (opgeschort)" if shown["suspended"] else ""))
    taken = wanted.get("decision") or {}
    if taken and not shown["decided"]:
        problems.append("besluit verwacht, maar er is nog niet besloten")
    elif taken:
        if "outcome" in taken and shown["outcome"] != taken["outcome"]:
            problems.append(f"besluit: verwacht {taken['outcome']}, maar het is {shown['outcome']}")
        if "late" in taken and bool(shown["late"]) != taken["late"]:
            problems.append(f"besluit {'te laat' if shown['late'] else 'op tijd'} ({shown['decided']}, termijn tot "
                            f"{shown['due']}), verwacht {'te laat' if taken['late'] else 'op tijd'}")
    if "objection_due" in wanted:
        until = (shown.get("record") or {}).get("bezwaar_tot")
        if until != wanted["objection_due"]:
            problems.append(f"bezwaartermijn: verwacht tot {wanted['objection_due']}, maar "
                            + (f"hij loopt tot {clock.format_date(date.fromisoformat(until))}" if until
                               else "er is nog geen besluit"))
    return problems


def data_problems(wanted: Any, actual: Any, path: str) -> list[str]:
    """``wanted`` as a part of ``actual``: every key it names has that value (nested objects likewise)."""
    if isinstance(wanted, dict) and isinstance(actual, dict):
        return [p for key, value in wanted.items()
                for p in (data_problems(value, actual[key], f"{path}{key}.") if key in actual
                          else [f"gegevens: {path}{key} ontbreekt"])]
    if wanted != actual:
        return [f"gegevens: {path.rstrip('.')} is {actual!r}, verwacht {wanted!r}"]
    return []
