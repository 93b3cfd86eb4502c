"""Every scenario of every shipped route (processes/scenarios/<route>/*.yaml) runs as `loket processes test` runs
it, each in its own throwaway database: `make test` fails when a route no longer does what its scenarios say."""

from __future__ import annotations

import re

import pytest

from engine import scenarios
from engine.config import PROJECT_ROOT

PROCESSES = PROJECT_ROOT / "processes"
DIRECTORY = PROCESSES / "scenarios"
FILES = scenarios.find(DIRECTORY)
_routes: dict[str, scenarios.RouteUnderTest] = {}


def route(key: str) -> scenarios.RouteUnderTest:
    """The route as processes/ holds it (checked once per test process, as validate checks it)."""
    if key not in _routes:
        forms = {p.name: p.read_text(encoding="utf-8") for p in (PROCESSES / "forms").glob("*.json")}
        _routes[key] = scenarios.route_from_files(key, (PROCESSES / f"{key}.bpmn").read_bytes(), forms)
    return _routes[key]


@pytest.mark.parametrize("path", FILES, ids=[str(p.relative_to(DIRECTORY)) for p in FILES])
def test_scenario(path):
    scenario = scenarios.load(path, DIRECTORY)
    result = scenarios.run(scenario, route(scenario.route))
    assert result.ok, "\n".join(scenarios.describe(result))


def test_every_shipped_route_has_scenarios():
    routes = sorted(p.stem for p in PROCESSES.glob("*.bpmn"))
    assert routes
    for key in routes:
        assert scenarios.find(DIRECTORY, key), f"route {key} heeft geen scenario's in {DIRECTORY / key}"


def test_the_scenarios_of_a_shipped_route_reach_its_outcomes():
    """At least three of a route's outcomes (all, if it has fewer) are the end of a scenario: for tlv-vso the
    toekenning, the afwijzing and the end of the aanvullus, whatever the route names them."""
    for path in PROCESSES.glob("*.bpmn"):
        outcomes = set(re.findall(r'name="outcome"\s+value="([^"]+)"', path.read_text(encoding="utf-8")))
        texts = [p.read_text(encoding="utf-8") for p in scenarios.find(DIRECTORY, path.stem)]
        reached = {outcome for outcome in outcomes if any(f"outcome: {outcome}" in text for text in texts)}
        assert len(reached) >= min(3, len(outcomes)), f"{path.stem}: scenario's bereiken alleen {sorted(reached)}"


def test_tlv_vso_scenarios_cover_its_loop_and_clock():
    """The kinds of scenario issue 11 asks of tlv-vso stay there (each may change as the route changes)."""
    texts = [p.read_text(encoding="utf-8") for p in scenarios.find(DIRECTORY, "tlv-vso")]
    for needed in ("complete: aanvulling", "let: ", "escalation: ", "warning: ", "suspend: ", "resume: "):
        assert any(needed in text for text in texts), f"geen tlv-vso-scenario met '{needed}'"
