"""Task forms rendered from the task's JSON Schema, validated by the engine as the API does: messages beside the
fields and what was typed kept; concepts per task and user; after Afronden the next task of the case if it is mine;
claim, release and hand over; someone else first is a 409 that keeps what was typed."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select
from werkzeug.datastructures import MultiDict

from engine.models_web import TaskDraft
from tests.helpers import event_types, open_names, open_task, task_id
from tests.ui import make_app, post, web_client
from web.ui.task_form import PREFIX, form_fields, parse


@pytest.fixture
def web_app(runtime, settings, db, world):
    return make_app(runtime, settings, db)


def _schema(runtime, case_id: int, name: str):
    with runtime.db.read() as session:
        case = runtime.case_for(session, _actor(runtime, case_id), case_id)
        return runtime.form(case.route_version, name)


def _actor(runtime, case_id):
    from engine.auth import system_actor
    from tests.helpers import load_case

    return system_actor(load_case(runtime, case_id).tenant_id)


def _as_form(fields, out: MultiDict | None = None) -> MultiDict:
    """The fields as a browser posts them (every input, empty ones too)."""
    out = MultiDict() if out is None else out
    for f in fields:
        if f.kind == "object":
            _as_form(f.children, out)
        elif f.kind == "array":
            for row in f.rows:
                _as_form(row, out)
        else:
            out.add(f.name, f.value)
    return out


def test_the_aanmelding_form_has_a_widget_per_kind_with_labels_help_and_required_marks(web_app, world, runtime,
                                                                                         sample):
    case = runtime.start_case(world["school"], "tlv-vso", sample["start"])
    tid = task_id(runtime, case.id, "aanmelding")
    html = web_client(web_app, world, "school").get(f"/tasks/{tid}").get_data(as_text=True)
    assert re.search(r'<textarea[^>]*id="veld-onderwijsbehoeften" name="d.onderwijsbehoeften"', html)  # long text
    assert '<legend class="utrecht-form-fieldset__legend utrecht-form-fieldset__legend--html-legend">' \
           'Ontwikkelingsperspectiefplan (OPP)' in html  # a nested object is a fieldset
    assert re.search(r'<input[^>]*type="text" id="veld-opp-documentnummer"', html)  # short text
    assert re.search(r'type="date" id="veld-opp-datum" name="d.opp.datum"', html)
    assert html.count('name="d.zienswijze_ouders.standpunt"') == 3  # an enum of 3: radio buttons
    assert html.count('name="d.zienswijze_ouders.ouders_gehoord"') == 2  # ja/nee
    assert '<select class="utrecht-select utrecht-select--html-select" id="veld-adviezen-0-discipline"' in html
    # One row of advice to start with (the school may send 0, 1 or 2; the SWV's experts add theirs later).
    assert 'id="veld-adviezen-0-auteur"' in html and 'id="veld-adviezen-1-auteur"' not in html
    assert 'name="d.adviezen.__INDEX__.auteur"' in html and "Voeg toe: deskundigenadviezen" in html
    assert "Verwijder deskundigenadviezen 1" in html
    assert "Verwijzing naar het actuele OPP in het dossier." in html  # description as help text
    assert "(verplicht)" in html and "Afronden" in html and "Opslaan als concept" in html


def test_a_posted_form_reads_back_as_the_data_the_engine_takes(runtime, world, sample):
    case = runtime.start_case(world["school"], "tlv-vso", sample["start"])
    schema = _schema(runtime, case.id, "aanmelding")
    form = _as_form(form_fields(schema, sample["aanmelding"]))
    form.add(PREFIX + "datum_aanmelding_ouders", "")  # an empty optional field is left out
    assert parse(schema, form) == sample["aanmelding"]
    # Rows keep the order they stand in, whatever their indices (app.js gives new rows fresh ones).
    renamed = MultiDict([(k.replace("adviezen.0.", "adviezen.zz.").replace("adviezen.1.", "adviezen.aa."), v)
                         for k, v in form.items(multi=True)])
    assert parse(schema, renamed)["adviezen"] == sample["aanmelding"]["adviezen"]
    numbers = {"type": "object", "properties": {"n": {"type": "integer"}, "x": {"type": "number"}}}
    assert parse(numbers, MultiDict({"d.n": "12", "d.x": "3,5"})) == {"n": 12, "x": 3.5}
    assert parse(numbers, MultiDict({"d.n": "twaalf", "d.x": ""})) == {"n": "twaalf"}  # kept; the engine says why
    dossier = _schema(runtime, case.id, "dossiercheck")
    assert parse(dossier, MultiDict({"d.dossier_compleet": "false", "d.ontbrekend": "OPP"})) == {
        "dossier_compleet": False, "ontbrekend": "OPP"}


def test_validation_shows_the_engines_messages_beside_the_fields_and_keeps_what_was_typed(web_app, world, runtime,
                                                                                           sample):
    case = runtime.start_case(world["school"], "tlv-vso", sample["start"])
    tid = task_id(runtime, case.id, "aanmelding")
    schema = _schema(runtime, case.id, "aanmelding")
    typed = {**sample["aanmelding"], "adviezen": [sample["aanmelding"]["adviezen"][0],
                                                  {**sample["aanmelding"]["adviezen"][1], "auteur": ""}],
             "onderwijsbehoeften": "Een kleine groep & rust <b>nodig</b>."}
    form = _as_form(form_fields(schema, typed))
    form["actie"] = "afronden"
    client = web_client(web_app, world, "school")
    response = post(client, f"/tasks/{tid}", form.to_dict(flat=False), htmx=True)
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert re.search(r'id="veld-adviezen-1-auteur-fout"><p class="utrecht-paragraph">Dit veld is verplicht.', html)
    assert "Deskundigenadviezen 2 · Auteur</a>: Dit veld is verplicht." in html  # the summary names the field
    assert "Een kleine groep &amp; rust &lt;b&gt;nodig&lt;/b&gt;." in html  # kept, and escaped
    assert 'value="drs. A. Jansen"' in html and 'value="OPP-2026-117"' in html
    assert open_names(runtime, case.id) == ["aanmelding"]


def test_a_concept_is_kept_per_task_and_user_until_the_task_is_completed(web_app, world, runtime, sample, db):
    case = runtime.start_case(world["school"], "tlv-vso", sample["start"])
    runtime.complete(world["school"], task_id(runtime, case.id, "aanmelding"), sample["aanmelding"])
    tid = task_id(runtime, case.id, "dossiercheck")
    client = web_client(web_app, world, "consulent")
    before = event_types(runtime, case.id)
    saved = post(client, f"/tasks/{tid}", {"actie": "concept", "d.dossier_compleet": "false",
                                           "d.ontbrekend": "Het tweede advies"}, htmx=True)
    assert saved.status_code == 200 and "Concept bewaard" in saved.get_data(as_text=True)
    assert event_types(runtime, case.id) == before  # a concept is no input to the case

    again = client.get(f"/tasks/{tid}").get_data(as_text=True)
    assert "Het tweede advies</textarea>" in again and "U ziet uw concept van" in again
    assert re.search(r'value="false" checked', again)
    assert "concept bewaard" in client.get("/?tab=team").get_data(as_text=True)
    colleague = web_client(web_app, world, "consulent2").get(f"/tasks/{tid}").get_data(as_text=True)
    assert "Het tweede advies" not in colleague  # a concept is the user's own

    post(client, f"/tasks/{tid}", {"actie": "afronden", "d.dossier_compleet": "true"}, htmx=True)
    with db.read() as session:
        assert session.scalar(select(func.count()).select_from(TaskDraft)) == 0


def test_afronden_shows_the_next_task_of_the_case_when_it_is_mine(web_app, world, runtime, sample):
    case = runtime.start_case(world["school"], "tlv-vso", sample["start"])
    runtime.complete(world["school"], task_id(runtime, case.id, "aanmelding"), sample["aanmelding"])
    client = web_client(web_app, world, "consulent")
    tid = task_id(runtime, case.id, "dossiercheck")
    done = post(client, f"/tasks/{tid}", {"actie": "afronden", "d.dossier_compleet": "true"}, htmx=True)
    html = done.get_data(as_text=True)
    assert done.status_code == 200 and done.headers["HX-Trigger"] == "inbox-changed"
    assert "Taak afgerond: Dossier controleren" in html and ">Knooppuntoverleg</h2>" in html

    # Without htmx: back to the inbox with the next task chosen; the aanvulling after it is the school's, not mine.
    nxt = task_id(runtime, case.id, "knooppuntoverleg")
    plain = post(client, f"/tasks/{nxt}", {"actie": "afronden", **{
        f"d.{k}": v for k, v in sample["knooppuntoverleg"].items() if isinstance(v, str)},
        "d.toestemming_ouders": "true", "d.deelnemers.0.naam": "M. de Boer", "d.deelnemers.0.rol": "consulent"})
    assert plain.status_code == 302 and plain.headers["Location"] == "/"
    assert "besluit" in open_names(runtime, case.id)


def test_claim_hand_over_and_release(web_app, world, runtime, sample):
    case = runtime.start_case(world["school"], "tlv-vso", sample["start"])
    runtime.complete(world["school"], task_id(runtime, case.id, "aanmelding"), sample["aanmelding"])
    tid = task_id(runtime, case.id, "dossiercheck")
    client = web_client(web_app, world, "consulent")
    claimed = post(client, f"/tasks/{tid}/claim", htmx=True)
    html = claimed.get_data(as_text=True)
    assert "U heeft deze taak geclaimd." in html and claimed.headers["HX-Trigger"] == "inbox-changed"
    assert "Overdragen aan" in html and "consulent2@sterk-vo.test" in html and "commissie@" not in html

    handed = post(client, f"/tasks/{tid}/overdragen", {"collega": str(world["consulent2"].user_id)}, htmx=True)
    assert "overgedragen aan consulent2@sterk-vo.test" in handed.get_data(as_text=True)
    assert open_task(runtime, case.id, "dossiercheck").assignee_id == world["consulent2"].user_id
    assert "task_delegated" in event_types(runtime, case.id)

    colleague = web_client(web_app, world, "consulent2")
    released = post(colleague, f"/tasks/{tid}/vrijgeven")
    assert released.status_code == 302 and released.headers["Location"] == f"/?taak={tid}"
    assert open_task(runtime, case.id, "dossiercheck").assignee_id is None


def test_someone_else_first_is_a_409_that_keeps_what_was_typed(web_app, world, runtime, sample):
    case = runtime.start_case(world["school"], "tlv-vso", sample["start"])
    runtime.complete(world["school"], task_id(runtime, case.id, "aanmelding"), sample["aanmelding"])
    tid = task_id(runtime, case.id, "dossiercheck")
    client = web_client(web_app, world, "consulent")
    client.get(f"/tasks/{tid}")
    runtime.claim(world["consulent2"], tid)  # meanwhile, a colleague takes it
    late = post(client, f"/tasks/{tid}", {"actie": "afronden", "d.dossier_compleet": "true",
                                          "d.toelichting": "Mijn zorgvuldige toelichting"})
    html = late.get_data(as_text=True)
    assert late.status_code == 409 and "Iemand anders was u voor" in html
    assert "geclaimd door consulent2@sterk-vo.test" in html and "Mijn zorgvuldige toelichting" in html
    assert "Laad opnieuw" in html
