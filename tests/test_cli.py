"""The ``loket`` command as an operator uses it: real processes, a real database file, no tracebacks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.config import PROJECT_ROOT
from tests.helpers import do, loket, to_besluit

BPMN = Path(__file__).parent / "bpmn"


def test_validate_reports_one_line_per_problem_and_never_a_traceback():
    broken = sorted((BPMN / "broken").glob("*.bpmn"))
    assert len(broken) >= 8
    result = loket("processes", "validate", *map(str, broken))
    assert result.returncode != 0
    assert "Traceback" not in result.stderr + result.stdout
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    for path in broken:  # every broken file is named on a line of its own
        assert any(line.startswith(str(path) + ":") for line in lines), path.name
    assert any("P14D" in line and "gequote" in line for line in lines)


def test_validate_accepts_the_shipped_routes():
    result = loket("processes", "validate", *map(str, sorted((PROJECT_ROOT / "processes").glob("*.bpmn"))))
    assert result.returncode == 0, result.stderr
    assert "tlv-vso.bpmn: in orde" in result.stdout


def test_admin_commands_deploy_and_a_case_from_the_command_line(db_url, tmp_path):
    if not db_url.startswith("sqlite"):
        pytest.skip("the CLI is exercised once; the engine tests cover PostgreSQL")
    url = db_url
    init = loket("init", url=url)
    assert init.returncode == 0, init.stderr
    assert "route tlv-vso v1 ongewijzigd" in init.stdout or "route tlv-vso v1 gedeployed" in init.stdout
    again = loket("processes", "deploy", url=url)
    assert "ongewijzigd" in again.stdout  # identical content is a no-op

    assert loket("tenants", "add", "vo-mk", "--name", "VO Midden Kennemerland", "--region", "noord",
                 url=url).returncode == 0
    dup = loket("tenants", "add", "vo-mk", "--name", "x", "--region", "noord", url=url)
    assert dup.returncode == 1 and "bestaat al" in dup.stderr
    bad_region = loket("tenants", "add", "x", "--name", "x", "--region", "west", url=url)
    assert bad_region.returncode == 2 and "Traceback" not in bad_region.stderr
    assert loket("schools", "add", "04AB00", "--tenant", "vo-mk", "--name", "Het Lyceum", url=url).returncode == 0
    made = loket("users", "add", "zoco@lyceum.nl", "--tenant", "vo-mk", "--role", "school", "--school", "04AB00",
                 url=url, stdin="een-lang-wachtwoord\n")
    assert made.returncode == 0, made.stderr
    no_school = loket("users", "add", "z2@lyceum.nl", "--tenant", "vo-mk", "--role", "school", url=url,
                      stdin="een-lang-wachtwoord\n")
    assert no_school.returncode == 1 and "--school" in no_school.stderr
    token = loket("users", "token", "zoco@lyceum.nl", url=url)
    assert token.returncode == 0 and token.stdout.startswith("lkt_")

    data = json.dumps({"leerling": {"voornaam": "Daan", "achternaam": "Smit", "geboortedatum": "2012-01-09"},
                       "school": "04AB00"})
    started = loket("cases", "start", "tlv-vso", "--tenant", "vo-mk", "--data", data, url=url)
    assert started.returncode == 0, started.stderr
    case = json.loads(started.stdout)
    assert (case["route"], case["school"], case["status"]) == ("tlv-vso", "04AB00", "open")
    assert [t["name"] for t in case["tasks"]] == ["aanmelding"]

    shown = json.loads(loket("cases", "show", str(case["id"]), url=url).stdout)
    assert shown["id"] == case["id"]
    listed = loket("processes", "list", url=url)
    assert "tlv-vso" in listed.stdout and "open: 1" in listed.stdout

    invalid = loket("cases", "start", "tlv-vso", "--tenant", "vo-mk", "--data", '{"school": "04AB00"}', url=url)
    assert invalid.returncode == 1 and "leerling: Dit veld is verplicht." in invalid.stderr
    not_json = loket("cases", "start", "tlv-vso", "--tenant", "vo-mk", "--data", "{", url=url)
    assert not_json.returncode == 1 and "geen geldige JSON" in not_json.stderr
    missing = loket("cases", "show", "999", url=url)
    assert missing.returncode == 1 and "bestaat niet" in missing.stderr
    for result in (invalid, not_json, missing, dup):
        assert "Traceback" not in result.stderr


def test_deploying_a_broken_route_changes_nothing(db_url):
    if not db_url.startswith("sqlite"):
        pytest.skip("the CLI is exercised once")
    assert loket("init", url=db_url).returncode == 0
    result = loket("processes", "deploy", str(BPMN / "broken" / "lane-no-role.bpmn"), url=db_url)
    assert result.returncode == 1 and "hoort bij geen Loket-rol" in result.stderr
    assert "Traceback" not in result.stderr
    listed = loket("processes", "list", url=db_url).stdout
    assert "lane-no-role" not in listed


def test_processes_md_describes_every_route_task_and_form():
    """processes.md is the route catalogue in words; it must stay true to the BPMN."""
    from engine.validate import check

    catalogue = (PROJECT_ROOT / "processes.md").read_text()
    for path in sorted((PROJECT_ROOT / "processes").glob("*.bpmn")):
        result = check(path)
        assert result.ok, result.problems
        assert f"## {result.source.key}" in catalogue, f"processes.md has no section for {result.source.key}"
        for spec in result.parsed.spec.task_specs.values():
            if type(spec).__name__ == "UserTask":
                assert f"`{spec.name}`" in catalogue, f"{spec.name} of {path.name} is not described"
        for form in result.source.forms:
            assert form in catalogue, f"form {form} is not described"


def test_the_outbox_shows_what_waits_and_retries_what_was_refused(runtime, world, sample, db_url):
    if not db_url.startswith("sqlite"):
        pytest.skip("the CLI is exercised once")
    from sqlalchemy import update

    from engine.models import OutboxMessage

    case_id = to_besluit(runtime, world, sample)
    do(runtime, world, "commissie", case_id, "besluit", sample["afwijzen"])  # notify -> outbox
    waiting = loket("outbox", "list", "--tenant", "sterk-vo", url=db_url)
    assert waiting.returncode == 0, waiting.stderr
    assert "1 bericht(en) van sterk-vo" in waiting.stdout and "pending" in waiting.stdout
    assert world["school"].email in waiting.stdout and "afgewezen" in waiting.stdout
    with runtime.db.transaction() as session:
        session.execute(update(OutboxMessage).values(status="failed", attempts=1, last_error="550 onbekend adres"))
    failed = loket("outbox", "list", "--tenant", "sterk-vo", "--status", "failed", url=db_url)
    assert "550 onbekend adres" in failed.stdout
    retried = loket("outbox", "retry", "--tenant", "sterk-vo", url=db_url)
    assert "1 bericht(en) opnieuw in de wachtrij" in retried.stdout
    assert "0 bericht(en)" in loket("outbox", "list", "--tenant", "sterk-vo", "--status", "failed", url=db_url).stdout


# Click's own complaints about the command line, as Loket makes them: `fout:` in Dutch, exit code 2, and where
# help is; never Click's English "Usage:" block.
USAGE_ERRORS = [
    (["cases", "show"], "ontbrekend argument 'CASE_ID'.", "loket cases show"),
    (["tenants", "add", "x", "--name", "y"], "ontbrekende optie '--region'. Kies uit: noord, midden, zuid.",
     "loket tenants add"),
    (["cases", "show", "1", "--tenat", "x"], "onbekende optie '--tenat'.", "loket cases show"),
    (["casse"], "onbekend commando 'casse'. Bedoelt u 'cases'?", "loket"),
    (["cases", "frob"], "onbekend commando 'frob'.", "loket cases"),
    (["tenants", "add", "x", "--name", "y", "--region", "west"],
     "ongeldige waarde voor '--region': 'west' is geen geldige keuze; kies uit 'noord', 'midden', 'zuid'.",
     "loket tenants add"),
    (["cases", "extend", "1", "--weeks", "abc", "--reason", "x"],
     "ongeldige waarde voor '--weeks': 'abc' is geen geheel getal.", "loket cases extend"),
    (["calendar", "add", "--tenant", "x", "--from", "2026-01-05", "--amount", "-1", "--unit", "werkdagen"],
     "ongeldige waarde voor '--amount': -1 valt buiten het bereik x>=0.", "loket calendar add"),
    (["audit", "export", "1", "--format"], "optie '--format' heeft een waarde nodig.", "loket audit export"),
    (["cases", "show", "1", "2"], "onverwacht extra argument: 2.", "loket cases show"),
    (["users", "token", "a@b.nl", "--days", "0"],
     "ongeldige waarde voor '--days': 0 valt buiten het bereik 1<=x<=365.", "loket users token"),
    (["users", "revoke", "a@b.nl", "abc"], "ongeldige waarde voor '[TOKEN_ID]': 'abc' is geen geheel getal.",
     "loket users revoke"),
]


def assert_dutch_usage_error(exit_code: int, stderr: str, message: str, command: str) -> None:
    assert exit_code == 2
    assert stderr.splitlines() == [f"fout: {message}", f"Zie '{command} --help'."]
    for english in ("Usage:", "Error:", "Try ", "Traceback"):
        assert english not in stderr


@pytest.mark.parametrize("args, message, command", USAGE_ERRORS, ids=[" ".join(a) for a, *_ in USAGE_ERRORS])
def test_click_usage_errors_speak_dutch(args, message, command):
    from click.testing import CliRunner

    from cli import main

    result = CliRunner().invoke(main, args)  # Click's standalone handling, as `loket` itself is not run here
    assert_dutch_usage_error(result.exit_code, result.stderr, message, command)
    assert result.stdout == ""


@pytest.mark.parametrize("args, message, command", [USAGE_ERRORS[0], USAGE_ERRORS[6], USAGE_ERRORS[8]],
                         ids=["missing argument", "not an integer", "option without its value"])
def test_the_loket_command_answers_usage_errors_in_dutch(args, message, command):
    result = loket(*args)
    assert_dutch_usage_error(result.returncode, result.stderr, message, command)
    assert result.stdout == ""


def test_help_is_still_help():
    result = loket("cases", "extend", "--help")
    assert result.returncode == 0 and "--weeks" in result.stdout and result.stderr == ""
