"""What the web page tests share (tests/test_ui_*.py and tests/browser): users with a password, a logged-in test
client, and the CSRF token a page carries. Import from here; the fixtures in conftest.py give the app and world."""

from __future__ import annotations

import dataclasses
import re

from sqlalchemy import update

from engine import auth
from engine.models import User

PASSWORD = "correct-paard-batterij"
# One argon2 hash for every test user: hashing costs ~50 ms each, and every user may share the test password.
_HASH = auth.hash_password(PASSWORD)

_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"|name="csrf-token" content="([^"]+)"')


def give_passwords(db) -> None:
    """Every user in the database can log in with PASSWORD."""
    with db.transaction() as session:
        session.execute(update(User).values(password_hash=_HASH))


def csrf_from(html: str) -> str:
    found = _TOKEN.search(html)
    assert found, "geen CSRF-token op de pagina"
    return found.group(1) or found.group(2)


def csrf(client, path: str = "/login") -> str:
    """The CSRF token of the client's session, read from a page as a browser would."""
    return csrf_from(client.get(path).get_data(as_text=True))


def login(client, email: str, password: str = PASSWORD, follow: bool = False):
    token = csrf(client, "/login")
    return client.post("/login", data={"email": email, "wachtwoord": password, "csrf_token": token},
                       follow_redirects=follow)


def post(client, path: str, data: dict | None = None, *, htmx: bool = False, page: str = "/"):
    """A form post with the CSRF token of the page it was on; ``htmx`` sends it as htmx does (header token)."""
    token = csrf(client, page)
    if htmx:
        return client.post(path, data=data or {}, headers={"HX-Request": "true", "X-CSRFToken": token})
    return client.post(path, data={**(data or {}), "csrf_token": token})


def web_client(app, world, role: str):
    """A test client logged in as the world's user with ``role``."""
    client = app.test_client()
    response = login(client, world[role].email)
    assert response.status_code == 302, response.get_data(as_text=True)
    return client


def make_app(runtime, settings, db):
    """The whole app (pages and API) on the test's runtime, every user with PASSWORD. A page test module makes its
    fixture with it: ``@pytest.fixture def web_app(runtime, settings, db, world): return make_app(runtime, ...)``."""
    from web import create_app

    give_passwords(db)
    app = create_app(settings, db)
    app.extensions["loket"] = runtime
    return app


def app_with_documents(client, db, runtime, tmp_path):
    """The conftest ``client``'s app with every user given PASSWORD and uploaded documents kept under ``tmp_path``:
    the ``app`` fixture of the case page tests (``def app(client, db, world, runtime, tmp_path)``)."""
    give_passwords(db)
    runtime.settings = dataclasses.replace(runtime.settings, documents_dir=tmp_path / "documents")
    return client.application
