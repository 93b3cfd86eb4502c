"""The letters a parent reads (engine.letters): a PDF in the SWV's name that any script of a name prints in, sent
as an attachment of the outbox mail."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime

from pypdf import PdfReader

from engine import letters
from engine.decision_record import build
from engine.mail import build_message
from engine.models import OutboxMessage
from engine.smtp import SmtpConfig

DATA = {"leerling": {"voornaam": "Amira", "achternaam": "الحسن", "geboortedatum": "2012-05-01"},
        "motivering": "Beide deskundigen adviseren VSO.", "categorie": "laag", "ingangsdatum": "2026-04-01",
        "einddatum": "2027-07-31", "tlv": {"nummer": "TLV-2026-0001"}}


def record(outcome: str = "toekenning", data: dict = DATA) -> dict:
    return build(outcome=outcome, day=date(2026, 3, 20), swv="Sterk VO Utrecht", case_id=12, school="De Brug (16PX00)",
                 data=data, clock_state={"due": "2026-03-30"})


def test_every_decision_letter_is_a_pdf_with_the_remedy_clause_in_the_record():
    for outcome in ("toekenning", "afwijzing", "buiten_behandeling"):
        rec = record(outcome)
        assert rec["bezwaar_tot"] == "2026-05-01"  # Friday 20 March + 6 weeks
        assert "bezwaar" in rec["rechtsmiddel"] and "01-05-2026" in rec["rechtsmiddel"]
        pdf = letters.decision_pdf(rec, compress=False)
        assert pdf.startswith(b"%PDF") and b"Sterk VO Utrecht" in pdf  # the SWV's name as the document's author
    assert "TLV-2026-0001" in record()["besluit"] and "categorie laag" in record()["besluit"]


def test_the_verdaging_notice_is_a_pdf():
    pdf = letters.extension_pdf({"swv": "Sterk VO Utrecht", "kenmerk": "12-verdaging", "leerling": "Amira",
                                 "verzonden": "2026-03-20", "van": "2026-03-30", "tot": "2026-04-28",
                                 "reden": "Een tweede deskundige wordt gehoord."})
    assert pdf.startswith(b"%PDF")


def test_the_mail_carries_the_letter_as_a_pdf_attachment():
    pdf = letters.decision_pdf(record())
    message = OutboxMessage(id=1, tenant_id=1, case_id=12, to_address="school@example.test", subject="Besluit TLV",
                            body="Zie bijlage.", created_at=datetime(2026, 3, 20, 9, tzinfo=UTC),
                            attachment_name="besluit-12-toekenning.pdf", attachment=pdf)
    email = build_message(message, SmtpConfig(host="localhost", port=25, security="none"))
    [attached] = list(email.iter_attachments())
    assert attached.get_content_type() == "application/pdf"
    assert attached.get_filename() == "besluit-12-toekenning.pdf" and attached.get_content() == pdf


def _fonts_of(pdf: bytes) -> set[str]:
    fonts: set[str] = set()
    for page in PdfReader(io.BytesIO(pdf)).pages:
        fonts |= {str(font["/BaseFont"]).split("+")[-1] for font in page["/Resources"]["/Font"].values()}
    return fonts


def test_a_name_in_arabic_or_chinese_gets_its_font_and_a_latin_letter_embeds_only_the_latin_one():
    latin = record(data={**DATA, "leerling": {**DATA["leerling"], "achternaam": "Hassan"}})
    assert not any(font.startswith(("NotoSansArabic", "NotoSansSC")) for font in _fonts_of(letters.decision_pdf(latin)))
    arabic = _fonts_of(letters.decision_pdf(record()))  # the achternaam is الحسن
    assert any(font.startswith("NotoSansArabic") for font in arabic)
    chinese_name = {**DATA, "leerling": {**DATA["leerling"], "achternaam": "王"}}
    chinese = _fonts_of(letters.decision_pdf(record(data=chinese_name)))
    assert any(font.startswith("NotoSansSC") for font in chinese)


def test_a_letter_is_the_same_document_as_fpdf2_writes_it_unhurried(monkeypatch):
    """pdf_fonts.output drops the layout tables fpdf2 would leave out of the embedded fonts anyway, before fontTools
    reads them: the letter (Latin, Arabic and Chinese names alike) is byte for byte the one fpdf2 writes without."""
    from freezegun import freeze_time

    from engine import pdf_fonts

    names = [DATA, {**DATA, "leerling": {**DATA["leerling"], "achternaam": "王 Жук"}}]
    with freeze_time("2026-03-20T10:00:00Z"):
        quick = [letters.decision_pdf(record(data=data)) for data in names]
        monkeypatch.setattr(pdf_fonts, "_LAYOUT_TABLES", ())
        unhurried = [letters.decision_pdf(record(data=data)) for data in names]
    assert quick == unhurried
    assert PdfReader(io.BytesIO(quick[1])).pages[0].extract_text().count("Жук") >= 1
