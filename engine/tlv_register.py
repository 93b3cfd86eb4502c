"""TLV numbers with the SWV's code, and the minimal TLV register kept after the dossier (issue 9).

A number is unique per SWV and year and has no gaps: ``VO3104-TLV-2026-0001`` (the SWV code, a tenant setting:
``loket tlv instellen SWV --code "VO 31.04"``; without a code ``TLV-2026-0001``). It is drawn from the counter row
of the SWV and year in the granting transaction (engine.models.Counter, one upsert), so a grant that rolls back
gives its number back and two grants at once queue on the row instead of taking the same number.

With the number comes a register entry (engine.models_tlv): number, dates, soort, category, SWV. The dossier is
purged three years after the decision (the route's retention); the entry stays until the einddatum plus the
SWV's margin (``tlv.register_marge_maanden``, 12 by default), then ``loket retention run`` removes it.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from . import clock
from .models import Counter, Tenant
from .models_tlv import TlvRegister
from .tlv_rules import earliest_end

DEFAULT_MARGIN_MONTHS = 12
DOSSIER_YEARS = 3  # without an einddatum the entry goes with the dossier
_CODE = re.compile(r"^(PO|VO)\s*(\d{2})\s*[.\-]?\s*(\d{2})$", re.IGNORECASE)


def normalise_code(text: str) -> str:
    """An SWV code as DUO writes it ('VO 31.04', 'vo31-04') in one form: ``VO3104``. ValueError if it is none."""
    match = _CODE.match((text or "").strip())
    if not match:
        raise ValueError(f"'{text}' is geen SWV-code; gebruik de code van DUO, bijvoorbeeld VO 31.04 of PO 21.01")
    kind, first, second = match.groups()
    return f"{kind.upper()}{first}{second}"


def number_text(code: str | None, year: int, number: int) -> str:
    return f"{code}-TLV-{year}-{number:04d}" if code else f"TLV-{year}-{number:04d}"


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


def _day(value: Any) -> date | None:
    try:
        return date.fromisoformat(str(value)) if value else None
    except ValueError:
        return None


def keep_until(decided: date, end: date | None, margin_months: int) -> date:
    """The last day the entry is kept: the einddatum plus the margin, and never before the dossier's own three
    years are over (the register is the smaller record, not the shorter one)."""
    dossier = earliest_end(decided, 12 * DOSSIER_YEARS)
    if end is None:
        return dossier
    return max(dossier, earliest_end(end, margin_months) if margin_months else end)


def grant(session: Session, tenant_id: int, case_id: int | None, now: datetime, data: dict[str, Any]) -> dict[str, Any]:
    """Number a granted TLV and enter it in the register, in the caller's transaction."""
    tenant = session.get(Tenant, tenant_id)
    own = dict(((tenant.settings if tenant else None) or {}).get("tlv") or {})
    code = own.get("code")
    decided = clock.local_date(now)  # the year and day in the Netherlands (31 Dec 23:30 UTC is 1 January here)
    number = number_text(code, decided.year, next_number(session, tenant_id, f"tlv-{decided.year}"))
    start, end = _day(data.get("ingangsdatum")), _day(data.get("einddatum"))
    margin = int(own.get("register_marge_maanden", DEFAULT_MARGIN_MONTHS) or 0)
    entry = TlvRegister(tenant_id=tenant_id, case_id=case_id or None, nummer=number, swv_code=code,
                        besluitdatum=decided, soort=data.get("soort"), categorie=data.get("categorie"),
                        ingangsdatum=start, einddatum=end, keep_until=keep_until(decided, end, margin),
                        registered_at=now)
    session.add(entry)
    session.flush()  # a duplicate number fails here, inside the grant, not at commit
    return {"nummer": number, "swv_code": code, "besluitdatum": decided.isoformat(),
            "register_tot": entry.keep_until.isoformat()}


def entries(session: Session, tenant_id: int) -> list[TlvRegister]:
    return list(session.scalars(select(TlvRegister).where(TlvRegister.tenant_id == tenant_id)
                                .order_by(TlvRegister.besluitdatum, TlvRegister.nummer)))


def forget_expired(session: Session, today: date, dry_run: bool = False) -> int:
    """Remove the register entries whose keep_until has passed (run by ``loket retention run``)."""
    past = TlvRegister.keep_until < today
    if dry_run:
        return int(session.scalar(select(func.count()).select_from(TlvRegister).where(past)) or 0)
    return int(session.execute(delete(TlvRegister).where(past)).rowcount or 0)  # type: ignore[attr-defined]
