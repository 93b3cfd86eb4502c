"""A procesbeheerder changes the SWV's own term in the browser: the SWV page (menu item SWV) shows each route's
term; a term that does not compute is told beside the field and kept; a good one is saved and stands in the history
with the person's name and reason. The page passes axe-core's serious/critical rules and is kept as a screenshot."""

from __future__ import annotations

from engine.models import Tenant
from tests.browser.conftest import axe_problems, log_in, screenshot


def test_a_process_owner_changes_the_swvs_term_in_the_browser(live, page):
    log_in(page, live, "procesbeheerder")
    page.get_by_role("link", name="SWV", exact=True).click()
    page.wait_for_url(f"{live.url}/swv")
    assert axe_problems(page) == []
    section = page.locator("#termijn-tlv-vso")
    assert "Geen eigen termijn." in section.inner_text()
    section.get_by_text("Termijn van TLV VSO wijzigen").click()  # the form folds open

    section.get_by_label("Termijn", exact=True).fill("weken(twee)")
    section.get_by_label("De klok loopt vanaf").select_option("knooppuntoverleg")
    section.get_by_label("Reden van de wijziging").fill("Besluit bestuur 12 november")
    section.get_by_role("button", name="Termijn opslaan").click()
    section = page.locator("#termijn-tlv-vso")
    assert "werkt niet" in section.inner_text()
    assert section.get_by_label("Termijn", exact=True).input_value() == "weken(twee)"  # kept
    assert section.get_by_label("De klok loopt vanaf").input_value() == "knooppuntoverleg"
    assert axe_problems(page) == []

    section.get_by_label("Termijn", exact=True).fill("weken(2)")
    section.get_by_role("button", name="Termijn opslaan").click()
    page.wait_for_url(f"{live.url}/swv#termijn-tlv-vso")
    assert "De termijn van tlv-vso is gewijzigd." in page.locator("main").inner_text()
    assert "Nu: weken(2) vanaf knooppuntoverleg" in page.locator('[data-testid="term-tlv-vso"]').inner_text()
    history = page.locator('[data-testid="history"]').inner_text()
    assert live.world["procesbeheerder"].email in history and "Besluit bestuur 12 november" in history
    screenshot(page, "swv-termijnen")
    with live.runtime.db.read() as session:
        assert session.get(Tenant, live.world.tenant_id).settings["terms"]["tlv-vso"]["term"] == "weken(2)"
