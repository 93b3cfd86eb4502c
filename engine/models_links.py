"""Linked cases (migration 0014): which case was started from which, and why (the relation).

The events on both cases are the truth (``case_started`` with its ``link``, ``case_linked`` on the case it came
from); a row here is their projection, written in the same transaction, for the lookups a page or the scheduler
needs without reading event payloads (engine.links). No personal data: a row outlives a purge of either case.
Mapped on the schema's one Base; engine.models re-exports it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .orm import Base


class CaseLink(Base):
    __tablename__ = "case_links"
    # A case is started from at most one other case; a case may be the source of several (a bezwaar, later a
    # herbeoordeling).
    __table_args__ = (UniqueConstraint("to_case_id", name="uq_case_links_to"),
                      Index("ix_case_links_from", "from_case_id", "relation"))
    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"))
    from_case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    to_case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    relation: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[datetime]
