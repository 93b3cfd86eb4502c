"""The SWV's configuration history (migration 0013): every change of an SWV's settings, schools or calendar choices
as an append-only event, from its file (processes/swv/<key>.yaml), the web page, the API or the command line.

The tenant's settings (and its schools and calendar rows) are the projection of these events (engine.tenant_events);
a change is never an edit in place without its event. Mapped on the schema's one Base; engine.models re-exports it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Mapped, mapped_column

from .orm import Base

# Any JSON value (a term, a list of windows, a name, null), not only an object.
AnyJSON = JSON(none_as_null=True).with_variant(postgresql.JSONB(none_as_null=True), "postgresql")


class TenantEvent(Base):
    __tablename__ = "tenant_events"
    __table_args__ = (UniqueConstraint("tenant_id", "seq"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"))
    seq: Mapped[int]  # 1, 2, ... per SWV: the order the projection applies them in
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(254))  # e-mail, cli:<os user>, or bestand:<file>
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    role: Mapped[str | None] = mapped_column(String(20))
    channel: Mapped[str] = mapped_column(String(10))  # bestand, web, api, cli
    path: Mapped[str] = mapped_column(String(200))  # what changed: terms.tlv-vso, routes, schools.16PX00, ...
    before: Mapped[Any] = mapped_column(AnyJSON, nullable=True)
    after: Mapped[Any] = mapped_column(AnyJSON, nullable=True)
    reason: Mapped[str | None] = mapped_column(Text)
    version: Mapped[int | None]  # the file's version, for a change that came from the file
