"""Route code is bounded per expression: a hostile term, condition or script becomes a visible incident on
its case (with a Dutch reason) instead of holding the write lock for minutes or taking gigabytes."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from engine import routes
from engine.config import PROJECT_ROOT
from engine.models import Tenant
from tests.helpers import do, event_types, load_case, open_names, open_task, to_besluit

TLV = PROJECT_ROOT / "processes" / "tlv-vso.bpmn"
BIG_POWER = "werkdagen(len(str(9**9**9)))"
BIG_REPEAT = "len('x' * 10**9)"


def deploy_variant(runtime, tmp_path: Path, old: str, new: str) -> None:
    """A new version of tlv-vso with one piece of route code replaced (as a process owner could publish it:
    it compiles, so the validator lets it through)."""
    text = TLV.read_text()
    assert old in text
    shutil.copytree(TLV.parent / "forms", tmp_path / "forms")
    path = tmp_path / "tlv-vso.bpmn"
    path.write_text(text.replace(old, new, 1))
    with runtime.db.transaction() as session:
        assert routes.deploy(session, path).created


# Validation computes every deadline for a sample case (engine.validate.coverage), so a term that is hostile for any
# case is refused before it is deployed; these are hostile only for this pupil, and must still end in an incident.
ONLY_SANNE = "if leerling['voornaam'] == 'Sanne' else 5"


@pytest.mark.parametrize("term", [f"werkdagen(len(str(9**9**9)) {ONLY_SANNE})",
                                  f"werkdagen({BIG_REPEAT} {ONLY_SANNE})"])
def test_a_hostile_task_deadline_becomes_an_incident(runtime, world, sample, tmp_path, term):
    deploy_variant(runtime, tmp_path, 'name="deadline" value="weken(6)"', f'name="deadline" value="{term}"')
    case = runtime.start_case(world["school"], "tlv-vso", sample["start"])
    case = load_case(runtime, case.id)
    assert case.status == "incident"
    assert "termijn van taak 'aanmelding' kon niet worden berekend" in case.incident["error"]
    assert "te groot" in case.incident["error"]


def test_a_hostile_case_term_becomes_an_incident(runtime, world, sample):
    with runtime.db.transaction() as session:
        session.get(Tenant, world.tenant_id).settings = {"terms": {"tlv-vso": {"term": BIG_POWER}}}
    case = runtime.start_case(world["school"], "tlv-vso", sample["start"])
    case = load_case(runtime, case.id)
    assert case.status == "incident"
    assert "doorlooptijd kon niet worden berekend" in case.incident["error"]
    assert "te groot" in case.incident["error"]


def test_a_hostile_script_becomes_an_incident(runtime, world, sample, tmp_path):
    deploy_variant(runtime, tmp_path, "aanvulling_rondes = 0", f"aanvulling_rondes = {BIG_REPEAT}")
    case = runtime.start_case(world["school"], "tlv-vso", sample["start"])
    case = load_case(runtime, case.id)
    assert case.status == "incident"
    assert case.incident["task"] == "init_teller"
    assert case.incident["type"] == "SandboxError" and "te groot" in case.incident["error"]


def test_a_hostile_gateway_condition_becomes_an_incident(runtime, world, sample, tmp_path):
    deploy_variant(runtime, tmp_path, 'besluit == "toekennen"', 'len(str(9**9**9)) &gt; 0 and besluit == "toekennen"')
    case_id = to_besluit(runtime, world, sample)
    do(runtime, world, "commissie", case_id, "besluit", sample["toekennen"])
    case = load_case(runtime, case_id)
    assert case.status == "incident"
    assert case.incident["type"] == "SandboxError" and "te groot" in case.incident["error"]


def test_ordinary_calendar_terms_with_arithmetic_still_work(runtime, world, sample, tmp_path):
    deploy_variant(runtime, tmp_path, 'name="deadline" value="weken(6)"', 'name="deadline" value="werkdagen(2 ** 3)"')
    case = runtime.start_case(world["school"], "tlv-vso", sample["start"])
    assert load_case(runtime, case.id).status == "open"
    assert open_task(runtime, case.id, "aanmelding").due_at is not None


HOARD = "len([[0] * 999999 for i in range(999)])"  # each list passes the size guards; together 8 GB


def test_a_script_that_hoards_memory_becomes_an_incident(runtime, world, sample, tmp_path):
    deploy_variant(runtime, tmp_path, "aanvulling_rondes = 0", f"aanvulling_rondes = {HOARD}")
    case = runtime.start_case(world["school"], "tlv-vso", sample["start"])
    case = load_case(runtime, case.id)
    assert case.status == "incident"
    assert case.incident["task"] == "init_teller" and case.incident["type"] == "SandboxError"
    assert "de route-code gebruikt te veel geheugen (meer dan 64 MB) en is afgebroken" in case.incident["error"]


def test_a_gateway_condition_that_hoards_memory_stops_the_case_at_its_step(runtime, world, sample, tmp_path):
    deploy_variant(runtime, tmp_path, 'besluit == "toekennen"', f'{HOARD} &gt; 0 and besluit == "toekennen"')
    case_id = to_besluit(runtime, world, sample)
    do(runtime, world, "commissie", case_id, "besluit", sample["toekennen"])
    case = load_case(runtime, case_id)
    assert case.status == "incident" and "te veel geheugen" in case.incident["error"]
    assert open_names(runtime, case_id) == []  # the gateway did not choose a way: no plaatsing, no TLV
    assert "tlv" not in case.data
    assert event_types(runtime, case_id)[-1] == "incident"
    # A beheerder can retry once the route is fixed; meanwhile another case is served as usual.
    other = runtime.start_case(world["school"], "tlv-vso", sample["start"])
    assert load_case(runtime, other.id).status == "open"
