"""A consulent clears the dossiercheck in the browser: logs in, opens the inbox, picks the task with the keyboard,
claims and completes it with the form; the login page, inbox and task form pass axe-core's serious/critical rules."""

from __future__ import annotations

from tests.browser.conftest import axe_problems, log_in, screenshot
from tests.conftest import AANMELDING, START_DATA
from tests.helpers import event_types, open_names


def test_a_consulent_claims_and_completes_the_dossiercheck_with_the_keyboard(live, page):
    rt, world = live.runtime, live.world
    case = rt.start_case(world["school"], "tlv-vso", START_DATA)
    rt.complete(world["school"], [t for t in _open(rt, case.id) if t.name == "aanmelding"][0].id, AANMELDING)

    page.goto(f"{live.url}/")
    assert "/login" in page.url  # not logged in: the login page
    assert axe_problems(page) == []
    screenshot(page, "login")

    log_in(page, live, "consulent")
    page.get_by_role("link", name="Team").first.wait_for()
    assert page.get_by_text("S.d.V. · dossier").count() == 1  # initials, never the name
    assert "Sanne" not in page.locator("#takenlijst").inner_text()
    assert axe_problems(page) == []
    screenshot(page, "inbox")

    # j moves to the first task, Enter opens it beside the list (htmx), without leaving the inbox.
    page.locator("body").press("j")
    page.keyboard.press("Enter")
    page.get_by_role("heading", name="Dossier controleren").wait_for()
    assert page.url.startswith(f"{live.url}/?")
    page.get_by_role("button", name="Claimen").click()
    page.get_by_text("U heeft deze taak geclaimd.").wait_for()

    # Afronden without the required answer: the engine's message beside the field, nothing completed.
    page.get_by_role("button", name="Afronden").click()
    page.locator("#foutoverzicht").wait_for()
    assert "Dit veld is verplicht." in page.locator("#veld-dossier-compleet").inner_text()
    assert axe_problems(page) == []
    screenshot(page, "taakformulier-fouten")

    page.get_by_label("Ja").check()
    page.get_by_label("Toelichting").fill("Compleet, beide adviezen aanwezig.")
    assert axe_problems(page) == []
    screenshot(page, "taakformulier")
    page.get_by_role("button", name="Afronden").click()
    # The next task of the case (knooppuntoverleg, lane consulent) opens straight away.
    page.get_by_role("heading", name="Knooppuntoverleg").wait_for()
    page.get_by_text("Taak afgerond: Dossier controleren").wait_for()
    assert "knooppuntoverleg" in open_names(rt, case.id)
    assert "task_completed" in event_types(rt, case.id)

    # A list of objects gets rows added and removed in place (app.js), each row its own fields.
    rows = page.locator("#veld-deelnemers [data-row]")
    assert rows.count() == 1
    page.get_by_role("button", name="Voeg toe: deelnemers").click()
    assert rows.count() == 2
    rows.nth(1).get_by_label("Naam").fill("Extra deelnemer")
    page.get_by_role("button", name="Verwijder deze rij").click()
    assert rows.count() == 1


def test_the_api_docs_render_swagger_ui_from_the_local_build(live, page):
    outside = []
    page.on("request", lambda r: outside.append(r.url) if not r.url.startswith(live.url) else None)
    page.goto(f"{live.url}/api/v1/docs")
    page.locator("#swagger-ui .info .title").wait_for()
    assert "Loket" in page.locator("#swagger-ui .info .title").inner_text()
    page.locator("#swagger-ui .opblock").first.wait_for()
    assert outside == []  # nothing from a CDN or any other host


def _open(rt, case_id):
    from tests.helpers import open_tasks

    return open_tasks(rt, case_id)
