"""register_tlv: give a granted TLV its number with the SWV's code (VO3104-TLV-2026-0001), unique per SWV and
year and without gaps, and enter it in the TLV register (engine.tlv_register)."""

from __future__ import annotations

from typing import Any

from engine.services import ServiceContext, register
from engine.tlv_register import grant, next_number  # noqa: F401  (next_number: tests draw numbers directly)


@register("register_tlv")
def register_tlv(ctx: ServiceContext, categorie: str | None = None, ingangsdatum: str | None = None,
                 einddatum: str | None = None, soort: str | None = None, **_: Any) -> dict[str, Any]:
    # A route whose TLV has one soort names it (tlv-pro: "pro"); tlv-vso's besluit form gives the cluster.
    data = {"soort": soort or ctx.data.get("soort"), "categorie": categorie, "ingangsdatum": ingangsdatum,
            "einddatum": einddatum}
    entry = grant(ctx.session, ctx.tenant_id, ctx.case_id, ctx.now, data)
    return {
        "nummer": entry["nummer"],
        "swv_code": entry["swv_code"],
        "soort": data["soort"],
        "categorie": categorie,
        "ingangsdatum": ingangsdatum,
        "einddatum": einddatum,
        "besluitdatum": entry["besluitdatum"],
        "geregistreerd_op": ctx.now.isoformat(),
    }
