"""Route code is sandboxed: a process owner can write conditions and scripts, not run arbitrary Python."""

from __future__ import annotations

import pytest

from engine.sandbox import SandboxEnvironment, SandboxError


@pytest.fixture
def env():
    return SandboxEnvironment({"werkdagen": lambda n, legal=False: f"werkdagen({n})"})


@pytest.mark.parametrize("expression, data, expected", [
    ('besluit == "toekennen"', {"besluit": "toekennen"}, True),
    ("dossier_compleet == False and aanvulling_rondes < 3", {"dossier_compleet": False, "aanvulling_rondes": 2},
     True),
    ('leerling["achternaam"].upper()', {"leerling": {"achternaam": "de Vries"}}, "DE VRIES"),
    ("len([a for a in adviezen if a['discipline'] == 'orthopedagoog'])",
     {"adviezen": [{"discipline": "orthopedagoog"}, {"discipline": "arts"}]}, 1),
    ("werkdagen(10)", {}, "werkdagen(10)"),
    ('"P14D"', {}, "P14D"),
])
def test_ordinary_route_expressions_work(env, expression, data, expected):
    assert env.evaluate(expression, data) == expected


@pytest.mark.parametrize("expression", [
    "__import__('os').system('echo pwned')",
    "().__class__.__bases__[0].__subclasses__()",
    "leerling.__dict__",
    "open('/etc/passwd').read()",
    "getattr(leerling, '_secret')",
])
def test_escapes_are_refused(env, expression):
    with pytest.raises((SandboxError, NameError, AttributeError, SyntaxError, TypeError)):
        env.evaluate(expression, {"leerling": {"achternaam": "x"}})


def test_scripts_assign_case_data_but_cannot_import_or_loop_forever(env):
    data = {"aanvulling_rondes": 1}
    env.execute("aanvulling_rondes = aanvulling_rondes + 1\nopmerking = 'ronde ' + str(aanvulling_rondes)", data)
    assert data == {"aanvulling_rondes": 2, "opmerking": "ronde 2"}
    with pytest.raises((SandboxError, ImportError, NameError)):
        env.execute("import os\nx = os.getcwd()", {})
    with pytest.raises(SandboxError, match="te lang"):
        env.execute("n = 0\nwhile True:\n    n = n + 1\n", {})
    with pytest.raises((SandboxError, ValueError)):
        env.evaluate("[x for x in range(10 ** 9)]", {})


def test_the_helpers_themselves_are_not_metered():
    """Loket's own helpers may do real work (the calendar builds a year of days) without tripping the budget."""

    def heavy(n):
        total = 0
        for i in range(200_000):
            total += i
        return n

    assert SandboxEnvironment({"heavy": heavy}).evaluate("heavy(3)", {}) == 3
