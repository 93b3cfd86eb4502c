"""End-to-end TLV cases through the engine, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from dataclasses import replace

import pytest
from sqlalchemy import func, select

from engine import events, projection_store, services
from engine.errors import Conflict, Forbidden, InvalidData, NotFound
from engine.models import Counter, OutboxMessage, Task
from tests.conftest import make_world
from tests.helpers import do, event_types, events_of, load_case, open_names, open_task, to_besluit


def test_toekennen_registers_a_tlv_and_ends_with_plaatsing(runtime, world, sample):
    case_id = to_besluit(runtime, world, sample)
    assert open_names(runtime, case_id) == ["besluit"]
    do(runtime, world, "commissie", case_id, "besluit", sample["toekennen"])

    case = load_case(runtime, case_id)
    assert case.status == "open"
    assert case.data["tlv"]["nummer"].startswith("TLV-") and case.data["tlv"]["nummer"].endswith("-0001")
    assert case.data["tlv"]["categorie"] == "midden"
    assert open_names(runtime, case_id) == ["plaatsing"]

    do(runtime, world, "school", case_id, "plaatsing", sample["plaatsing"])
    case = load_case(runtime, case_id)
    assert (case.status, case.outcome) == ("closed", "toegekend")
    assert case.closed_at is not None
    assert open_names(runtime, case_id) == []
    assert event_types(runtime, case_id) == [
        "case_started", "task_completed", "task_completed", "task_completed", "task_completed", "task_completed",
        "case_completed",
    ]


def test_events_record_actor_data_services_and_a_valid_hash_chain(runtime, world, sample):
    case_id = to_besluit(runtime, world, sample)
    do(runtime, world, "commissie", case_id, "besluit", sample["toekennen"])
    rows = events_of(runtime, case_id)
    besluit = rows[-1]
    assert (besluit.type, besluit.task_name, besluit.task_index, besluit.role) == (
        "task_completed", "besluit", 0, "commissie")
    assert besluit.actor == world["commissie"].email
    assert besluit.payload["data"]["besluit"] == "toekennen"
    assert besluit.payload["services"][0]["handler"] == "register_tlv"
    assert besluit.payload["services"][0]["result"]["nummer"].endswith("-0001")
    prev = events.GENESIS
    for seq, row in enumerate(rows, start=1):
        assert row.seq == seq and row.prev_hash == prev
        assert row.hash == events.chain_hash(prev, row)
        assert row.payload_hash == events.sha256(events.canonical(row.payload))
        prev = row.hash


def test_afwijzen_informs_the_school_and_closes(runtime, world, sample):
    case_id = to_besluit(runtime, world, sample)
    do(runtime, world, "commissie", case_id, "besluit", sample["afwijzen"])
    case = load_case(runtime, case_id)
    assert (case.status, case.outcome) == ("closed", "afgewezen")
    with runtime.db.read() as session:
        mail = list(session.scalars(select(OutboxMessage).where(OutboxMessage.case_id == case_id)))
    # Only the school's own users hear of it, not the other school's.
    assert [m.to_address for m in mail] == [world["school"].email]
    assert "afgewezen" in mail[0].subject
    assert "Ondersteuning in het regulier onderwijs" in mail[0].body


def test_three_aanvulling_rounds_end_buiten_behandeling(runtime, world, sample):
    case = runtime.start_case(world["school"], "tlv-vso", sample["start"])
    do(runtime, world, "school", case.id, "aanmelding", sample["aanmelding"])
    for round_ in range(1, 4):
        do(runtime, world, "consulent", case.id, "dossiercheck",
           {"dossier_compleet": False, "ontbrekend": f"Tweede advies ontbreekt (ronde {round_})."})
        assert open_names(runtime, case.id) == ["aanvulling"]
        do(runtime, world, "school", case.id, "aanvulling", {"aanvulling": f"Advies nagestuurd, ronde {round_}."})
    do(runtime, world, "consulent", case.id, "dossiercheck",
       {"dossier_compleet": False, "ontbrekend": "Nog steeds geen tweede advies."})
    case = load_case(runtime, case.id)
    assert (case.status, case.outcome) == ("closed", "buiten_behandeling")
    assert case.data["aanvulling_rondes"] == 3
    with runtime.db.read() as session:
        checks = session.scalar(select(func.count()).select_from(Task).where(
            Task.case_id == case.id, Task.name == "dossiercheck", Task.status == "completed"))
    assert checks == 4


def test_a_complete_dossier_after_aanvulling_goes_on_to_knooppuntoverleg(runtime, world, sample):
    case = runtime.start_case(world["school"], "tlv-vso", sample["start"])
    do(runtime, world, "school", case.id, "aanmelding", sample["aanmelding"])
    do(runtime, world, "consulent", case.id, "dossiercheck", {"dossier_compleet": False, "ontbrekend": "OPP"})
    do(runtime, world, "school", case.id, "aanvulling", {"aanvulling": "OPP bijgevoegd."})
    do(runtime, world, "consulent", case.id, "dossiercheck", {"dossier_compleet": True})
    assert open_names(runtime, case.id) == ["knooppuntoverleg"]


def test_lane_role_school_and_tenant_are_enforced(runtime, world, sample, db):
    case = runtime.start_case(world["school"], "tlv-vso", sample["start"])
    aanmelding = open_task(runtime, case.id, "aanmelding")
    with pytest.raises(Forbidden, match="rol school"):
        runtime.complete(world["consulent"], aanmelding.id, sample["aanmelding"])
    with pytest.raises(Forbidden):  # the other school's coordinator
        runtime.complete(world["school2"], aanmelding.id, sample["aanmelding"])
    with pytest.raises(Forbidden, match="eigen school"):
        runtime.start_case(world["school2"], "tlv-vso", sample["start"])
    other = make_world(db, key="vo-westelijke-mijnstreek", region="zuid")
    with pytest.raises(NotFound):  # another SWV does not even learn that the task exists
        runtime.complete(other["school"], aanmelding.id, sample["aanmelding"])
    with runtime.db.read() as session, pytest.raises(NotFound):
        runtime.case_for(session, other["consulent"], case.id)


def test_completing_a_completed_task_is_a_conflict(runtime, world, sample):
    case = runtime.start_case(world["school"], "tlv-vso", sample["start"])
    task = open_task(runtime, case.id, "aanmelding")
    runtime.complete(world["school"], task.id, sample["aanmelding"])
    with pytest.raises(Conflict, match="afgerond"):
        runtime.complete(world["school"], task.id, sample["aanmelding"])


def test_invalid_form_data_gets_per_field_messages_and_changes_nothing(runtime, world, sample):
    case = runtime.start_case(world["school"], "tlv-vso", sample["start"])
    task = open_task(runtime, case.id, "aanmelding")
    first, second = sample["aanmelding"]["adviezen"]
    bad = dict(sample["aanmelding"], adviezen=[first, dict(second, discipline="ambulant_begeleider")], huisdier="kat")
    del bad["onderwijsbehoeften"]
    with pytest.raises(InvalidData) as info:
        runtime.complete(world["school"], task.id, bad)
    details = info.value.details
    assert details["onderwijsbehoeften"] == ["Dit veld is verplicht."]
    assert details["huisdier"] == ["Onbekend veld."]
    assert details["adviezen.1.discipline"][0].startswith("Kies een van: orthopedagoog, psycholoog, kinder_of")
    assert event_types(runtime, case.id) == ["case_started"]
    assert open_names(runtime, case.id) == ["aanmelding"]


def test_claim_unclaim_and_claimed_by_someone_else(runtime, world, sample):
    case_id = to_besluit(runtime, world, sample)
    runtime.complete(world["commissie"], open_task(runtime, case_id, "besluit").id, sample["afwijzen"])
    case = runtime.start_case(world["school"], "tlv-vso", sample["start"])
    do(runtime, world, "school", case.id, "aanmelding", sample["aanmelding"])
    check = open_task(runtime, case.id, "dossiercheck")
    claimed = runtime.claim(world["consulent"], check.id)
    assert (claimed.status, claimed.assignee_id) == ("claimed", world["consulent"].user_id)
    with pytest.raises(Conflict, match="geclaimd"):
        runtime.claim(world["consulent2"], check.id)
    with pytest.raises(Conflict, match="geclaimd"):
        runtime.complete(world["consulent2"], check.id, {"dossier_compleet": True})
    runtime.unclaim(world["consulent"], check.id)
    runtime.complete(world["consulent2"], check.id, {"dossier_compleet": True})
    assert event_types(runtime, case.id)[-3:] == ["task_claimed", "task_unclaimed", "task_completed"]


def test_tlv_numbers_are_unique_per_swv_and_year(runtime, world, sample, db):
    numbers = []
    for _ in range(2):
        case_id = to_besluit(runtime, world, sample)
        do(runtime, world, "commissie", case_id, "besluit", sample["toekennen"])
        numbers.append(load_case(runtime, case_id).data["tlv"]["nummer"])
    assert [n[-4:] for n in numbers] == ["0001", "0002"]
    other = make_world(db, key="vo-zuid-utrecht", region="midden")
    case_id = to_besluit(runtime, other, sample)
    do(runtime, other, "commissie", case_id, "besluit", sample["toekennen"])
    assert load_case(runtime, case_id).data["tlv"]["nummer"][-4:] == "0001"


def test_a_failing_handler_leaves_a_visible_incident_and_none_of_its_writes(runtime, world, sample, monkeypatch):
    case_id = to_besluit(runtime, world, sample)
    real = services.get("register_tlv")

    def broken(ctx, **params):
        real(ctx, **params)  # takes a number ...
        raise ConnectionError("register onbereikbaar")  # ... and then fails

    monkeypatch.setitem(services._registry, "register_tlv", broken)
    do(runtime, world, "commissie", case_id, "besluit", sample["toekennen"])
    case = load_case(runtime, case_id)
    assert case.status == "incident"
    assert case.incident["task"] == "registreer_tlv"
    assert "ConnectionError: register onbereikbaar" in case.incident["error"]
    assert "NameError" not in case.incident["error"]
    assert event_types(runtime, case_id)[-2:] == ["task_completed", "incident"]
    with runtime.db.read() as session:  # the savepoint took the half-made number back
        assert session.scalar(select(Counter.value)) is None
    with pytest.raises(Forbidden):
        runtime.retry(world["consulent"], case_id)

    monkeypatch.setitem(services._registry, "register_tlv", real)
    runtime.retry(world["beheerder"], case_id)
    case = load_case(runtime, case_id)
    assert case.status == "open" and case.incident is None
    assert case.data["tlv"]["nummer"].endswith("-0001")
    assert open_names(runtime, case_id) == ["plaatsing"]


def test_a_crash_mid_action_leaves_the_case_as_it_was(runtime, world, sample, monkeypatch):
    case = runtime.start_case(world["school"], "tlv-vso", sample["start"])
    before = load_case(runtime, case.id)
    task = open_task(runtime, case.id, "aanmelding")

    def crash(*args, **kwargs):
        raise RuntimeError("stroom uitgevallen")

    monkeypatch.setattr(projection_store, "_update", crash)  # after the new tasks' rows, before the rest
    with pytest.raises(RuntimeError):
        runtime.complete(world["school"], task.id, sample["aanmelding"])
    monkeypatch.undo()
    after = load_case(runtime, case.id)
    assert (after.state, after.version, after.event_seq, after.last_hash) == (
        before.state, before.version, before.event_seq, before.last_hash)
    assert event_types(runtime, case.id) == ["case_started"]
    assert open_task(runtime, case.id, "aanmelding").status == "ready"
    runtime.complete(world["school"], task.id, sample["aanmelding"])  # and the action can simply be redone
    assert open_names(runtime, case.id) == ["dossiercheck"]


def test_runaway_loops_stop_with_an_incident(runtime, world, sample):
    runtime.settings = replace(runtime.settings, max_activations=2)
    case = runtime.start_case(world["school"], "tlv-vso", sample["start"])
    do(runtime, world, "school", case.id, "aanmelding", sample["aanmelding"])
    do(runtime, world, "consulent", case.id, "dossiercheck", {"dossier_compleet": False, "ontbrekend": "x"})
    do(runtime, world, "school", case.id, "aanvulling", {"aanvulling": "y"})
    do(runtime, world, "consulent", case.id, "dossiercheck", {"dossier_compleet": False, "ontbrekend": "x"})
    do(runtime, world, "school", case.id, "aanvulling", {"aanvulling": "y"})  # third dossiercheck: over the limit
    case = load_case(runtime, case.id)
    assert case.status == "incident"
    assert "vaker dan 2 keer" in case.incident["error"]


def test_two_writers_completing_the_same_task_exactly_one_wins(runtime, world, sample, db_url):
    case = runtime.start_case(world["school"], "tlv-vso", sample["start"])
    do(runtime, world, "school", case.id, "aanmelding", sample["aanmelding"])
    task = open_task(runtime, case.id, "dossiercheck")
    barrier = threading.Barrier(2)
    results: list[str] = []

    def work(role: str) -> None:
        barrier.wait()
        try:
            runtime.complete(world[role], task.id, {"dossier_compleet": True})
            results.append("ok")
        except Conflict:
            results.append("conflict")

    threads = [threading.Thread(target=work, args=(role,)) for role in ("consulent", "consulent2")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["conflict", "ok"]
    assert event_types(runtime, case.id).count("task_completed") == 2  # aanmelding + one dossiercheck
    assert open_names(runtime, case.id) == ["knooppuntoverleg"]
