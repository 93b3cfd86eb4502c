"""Route drafts (migration 0010): one SWV's work on a route in the browser, before it is published as a version.
Mapped on the schema's one Base; engine.models re-exports it, so the schema is whole wherever it is imported."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from .orm import Base


class RouteDraft(Base):
    """A route being edited by an SWV's process owners: the BPMN and the forms (file name -> JSON Schema).

    ``version`` counts the saves: a save names the version it was made on and is refused when another save came
    first (optimistic locking), so one editor never silently overwrites another. A draft is never read by a
    running case; only publishing it (engine.publish) makes a version, and versions are immutable."""

    __tablename__ = "route_drafts"
    __table_args__ = (Index("ix_route_drafts_tenant", "tenant_id", "route_key"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"))
    route_key: Mapped[str] = mapped_column(String(64))
    base_version_id: Mapped[int | None] = mapped_column(ForeignKey("route_versions.id"))
    title: Mapped[str] = mapped_column(String(200))
    bpmn: Mapped[str] = mapped_column(Text)
    forms: Mapped[dict[str, Any]]
    version: Mapped[int]
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime]
    saved_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    saved_at: Mapped[datetime]
    published_version_id: Mapped[int | None] = mapped_column(ForeignKey("route_versions.id"))
