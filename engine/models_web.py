"""The web app's tables (migration 0006): login attempts, for the lockout and its log, and task drafts. Mapped on
the schema's one Base; engine.models re-exports them, so the schema is whole wherever it is imported."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from .orm import Base


class LoginAttempt(Base):
    """One try to log in to the web app (engine.logins): who tried (the address as typed, the user if it exists),
    from where, and how it ended: ``gelukt``, ``mislukt`` or ``geblokkeerd`` (refused while locked out). The
    failed tries of the last minutes decide the lockout; the rows are the log of it."""

    __tablename__ = "login_attempts"
    __table_args__ = (Index("ix_login_attempts_email", "email", "at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    tenant_id: Mapped[int | None] = mapped_column(ForeignKey("tenants.id"))
    at: Mapped[datetime]
    outcome: Mapped[str] = mapped_column(String(20))
    address: Mapped[str | None] = mapped_column(String(64))


class TaskDraft(Base):
    """What a user typed into a task's form and saved as a concept (engine.drafts): one per task and user, gone when
    the task is completed."""

    __tablename__ = "task_drafts"
    task_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"))
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    data: Mapped[dict[str, Any]]
    saved_at: Mapped[datetime]
