"""A TLV from start to audit in the browser: a school user logs in, starts a TLV, adds a document and submits the
aanmelding with two advices; a consulent completes the dossiercheck and the commission decides; an auditor opens
the case, replays it and downloads the PDF. The cases list, the case page and the audit page pass axe-core's
serious/critical rules; the case and audit pages are kept as screenshots."""

from __future__ import annotations

from engine import clock
from engine.tlv_rules import earliest_end, next_end_day
from tests.browser.conftest import axe_problems, log_in, screenshot
from tests.conftest import AANMELDING, KNOOPPUNT
from tests.helpers import event_types, load_case, open_task, replayed

PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


def _log_out(page, live) -> None:
    page.context.clear_cookies()


def _fill_aanmelding(page) -> None:
    page.fill('[name="d.onderwijsbehoeften"]', AANMELDING["onderwijsbehoeften"])
    for part in ("opp", "groeidocument"):
        page.fill(f'[name="d.{part}.documentnummer"]', AANMELDING[part]["documentnummer"])
        page.fill(f'[name="d.{part}.datum"]', AANMELDING[part]["datum"])
    page.check('input[name="d.zienswijze_ouders.standpunt"][value="eens"]')
    page.fill('[name="d.zienswijze_ouders.datum"]', "2026-10-01")
    page.check('input[name="d.zienswijze_ouders.ouders_gehoord"][value="true"]')
    rows = page.locator("#veld-adviezen-rijen [data-row]")
    while rows.count() < 2:
        page.get_by_role("button", name="Voeg toe: deskundigenadviezen").click()
    for n, advice in enumerate(AANMELDING["adviezen"]):
        row = rows.nth(n)
        row.locator('[name$=".discipline"]').select_option(advice["discipline"])
        row.locator('[name$=".auteur"]').fill(advice["auteur"])
        row.locator('[name$=".datum"]').fill(advice["datum"])
        row.locator('[name$=".samenvatting"]').fill(advice["samenvatting"])
    _choose(page, "aanvragende_school", AANMELDING["aanvragende_school"])  # who applies (tlv_rules)
    page.fill('[name="d.woongemeente"]', AANMELDING["woongemeente"])
    page.fill('[name="d.vso_school"]', AANMELDING["vso_school"])


def _choose(page, field: str, value: str) -> None:
    """An enum: radio buttons for a few values, a select for more."""
    if page.locator(f'select[name="d.{field}"]').count():
        page.select_option(f'[name="d.{field}"]', value)
    else:
        page.check(f'input[name="d.{field}"][value="{value}"]')


def test_a_tlv_from_start_to_audit(live, page):
    rt, world = live.runtime, live.world

    # The school: a new case, its own school filled in.
    log_in(page, live, "school")
    page.goto(f"{live.url}/cases/new?route=tlv-vso")
    page.get_by_test_id("own-school").wait_for()
    page.fill('[name="d.leerling.voornaam"]', "Sanne")
    page.fill('[name="d.leerling.achternaam"]', "de Vries")
    page.fill('[name="d.leerling.geboortedatum"]', "2013-04-02")
    page.get_by_role("button", name="Dossier starten").click()
    page.get_by_test_id("case-title").wait_for()
    case_id = int(page.url.rstrip("/").rsplit("/", 1)[1])
    assert load_case(rt, case_id).school_id == world.schools["16PX00"]

    # A document on the Documenten tab.
    page.get_by_test_id("tab-documenten").click()
    page.set_input_files("#bestand", files=[{"name": "OPP Sanne.pdf", "mimeType": "application/pdf", "buffer": PDF}])
    page.select_option("#soort", "opp")
    page.get_by_role("button", name="Toevoegen").click()
    page.get_by_text("Document toegevoegd: OPP Sanne.pdf.").wait_for()

    # The aanmelding with two advices.
    page.goto(f"{live.url}/tasks/{open_task(rt, case_id, 'aanmelding').id}")
    _fill_aanmelding(page)
    page.get_by_role("button", name="Afronden").click()
    page.get_by_text("Taak afgerond: Aanmelding").wait_for()
    assert load_case(rt, case_id).data["adviezen"][1]["auteur"] == "J. Bakker"

    page.goto(f"{live.url}/cases")
    page.get_by_test_id("cases").wait_for()
    assert axe_problems(page) == []

    # The consulent: the dossiercheck (claim, Ja, Afronden); the knooppuntoverleg through the engine.
    _log_out(page, live)
    log_in(page, live, "consulent")
    page.goto(f"{live.url}/tasks/{open_task(rt, case_id, 'dossiercheck').id}")
    page.get_by_role("button", name="Claimen").click()
    # The claim swaps the panel (htmx); what is filled in before the swap is lost, so wait for the new panel.
    page.get_by_text("U heeft deze taak geclaimd.").wait_for()
    page.check('input[name="d.dossier_compleet"][value="true"]')
    page.get_by_role("button", name="Afronden").click()
    page.get_by_text("Taak afgerond: Dossier").wait_for()
    rt.complete(world["consulent"], open_task(rt, case_id, "knooppuntoverleg").id, KNOOPPUNT)

    # The commission decides.
    _log_out(page, live)
    log_in(page, live, "commissie")
    page.goto(f"{live.url}/tasks/{open_task(rt, case_id, 'besluit').id}")
    page.get_by_role("button", name="Claimen").click()
    # The claim swaps the panel (htmx); what is filled in before the swap is lost, so wait for the new panel.
    page.get_by_text("U heeft deze taak geclaimd.").wait_for()
    page.check('input[name="d.besluit"][value="toekennen"]')
    _choose(page, "soort", "lg")
    _choose(page, "categorie", "midden")  # LG: midden (tlv_rules.cluster_categorie)
    today = clock.local_date(clock.now())  # from the day of the decision, at least a year, to a 31 July
    page.fill('[name="d.ingangsdatum"]', today.isoformat())
    page.fill('[name="d.einddatum"]', next_end_day(earliest_end(today, 12), "07-31").isoformat())
    page.fill('[name="d.motivering"]', "Beide deskundigen adviseren VSO.")
    page.get_by_role("button", name="Afronden").click()
    page.get_by_text("Taak afgerond: Besluit TLV").wait_for()
    assert "task_completed" in event_types(rt, case_id)

    # The case page: header, clock, diagram with marked steps.
    page.goto(f"{live.url}/cases/{case_id}")
    page.locator('[data-bpmn-url][data-ready="true"]').wait_for()
    assert page.locator(".loket-marker--done").count() >= 3
    assert page.locator('[data-step="besluit"]').get_attribute("data-state") == "done"
    assert axe_problems(page) == []
    screenshot(page, "dossier")

    # The auditor: the audit page, Herspelen, the PDF.
    _log_out(page, live)
    log_in(page, live, "auditor")
    page.goto(f"{live.url}/audit/{case_id}")
    page.get_by_test_id("timeline").wait_for()
    page.get_by_role("button", name="Herspelen").click()
    page.get_by_text("Herspeeld: consistent.").wait_for()
    page.locator('[data-bpmn-url][data-ready="true"]').wait_for()
    assert axe_problems(page) == []
    screenshot(page, "audit")
    with page.expect_download() as download:
        page.get_by_test_id("export-pdf").click()
    with open(download.value.path(), "rb") as pdf:
        assert pdf.read(5) == b"%PDF-"
    assert replayed(rt, case_id).consistent
