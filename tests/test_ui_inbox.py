"""The inbox page: tabs with counts, rows with initials (never a name or BSN), filters, search, paging; a task's
page scoped like the API (another SWV's or school's task is a 404), its read in the access log; another lane and
the auditor read but do not write."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from engine import clock
from engine.models import AccessLog, Task
from engine.worklist import due_badge, initials
from tests.conftest import make_world
from tests.helpers import event_types, open_task, task_id
from tests.ui import give_passwords, make_app, post, web_client


@pytest.fixture
def web_app(runtime, settings, db, world):
    return make_app(runtime, settings, db)


def _submitted(runtime, world, sample, role="school", pupil=None):
    """A tlv-vso case with its aanmelding done: the dossiercheck waits in the consulent's lane."""
    start = dict(sample["start"])
    if pupil:
        start["leerling"] = {**start["leerling"], **pupil}
    if role == "school2":
        start["school"] = "20LJ00"
    case = runtime.start_case(world[role], "tlv-vso", start)
    runtime.complete(world[role], task_id(runtime, case.id, "aanmelding"), sample["aanmelding"])
    return case.id


def _tab_count(html: str, tab: str) -> int:
    part = html.split(f'data-testid="tab-{tab}">')[1]
    return int(part.split('loket-badge--neutral">')[1].split("<")[0])


def test_tabs_with_counts_and_rows_with_initials_never_the_name(web_app, world, runtime, sample):
    case_id = _submitted(runtime, world, sample)
    client = web_client(web_app, world, "consulent")
    html = client.get("/").get_data(as_text=True)
    assert (_tab_count(html, "mijn"), _tab_count(html, "team"), _tab_count(html, "alle")) == (0, 1, 1)
    assert 'aria-current="page"\n             data-testid="tab-team"' in html or 'data-testid="tab-team"' in html
    assert f"S.d.V. · dossier {case_id} — Dossier controleren" in html
    assert "TLV VSO" in html and "School 16PX00" in html and "niet geclaimd" in html
    assert "Sanne" not in html and "Vries" not in html and "2013-04-02" not in html

    post(client, f"/tasks/{task_id(runtime, case_id, 'dossiercheck')}/claim")
    html = client.get("/").get_data(as_text=True)
    assert (_tab_count(html, "mijn"), _tab_count(html, "team")) == (1, 1)
    assert "geclaimd door consulent@sterk-vo.test" in html
    # A colleague of the same lane no longer sees it in Team (claimed by someone else), only in Alle.
    colleague = web_client(web_app, world, "consulent2").get("/").get_data(as_text=True)
    assert (_tab_count(colleague, "mijn"), _tab_count(colleague, "team"), _tab_count(colleague, "alle")) == (0, 0, 1)


def test_search_on_pupil_name_and_case_number_and_filters(web_app, world, runtime, sample):
    sanne = _submitted(runtime, world, sample)
    daan = _submitted(runtime, world, sample, "school2", {"voornaam": "Daan", "achternaam": "Bakker"})
    client = web_client(web_app, world, "consulent")

    def listed(query: str) -> set[int]:
        html = client.get(f"/?tab=alle&{query}").get_data(as_text=True)
        return {n for n in (sanne, daan) if f"· dossier {n} —" in html}

    assert listed("") == {sanne, daan}
    assert listed("q=sanne") == {sanne}
    assert listed("q=BAKKER") == {daan}
    assert listed(f"q={daan}") == {daan}
    assert listed("q=niemand") == set()
    assert listed(f"school={world.schools['20LJ00']}") == {daan}
    assert listed("route=tlv-vso") == {sanne, daan}
    assert listed("te_laat=ja") == set() and listed("te_laat=nee") == {sanne, daan}
    newest_first = client.get("/?tab=alle&sort=nieuwste").get_data(as_text=True)
    assert newest_first.index(f"dossier {daan} —") < newest_first.index(f"dossier {sanne} —")
    assert "Geen taken die aan uw zoekopdracht voldoen" in client.get("/?q=niemand").get_data(as_text=True)


def test_a_school_sees_only_its_own_school(web_app, world, runtime, sample):
    runtime.start_case(world["school"], "tlv-vso", sample["start"])
    other = runtime.start_case(world["school2"], "tlv-vso", {**sample["start"], "school": "20LJ00"})
    html = web_client(web_app, world, "school").get("/?tab=alle").get_data(as_text=True)
    assert f"dossier {other.id} —" not in html and "School 20LJ00" not in html.split("takenlijst")[1]


def test_paging_25_rows_a_page(web_app, world, runtime, sample):
    for _ in range(26):
        runtime.start_case(world["school"], "tlv-vso", sample["start"])
    client = web_client(web_app, world, "school")
    first = client.get("/?tab=team").get_data(as_text=True)
    assert first.count("data-inbox-row") == 25 and "Pagina 1 van 2" in first and "26 taken" in first
    second = client.get("/?tab=team&pagina=2").get_data(as_text=True)
    assert second.count("data-inbox-row") == 1 and "Vorige" in second


def test_due_badges_say_it_in_words(runtime, world, sample, db):
    case = runtime.start_case(world["school"], "tlv-vso", sample["start"])
    task = open_task(runtime, case.id, "aanmelding")
    now = clock.now()
    task.due_at, task.warn_at, task.escalated = now + timedelta(days=3), now + timedelta(days=1), False
    assert due_badge(task, now)[0].startswith("termijn ")
    assert due_badge(task, now + timedelta(days=2)) == ("bijna", "warning")
    assert due_badge(task, now + timedelta(days=4)) == ("te laat", "danger")
    task.escalated = True
    assert due_badge(task, now) == ("geëscaleerd", "danger")
    assert initials({"voornaam": "Jan", "tussenvoegsel": "van der", "achternaam": "Berg"}) == "J.v.d.B."
    assert initials(None) == "?"


def test_an_overdue_task_shows_te_laat_and_the_filter_finds_it(web_app, world, runtime, sample, db):
    case_id = _submitted(runtime, world, sample)
    with db.transaction() as session:
        session.execute(update(Task).where(Task.case_id == case_id).values(due_at=clock.now() - timedelta(days=1)))
    html = web_client(web_app, world, "consulent").get("/?te_laat=ja").get_data(as_text=True)
    assert f"dossier {case_id} —" in html and ">te laat</span>" in html


def test_a_task_out_of_scope_is_a_404_and_a_read_is_logged(web_app, world, runtime, sample, db):
    case_id = _submitted(runtime, world, sample)
    tid = task_id(runtime, case_id, "dossiercheck")
    assert web_client(web_app, world, "school2").get(f"/tasks/{tid}").status_code == 404  # another school
    other = make_world(db, key="ander-swv")
    give_passwords(db)
    assert web_client(web_app, other, "consulent").get(f"/tasks/{tid}").status_code == 404  # another SWV
    assert web_client(web_app, other, "consulent").get(f"/?taak={tid}").status_code == 404

    shown = web_client(web_app, world, "consulent").get(f"/tasks/{tid}", headers={"HX-Request": "true"})
    assert shown.status_code == 200 and "<html" not in shown.get_data(as_text=True)  # the panel alone, for htmx
    with db.read() as session:
        reads = list(session.scalars(select(AccessLog).where(AccessLog.case_id == case_id,
                                                             AccessLog.channel == "web")))
    assert [(r.actor, r.what) for r in reads] == [("consulent@sterk-vo.test", "task:dossiercheck")]


def test_another_lane_and_the_auditor_read_but_cannot_write(web_app, world, runtime, sample):
    case_id = _submitted(runtime, world, sample)
    tid = task_id(runtime, case_id, "dossiercheck")
    before = event_types(runtime, case_id)
    for role in ("commissie", "auditor"):
        client = web_client(web_app, world, role)
        page = client.get(f"/tasks/{tid}").get_data(as_text=True)
        assert "Deze taak is voor de rol consulent; u kunt haar alleen bekijken." in page
        assert "Afronden" not in page and "Claimen" not in page
        assert '<fieldset class="utrecht-form-fieldset" disabled' in page
        refused = post(client, f"/tasks/{tid}/claim")
        assert refused.status_code == 403 and "Geen toegang" in refused.get_data(as_text=True)
        refused = post(client, f"/tasks/{tid}", {"actie": "afronden", "d.dossier_compleet": "true"})
        assert refused.status_code == 403
        assert post(client, f"/tasks/{tid}", {"actie": "concept", "d.toelichting": "x"}).status_code == 403
    assert event_types(runtime, case_id) == before


def test_two_roles_work_both_lanes_and_separated_duties_keep_the_besluit_away(web_app, world, runtime, sample, db):
    from tests.test_roles import ORTHO, add_user

    ortho = add_user(db, world, ORTHO, "consulent", "commissie")
    give_passwords(db)
    case_id = _submitted(runtime, world, sample)
    client = web_client(web_app, world, ORTHO)
    page = client.get("/").get_data(as_text=True)
    assert "Rol: consulent, commissie" in page and f"dossier {case_id} — Dossier controleren" in page

    runtime.complete(ortho, task_id(runtime, case_id, "dossiercheck"), {"dossier_compleet": True})
    runtime.complete(world["consulent"], task_id(runtime, case_id, "knooppuntoverleg"), sample["knooppuntoverleg"])
    besluit = task_id(runtime, case_id, "besluit")
    assert f"dossier {case_id} — Besluit TLV" not in client.get("/?tab=team").get_data(as_text=True)
    shown = client.get(f"/tasks/{besluit}").get_data(as_text=True)
    assert "U mag deze taak niet doen" in shown and "functiescheiding" in shown and "Afronden" not in shown
    refused = post(client, f"/tasks/{besluit}/claim")
    assert refused.status_code == 403 and "functiescheiding" in refused.get_data(as_text=True)
    # A commissielid who did neither step decides.
    other = web_client(web_app, world, "commissie").get("/?tab=team").get_data(as_text=True)
    assert f"dossier {case_id} — Besluit TLV" in other
