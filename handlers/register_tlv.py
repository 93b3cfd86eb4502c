"""register_tlv: give a granted TLV its number, unique per SWV and year (TLV-2026-0001)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from engine.models import Counter
from engine.services import ServiceContext, register


@register("register_tlv")
def register_tlv(ctx: ServiceContext, categorie: str | None = None, ingangsdatum: str | None = None,
                 einddatum: str | None = None, **_: Any) -> dict[str, Any]:
    year = ctx.now.year
    number = next_number(ctx.session, ctx.tenant_id, f"tlv-{year}")
    return {
        "nummer": f"TLV-{year}-{number:04d}",
        "categorie": categorie,
        "ingangsdatum": ingangsdatum,
        "einddatum": einddatum,
        "geregistreerd_op": ctx.now.isoformat(),
    }


def next_number(session: Session, tenant_id: int, name: str) -> int:
    """The next value of a counter, starting at 1, in the caller's transaction (so a rolled-back grant leaves
    no gap). One upsert: the first number of a year is inserted, every later one bumps the row, and two grants
    at the same moment queue on the row (or on its key) instead of both inserting it."""
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    statement = (
        dialect.insert(Counter)
        .values(tenant_id=tenant_id, name=name, value=1)
        .on_conflict_do_update(index_elements=[Counter.tenant_id, Counter.name], set_={"value": Counter.value + 1})
        .returning(Counter.value)
    )
    return session.execute(statement).scalar_one()
