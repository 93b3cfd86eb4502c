"""What an SWV's settings mean where cases start and pages show steps: the routes it runs (``routes``), the
intake windows of a route (``intake_windows``), the labels of steps (``labels``), and the checks of an own term
(``terms.<route>``) that the SWV file, the terms page, the API and ``loket tenants term`` share."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from . import bpmn, clock
from .calendar import BusinessCalendar
from .deadlines import Terms, end_of_day, evaluate_term
from .errors import Conflict, InvalidData
from .models import Route, RouteVersion, Tenant
from .vocabulary import ROLES, Role
from .workflow import spec_kind

MONTHS = ("januari", "februari", "maart", "april", "mei", "juni", "juli", "augustus", "september", "oktober",
          "november", "december")


def monthday(text: str) -> tuple[int, int]:
    """``04-01`` -> (4, 1); ValueError (Dutch) for a day no year has. 02-29 is allowed (leap years)."""
    try:
        month, day = (int(part) for part in str(text).split("-"))
        date(2024, month, day)
    except ValueError:
        raise ValueError(f"'{text}' is geen dag van het jaar (MM-DD)") from None
    return month, day


def spoken(text: str) -> str:
    """``04-01`` -> ``1 april``."""
    month, day = monthday(text)
    return f"{day} {MONTHS[month - 1]}"


def in_window(day: date, window: dict[str, str]) -> bool:
    """Is ``day`` inside the window (both ends included)? A window may run over New Year (11-01 to 04-30)."""
    start, end, here = monthday(window["from"]), monthday(window["to"]), (day.month, day.day)
    if start <= end:
        return start <= here <= end
    return here >= start or here <= end


def window_text(window: dict[str, str]) -> str:
    return f"{window.get('label') or 'venster'} ({spoken(window['from'])} t/m {spoken(window['to'])})"


def runs(tenant: Tenant, route_key: str) -> bool:
    """Does the SWV run this route? No ``routes`` setting: every deployed route."""
    routes = (tenant.settings or {}).get("routes")
    return routes is None or route_key in routes


def intake_windows(tenant: Tenant, route_key: str) -> list[dict[str, str]]:
    """The route's intake windows in this SWV (``{"from": "MM-DD", "to": "MM-DD", "label"}``); none: always open."""
    return ((tenant.settings or {}).get("intake_windows") or {}).get(route_key) or []


def check_start(tenant: Tenant, route_key: str, today: date | None = None) -> None:
    """Refuse a case on a route the SWV does not run (422 on ``route``), or outside every intake window of the
    route (409: the request is right, the moment is not). In Dutch; the one check the API, the pages, the CLI and
    the scenario world share (engine.cases.start_case)."""
    if not runs(tenant, route_key):
        message = f"{tenant.name} voert de route '{route_key}' niet uit."
        raise InvalidData(f"{message} Een dossier op deze route kan hier niet worden gestart.", {"route": [message]})
    windows = intake_windows(tenant, route_key)
    day = today or clock.local_date(clock.now())
    if windows and not any(in_window(day, w) for w in windows):
        named = "; ".join(window_text(w) for w in windows)
        raise Conflict(f"Aanvragen voor route '{route_key}' neemt {tenant.name} alleen aan in: {named}. "
                       f"Vandaag ({day.day} {MONTHS[day.month - 1]}) valt daarbuiten.",
                       {"route": route_key, "intake_windows": windows})


def label(settings: dict[str, Any] | None, task_name: str | None, title: str | None) -> str | None:
    """The SWV's own name of a step where it has one (Westelijke Mijnstreek: 'Knooppunt'), else its title."""
    own = ((settings or {}).get("labels") or {}).get(task_name or "")
    return own or title


def user_tasks(session: Session, route_key: str) -> list[str] | None:
    """The user task names of the route's newest deployed version; None when it is not deployed."""
    version = session.scalar(select(RouteVersion).join(Route).where(Route.key == route_key)
                             .order_by(RouteVersion.number.desc()).limit(1))
    if version is None:
        return None
    return sorted(name for name, spec in bpmn.loaded(version).spec.task_specs.items() if spec_kind(spec) == "UserTask")


def _region_helpers(calendar: BusinessCalendar, legal: bool) -> dict[str, Any]:
    def make(unit: str) -> Any:
        def term(amount: int, legal: bool = legal) -> str:
            return end_of_day(calendar.add(clock.local_date(clock.now()), amount, unit, legal=legal)).isoformat()

        return term

    return {unit: make(unit) for unit in ("werkdagen", "schooldagen", "weken", "kalenderdagen")}


def term_problems(session: Session, route_key: str, config: Any, tenant: Tenant | None = None,
                  region: str | None = None) -> dict[str, str]:
    """What is wrong with an own term of a route, per field (empty: nothing). The expression is computed with the
    SWV's calendar (``tenant``) or, for an SWV not made yet, with its region's."""
    problems: dict[str, str] = {}
    if not isinstance(config, dict):
        return {"term": "een termijn is een object met term, from, escalateTo, legal"}
    expression = config.get("term")
    legal = config.get("legal", False)
    if not isinstance(legal, bool):
        problems["legal"] = "moet true of false zijn"
        legal = False
    if not isinstance(expression, str) or not expression.strip():
        problems["term"] = "ontbreekt; schrijf bv. weken(2) of werkdagen(10)"
    else:
        helpers = (Terms(session, tenant).forward(legal_default=legal) if tenant is not None
                   else _region_helpers(BusinessCalendar(region or "midden"), legal))
        try:
            evaluate_term(expression, helpers, {}, "termijn")
        except Exception as exc:  # whatever the sandbox says: the person needs the reason, not a trace
            problems["term"] = f"'{expression}' werkt niet: {exc}"
    if config.get("escalateTo", Role.BESTUURDER) not in ROLES:
        problems["escalateTo"] = f"'{config.get('escalateTo')}' is geen rol; kies uit {', '.join(ROLES)}"
    extensions = config.get("extensions")
    if extensions is not None and (isinstance(extensions, bool) or not isinstance(extensions, int)
                                   or not 0 <= extensions <= 10):
        problems["extensions"] = "moet een geheel getal van 0 tot en met 10 zijn"
    start = config.get("from")
    if start:
        tasks = user_tasks(session, route_key)
        if tasks is not None and start not in tasks:
            problems["from"] = f"route '{route_key}' heeft geen taak '{start}'; kies uit {', '.join(tasks)}"
    return problems


def normal_term(config: dict[str, Any]) -> dict[str, Any]:
    """A term as the settings keep it: every key present, extensions only when set."""
    term = {"term": str(config["term"]).strip(), "from": config.get("from") or None,
            "escalateTo": config.get("escalateTo") or Role.BESTUURDER, "legal": bool(config.get("legal", False))}
    if config.get("extensions") is not None:
        term["extensions"] = int(config["extensions"])
    return term


def checked_term(session: Session, tenant: Tenant, route_key: str, config: Any) -> dict[str, Any]:
    """The term as kept, or InvalidData (422) with a message per field."""
    problems = term_problems(session, route_key, config, tenant=tenant)
    if problems:
        raise InvalidData("De termijn is niet goed ingevuld.", {k: [v] for k, v in problems.items()})
    return normal_term(config)
