"""The audit export of one case: its complete history and access log, as JSON for machines and as a PDF
report for people (the SWV, the case, the route version, a timeline, the verification result)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from fpdf import FPDF
from fpdf.fonts import FontFace
from sqlalchemy import select
from sqlalchemy.orm import Session

from . import access, audit, clock
from .models import AccessLog, Case
from .pdf_fonts import ARABIC, CJK, FAMILY, font_files, output, printable
from .replay import NotReplayable
from .vocabulary import CaseStatus, EventType

if TYPE_CHECKING:  # only an annotation here; the runtime is passed in
    from .cases import Runtime

EVENT_LABELS: dict[str, str] = {
    EventType.CASE_STARTED: "Dossier gestart", EventType.TASK_CLAIMED: "Taak opgepakt",
    EventType.TASK_UNCLAIMED: "Taak vrijgegeven", EventType.TASK_COMPLETED: "Taak afgerond",
    EventType.TASK_DELEGATED: "Taak overgedragen",
    EventType.TIMER_FIRED: "Timer afgegaan", EventType.DEADLINE_WARNED: "Termijnwaarschuwing",
    EventType.DEADLINE_ESCALATED: "Termijn verstreken", EventType.CASE_SUSPENDED: "Opgeschort",
    EventType.CASE_RESUMED: "Hervat", EventType.CASE_EXTENDED: "Verlengd",
    EventType.DECISION_TERM_EXTENDED: "Beslistermijn verdaagd",
    EventType.CASE_MIGRATED: "Overgezet naar een andere routeversie",
    EventType.DECISION_LETTER_MADE: "Besluitbrief opgemaakt",
    EventType.DOCUMENT_ADDED: "Document toegevoegd", EventType.INCIDENT: "Incident",
    EventType.CASE_RETRIED: "Opnieuw geprobeerd", EventType.CASE_COMPLETED: "Dossier afgesloten",
    EventType.DATA_PURGED: "Gegevens verwijderd (bewaartermijn)",
    EventType.LEGAL_HOLD_SET: "Juridische bewaarplicht ingesteld",
    EventType.LEGAL_HOLD_LIFTED: "Juridische bewaarplicht opgeheven",
    EventType.CASE_LINKED: "Gekoppeld dossier gestart", EventType.LINKED_CASE_CLOSED: "Gekoppeld dossier afgesloten",
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

def local(value: datetime | str | None) -> str:
    """A stored moment as a Dutch reader reads it, to the second. A moment that Dutch time cannot hold (year
    9999 just before midnight UTC, a stray year 1) or that is no moment at all is shown as it was stored:
    the log is permanent, and its report must always print."""
    try:
        return clock.format_moment(value, seconds=True)
    except (ValueError, OverflowError, TypeError):
        return value.isoformat() if isinstance(value, datetime) else str(value)


class _Report(FPDF):
    def __init__(self, title: str, generated: str) -> None:
        super().__init__(orientation="P", unit="mm", format="A4")
        self.report_title, self.generated = title, generated
        for (family, style), path in font_files().items():
            self.add_font(family, style, path)
        # A style a fallback lacks (bold Chinese) takes its regular rather than losing the character.
        self.set_fallback_fonts([ARABIC, CJK], exact_match=False)
        self.set_text_shaping(True)  # joins and orders Arabic letters; Latin text is unchanged
        self.set_auto_page_break(auto=True, margin=18)
        self.set_margins(15, 15, 15)
        self.alias_nb_pages()

    def header(self) -> None:
        self.set_font(FAMILY, "", 8)
        self.set_text_color(80, 80, 80)
        self.cell(0, 5, printable(f"Loket – {self.report_title}"), new_x="LMARGIN", new_y="NEXT")
        self.set_text_color(0, 0, 0)
        self.ln(2)

    def footer(self) -> None:
        self.set_y(-13)
        self.set_font(FAMILY, "", 8)
        self.set_text_color(80, 80, 80)
        self.cell(0, 5, f"Gegenereerd op {self.generated} – pagina {self.page_no()} van {{nb}}", align="C")
        self.set_text_color(0, 0, 0)

    def heading(self, text: str) -> None:
        if self.will_page_break(25):  # a heading never stands alone at the foot of a page
            self.add_page()
        self.ln(3)
        self.set_font(FAMILY, "B", 12)
        self.cell(0, 7, printable(text), new_x="LMARGIN", new_y="NEXT")
        self.set_font(FAMILY, "", 9)

    def facts(self, rows: list[tuple[str, str]]) -> None:
        for label, value in rows:
            self.set_font(FAMILY, "B", 9)
            self.cell(45, 5, printable(label))
            self.set_font(FAMILY, "", 9)
            self.multi_cell(0, 5, printable(value), align="L", new_x="LMARGIN", new_y="NEXT")

    def paragraph(self, text: str) -> None:
        self.set_font(FAMILY, "", 9)
        self.multi_cell(0, 5, printable(text), new_x="LMARGIN", new_y="NEXT")

    def event(self, number: str, moment: str, who: str, what: str, changes: str) -> None:
        """One event of the timeline: a shaded line with its number, moment and kind, then who acted and what
        changed. Not a table row: a row cannot continue on the next page, and an event's data may well be
        longer than a page."""
        title, _, more = what.partition("\n")
        if self.will_page_break(18):  # the shaded line and the first lines beneath it stay together
            self.add_page()
        self.set_font(FAMILY, "B", 9)
        self.set_fill_color(225, 230, 240)
        self.multi_cell(0, 5.5, printable(f"{number}.  {moment}  ·  {title}"), fill=True, align="L",
                        new_x="LMARGIN", new_y="NEXT")
        self.set_fill_color(255, 255, 255)  # tables fill their cells with the current colour
        self.set_font(FAMILY, "", 8.5)
        self.set_x(self.l_margin + 4)
        self.multi_cell(self.epw - 4, 4.2, printable(f"door {who}" + (f"\n{more}" if more else "")), align="L",
                        new_x="LMARGIN", new_y="NEXT")
        if changes:
            self.set_text_color(40, 40, 40)
            self.set_x(self.l_margin + 4)  # a page break inside the text keeps this indent
            self.multi_cell(self.epw - 4, 4.2, printable(changes), align="L", new_x="LMARGIN", new_y="NEXT")
            self.set_text_color(0, 0, 0)
        self.ln(2.5)

    def grid(self, widths: tuple[int, ...], header: tuple[str, ...], rows: Sequence[tuple[str, ...]]) -> None:
        self.set_font(FAMILY, "", 8)
        style = FontFace(emphasis="BOLD", fill_color=(225, 230, 240))
        with self.table(col_widths=widths, text_align="LEFT", v_align="TOP", line_height=4, headings_style=style,
                        padding=1, repeat_headings=1) as table:
            head = table.row()
            for text in header:
                head.cell(text)
            for values in rows:
                row = table.row()
                for text in values:
                    row.cell(printable(text))


def render_pdf(document: dict[str, Any], *, compress: bool = True) -> bytes:
    """A readable audit report of an export document."""
    case, route, swv = document["case"], document["route"], document["swv"]
    generated = local(document["generated_at"])
    pdf = _Report(f"Auditrapport dossier {case['id']} – {swv['name']}", generated)
    pdf.set_compression(compress)
    pdf.set_title(f"Auditrapport dossier {case['id']}")
    pdf.set_author("Loket")
    pdf.set_lang("nl")
    pdf.add_page()
    pdf.set_font(FAMILY, "B", 16)
    pdf.cell(0, 10, f"Auditrapport dossier {case['id']}", new_x="LMARGIN", new_y="NEXT")
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
    for item in document["verification"]["breaks"]:
        pdf.paragraph(f"- event {item['seq'] if item['seq'] is not None else '?'}: {item['message']}")

    pdf.heading("Tijdlijn")
    for e in document["events"]:
        pdf.event(str(e["seq"]), local(e["at"]), f"{e['actor']} ({e['role']})", _what(e), _changes(e))
    if not document["events"]:
        pdf.paragraph("Geen events.")

    pdf.heading("Toegangslog")
    reads = document["access_log"]
    if reads:
        pdf.grid((26, 58, 24, 54, 18), ("Tijdstip", "Gebruiker", "Rol", "Wat", "Kanaal"),
                 [(local(r["at"]), r["actor"], r["role"], read_label(r["what"]), r["channel"]) for r in reads])
    else:
        pdf.paragraph("Niemand heeft dit dossier gelezen via de API, de CLI of een export.")

    pdf.heading("Toelichting")
    pdf.paragraph("Elk event is met een hash (sha256) verbonden aan het event ervoor; de keten dekt ook een hash "
                  "van de gegevens van elk event. Een gewijzigd, verwijderd of ingevoegd event breekt de keten. "
                  "Bij het opnieuw afspelen wordt het dossier uit de route-versie en de events herbouwd, met de "
                  "klok op het moment van elk event en de resultaten van services uit het log, en vergeleken met "
                  "de opgeslagen toestand. Tijden zijn in Nederlandse tijd, op de seconde. Een tijdstip dat niet "
                  "in Nederlandse tijd te tonen is, staat er zoals het is opgeslagen. Een teken waarvoor het "
                  "rapport geen lettertype heeft, staat er als zijn Unicode-code ([U+AE40]); de JSON-export "
                  "bevat alle gegevens letterlijk.")
    return output(pdf)


def read_label(what: str) -> str:
    """An access-log code ('task:besluit', 'state@2026-...', 'document:12') in words (engine.access.READ_KINDS);
    a code of no known kind as it is."""
    found = access.read_kind(what)
    if found is None:
        return what
    kind, argument = found
    return access.READ_KINDS[kind].format(local(argument) if kind == "state@" else argument)


def _verification(document: dict[str, Any]) -> list[tuple[str, str]]:
    chain, replayed = document["verification"], document["replay"]
    if chain["intact"]:
        chain_text = f"intact: {chain['events']} events\nkop: {chain['head']}"
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


def _changes(event: dict[str, Any]) -> str:
    if event.get("purged_at"):
        return f"gegevens verwijderd op {local(event['purged_at'])}"
    changes = event.get("changes")
    if changes is None:
        return ""
    lines: list[str] = []
    for change in changes:  # all of them: an audit report leaves nothing out
        before, after = value_lines(change["before"]), value_lines(change["after"])
        if len(before) == 1 and len(after) == 1:
            lines.append(f"{change['key']}: {before[0]} -> {after[0]}")
            continue
        lines.append(f"{change['key']}:")
        for label, block in (("was", before), ("nu", after)):
            if len(block) == 1:
                lines.append(f"{_INDENT}{label}: {block[0]}")
            else:
                lines.append(f"{_INDENT}{label}:")
                lines.extend(_INDENT * 2 + line for line in block)
    return "\n".join(lines) or "geen wijziging in de gegevens"


_INDENT = "  "


_DEEPEST = 40


def value_lines(value: Any, depth: int = 0) -> list[str]:
    """A value of the case data as lines a Dutch reader reads: ja/nee, a list item per line ("- "), an object
    as "key: value", nested values indented beneath their key; whole, never cut off (only nesting past
    ``_DEEPEST`` levels is referred to the JSON export, and says so)."""
    if isinstance(value, (list, dict)) and value and depth >= _DEEPEST:
        return [f"(dieper genest dan {_DEEPEST} niveaus: zie de JSON-export)"]
    if isinstance(value, list):
        if not value:
            return ["(geen)"]
        lines = []
        for item in value:
            block = value_lines(item, depth + 1)
            lines.append(f"- {block[0]}")
            lines.extend(f"  {line}" for line in block[1:])
        return lines
    if isinstance(value, dict):
        if not value:
            return ["(leeg)"]
        lines = []
        # Keys in alphabetical order: PostgreSQL's jsonb keeps no order of its own, and a report must read the
        # same from either database.
        for key, item in sorted(value.items(), key=lambda pair: str(pair[0])):
            block = value_lines(item, depth + 1)
            if isinstance(item, (list, dict)) and item:
                lines.append(f"{key}:")
                lines.extend(f"  {line}" for line in block)
            else:
                lines.append(f"{key}: {block[0]}")
                lines.extend(f"  {line}" for line in block[1:])
        return lines
    return _scalar(value).split("\n")


def _scalar(value: Any) -> str:
    if value is None:
        return "(leeg)"
    if value is True:
        return "ja"
    if value is False:
        return "nee"
    if isinstance(value, float):
        return repr(value).replace(".", ",")
    if isinstance(value, int) and value.bit_length() > 14_000:  # past Python's 4,300-digit limit for str()
        return f"(een getal van ongeveer {value.bit_length() * 30103 // 100000 + 1} cijfers)"
    return str(value).strip() or "(leeg)"
