"""Builds the one Runtime a process uses, with Loket's route helpers wired in."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from .cases import Runtime
from .config import Settings
from .db import Database
from .deadlines import Terms
from .models import Tenant


def route_helpers(session: Session, tenant: Tenant, school_id: int | None = None) -> dict[str, Any]:
    """What route code (timers, conditions, scripts) sees besides the case data: the SWV's calendar, with the
    case's school's school days (engine.deadlines.Terms)."""
    return Terms(session, tenant, school_id).forward()


def build_runtime(database: Database, settings: Settings | None = None) -> Runtime:
    return Runtime(database, settings or Settings(), helpers=route_helpers)
