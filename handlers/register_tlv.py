"""register_tlv: give a granted TLV its number, unique per SWV and year (TLV-2026-0001)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update

from engine.models import Counter
from engine.services import ServiceContext, register


@register("register_tlv")
def register_tlv(ctx: ServiceContext, categorie: str | None = None, ingangsdatum: str | None = None,
                 einddatum: str | None = None, **_: Any) -> dict[str, Any]:
    year = ctx.now.year
    name = f"tlv-{year}"
    # An UPDATE takes the row lock first, so two concurrent grants never get the same number.
    bumped = ctx.session.execute(
        update(Counter)
        .where(Counter.tenant_id == ctx.tenant_id, Counter.name == name)
        .values(value=Counter.value + 1)
        .returning(Counter.value)
    ).scalar_one_or_none()
    if bumped is None:
        ctx.session.add(Counter(tenant_id=ctx.tenant_id, name=name, value=1))
        ctx.session.flush()
        bumped = ctx.session.execute(
            select(Counter.value).where(Counter.tenant_id == ctx.tenant_id, Counter.name == name)
        ).scalar_one()
    return {
        "nummer": f"TLV-{year}-{bumped:04d}",
        "categorie": categorie,
        "ingangsdatum": ingangsdatum,
        "einddatum": einddatum,
        "geregistreerd_op": ctx.now.isoformat(),
    }
