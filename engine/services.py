"""The registry through which the engine knows service-task handlers (it never imports them itself)."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

Handler = Callable[..., dict[str, Any]]
_registry: dict[str, Handler] = {}


@dataclass
class ServiceContext:
    """What a handler may use: the action's database session (inside a savepoint), the case, the clock."""

    session: Session
    tenant_id: int
    case_id: int
    now: datetime
    task_name: str
    data: dict[str, Any] = field(default_factory=dict)


def register(name: str) -> Callable[[Handler], Handler]:
    """Decorator: ``@register("register_tlv")`` makes a function the handler of that service operator."""

    def decorate(func: Handler) -> Handler:
        _registry[name] = func
        return func

    return decorate


def get(name: str) -> Handler | None:
    return _registry.get(name)


def names() -> list[str]:
    return sorted(_registry)


def load(package: str = "handlers") -> None:
    """Import the handler package, whose modules register themselves."""
    importlib.import_module(package)
