"""The SWV page (/swv): a procesbeheerder changes the SWV's own term of a route; the change is an event (who, when,
before, after, reason) shown in the history, and new cases follow it. Checked as `loket tenants term` checks it
(a Dutch message per field, what was typed kept), locked against a change in between (409), with the CSRF token;
other roles 403."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from engine.models import Tenant
from engine.models_swv import TenantEvent
from engine.tenant_events import differences
from tests.ui import csrf, make_app, post, web_client


@pytest.fixture
def web_app(runtime, settings, db, world):
    return make_app(runtime, settings, db)


def seen(html: str) -> str:
    return re.search(r'name="seen" value="(\d+)"', html).group(1)


def change(client, route: str, **fields) -> object:
    page = client.get("/swv").get_data(as_text=True)
    data = {"term": "", "from": "", "escalateTo": "bestuurder", "extensions": "", "reason": "", "seen": seen(page),
            "actie": "opslaan", **fields}
    return post(client, f"/swv/termijnen/{route}", data, page="/swv")


def events(db, tenant_id: int) -> list[TenantEvent]:
    with db.read() as session:
        tenant = session.get(Tenant, tenant_id)
        assert differences(session, tenant) == []
        found = list(session.scalars(select(TenantEvent).where(TenantEvent.tenant_id == tenant_id)
                                     .order_by(TenantEvent.seq)))
        session.expunge_all()
    return found


def test_a_process_owner_changes_a_term_as_an_event_and_sees_it_in_the_history(web_app, world, db, runtime, sample):
    client = web_client(web_app, world, "procesbeheerder")
    assert 'href="/swv"' in client.get("/").get_data(as_text=True)
    page = client.get("/swv").get_data(as_text=True)
    assert 'id="termijn-tlv-vso"' in page and "Geen eigen termijn." in page
    answer = change(client, "tlv-vso", term="weken(2)", **{"from": "knooppuntoverleg"}, extensions="2",
                    reason="Besluit bestuur 12 november")
    assert answer.status_code == 303 and answer.headers["Location"].endswith("/swv#termijn-tlv-vso")
    (event,) = events(db, world.tenant_id)
    assert (event.path, event.channel, event.actor, event.role) == (
        "terms.tlv-vso", "web", world["procesbeheerder"].email, "procesbeheerder")
    assert event.before is None and event.reason == "Besluit bestuur 12 november"
    assert event.after == {"term": "weken(2)", "from": "knooppuntoverleg", "escalateTo": "bestuurder",
                           "legal": False, "extensions": 2}
    page = client.get("/swv").get_data(as_text=True)
    assert "De termijn van tlv-vso is gewijzigd." in page
    assert "Nu: <code>weken(2)</code> vanaf knooppuntoverleg, escalatie naar bestuurder, hoogstens 2 keer" in page
    history = page[page.index('data-testid="history"'):]
    assert world["procesbeheerder"].email in history and "webpagina" in history
    assert "weken(2) vanaf knooppuntoverleg -&gt; bestuurder" in history and "Besluit bestuur 12 november" in history
    # A case that reaches the knooppuntoverleg now runs on the new term.
    with db.read() as session:
        assert session.get(Tenant, world.tenant_id).settings["terms"]["tlv-vso"]["term"] == "weken(2)"
    # Removing it is an event too.
    assert change(client, "tlv-vso", actie="verwijderen", reason="Terug naar de route").status_code == 303
    removed = events(db, world.tenant_id)[-1]
    assert removed.before["term"] == "weken(2)" and removed.after is None
    assert "Geen eigen termijn." in client.get("/swv").get_data(as_text=True)


def test_a_wrong_term_is_told_per_field_and_kept_and_changes_nothing(web_app, world, db):
    client = web_client(web_app, world, "procesbeheerder")
    answer = change(client, "tlv-vso", term="weken(", **{"from": "bestaat_niet"}, extensions="veel", reason="")
    assert answer.status_code == 422
    html = answer.get_data(as_text=True)
    assert "De termijn is niet goed ingevuld." in html
    assert "&#39;weken(&#39; werkt niet" in html
    assert "Geef de reden van de wijziging" in html
    assert "moet een geheel getal van 0 tot en met 10 zijn" in html
    assert 'value="weken("' in html and 'value="veel"' in html  # what was typed stays
    assert events(db, world.tenant_id) == []


def test_a_change_in_between_is_a_conflict_and_overwrites_nothing(web_app, world, db):
    first = web_client(web_app, world, "procesbeheerder")
    second = web_client(web_app, world, "beheerder")
    stale = seen(second.get("/swv").get_data(as_text=True))
    assert change(first, "thuiszitter", term="weken(10)", reason="Eerst").status_code == 303
    late = post(second, "/swv/termijnen/thuiszitter", {"term": "weken(20)", "escalateTo": "bestuurder",
                                                        "reason": "Later", "seen": stale, "actie": "opslaan"},
                page="/swv")
    assert late.status_code == 409
    html = late.get_data(as_text=True)
    assert "intussen door iemand anders gewijzigd" in html and 'value="weken(20)"' in html
    assert [e.after["term"] for e in events(db, world.tenant_id)] == ["weken(10)"]


def test_the_page_needs_the_csrf_token_and_a_process_owner(web_app, world, db):
    client = web_client(web_app, world, "procesbeheerder")
    csrf(client, "/swv")
    assert client.post("/swv/termijnen/tlv-vso", data={"term": "weken(2)", "reason": "x"}).status_code == 400
    for role in ("consulent", "school", "auditor"):
        other = web_client(web_app, world, role)
        assert other.get("/swv").status_code == 403
        assert 'href="/swv"' not in other.get("/").get_data(as_text=True)
    assert change(client, "bestaat-niet", term="weken(2)", reason="x").status_code == 404
    assert events(db, world.tenant_id) == []


def test_the_swvs_own_step_names_stand_where_pages_name_a_task(web_app, world, db, runtime, sample):
    with db.transaction() as session:
        tenant = session.get(Tenant, world.tenant_id)
        tenant.settings = {**(tenant.settings or {}), "labels": {"aanmelding": "Aanmelding bij het Loket"}}
    case = runtime.start_case(world["school"], "tlv-vso", sample["start"])
    client = web_client(web_app, world, "school")
    inbox = client.get("/").get_data(as_text=True)
    assert f"dossier {case.id} — Aanmelding bij het Loket" in inbox
    task_id = re.search(r'href="/tasks/([0-9a-f-]{36})"', inbox) or re.search(r'taak=([0-9a-f-]{36})', inbox)
    task_page = client.get(f"/tasks/{task_id.group(1)}").get_data(as_text=True)
    assert "<title>Aanmelding bij het Loket" in task_page
    case_page = client.get(f"/cases/{case.id}").get_data(as_text=True)
    assert "Aanmelding bij het Loket</a>" in case_page  # the open tasks line
    assert "Aanmelding indienen" not in case_page.split('data-testid="route-steps"')[1].split("</ol>")[0]


def test_the_history_shows_calendar_and_day_off_changes_in_dutch(web_app, world, db, db_url):
    from click.testing import CliRunner

    from cli import main

    with db.read() as session:
        key = session.get(Tenant, world.tenant_id).key
    runner = CliRunner()
    for args in (["tenants", "calendar", key, "--5-mei", "werkdag", "--zonder", "carnaval"],
                 ["calendar", "day-off", "--tenant", key, "--date", "2026-10-12", "--name", "Studiedag"],
                 ["tenants", "calendar", key, "--school", "16PX00", "--goede-vrijdag", "werkdag"]):
        assert runner.invoke(main, args, env={"LOKET_DATABASE_URL": db_url}).exit_code == 0
    page = web_client(web_app, world, "procesbeheerder").get("/swv").get_data(as_text=True)
    history = page[page.index('data-testid="history"'):]
    assert "kalender (<code>calendar</code>)" in history and "vrije dagen (<code>days_off</code>)" in history
    assert "kalender van school 16PX00" in history
    assert "5 mei werkdag; Goede Vrijdag standaard; adviesvakanties: voorjaarsvakantie uit" in history
    assert "2026-10-12 Studiedag" in history and "Goede Vrijdag werkdag" in history
    assert "may5_off" not in history  # no raw JSON on the page
