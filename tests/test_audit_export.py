"""The audit export (JSON and PDF): it survives whatever the logs hold, prints every script a pupil's name may be
written in, and reads as Dutch (ja/nee, lists as lists, times to the second)."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime

import pytest
from pypdf import PdfReader

from engine import access, audit_export, clock, pdf_fonts
from engine.models import Case
from tests.helpers import call, do

FAR_FUTURE = "state@9999-12-31T23:59:59+00:00"
# What a reader could leave in the access log: a moment past the end of the calendar in Dutch time, one before
# its start, no moment at all, and codes this version does not know.
ODD_READS = [FAR_FUTURE, "state@0001-01-01T00:00:00+05:00", "state@geen-datum", "state@", "state#x", "raar:ding"]


def pdf_text(raw: bytes) -> str:
    """The text of a PDF as a reader's copy-and-paste gets it."""
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(raw)).pages)


def squeezed(text: str) -> str:
    """Without white space and the control characters and direction marks that text extraction puts where the
    report switches fonts, shapes Arabic or wraps a line."""
    return re.sub(r"[\s\x00-\x1f\u200e\u200f\u202a-\u202e]+", "", text)


def document_of(runtime, case_id: int) -> dict:
    with runtime.db.read() as session:
        return audit_export.export(runtime, session, session.get(Case, case_id))


# ---------------------------------------------------------------- finding 1: any stored read is printable


def test_a_read_at_the_end_of_time_does_not_break_the_export(client, runtime, world, sample, db):
    case = runtime.start_case(world["school"], "tlv-vso", sample["start"])
    for what in ODD_READS:  # written directly: the entries are permanent, whatever the API refuses today
        access.record(db, world["consulent"], what, "api", case_id=case.id)
    with clock.frozen(datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)):  # and a read stamped at the end of time
        access.record(db, world["leerplicht"], "case", "api", case_id=case.id)

    response = call(client, world, "auditor", "GET", f"/api/v1/cases/{case.id}/export")
    assert response.status_code == 200, response.get_json()
    logged = response.get_json()["access_log"]
    assert [e["what"] for e in logged][:len(ODD_READS) + 1] == [*ODD_READS, "case"]
    assert logged[len(ODD_READS)]["at"] == "9999-12-31T23:59:59+00:00"

    response = call(client, world, "auditor", "GET", f"/api/v1/cases/{case.id}/export?format=pdf")
    assert response.status_code == 200 and response.data.startswith(b"%PDF")
    text = squeezed(pdf_text(response.data))
    # A moment that cannot be shown in Dutch time is shown as it was stored, never dropped.
    assert squeezed("toestand op 9999-12-31T23:59:59+00:00") in text
    assert squeezed("toestand op 0001-01-01T00:00:00+05:00") in text
    assert squeezed("toestand op geen-datum") in text and "raar:ding" in text
    assert "9999-12-31T23:59:59+00:00" in text.replace(squeezed("toestand op 9999-12-31T23:59:59+00:00"), "")


@pytest.mark.parametrize("value", ["9999-12-31T23:59:59+00:00", "0001-01-01T00:00:00+05:00", "gisteren", "",
                                   None, "2026-09-01T08:30:05+00:00"])
def test_every_stored_moment_has_a_printable_form(value):
    shown = audit_export.local(value)
    assert shown
    if value == "2026-09-01T08:30:05+00:00":
        assert shown == "01-09-2026 10:30:05"  # Dutch summer time, to the second
    elif value:
        assert value in shown


# ---------------------------------------------------------------- finding 2: every script in an embedded font


def test_arabic_and_chinese_names_print_as_themselves(runtime, world, sample):
    data = dict(sample["start"], leerling={"voornaam": "فاطمة", "achternaam": "王芳", "geboortedatum": "2013-04-02"})
    case = runtime.start_case(world["school"], "tlv-vso", data)
    do(runtime, world, "school", case.id, "aanmelding",
       dict(sample["aanmelding"], onderwijsbehoeften="Zoë – Ørsted, Łukasz"))
    raw = audit_export.render_pdf(document_of(runtime, case.id))
    text = squeezed(pdf_text(raw))
    assert "فاطمة" in text and "王芳" in text
    assert squeezed("Zoë – Ørsted, Łukasz") in text  # Latin as it is, nothing spelled out
    assert "??" not in text
    fonts = {str(font["/BaseFont"]).split("+")[-1] for page in PdfReader(io.BytesIO(raw)).pages
             for font in page["/Resources"]["/Font"].values()}
    assert {"NotoSans", "NotoSansArabic", "NotoSansSC"} <= fonts, fonts  # embedded, no core font


def test_a_character_no_font_has_is_named_not_dropped():
    assert pdf_fonts.printable("김 and \ud800 and \x07") == "[U+AE40] and [U+D800] and [U+0007]"
    assert pdf_fonts.printable("regel 1\r\nregel 2\tnu") == "regel 1\nregel 2 nu"
    assert pdf_fonts.printable("فاطمة 王芳 Zoë") == "فاطمة 王芳 Zoë"


# ---------------------------------------------------------------- finding 3: Dutch values, whole lists, seconds


def test_values_read_as_dutch_and_lists_as_lists():
    assert audit_export.value_lines(True) == ["ja"] and audit_export.value_lines(False) == ["nee"]
    assert audit_export.value_lines(None) == ["(leeg)"] and audit_export.value_lines([]) == ["(geen)"]
    assert audit_export.value_lines(2.5) == ["2,5"]
    long = "Een lange motivering " * 20
    assert audit_export.value_lines(long) == [long.strip()]  # never cut off
    assert audit_export.value_lines([{"naam": "M. de Boer", "rol": "consulent", "aanwezig": True},
                                     {"naam": "A. Jansen", "rol": "orthopedagoog", "aanwezig": False}]) == [
        "- aanwezig: ja", "  naam: M. de Boer", "  rol: consulent",  # keys alphabetical, as on either database
        "- aanwezig: nee", "  naam: A. Jansen", "  rol: orthopedagoog"]
    assert audit_export.value_lines({"opp": {"nummer": "OPP-1", "stukken": ["a", "b"]}}) == [
        "opp:", "  nummer: OPP-1", "  stukken:", "    - a", "    - b"]
    assert audit_export.value_lines(10 ** 5000) == ["(een getal van ongeveer 5001 cijfers)"]  # no ValueError
    deep: list = ["bodem"]
    for _ in range(2000):  # no RecursionError either
        deep = [deep]
    assert audit_export.value_lines(deep)[-1].endswith("(dieper genest dan 40 niveaus: zie de JSON-export)")


def test_the_report_shows_booleans_lists_and_seconds(runtime, world, sample):
    with clock.frozen(datetime(2026, 9, 1, 8, 30, 5, tzinfo=UTC)):
        case = runtime.start_case(world["school"], "tlv-vso", sample["start"])
    with clock.frozen(datetime(2026, 9, 2, 9, 15, 42, tzinfo=UTC)):
        do(runtime, world, "school", case.id, "aanmelding", sample["aanmelding"])
    do(runtime, world, "consulent", case.id, "dossiercheck", {"dossier_compleet": True})
    do(runtime, world, "consulent", case.id, "knooppuntoverleg", sample["knooppuntoverleg"])
    text = pdf_text(audit_export.render_pdf(document_of(runtime, case.id)))
    flat = squeezed(text)
    assert "01-09-202610:30:05" in flat and "02-09-202611:15:42" in flat  # to the second, in Dutch time
    assert squeezed("dossier_compleet: (leeg) -> ja") in flat
    assert squeezed("toestemming_ouders: (leeg) -> ja") in flat
    assert not re.search(r"\b(true|false)\b", text)
    # Each advice and each participant whole, as a list; no raw JSON, nothing cut off.
    for advice in sample["aanmelding"]["adviezen"]:
        for key, value in advice.items():
            assert squeezed(f"{key}: {value}") in flat
    assert squeezed("- naam: M. de Boer") in flat and squeezed("rol: consulent") in flat
    assert '{"' not in flat and "..." not in flat


def test_an_event_longer_than_a_page_continues_on_the_next(runtime, world, sample):
    """Data stored before the forms had limits: 300 documents and a long text in one event. A table row cannot
    span pages; the timeline is not a table, so the event runs on, whole."""
    case = runtime.start_case(world["school"], "tlv-vso", sample["start"])
    document = document_of(runtime, case.id)
    documents = [{"naam": f"verslag-{n}.pdf", "ontvangen": n % 2 == 0} for n in range(300)]
    document["events"][0]["changes"] += [{"key": "documenten", "before": None, "after": documents},
                                         {"key": "toelichting", "before": "kort", "after": "woord " * 3000}]
    raw = audit_export.render_pdf(document)
    assert len(PdfReader(io.BytesIO(raw)).pages) > 5
    text = squeezed(pdf_text(raw))
    assert "-naam:verslag-0.pdfontvangen:ja" in text and "-naam:verslag-299.pdfontvangen:nee" in text
    assert text.count("woord") == 3000
