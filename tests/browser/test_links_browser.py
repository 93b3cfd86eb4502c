"""A bezwaar from a decided case in the browser (issue 12, linked cases): the consulent opens the decided TLV case,
clicks *Bezwaar maken*, fills in the bezwaar's start form; the decision was made known on 5 October 2026, so the
objection is late and the page asks to confirm it; then the new case shows where it came from, and the decided case
shows *Bezwaar loopt* with a link to it. Both case pages pass axe-core's serious/critical rules."""

from __future__ import annotations

from tests.browser.conftest import axe_problems, log_in, screenshot
from tests.helpers import load_case
from tests.test_retention import decided


def test_bezwaar_maken_from_a_decided_case(live, page, sample):
    rt, world = live.runtime, live.world
    source = decided(rt, world, sample, "afwijzen")
    log_in(page, live, "consulent")
    page.goto(f"{live.url}/cases/{source}")
    page.get_by_test_id("start-objection").click()
    page.get_by_test_id("linked-from").wait_for()
    page.check('input[name="d.indiener"][value="ouders"]')
    page.fill('[name="d.gronden"]', "De ouders vinden dat het regulier onderwijs de ondersteuning niet kan bieden.")
    page.get_by_role("button", name="Dossier starten").click()
    late = page.get_by_test_id("late-objection")
    late.wait_for()
    assert "16-11-2026" in late.inner_text()
    assert page.input_value('[name="d.gronden"]').startswith("De ouders vinden")  # what was typed stays
    page.check('input[name="te_laat_bevestigd"]')
    page.get_by_role("button", name="Dossier starten").click()
    page.wait_for_url(f"{live.url}/cases/*")
    new_id = int(page.url.rstrip("/").rsplit("/", 1)[1].split("?")[0])
    assert new_id != source and load_case(rt, new_id).data["te_laat"] is True
    link = page.get_by_test_id("case-link")
    assert "bezwaar tegen het besluit in" in link.inner_text()
    assert axe_problems(page) == []
    screenshot(page, "bezwaar-gestart")
    link.get_by_role("link", name=f"dossier {source}").click()
    page.wait_for_url(f"{live.url}/cases/{source}")
    assert "Bezwaar loopt" in page.get_by_test_id("case-link").inner_text()
    assert page.get_by_test_id("start-objection").count() == 0  # one bezwaar at a time
    assert axe_problems(page) == []
    screenshot(page, "bezwaar-loopt")

