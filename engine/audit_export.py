"""The audit export of one case: its complete history and access log, as JSON for machines and as a PDF
report for people (the SWV, the case, the route version, a timeline, the verification result)."""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from fpdf import FPDF
from fpdf.fonts import FontFace
from sqlalchemy import select
from sqlalchemy.orm import Session

from . import access, audit, clock
from .models import AccessLog, Case
from .replay import NotReplayable
from .vocabulary import CaseStatus, EventType

if TYPE_CHECKING:  # only an annotation here; the runtime is passed in
    from .cases import Runtime

EVENT_LABELS: dict[str, str] = {
    EventType.CASE_STARTED: "Dossier gestart", EventType.TASK_CLAIMED: "Taak opgepakt",
    EventType.TASK_UNCLAIMED: "Taak vrijgegeven", EventType.TASK_COMPLETED: "Taak afgerond",
    EventType.TIMER_FIRED: "Timer afgegaan", EventType.DEADLINE_WARNED: "Termijnwaarschuwing",
    EventType.DEADLINE_ESCALATED: "Termijn verstreken", EventType.CASE_SUSPENDED: "Opgeschort",
    EventType.CASE_RESUMED: "Hervat", EventType.CASE_EXTENDED: "Verlengd",
    "case_migrated": "Gemigreerd",  # comes with `loket processes migrate`
    EventType.DOCUMENT_ADDED: "Document toegevoegd", EventType.INCIDENT: "Incident",
    EventType.CASE_RETRIED: "Opnieuw geprobeerd", EventType.CASE_COMPLETED: "Dossier afgesloten",
    EventType.DATA_PURGED: "Gegevens verwijderd (bewaartermijn)",
}
STATUS_LABELS: dict[str, str] = {CaseStatus.OPEN: "lopend", CaseStatus.INCIDENT: "incident",
                                 CaseStatus.SUSPENDED: "opgeschort", CaseStatus.CLOSED: "gesloten"}


def export(runtime: Runtime, session: Session, case: Case) -> dict[str, Any]:
    """Everything an auditor needs about one case, as one JSON document."""
    version = case.route_version
    chain = audit.verify_case(session, case)
    try:
        replayed = audit.Replayer(runtime, session).run(case).to_json()
    except NotReplayable as exc:
        replayed = {"consistent": None, "events": 0, "divergence": None, "message": exc.message}
    history = audit.timeline(runtime, session, case)
    reads = session.scalars(select(AccessLog).where(AccessLog.tenant_id == case.tenant_id,
                                                    AccessLog.case_id == case.id).order_by(AccessLog.id))
    return {
        "generated_at": clock.now().isoformat(),
        "swv": {"key": case.tenant.key, "name": case.tenant.name},
        "case": {
            "id": case.id, "status": case.status, "outcome": case.outcome,
            "school": ({"code": case.school.code, "name": case.school.name} if case.school else None),
            "opened_at": case.opened_at.isoformat(), "closed_at": _iso(case.closed_at),
            "due_at": _iso(case.due_at), "data": case.data,
        },
        "route": {"key": version.route.key, "title": version.title, "version": version.number,
                  "sha256": version.sha256, "deployed_at": version.deployed_at.isoformat()},
        "verification": chain.to_json(),
        "replay": replayed,
        "events": history["events"],
        "access_log": [access.entry_json(entry) for entry in reads],
    }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


# ---------------------------------------------------------------- PDF

# fpdf2's core fonts speak latin-1: Dutch (ë, é, ï, ...) fits; other characters are spelled out or
# reduced to their base letter, so a name like Łukasz still reads as Lukasz rather than breaking the report.
_SPELLED = {"–": "-", "—": "-", "‘": "'", "’": "'", "‚": ",", "“": '"', "”": '"', "„": '"', "…": "...",
            "€": "EUR", "→": "->", "←": "<-", "•": "-", "\u00a0": " ", "ł": "l", "Ł": "L",
            "œ": "oe", "Œ": "OE", "ĳ": "ij", "Ĳ": "IJ"}


def latin1(text: Any) -> str:
    out = []
    for char in str(text):
        if char in "\n\t" or (char.isprintable() and ord(char) < 256):
            out.append(char)
        elif char in _SPELLED:
            out.append(_SPELLED[char])
        elif char.isprintable():
            base = unicodedata.normalize("NFKD", char).encode("latin-1", "ignore").decode("latin-1")
            out.append(base or "?")
    return "".join(out)


def local(value: str | None) -> str:
    """An ISO moment from the export document as a Dutch reader reads it."""
    return clock.format_moment(value)


class _Report(FPDF):
    def __init__(self, title: str, generated: str) -> None:
        super().__init__(orientation="P", unit="mm", format="A4")
        self.report_title, self.generated = title, generated
        self.set_auto_page_break(auto=True, margin=18)
        self.set_margins(15, 15, 15)
        self.alias_nb_pages()

    def header(self) -> None:
        self.set_font("Helvetica", "", 8)
        self.set_text_color(90, 90, 90)
        self.cell(0, 5, latin1(f"Loket - {self.report_title}"), new_x="LMARGIN", new_y="NEXT")
        self.set_text_color(0, 0, 0)
        self.ln(2)

    def footer(self) -> None:
        self.set_y(-13)
        self.set_font("Helvetica", "", 8)
        self.set_text_color(90, 90, 90)
        self.cell(0, 5, latin1(f"Gegenereerd op {self.generated} - pagina {self.page_no()} van {{nb}}"), align="C")
        self.set_text_color(0, 0, 0)

    def heading(self, text: str) -> None:
        self.ln(3)
        self.set_font("Helvetica", "B", 12)
        self.cell(0, 7, latin1(text), new_x="LMARGIN", new_y="NEXT")
        self.set_font("Helvetica", "", 9)

    def facts(self, rows: list[tuple[str, str]]) -> None:
        self.set_font("Helvetica", "", 9)
        for label, value in rows:
            self.set_font("Helvetica", "B", 9)
            self.cell(45, 5, latin1(label))
            self.set_font("Helvetica", "", 9)
            self.multi_cell(0, 5, latin1(value), new_x="LMARGIN", new_y="NEXT")

    def paragraph(self, text: str) -> None:
        self.set_font("Helvetica", "", 9)
        self.multi_cell(0, 5, latin1(text), new_x="LMARGIN", new_y="NEXT")

    def grid(self, widths: tuple[int, ...], header: tuple[str, ...], rows: Sequence[tuple[str, ...]]) -> None:
        self.set_font("Helvetica", "", 8)
        style = FontFace(emphasis="BOLD", fill_color=(225, 230, 240))
        with self.table(col_widths=widths, text_align="LEFT", line_height=4, headings_style=style,
                        padding=1, repeat_headings=1) as table:
            head = table.row()
            for text in header:
                head.cell(latin1(text))
            for values in rows:
                row = table.row()
                for text in values:
                    row.cell(latin1(text))


def render_pdf(document: dict[str, Any], *, compress: bool = True) -> bytes:
    """A readable audit report of an export document."""
    case, route, swv = document["case"], document["route"], document["swv"]
    generated = local(document["generated_at"])
    pdf = _Report(f"Auditrapport dossier {case['id']} - {swv['name']}", generated)
    pdf.set_compression(compress)
    pdf.set_title(latin1(f"Auditrapport dossier {case['id']}"))
    pdf.set_author("Loket")
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 16)
    pdf.cell(0, 10, latin1(f"Auditrapport dossier {case['id']}"), new_x="LMARGIN", new_y="NEXT")
    pdf.facts([
        ("Samenwerkingsverband", f"{swv['name']} ({swv['key']})"),
        ("Dossier", f"{case['id']}"
                    + (f", school {case['school']['name']} ({case['school']['code']})" if case["school"] else "")),
        ("Route", f"{route['title']} ({route['key']}), versie {route['version']}, gedeployed "
                  f"{local(route['deployed_at'])}"),
        ("Versie-hash", route["sha256"]),
        ("Status", STATUS_LABELS.get(case["status"], case["status"])
         + (f", uitkomst {case['outcome']}" if case["outcome"] else "")),
        ("Geopend / gesloten", f"{local(case['opened_at'])} / {local(case['closed_at'])}"),
        ("Gegenereerd op", generated),
    ])

    pdf.heading("Verificatie")
    pdf.facts(_verification(document))
    for item in document["verification"]["breaks"][:50]:
        pdf.paragraph(f"- event {item['seq'] if item['seq'] is not None else '?'}: {item['message']}")

    pdf.heading("Tijdlijn")
    rows = [(str(e["seq"]), local(e["at"]), f"{e['actor']}\n({e['role']})", _what(e), _changes(e))
            for e in document["events"]]
    pdf.grid((9, 24, 42, 38, 67), ("Nr", "Tijdstip", "Wie (rol)", "Gebeurtenis", "Wat veranderde"), rows)

    pdf.heading("Toegangslog")
    reads = document["access_log"]
    if reads:
        pdf.grid((30, 62, 26, 44, 18), ("Tijdstip", "Gebruiker", "Rol", "Wat", "Kanaal"),
                 [(local(r["at"]), r["actor"], r["role"], read_label(r["what"]), r["channel"]) for r in reads])
    else:
        pdf.paragraph("Niemand heeft dit dossier gelezen via de API, de CLI of een export.")

    pdf.heading("Toelichting")
    pdf.paragraph("Elk event is met een hash (sha256) verbonden aan het event ervoor; de keten dekt ook een hash "
                  "van de gegevens van elk event. Een gewijzigd, verwijderd of ingevoegd event breekt de keten. "
                  "Bij het opnieuw afspelen wordt het dossier uit de route-versie en de events herbouwd, met de "
                  "klok op het moment van elk event en de resultaten van services uit het log, en vergeleken met "
                  "de opgeslagen toestand. Tijden zijn in Nederlandse tijd.")
    return bytes(pdf.output())


READ_LABELS = {"case": "dossier", "events": "geschiedenis", "replay": "opnieuw afgespeeld",
               "access-log": "toegangslog", "state": "toestand"}


def read_label(what: str) -> str:
    """An access-log code ('task:besluit', 'state@2026-...', 'export:pdf') in words."""
    if what.startswith("task:"):
        return f"taak {what[5:]}"
    if what.startswith("export:"):
        return f"export ({what[7:]})"
    if what.startswith("state@"):
        return f"toestand op {local(what[6:])}"
    if what.startswith("state#"):
        return f"toestand na event {what[6:]}"
    return READ_LABELS.get(what, what)


def _verification(document: dict[str, Any]) -> list[tuple[str, str]]:
    chain, replayed = document["verification"], document["replay"]
    if chain["intact"]:
        chain_text = f"intact: {chain['events']} events, kop {chain['head'][:16]}..."
    else:
        chain_text = f"GEBROKEN op {len(chain['breaks'])} plaats(en), zie hieronder"
    if replayed.get("consistent") is None:
        replay_text = replayed.get("message") or "niet afgespeeld"
    elif replayed["consistent"]:
        replay_text = f"consistent: {replayed['events']} events opnieuw afgespeeld, zelfde toestand"
    else:
        replay_text = f"AFWIJKING: {replayed['divergence']['message']}"
    return [("Hash-keten", chain_text), ("Opnieuw afgespeeld", replay_text)]


def _what(event: dict[str, Any]) -> str:
    text = EVENT_LABELS.get(event["type"], event["type"])
    if event.get("task"):
        text += f": {event['task']['title']}"
    details = event.get("details") or {}
    if event["type"] == EventType.INCIDENT and details.get("error"):
        text += f"\n{details['error']}"
    if event["type"] in (EventType.CASE_SUSPENDED, EventType.CASE_RESUMED, EventType.CASE_EXTENDED) \
            and details.get("reason"):
        text += f"\nreden: {details['reason']}"
    if event["type"] == EventType.DATA_PURGED and details.get("rule"):
        text += f"\n{details['rule']}"
    if not event.get("intact", True):
        text += "\n[KETEN GEBROKEN]"
    return text


def _changes(event: dict[str, Any], limit: int = 8) -> str:
    if event.get("purged_at"):
        return f"gegevens verwijderd op {local(event['purged_at'])}"
    changes = event.get("changes")
    if changes is None:
        return "-"
    lines = [f"{c['key']}: {_value(c['before'])} -> {_value(c['after'])}" for c in changes[:limit]]
    if len(changes) > limit:
        lines.append(f"(en {len(changes) - limit} meer)")
    return "\n".join(lines)


def _value(value: Any) -> str:
    if value is None:
        return "(leeg)"
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 60 else text[:57] + "..."
