"""Logging in to the web pages: argon2 passwords, a lockout that is logged, the session's idle timeout and its end
on a new password or a deactivation, CSRF on every form, Dutch error pages (the API keeps its JSON)."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from freezegun import freeze_time
from sqlalchemy import select

from engine import auth, logins
from engine.models import LoginAttempt, User
from tests.helpers import open_tasks
from tests.ui import PASSWORD, csrf, login, make_app, post, web_client


@pytest.fixture
def web_app(runtime, settings, db, world):
    return make_app(runtime, settings, db)


def test_login_lands_on_the_inbox_with_name_roles_and_swv_and_logout_ends_it(web_app, world):
    client = web_app.test_client()
    first = client.get("/")
    assert first.status_code == 302 and first.headers["Location"].startswith("/login")

    response = login(client, "CONSULENT@sterk-vo.test ", follow=True)  # typed with capitals and a space
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and "<h1 class=\"utrecht-heading-1\">Inbox</h1>" in page
    assert "consulent@sterk-vo.test" in page and "Rol: consulent" in page and "SWV sterk-vo" in page
    assert 'lang="nl"' in page and "Naar de inhoud" in page  # skip link
    assert "Audit" not in page  # the nav shows Audit to auditor and beheerder only

    cookie = response.request.headers.get("Cookie") or ""
    assert "loket_sessie" in cookie
    out = post(client, "/logout")
    assert out.status_code == 302 and out.headers["Location"] == "/login"
    assert client.get("/").headers["Location"].startswith("/login")


def test_the_session_cookie_is_httponly_and_samesite_lax(web_app, world):
    client = web_app.test_client()
    response = login(client, world["auditor"].email)
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie  # Secure behind TLS only
    assert "Audit" in client.get("/").get_data(as_text=True)


def test_a_wrong_password_and_an_unknown_account_read_the_same(web_app, world):
    client = web_app.test_client()
    wrong = login(client, world["consulent"].email, "niet-het-wachtwoord")
    unknown = login(client, "niemand@sterk-vo.test", "niet-het-wachtwoord")
    assert wrong.status_code == unknown.status_code == 401
    assert logins.WRONG in wrong.get_data(as_text=True) and logins.WRONG in unknown.get_data(as_text=True)
    assert 'value="niemand@sterk-vo.test"' in unknown.get_data(as_text=True)  # the address stays typed in


def test_five_failures_lock_the_address_for_a_quarter_even_with_the_right_password_and_it_is_logged(
        web_app, world, db, caplog):
    email = world["consulent"].email
    client = web_app.test_client()
    with freeze_time("2026-11-30 09:00:00"):
        for _ in range(logins.MAX_FAILURES - 1):
            assert logins.WRONG in login(client, email, "fout-wachtwoord").get_data(as_text=True)
        with caplog.at_level(logging.WARNING, logger="loket.logins"):
            fifth = login(client, email, "fout-wachtwoord")
        assert logins.LOCKED_OUT in fifth.get_data(as_text=True)
        assert any("geblokkeerd" in r.getMessage() for r in caplog.records)
        refused = login(client, email, PASSWORD)
        assert refused.status_code == 401 and logins.LOCKED_OUT in refused.get_data(as_text=True)
        # An address without an account locks the same way: the answer tells nothing about who exists.
        for _ in range(logins.MAX_FAILURES):
            ghost = login(client, "spook@sterk-vo.test", "fout-wachtwoord")
        assert logins.LOCKED_OUT in ghost.get_data(as_text=True)
    with freeze_time("2026-11-30 09:15:01"):
        assert login(client, email, PASSWORD).status_code == 302
    with db.read() as session:
        outcomes = [a.outcome for a in session.scalars(
            select(LoginAttempt).where(LoginAttempt.email == email).order_by(LoginAttempt.id))]
    assert outcomes == ["mislukt"] * 5 + ["geblokkeerd", "gelukt"]


def test_the_session_ends_after_the_idle_time(web_app, world):
    client = web_app.test_client()
    with freeze_time("2026-11-30 09:00:00") as frozen:
        login(client, world["consulent"].email)
        frozen.tick(timedelta(minutes=29))
        assert client.get("/").status_code == 200  # each request starts the idle time again
        frozen.tick(timedelta(minutes=29))
        assert client.get("/").status_code == 200
        frozen.tick(timedelta(minutes=31))
        expired = client.get("/")
        assert expired.status_code == 302 and expired.headers["Location"].startswith("/login")
        assert "Uw sessie is verlopen" in client.get(expired.headers["Location"]).get_data(as_text=True)


def test_a_new_password_or_a_deactivation_ends_the_users_sessions(web_app, world, db):
    client = web_app.test_client()
    login(client, world["consulent"].email)
    assert client.get("/").status_code == 200
    with db.transaction() as session:
        session.get(User, world["consulent"].user_id).password_hash = auth.hash_password("een-heel-nieuw-wachtwoord")
    assert client.get("/").headers["Location"].startswith("/login")

    other = web_client(web_app, world, "commissie")
    with db.transaction() as session:
        auth.deactivate(session, session.get(User, world["commissie"].user_id))
    assert other.get("/").headers["Location"].startswith("/login")
    assert login(other, world["commissie"].email).status_code == 401  # and it cannot log in again


def test_forms_without_the_csrf_token_are_refused_and_the_api_needs_none(web_app, world, runtime, sample):
    client = web_app.test_client()
    no_token = client.post("/login", data={"email": world["consulent"].email, "wachtwoord": PASSWORD})
    assert no_token.status_code == 400 and "Laad de pagina opnieuw" in no_token.get_data(as_text=True)

    client = web_client(web_app, world, "school")
    case = runtime.start_case(world["school"], "tlv-vso", sample["start"])
    task_id = open_tasks(runtime, case.id)[0].id
    assert client.post(f"/tasks/{task_id}/claim").status_code == 400
    assert client.post(f"/tasks/{task_id}/claim", headers={"X-CSRFToken": "vals"}).status_code == 400
    assert post(client, f"/tasks/{task_id}/claim", htmx=True).status_code == 200  # htmx: the token in a header
    # The REST API authenticates with a token, not a cookie, and has no CSRF token to send.
    api = web_app.test_client().post(f"/api/v1/tasks/{task_id}/unclaim",
                                     headers={"Authorization": f"Bearer {world.tokens['school']}"})
    assert api.status_code == 200


def test_login_only_returns_to_a_page_of_this_site(web_app, world):
    client = web_app.test_client()
    token = csrf(client, "/login")
    data = {"email": world["consulent"].email, "wachtwoord": PASSWORD, "csrf_token": token}
    evil = client.post("/login", data={**data, "volgende": "//evil.example/x"})
    assert evil.headers["Location"] == "/"
    post(client, "/logout")
    token = csrf(client, "/login")
    back = client.post("/login", data={**data, "csrf_token": token, "volgende": "/?tab=alle"})
    assert back.headers["Location"] == "/?tab=alle"


def test_error_pages_are_dutch_pages_and_the_api_keeps_json(web_app, world, caplog):
    client = web_client(web_app, world, "consulent")
    missing = client.get("/bestaat-niet")
    assert missing.status_code == 404 and missing.mimetype == "text/html"
    assert "Niet gevonden" in missing.get_data(as_text=True)
    api = client.get("/api/v1/bestaat-niet")
    assert api.status_code == 404 and api.get_json()["error"]["code"] == "not_found"
    assert client.get("/tasks/00000000-0000-0000-0000-000000000000").status_code == 404



def test_a_failing_page_shows_an_incident_id_that_is_in_the_log_and_no_traceback(web_app, world, caplog):
    def broken():
        raise RuntimeError("geheim detail")

    web_app.add_url_rule("/kapot", "ui.kapot", broken)  # a page of the ui blueprint (by its endpoint) that fails
    client = web_client(web_app, world, "consulent")
    with caplog.at_level(logging.ERROR, logger="loket.web"):
        crashed = client.get("/kapot")
    text = crashed.get_data(as_text=True)
    assert crashed.status_code == 500 and "geheim detail" not in text and "Traceback" not in text
    assert "Er ging iets mis" in text
    incident = text.split('data-testid="incident">')[1].split("<")[0]
    assert len(incident) == 12 and any(incident in r.getMessage() for r in caplog.records)


def test_the_api_docs_page_serves_swagger_ui_from_the_local_build(web_app):
    page = web_app.test_client().get("/api/v1/docs").get_data(as_text=True)
    assert "/static/dist/api-docs.js" in page and "/static/dist/swagger-ui.css" in page
    assert 'data-spec="/api/v1/openapi.json"' in page and "cdn" not in page.lower()


def test_migration_0006_adds_the_web_tables_and_goes_back(empty_db_url):
    from alembic import command
    from sqlalchemy import create_engine, inspect

    from engine.db import alembic_config, upgrade

    def tables() -> set[str]:
        engine = create_engine(empty_db_url)
        try:
            return set(inspect(engine).get_table_names())
        finally:
            engine.dispose()

    upgrade(empty_db_url)
    assert {"login_attempts", "task_drafts"} <= tables()
    command.downgrade(alembic_config(empty_db_url), "0005")
    assert not {"login_attempts", "task_drafts"} & tables()
    command.upgrade(alembic_config(empty_db_url), "head")
    assert {"login_attempts", "task_drafts"} <= tables()
