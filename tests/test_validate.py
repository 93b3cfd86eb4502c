"""Route validation: every Loket convention has a fixture that breaks it, and the valid route passes."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from engine.validate import Problem, check, route_sha256

FIXTURES = Path(__file__).parent / "bpmn"
VALID = FIXTURES / "valid" / "ok.bpmn"
BROKEN = FIXTURES / "broken"
HANDLERS = {"notify", "register_tlv"}


def problems_of(path: Path) -> list[Problem]:
    result = check(path, known_handlers=HANDLERS)
    assert not result.ok and result.parsed is None
    return result.problems


def variant(tmp_path: Path, old: str, new: str) -> Path:
    """A copy of the valid route (with its forms) with one piece of text replaced."""
    text = VALID.read_text()
    assert old in text
    shutil.copytree(VALID.parent / "forms", tmp_path / "forms")
    path = tmp_path / "variant.bpmn"
    path.write_text(text.replace(old, new, 1))
    return path


# --- the valid route ------------------------------------------------------------------------------


def test_valid_route_has_no_problems_and_a_parsed_spec():
    result = check(VALID, known_handlers=HANDLERS)
    assert result.problems == []
    assert result.ok
    assert result.parsed is not None
    assert result.parsed.process_id == "ok"
    assert result.parsed.title == "Testroute"
    assert result.parsed.spec.task_specs["aanvraag"].lane == "school"
    assert result.parsed.spec.task_specs["beoordeling"].lane == "consulent"


def test_valid_route_source_holds_bpmn_and_referenced_forms():
    source = check(VALID, known_handlers=HANDLERS).source
    assert source is not None
    assert source.key == "ok"
    assert source.path == VALID
    assert source.bpmn == VALID.read_bytes()
    assert sorted(source.forms) == ["aanvraag.json", "beoordeling.json", "start.json"]
    assert source.forms["start.json"]["type"] == "object"
    assert re.fullmatch(r"[0-9a-f]{64}", source.sha256)
    assert source.sha256 == route_sha256(source.bpmn, source.forms)


def test_sha256_ignores_form_formatting_but_not_form_content(tmp_path):
    path = variant(tmp_path, "Testroute", "Testroute")
    before = check(path, known_handlers=HANDLERS).source.sha256
    form = tmp_path / "forms" / "start.json"
    schema = json.loads(form.read_text())
    form.write_text(json.dumps(schema, indent=8))
    assert check(path, known_handlers=HANDLERS).source.sha256 == before
    schema["title"] = "Anders"
    form.write_text(json.dumps(schema))
    assert check(path, known_handlers=HANDLERS).source.sha256 != before


def test_valid_route_with_the_registered_handlers():
    # known_handlers=None: the real registry (handlers/), where notify is registered.
    assert check(VALID).problems == []


def test_tlv_vso_route_is_valid():
    path = Path(__file__).parent.parent / "processes" / "tlv-vso.bpmn"
    if not path.exists():
        pytest.skip("processes/tlv-vso.bpmn bestaat nog niet")
    result = check(path)
    assert result.problems == []
    assert result.parsed is not None


# --- one broken fixture per convention ------------------------------------------------------------

CASES = [
    ("no-executable", "", "geen uitvoerbaar proces in dit bestand"),
    ("lane-no-role", "Lane_ouders", "lane 'ouders' hoort bij geen Loket-rol (school, consulent,"),
    ("unquoted-timer", "wacht", 'timer-expressie P14D is niet gequote: schrijf "P14D"'),
    ("task-without-form", "taak", "gebruikerstaak zonder formulier (property formJsonSchemaFilename"),
    ("missing-form", "taak", "formulier 'bestaat-niet.json' bestaat niet in "),
    ("invalid-forms", "taak", "formulier 'geen-object.json' moet \"type\": \"object\" hebben"),
    ("invalid-forms", "taak2", "formulier 'kapot-schema.json' is geen geldig JSON Schema"),
    ("gateway-no-default", "gw", "zonder default en niet elke uitgaande flow heeft een conditie: f_nee"),
    ("sandbox-condition", "f_os", "conditie wordt geweigerd door de sandbox"),
    ("sandbox-condition", "f_klasse", "conditie wordt geweigerd door de sandbox"),
    ("script-import", "script", "script bevat een import"),
    ("unknown-handler", "dienst", "servicetaak noemt onbekende handler 'stuur_fax'"),
    ("loop-no-exit", "taak", "lus zonder uitgang: taak → gw → taak"),
    ("not-xml", "", "geen geldige XML (regel 5)"),
    ("xxe", "", "DOCTYPE en entiteiten zijn niet toegestaan"),
    ("spiff-error", "taak", "SpiffWorkflow kan de route niet lezen: Multiple outgoing flows"),
    ("schema-typo", "taak", "voldoet niet aan het BPMN-schema (regel 19): Element 'bpmn:userTsk'"),
]


@pytest.mark.parametrize(("fixture", "element", "gist"), CASES, ids=[f"{c[0]}-{c[1]}" for c in CASES])
def test_broken_fixture_reports_its_problem(fixture, element, gist):
    path = BROKEN / f"{fixture}.bpmn"
    problems = problems_of(path)
    assert any(p.file == str(path) and p.element == element and gist in p.message for p in problems), problems


@pytest.mark.parametrize(
    "fixture",
    ["no-executable", "lane-no-role", "unquoted-timer", "task-without-form", "missing-form",
     "gateway-no-default", "script-import", "unknown-handler", "loop-no-exit", "not-xml", "xxe",
     "spiff-error", "schema-typo"],
)
def test_broken_fixture_has_exactly_one_problem(fixture):
    # Fixtures break one rule each; SpiffWorkflow's and the schema's echo of a rule's problem is dropped.
    assert len(problems_of(BROKEN / f"{fixture}.bpmn")) == 1


def test_sandbox_messages_name_the_refused_code():
    messages = {p.element: p.message for p in problems_of(BROKEN / "sandbox-condition.bpmn")}
    assert "__import__" in messages["f_os"]
    assert "__class__" in messages["f_klasse"]


def test_xxe_is_refused_without_reading_the_entity():
    result = check(BROKEN / "xxe.bpmn", known_handlers=HANDLERS)
    assert [p.element for p in result.problems] == [""]
    assert "root:" not in result.problems[0].message
    assert result.source is not None and result.source.forms == {}


def test_missing_file_is_a_problem_not_an_exception(tmp_path):
    path = tmp_path / "weg.bpmn"
    result = check(path, known_handlers=HANDLERS)
    assert result.source is None and result.parsed is None
    assert result.problems == [Problem(str(path), "", "bestand bestaat niet")]


@pytest.mark.parametrize(
    "content",
    [b"", b"\xff\xfe\x00garbage", b'<?xml version="1.0" encoding="klingon"?><a/>', b"<html><body/></html>",
     b'<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL"><process id="p"/></definitions>'],
)
def test_garbage_never_raises(tmp_path, content):
    path = tmp_path / "rommel.bpmn"
    path.write_bytes(content)
    result = check(path, known_handlers=HANDLERS)
    assert not result.ok
    assert all(p.file == str(path) and p.message for p in result.problems)


# --- rules on variants of the valid route ---------------------------------------------------------


@pytest.mark.parametrize(
    ("old", "new", "element", "gist"),
    [
        ('"P14D"', "R3/PT1H", "wacht", 'timer-expressie R3/PT1H is niet gequote: schrijf "R3/PT1H"'),
        ('"P14D"', "2026-01-01T00:00:00Z", "wacht", 'schrijf "2026-01-01T00:00:00Z"'),
        ('"P14D"', 'max(P1D, "P2D")', "wacht", "timer-expressie P1D is niet gequote"),
        ('value="werkdagen(10)"', 'value="werkdagen(10"', "aanvraag", "deadline is geen geldige Python"),
        ('value="werkdagen(3)"', 'value="open(&quot;/etc/passwd&quot;)"', "aanvraag",
         "deadlineWarning roept open() aan"),
        ('name="escalateTo" value="consulent"', 'name="escalateTo" value="ouders"', "aanvraag",
         "escalateTo 'ouders' is geen Loket-rol"),
        ('value="false"', 'value="nee"', "aanvraag", "deadlineLegal moet true of false zijn"),
        ('default="f_afwijzen"', 'default="f_weg"', "gw_oordeel", "default-flow 'f_weg' is geen uitgaande"),
        ('oordeel == "goed"', "oordeel ==", "f_goed", "conditie is geen geldige Python"),
        ("<bpmn:script>rondes = 0</bpmn:script>", "<bpmn:script>class A: pass</bpmn:script>", "init",
         "script definieert een class"),
        ("<bpmn:script>rondes = 0</bpmn:script>",
         "<bpmn:script>try:\n  rondes = 0\nexcept Exception:\n  rondes = 1</bpmn:script>", "init",
         "try/except is niet toegestaan in route-code"),
        ("<spiffworkflow:postScript>ingediend = True", "<spiffworkflow:postScript>ingediend = ().__class__",
         "aanvraag", "postScript wordt geweigerd door de sandbox"),
        ('value="&quot;school&quot;"', 'value="__builtins__"', "meld", "parameter 'to_role' wordt geweigerd"),
        ('value="start.json"', 'value="../../etc/passwd"', "start", "moet een bestandsnaam in forms/ zijn"),
        ('name="school"', 'name="School"', "Lane_school", "bedoel je 'school'?"),
        ("<bpmn:flowNodeRef>beoordeling</bpmn:flowNodeRef>", "", "beoordeling", "staat in geen lane"),
        ('targetRef="einde_klaar"', 'targetRef="nergens"', "f_meld", "targetRef 'nergens' verwijst naar"),
        ('id="teller"', 'id="aanvraag"', "aanvraag", "id 'aanvraag' komt meer dan één keer voor"),
        ('name="outcome" value="toegekend"', 'name="outcome"', "einde_klaar", "'outcome' heeft geen value"),
    ],
)
def test_rule_on_a_variant(tmp_path, old, new, element, gist):
    path = variant(tmp_path, old, new)
    problems = problems_of(path)
    assert any(p.element == element and gist in p.message for p in problems), problems


def test_a_condition_on_all_but_the_default_flow_is_required(tmp_path):
    # SpiffWorkflow refuses an unconditioned flow next to a default one; we say so first, and only once.
    condition = 'oordeel == "goed"</bpmn:conditionExpression>'
    problems = problems_of(variant(tmp_path, condition, "</bpmn:conditionExpression>"))
    assert [(p.element, p.message) for p in problems] == [
        ("gw_oordeel", "uitgaande flow zonder conditie (alleen de default-flow mag er een missen): f_goed")
    ]


def test_two_executable_processes(tmp_path):
    extra = '<bpmn:process id="tweede" isExecutable="true"><bpmn:startEvent id="s2" /></bpmn:process>'
    problems = problems_of(variant(tmp_path, "</bpmn:definitions>", extra + "</bpmn:definitions>"))
    assert [p.element for p in problems] == [""]
    assert "meer dan één uitvoerbaar proces" in problems[0].message and "tweede" in problems[0].message


def test_all_problems_are_reported_in_document_order(tmp_path):
    # Found by three rules in another order (forms before route code); reported top to bottom.
    path = variant(tmp_path, 'value="beoordeling.json"', 'value="weg.json"')
    text = path.read_text().replace('name="consulent"', 'name="ouders"')
    path.write_text(text.replace("<bpmn:script>rondes = 0", "<bpmn:script>import os\nrondes = 0"))
    elements = [p.element for p in problems_of(path)]
    assert elements == ["Lane_consulent", "init", "beoordeling"]


# --- Problem --------------------------------------------------------------------------------------


def test_problem_str_is_one_line():
    assert str(Problem("processes/x.bpmn", "gateway_1", "gateway zonder default")) == (
        "processes/x.bpmn: gateway_1: gateway zonder default"
    )
    assert str(Problem("processes/x.bpmn", "", "geen uitvoerbaar proces in dit bestand")) == (
        "processes/x.bpmn: geen uitvoerbaar proces in dit bestand"
    )


def test_problem_str_of_a_reported_problem():
    path = BROKEN / "gateway-no-default.bpmn"
    (problem,) = problems_of(path)
    assert str(problem) == (
        f"{path}: gw: gateway zonder default en niet elke uitgaande flow heeft een conditie: f_nee"
    )
    assert "\n" not in str(problem)


# --- retention (AVG): a period Loket can count, from a step the route has ---------------------------

def _with_retention(tmp_path: Path, *props: tuple[str, str]) -> Path:
    items = "".join(f'<spiffworkflow:property name="{n}" value="{v}"/>' for n, v in props)
    return variant(tmp_path, '<bpmn:laneSet id="LaneSet_ok">',
                   f"<bpmn:extensionElements><spiffworkflow:properties>{items}</spiffworkflow:properties>"
                   '</bpmn:extensionElements><bpmn:laneSet id="LaneSet_ok">')


def test_a_declared_retention_period_is_accepted(tmp_path):
    path = _with_retention(tmp_path, ("retentionPeriod", "P3Y"), ("retentionFrom", "beoordeling"))
    assert check(path, known_handlers=HANDLERS).problems == []


@pytest.mark.parametrize(("props", "gist"), [
    ((("retentionPeriod", "drie jaar"),), "retentionPeriod: 'drie jaar' is geen bewaartermijn"),
    ((("retentionPeriod", "P3Y"), ("retentionFrom", "besluit")), "retentionFrom 'besluit' is geen gebruikerstaak"),
    ((("retentionFrom", "beoordeling"),), "zonder retentionPeriod"),
])
def test_a_broken_retention_declaration_is_named(tmp_path, props, gist):
    problems = problems_of(_with_retention(tmp_path, *props))
    assert [(p.element, gist in p.message) for p in problems] == [("ok", True)], problems



# --- separated duties (separateFrom) ---------------------------------------------------------------

BEOORDELING_FORM = '<spiffworkflow:property name="formJsonSchemaFilename" value="beoordeling.json" />'


def separated(tmp_path: Path, value: str) -> Path:
    return variant(tmp_path, BEOORDELING_FORM,
                   f'{BEOORDELING_FORM}<spiffworkflow:property name="separateFrom" value="{value}" />')


@pytest.mark.parametrize(("value", "gist"), [
    ("dossiercheck", "separateFrom 'dossiercheck' is geen gebruikerstaak van deze route (bekend: aanvraag, "
                     "beoordeling)"),
    ("aanvraag, wacht", "separateFrom 'wacht' is geen gebruikerstaak van deze route (bekend: aanvraag, beoordeling)"),
    ("", "separateFrom is leeg: noem de gebruikerstaken, bv. dossiercheck,besluit"),
    ("aanvraag,beoordeling", "separateFrom noemt de taak zelf ('beoordeling')"),
])
def test_separate_from_names_other_user_tasks_of_the_route(tmp_path, value, gist):
    problems = problems_of(separated(tmp_path, value))
    assert [(p.element, p.message) for p in problems] == [("beoordeling", gist)]


def test_separate_from_on_other_user_tasks_is_valid(tmp_path):
    result = check(separated(tmp_path, "aanvraag"), known_handlers=HANDLERS)
    assert result.problems == [] and result.ok


# --- issue 11: gateways that may find no way out, deadlines that do not compute, --strict ------------------

GATEWAY = '<bpmn:exclusiveGateway id="gw_oordeel" name="Oordeel?" default="f_afwijzen">'
AFWIJZEN = '<bpmn:sequenceFlow id="f_afwijzen" sourceRef="gw_oordeel" targetRef="einde_afgewezen" />'


def without_default(tmp_path: Path, aanvullen: str) -> Path:
    """ok.bpmn's gateway on the enum ``oordeel`` (goed, aanvullen, afwijzen) without its default flow."""
    path = variant(tmp_path, GATEWAY, GATEWAY.replace(' default="f_afwijzen"', ""))
    text = path.read_text().replace(AFWIJZEN, AFWIJZEN.replace(
        " />", '><bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">oordeel == "afwijzen"'
               "</bpmn:conditionExpression></bpmn:sequenceFlow>"))
    path.write_text(text.replace('oordeel == "aanvullen" and rondes &lt; 3', aanvullen))
    return path


def coverage(result) -> list[tuple[str, str]]:
    return [(w.element, w.message) for w in result.warnings if "gateway" in w.message]


def test_a_gateway_without_default_whose_conditions_miss_a_value_is_a_warning(tmp_path):
    # "aanvullen" only goes on while rondes < 3, which the check cannot know: that value may find no flow.
    result = check(without_default(tmp_path, 'oordeel == "aanvullen" and rondes &lt; 3'), known_handlers=HANDLERS)
    assert result.ok  # a warning, not a problem: the route still deploys (but not under --strict)
    assert coverage(result) == [("gw_oordeel", "waarschuwing: gateway zonder default-flow dekt niet elke waarde af: "
                                               "bij oordeel = 'aanvullen' geldt geen enkele conditie; voeg een flow "
                                               "of een default-flow toe")]


def test_a_gateway_whose_conditions_cover_every_value_needs_no_default(tmp_path):
    result = check(without_default(tmp_path, 'oordeel in ("aanvullen",)'), known_handlers=HANDLERS)
    assert result.ok and coverage(result) == []


def test_a_gateway_testing_no_choice_field_cannot_be_proven(tmp_path):
    path = without_default(tmp_path, 'oordeel == "aanvullen"')
    path.write_text(path.read_text().replace('oordeel == "goed"', "rondes &gt; 1").replace(
        'oordeel == "afwijzen"', "rondes &lt;= 1").replace('oordeel == "aanvullen"', "rondes == 7"))
    [(element, message)] = coverage(check(path, known_handlers=HANDLERS))
    assert element == "gw_oordeel" and "testen geen keuzeveld" in message


@pytest.mark.parametrize(("deadline", "gist"), [
    ("werkdagen('tien')", "deadline 'werkdagen('tien')' rekent niet voor een voorbeelddossier"),
    ("werkdagen(10) + 'x'", "deadline 'werkdagen(10) + 'x'' rekent niet voor een voorbeelddossier"),
])
def test_a_deadline_that_does_not_compute_for_a_sample_case_is_an_error(tmp_path, deadline, gist):
    problems = problems_of(variant(tmp_path, 'name="deadline" value="werkdagen(10)"',
                                   f'name="deadline" value="{deadline}"'))
    assert [(p.element, p.message.startswith(gist)) for p in problems] == [("aanvraag", True)], problems


def test_a_deadline_reading_form_data_computes_on_sample_values(tmp_path):
    # The sample case has every form field: a term chosen by the beoordeling's enum computes.
    path = variant(tmp_path, 'name="deadline" value="werkdagen(10)"',
                   """name="deadline" value="werkdagen(10 if oordeel == 'goed' else 5)\"""")
    assert check(path, known_handlers=HANDLERS).problems == []


def test_validate_strict_refuses_warnings(tmp_path):
    from click.testing import CliRunner

    from cli import main

    path = without_default(tmp_path, 'oordeel == "aanvullen" and rondes &lt; 3')
    plain = CliRunner().invoke(main, ["processes", "validate", str(path)])
    assert plain.exit_code == 0 and "in orde" in plain.output
    strict = CliRunner().invoke(main, ["processes", "validate", "--strict", str(path)])
    assert strict.exit_code == 1 and "gw_oordeel: waarschuwing: gateway zonder default-flow" in strict.output
    assert "in orde" not in strict.output
