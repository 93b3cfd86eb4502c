"""Builds the one Runtime a process uses, with Loket's route helpers wired in."""

from __future__ import annotations

from .cases import Runtime
from .config import Settings
from .db import Database
from .deadlines import route_helpers


def build_runtime(database: Database, settings: Settings | None = None) -> Runtime:
    return Runtime(database, settings or Settings(), helpers=route_helpers)
