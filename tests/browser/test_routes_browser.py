"""A process owner changes a route in the browser (issue 11): opens a draft of tlv-vso in the bpmn-js modeler,
selects the besluit task, sets a deadline that does not compute in the side panel, saves and sees the problem
listed and marked on the task in the diagram, fixes it and saves clean; publishing a longer term is refused by the
route's scenarios, the same term written differently publishes as the next version with a note. The case running
on the earlier version stays there until the process owner moves it onto version 2 (Zaken overzetten) and sees it
there. /routes, the editor and the migration page pass axe-core's serious/critical rules; the editor and the
migration are kept as screenshots."""

from __future__ import annotations

from sqlalchemy import select

from engine import routes
from engine.models import Case, Route, RouteVersion
from tests.browser.conftest import axe_problems, log_in, screenshot
from tests.conftest import START_DATA

SCENARIOS_MS = 90_000


def test_a_process_owner_edits_validates_and_publishes_a_route(live, page):
    rt, world = live.runtime, live.world
    case = rt.start_case(world["school"], "tlv-vso", START_DATA)
    with rt.db.read() as session:
        first = routes.latest_version(session, "tlv-vso").number

    log_in(page, live, "procesbeheerder")
    page.get_by_role("link", name="Routes").click()
    page.wait_for_url(f"{live.url}/routes")
    assert page.locator('[data-testid="versions-tlv-vso"] [data-testid="open-cases"]').first.inner_text() == "1"
    assert axe_problems(page) == []
    page.locator(f'[data-route="tlv-vso"] [data-version="{first}"] button').click()
    page.wait_for_selector('#loket-editor[data-ready="true"]')

    # The besluit task, chosen in the diagram; its deadline set in the side panel to one that cannot compute.
    page.locator('.djs-element[data-element-id="besluit"]').first.click()
    page.wait_for_selector('#loket-panel[data-element="besluit"]')
    deadline = page.get_by_label("Termijn (deadline)")
    original = deadline.input_value()
    deadline.fill("weken('zes')")
    deadline.press("Tab")
    page.get_by_role("button", name="Opslaan en controleren").click()
    problem = page.locator('#loket-problems li[data-element="besluit"]')
    problem.wait_for()
    assert "rekent niet voor een voorbeelddossier" in problem.inner_text()
    assert "loket-problem" in (page.locator('.djs-element[data-element-id="besluit"]').first.get_attribute("class"))
    screenshot(page, "routes-editor-probleem")

    # Fixed, from the problem's own "Toon in diagram": the list empties and the mark goes.
    problem.get_by_role("button", name="Toon in diagram").click()
    page.wait_for_selector('#loket-panel[data-element="besluit"]')
    deadline = page.get_by_label("Termijn (deadline)")
    deadline.fill("weken(7)")
    deadline.press("Tab")
    page.get_by_role("button", name="Opslaan en controleren").click()
    page.wait_for_selector('[data-testid="status"] >> text=geen problemen gevonden')
    assert page.locator("#loket-problems li").count() == 0
    assert "loket-problem" not in page.locator('.djs-element[data-element-id="besluit"]').first.get_attribute("class")
    # Changed since the version it came from: marked, and said in a word.
    assert "loket-changed" in page.locator('.djs-element[data-element-id="besluit"]').first.get_attribute("class")
    assert page.locator(".loket-marker--changed", has_text="gewijzigd").count() == 1
    # The form preview renders the chosen form as the task page does.
    page.locator("#form-name").select_option("tlv-vso-besluit.json")
    page.wait_for_selector('#form-preview [name="d.besluit"]')
    assert axe_problems(page) == []
    screenshot(page, "routes-editor")

    # A longer term breaks the route's scenarios (processes/scenarios/tlv-vso): publishing is refused, saying which.
    note = page.get_by_label("Toelichting bij publiceren (wat is er veranderd en waarom)")
    note.fill("Besluittermijn herschreven (ondersteuningsplan 2027).")
    page.get_by_role("button", name="Publiceren als nieuwe versie").click()
    # The route's scenarios run on the server first: allow them their time on a busy machine.
    page.wait_for_selector('[data-testid="status"] >> text=Publiceren geweigerd', timeout=SCENARIOS_MS)
    assert "scenario faalt" in page.locator('[data-testid="status"]').inner_text()
    # The same term, written differently (besluit is still the selected task): the scenarios pass, and the
    # draft publishes as the next version.
    page.wait_for_selector('#loket-panel[data-element="besluit"]')
    deadline = page.get_by_label("Termijn (deadline)")
    deadline.fill(f"({original})")
    deadline.press("Tab")
    page.get_by_role("button", name="Publiceren als nieuwe versie").click()
    page.wait_for_url(f"{live.url}/routes", timeout=SCENARIOS_MS)
    assert "Besluittermijn herschreven" in page.locator('[data-testid="versions-tlv-vso"]').inner_text()

    with rt.db.read() as session:
        newest = routes.latest_version(session, "tlv-vso")
        assert newest.number == first + 1 and newest.note.startswith("Besluittermijn herschreven")
        assert f'name="deadline" value="({original})"' in newest.bpmn
        # Loket's other extension elements came through the modeler unchanged.
        old = session.scalar(select(RouteVersion).join(Route).where(Route.key == "tlv-vso",
                                                                    RouteVersion.number == first))
        assert newest.bpmn.count("spiffworkflow:property ") == old.bpmn.count("spiffworkflow:property ")
        assert newest.bpmn.count("serviceTaskOperator ") == old.bpmn.count("serviceTaskOperator ")
        assert session.get(Case, case.id).route_version.number == first

    # Zaken overzetten: the case still on the earlier version moves onto the new one, and is seen there.
    page.locator(f'[data-route="tlv-vso"] [data-testid="migrate-{first}"]').click()
    page.wait_for_selector('[data-testid="migration-cases"]')
    row = page.locator(f'[data-testid="migration-cases"] tr[data-case="{case.id}"]')
    assert row.locator('[data-testid="verdict"]').inner_text() == "kan wel"
    assert "Aanmelding indienen" in row.inner_text()
    assert axe_problems(page) == []
    page.get_by_role("button", name=f"1 dossier overzetten naar versie {first + 1}").click()
    page.wait_for_selector('[data-testid="migration-result"]')
    assert f"1 van 1 dossier overgezet naar versie {first + 1}" in page.locator(
        '[data-testid="migration-result"]').inner_text()
    assert row.locator('[data-testid="verdict"]').inner_text() == "overgezet"
    screenshot(page, "routes-overzetten")
    page.get_by_role("link", name="Terug naar de routes").click()
    page.wait_for_url(f"{live.url}/routes")
    newest_row = page.locator(f'[data-testid="versions-tlv-vso"] tr[data-version="{first + 1}"]')
    assert newest_row.locator('[data-testid="open-cases"]').inner_text() == "1"
    with rt.db.read() as session:
        assert session.get(Case, case.id).route_version.number == first + 1
