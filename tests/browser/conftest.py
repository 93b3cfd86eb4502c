"""Browser tests in real headless Chromium (Debian's ``chromium``, driven by Playwright; ``make install`` installs
it, Playwright's own browser download is never used) against Loket served on a free loopback port.

Fixtures for every browser test module: ``live`` (the server: its URL, runtime and world, users logged in with
tests.ui.PASSWORD), ``page`` (a fresh browser context per test; one browser per test session), and the helpers
``log_in``, ``axe_problems`` (axe-core's serious and critical violations) and ``screenshot`` (kept under
tests/artifacts/ as test artefacts).
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from werkzeug.serving import make_server

from engine.config import PROJECT_ROOT
from tests.conftest import World, make_world
from tests.ui import PASSWORD, give_passwords

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
AXE = PROJECT_ROOT / "web" / "static" / "dist" / "axe.min.js"
ARTIFACTS = PROJECT_ROOT / "tests" / "artifacts"
TIMEOUT_MS = 15_000


@pytest.fixture
def db_url(tmp_path, sqlite_template) -> str:
    """Browser tests run on SQLite only: the pages are the same on both backends, and the browser is the slow part."""
    path = tmp_path / "loket.db"
    shutil.copy(sqlite_template, path)
    return f"sqlite:///{path}"


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} ontbreekt: `make install` installeert Debian's chromium (apt-get install chromium)")
    if not AXE.exists():
        pytest.fail(f"{AXE} ontbreekt: `make install` bouwt de browserbestanden (npm ci, npm run build)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()


@dataclass
class Live:
    url: str
    runtime: Any
    world: World
    app: Any


@pytest.fixture
def live(runtime, settings, db) -> Iterator[Live]:
    """Loket on 127.0.0.1 and a port the OS picks, in a thread of this process, on the test's runtime."""
    from web import create_app

    world = make_world(db)
    give_passwords(db)
    app = create_app(settings, db)
    app.extensions["loket"] = runtime
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="loket-live", daemon=True)
    thread.start()
    try:
        yield Live(f"http://127.0.0.1:{server.server_port}", runtime, world, app)
    finally:
        server.shutdown()
        thread.join(timeout=10)


@pytest.fixture
def page(browser) -> Iterator[Any]:
    context = browser.new_context(locale="nl-NL", timezone_id="Europe/Amsterdam",
                                  viewport={"width": 1400, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    tab = context.new_page()
    yield tab
    context.close()


def log_in(page: Any, live: Live, role: str) -> None:
    """Log in through the login page as the world's user with ``role``; lands on the inbox."""
    page.goto(f"{live.url}/login")
    page.get_by_label("E-mailadres").fill(live.world[role].email)
    page.get_by_label("Wachtwoord").fill(PASSWORD)
    page.get_by_role("button", name="Inloggen").click()
    page.wait_for_url(f"{live.url}/**")
    assert "/login" not in page.url, "inloggen mislukt"


def axe_problems(page: Any) -> list[dict[str, Any]]:
    """axe-core's serious and critical violations on the page as it stands (WCAG 2.1 A and AA rules)."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE))
    result = page.evaluate("""async () => {
        const rules = {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']};
        const r = await axe.run(document, {runOnly: rules});
        return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                                       nodes: v.nodes.slice(0, 5).map(n => n.target.join(' '))}));
    }""")
    return [v for v in result if v["impact"] in ("serious", "critical")]


def screenshot(page: Any, name: str) -> Path:
    """A full-page screenshot under tests/artifacts/ (kept as a test artefact, not in git)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
