"""Form input is limited: every text and list in a shipped form has a bound, the engine answers a value past
it with one Dutch message per field, and the route validator warns about a form field without a bound."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from engine import forms
from engine.config import PROJECT_ROOT
from engine.errors import InvalidData
from engine.validate import check
from tests.helpers import do, open_task

FORMS = PROJECT_ROOT / "processes" / "forms"
TLV = PROJECT_ROOT / "processes" / "tlv-vso.bpmn"
HANDLERS = {"decision", "notify", "register_tlv"}


def schema(name: str) -> dict:
    return json.loads((FORMS / name).read_text())


def details(schema_: dict, data: dict) -> dict[str, list[str]]:
    with pytest.raises(InvalidData) as caught:
        forms.validate(schema_, data)
    return caught.value.details


def test_a_hundred_thousand_documenten_are_refused_with_a_dutch_message():
    data = {"aanvulling": "Nagestuurd.", "documenten": [f"bijlage-{n}.pdf" for n in range(100_000)]}
    assert details(schema("tlv-vso-aanvulling.json"), data) == {"documenten": ["Maximaal 50 items."]}


def test_a_hundred_thousand_deelnemers_are_refused_with_a_dutch_message(sample):
    data = dict(sample["knooppuntoverleg"], deelnemers=[{"naam": "X", "rol": "ouder"}] * 100_000)
    assert details(schema("tlv-vso-knooppuntoverleg.json"), data) == {"deelnemers": ["Maximaal 50 items."]}


def test_a_too_long_text_is_refused_with_a_dutch_message():
    data = {"aanvulling": "x" * 10_001}
    assert details(schema("tlv-vso-aanvulling.json"), data) == {"aanvulling": ["Maximaal 10000 tekens."]}
    data = {"aanvulling": "ok", "documenten": ["x" * 201]}
    assert details(schema("tlv-vso-aanvulling.json"), data) == {"documenten.0": ["Maximaal 200 tekens."]}


def test_values_past_their_limit_are_told_first_without_validating_everything_inside():
    """Every one of 100,000 bad items would be its own message: past maxItems only the limit is told."""
    data = {"aanvulling": "ok", "documenten": [""] * 100_000}
    assert details(schema("tlv-vso-aanvulling.json"), data) == {"documenten": ["Maximaal 50 items."]}


def test_a_value_within_the_limits_is_accepted():
    data = {"aanvulling": "x" * 10_000, "documenten": ["y" * 200] * 50}
    assert forms.validate(schema("tlv-vso-aanvulling.json"), data) == data


def test_an_aanvulling_with_a_hundred_thousand_documenten_is_refused_by_the_engine(runtime, world, sample):
    case = runtime.start_case(world["school"], "tlv-vso", sample["start"])
    do(runtime, world, "school", case.id, "aanmelding", sample["aanmelding"])
    do(runtime, world, "consulent", case.id, "dossiercheck", {"dossier_compleet": False, "ontbrekend": "OPP"})
    task = open_task(runtime, case.id, "aanvulling")
    with pytest.raises(InvalidData) as caught:
        runtime.complete(world["school"], task.id, {"aanvulling": "x", "documenten": ["d.pdf"] * 100_000})
    assert caught.value.details == {"documenten": ["Maximaal 50 items."]}
    assert open_task(runtime, case.id, "aanvulling").status == "ready"


def _strings_and_arrays(node: object, path: str = ""):
    if isinstance(node, dict):
        kind = node.get("type")
        kinds = kind if isinstance(kind, list) else [kind]
        if "string" in kinds or "array" in kinds:
            yield path, node
        for key, value in node.items():
            yield from _strings_and_arrays(value, f"{path}/{key}")
    elif isinstance(node, list):
        for n, value in enumerate(node):
            yield from _strings_and_arrays(value, f"{path}/{n}")


@pytest.mark.parametrize("path", sorted(FORMS.glob("*.json")), ids=lambda p: p.name)
def test_every_string_and_array_in_a_shipped_form_has_a_limit(path):
    for where, node in _strings_and_arrays(json.loads(path.read_text())):
        kinds = node["type"] if isinstance(node["type"], list) else [node["type"]]
        if "string" in kinds:
            assert 0 < node.get("maxLength", 0) <= 20_000, where
        if "array" in kinds:
            assert 0 < node.get("maxItems", 0) <= 50, where


def test_the_shipped_route_has_no_warnings():
    result = check(TLV, known_handlers=HANDLERS)
    assert result.ok and result.warnings == []


def _route_with_form(tmp_path: Path, name: str, change) -> Path:
    shutil.copytree(FORMS, tmp_path / "forms")
    path = tmp_path / "forms" / name
    form = json.loads(path.read_text())
    change(form)
    path.write_text(json.dumps(form))
    shutil.copy(TLV, tmp_path / "tlv-vso.bpmn")
    return tmp_path / "tlv-vso.bpmn"


def test_the_validator_warns_about_a_list_without_max_items(tmp_path):
    route = _route_with_form(tmp_path, "tlv-vso-aanvulling.json",
                             lambda form: form["properties"]["documenten"].pop("maxItems"))
    result = check(route, known_handlers=HANDLERS)
    assert result.ok and result.problems == []  # a warning, not a problem: the route still deploys
    form = tmp_path / "forms" / "tlv-vso-aanvulling.json"
    assert [str(w) for w in result.warnings] == [
        f"{form}: documenten: waarschuwing: lijst zonder maxItems: geef een bovengrens (bijvoorbeeld 50), "
        "anders kan één formulier onbeperkt groot worden"]


def test_the_validator_warns_about_a_text_without_max_length_also_in_a_list(tmp_path):
    def change(form):
        form["properties"]["deelnemers"]["items"]["properties"]["naam"].pop("maxLength")
        form["properties"]["afspraken"].pop("maxLength")

    route = _route_with_form(tmp_path, "tlv-vso-knooppuntoverleg.json", change)
    result = check(route, known_handlers=HANDLERS)
    assert result.ok
    assert [(w.element, w.message.split(":")[1].strip()) for w in result.warnings] == [
        ("deelnemers[].naam", "tekstveld zonder maxLength"), ("afspraken", "tekstveld zonder maxLength")]


def test_a_text_with_a_fixed_set_of_values_needs_no_max_length(tmp_path):
    route = _route_with_form(tmp_path, "tlv-vso-besluit.json",
                             lambda form: form["properties"]["besluit"].pop("maxLength", None))
    assert check(route, known_handlers=HANDLERS).warnings == []
