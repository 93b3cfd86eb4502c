"""Rules a JSON Schema cannot say (across fields, against the SWV's settings or the case so far), named in a form.

A form lists its rules by name: ``"x-loket-rules": ["deskundigenadviezen", "tlv_looptijd"]``. Each name maps to
a function registered here with ``@rule``; it gets the form's data (already valid against the schema) and a
``RuleContext``, and yields ``(field path, Dutch message)`` pairs. Every route can reuse a rule by naming it.
The rules themselves live in their own modules (``engine.tlv_rules``, ``engine.criteria_rules``), which
``engine.forms`` imports.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy.orm import Session

from . import clock
from .models import Tenant

KEYWORD = "x-loket-rules"

Messages = Iterator[tuple[str, str]]
Rule = Callable[[dict[str, Any], "RuleContext"], Messages]
_rules: dict[str, Rule] = {}


@dataclass
class RuleContext:
    """What a rule may look at besides the form: the day it is (the day of the decision), the SWV and the case."""

    today: date
    settings: dict[str, Any] = field(default_factory=dict)  # the SWV's tenant settings
    case_data: dict[str, Any] = field(default_factory=dict)  # the case's data before this form
    session: Session | None = None
    tenant: Tenant | None = None

    def swv_gemeenten(self) -> list[str]:
        """The SWV's municipalities as set up (``loket tenants add --gemeente``); empty: not set up."""
        if self.session is None or self.tenant is None:
            return []
        from .calendar_settings import setting_row  # only rules that ask for it need the calendar settings

        row = setting_row(self.session, self.tenant)
        return list(row.gemeenten or []) if row is not None else []


def context(session: Session | None = None, tenant: Tenant | None = None,
            case_data: dict[str, Any] | None = None) -> RuleContext:
    """The context of a form completed now (in Dutch time), for ``tenant`` and a case holding ``case_data``."""
    return RuleContext(clock.local_date(clock.now()), dict((tenant.settings if tenant else None) or {}),
                       dict(case_data or {}), session, tenant)


def rule(name: str) -> Callable[[Rule], Rule]:
    """Decorator: ``@rule("deskundigenadviezen")`` makes a function the rule a form names that way."""

    def decorate(func: Rule) -> Rule:
        _rules[name] = func
        return func

    return decorate


def names() -> list[str]:
    return sorted(_rules)


def declared(schema: dict[str, Any] | None) -> list[str]:
    found = (schema or {}).get(KEYWORD) or []
    return [str(name) for name in found] if isinstance(found, list) else [str(found)]


def check(schema: dict[str, Any] | None, data: dict[str, Any], ctx: RuleContext | None) -> Messages:
    """The messages of every rule the form names. A name no rule answers to is a fault of the route (refused by
    ``loket processes validate``), not of the user: it raises."""
    names_ = declared(schema)
    if not names_:
        return
    ctx = ctx or context()
    for name in names_:
        found = _rules.get(name)
        if found is None:
            raise LookupError(f"formulierregel '{name}' bestaat niet (bekend: {', '.join(names()) or 'geen'})")
        yield from found(data, ctx)
