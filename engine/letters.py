"""Letters a parent reads: the decision (beschikking) and the notice that the decision term is extended, as PDF
in the SWV's name, set in the same fonts as the audit report (engine.pdf_fonts)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from fpdf import FPDF

from .clock import format_date
from .pdf_fonts import FAMILY, fallbacks_for, font_files, output, printable


def _texts(value: Any) -> str:
    if isinstance(value, dict):
        return " ".join(_texts(item) for item in value.values())
    if isinstance(value, list | tuple):
        return " ".join(_texts(item) for item in value)
    return str(value)


class _Letter(FPDF):
    def __init__(self, swv: str, content: dict[str, Any], subtitle: str = "Samenwerkingsverband passend onderwijs"
                 ) -> None:
        super().__init__(orientation="P", unit="mm", format="A4")
        self.swv = swv
        self.subtitle = subtitle
        fallbacks = fallbacks_for(_texts(content))  # a pupil's name in its own script
        for (family, style), path in font_files().items():
            if family == FAMILY or family in fallbacks:
                self.add_font(family, style, path)
        if fallbacks:
            self.set_fallback_fonts(fallbacks, exact_match=False)
        self.set_text_shaping(True)
        self.set_auto_page_break(auto=True, margin=20)
        self.set_margins(22, 20, 22)
        self.alias_nb_pages()
        self.set_lang("nl")
        self.set_author(swv)

    def header(self) -> None:
        self.set_font(FAMILY, "B", 13)
        self.cell(0, 7, printable(self.swv), new_x="LMARGIN", new_y="NEXT")
        self.set_font(FAMILY, "", 8)
        self.set_text_color(90, 90, 90)
        self.cell(0, 4, printable(self.subtitle), new_x="LMARGIN", new_y="NEXT")
        self.set_text_color(0, 0, 0)
        self.ln(6)

    def footer(self) -> None:
        self.set_y(-14)
        self.set_font(FAMILY, "", 8)
        self.cell(0, 5, f"pagina {self.page_no()} van {{nb}}", align="C")

    def facts(self, rows: list[tuple[str, str]]) -> None:
        for label, value in rows:
            self.set_font(FAMILY, "B", 10)
            self.cell(42, 5.5, printable(label))
            self.set_font(FAMILY, "", 10)
            self.multi_cell(0, 5.5, printable(value), align="L", new_x="LMARGIN", new_y="NEXT")
        self.ln(3)

    def heading(self, text: str) -> None:
        if self.will_page_break(20):
            self.add_page()
        self.ln(2)
        self.set_font(FAMILY, "B", 11)
        self.cell(0, 6, printable(text), new_x="LMARGIN", new_y="NEXT")

    def paragraph(self, text: str) -> None:
        self.set_font(FAMILY, "", 10)
        self.multi_cell(0, 5.5, printable(text), align="L", new_x="LMARGIN", new_y="NEXT")
        self.ln(1.5)

    def done(self, compress: bool) -> bytes:
        self.set_compression(compress)
        return output(self)


def _day(value: str | None) -> str:
    return format_date(date.fromisoformat(value)) if value else "-"


def decision_pdf(record: dict[str, Any], *, compress: bool = True) -> bytes:
    """The beschikking: the decision, its reasons, who receives it and how to object."""
    # A school's own decision (toelating) is in the school's name; every other in the SWV's.
    pdf = _Letter(record.get("afzender") or record["swv"], record,
                  "School voor voortgezet onderwijs" if record.get("afzender") else
                  "Samenwerkingsverband passend onderwijs")
    pdf.set_title(record["titel"])
    # The decision date, not the moment of rendering: the same record makes the same bytes (engine.decision_letters).
    pdf.set_creation_date(datetime.combine(date.fromisoformat(record["besluitdatum"]), datetime.min.time(), UTC))
    pdf.add_page()
    rows = [("Datum", _day(record["besluitdatum"]))]
    if record.get("bekendmaking") and record["bekendmaking"] != record["besluitdatum"]:
        rows.append(("Verzonden", _day(record["bekendmaking"])))
    pdf.facts([
        *rows,
        ("Kenmerk", record["kenmerk"]),
        ("Betreft", record["titel"]),
        ("Leerling", record["leerling"]),
        ("Aan", "; ".join(r["naam"] for r in record["ontvangers"])),
    ])
    pdf.paragraph("Geachte heer, mevrouw,")
    pdf.heading("Besluit")
    pdf.paragraph(record["besluit"])
    if record.get("motivering"):
        pdf.heading("Motivering" if record["uitkomst"] != "buiten_behandeling" else "Wat ontbrak")
        pdf.paragraph(record["motivering"])
    if record.get("te_laat"):
        pdf.paragraph(f"Dit besluit is genomen na afloop van de beslistermijn ({_day(record.get('beslistermijn'))}).")
    pdf.heading("Bezwaar maken")
    pdf.paragraph(record["rechtsmiddel"])
    pdf.ln(4)
    signed = record.get("ondertekening") or (f"het bestuur van {record['swv']}\nnamens dezen, de commissie "
                                             f"toelaatbaarheid")
    pdf.paragraph(f"Met vriendelijke groet,\n\n{signed}")
    return pdf.done(compress)


def extension_pdf(notice: dict[str, Any], *, compress: bool = True) -> bytes:
    """The Awb 4:14 notice: the decision takes longer, why, and the new term. A school's own extension (the
    zorgplicht's 4 weeks) names its sender (``afzender``) and its law (``grondslag``)."""
    sender = notice.get("afzender") or notice["swv"]
    pdf = _Letter(sender, notice, "School voor voortgezet onderwijs" if notice.get("afzender") else
                  "Samenwerkingsverband passend onderwijs")
    pdf.set_title("Verdaging beslistermijn")
    pdf.set_creation_date(datetime.combine(date.fromisoformat(notice["verzonden"]), datetime.min.time(), UTC))
    pdf.add_page()
    pdf.facts([
        ("Datum", _day(notice["verzonden"])),
        ("Kenmerk", notice["kenmerk"]),
        ("Betreft", "Verdaging van de beslistermijn van uw aanvraag"),
        ("Leerling", notice["leerling"]),
    ])
    pdf.paragraph("Geachte heer, mevrouw,")
    pdf.paragraph(f"Wij kunnen niet binnen de beslistermijn, die eindigt op {_day(notice['van'])}, op de aanvraag "
                  f"beslissen ({notice.get('grondslag') or 'artikel 4:14 van de Algemene wet bestuursrecht'}). "
                  f"De reden: {notice['reden']}")
    pdf.paragraph(f"Wij beslissen uiterlijk op {_day(notice['tot'])}.")
    signed = (f"het bevoegd gezag van {notice['afzender']}" if notice.get("afzender")
              else f"het bestuur van {notice['swv']}")
    pdf.paragraph(f"Met vriendelijke groet,\n\n{signed}")
    return pdf.done(compress)
