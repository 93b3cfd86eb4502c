"""The registry through which the engine knows service-task handlers.

The engine never imports ``handlers/``: the edges do (the app factory, the CLI, the tests), and each handler
module registers itself here with ``@register`` when imported."""

from __future__ import annotations

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
