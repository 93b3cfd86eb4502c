"""The TLV register (migration 0012): the minimal record of every granted TLV, kept after its dossier is purged.

A dossier goes three years after the decision (the route's retention); a TLV may run longer (a VSO TLV to 31 July
of a later school year). The register keeps what a school, BRON or an objection needs to know it existed: its
number, dates, soort and category and the SWV, until the einddatum plus the SWV's margin (engine.tlv_register).
Mapped on the schema's one Base; engine.models re-exports it."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .orm import Base


class TlvRegister(Base):
    __tablename__ = "tlv_register"
    __table_args__ = (UniqueConstraint("tenant_id", "nummer"), Index("ix_tlv_register_keep_until", "keep_until"))
    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"))
    # No foreign key: the entry outlives the dossier's data, and is the record, not a part of the case.
    case_id: Mapped[int | None] = mapped_column(Integer)
    nummer: Mapped[str] = mapped_column(String(40))
    swv_code: Mapped[str | None] = mapped_column(String(10))
    besluitdatum: Mapped[date]
    soort: Mapped[str | None] = mapped_column(String(20))
    categorie: Mapped[str | None] = mapped_column(String(20))
    ingangsdatum: Mapped[date | None]
    einddatum: Mapped[date | None]
    keep_until: Mapped[date]
    registered_at: Mapped[datetime]
