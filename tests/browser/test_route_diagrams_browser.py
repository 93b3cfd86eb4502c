"""The diagrams of the thuiszitter, arrangement and opdc routes on the case page: every step of the BPMN file is
drawn by bpmn-js (the routes carry a full diagram with their lanes in one pool), the open task is marked, and the
page passes axe-core's serious/critical rules. Each diagram is kept as a screenshot."""

from __future__ import annotations

import pytest
import yaml
from lxml import etree

from engine.config import PROJECT_ROOT
from tests.browser.conftest import axe_problems, log_in, screenshot

BPMN = "{http://www.omg.org/spec/BPMN/20100524/MODEL}"
NODES = ("startEvent", "endEvent", "userTask", "scriptTask", "serviceTask", "exclusiveGateway",
         "intermediateCatchEvent")


def steps(route: str) -> list[str]:
    tree = etree.parse(str(PROJECT_ROOT / "processes" / f"{route}.bpmn"))
    return [node.get("id") for kind in NODES for node in tree.iter(f"{BPMN}{kind}")]


@pytest.mark.parametrize(("route", "first"), [("thuiszitter", "verzuimmelding"), ("arrangement", "aanvraag"),
                                              ("opdc", "aanmelding")])
def test_the_route_is_drawn_whole_on_the_case_page(live, page, route, first):
    data = yaml.safe_load((PROJECT_ROOT / "processes" / "scenarios" / route / "_data.yaml").read_text())
    case = live.runtime.start_case(live.world["school"], route, data["start"])
    log_in(page, live, "consulent")
    page.goto(f"{live.url}/cases/{case.id}")
    page.locator('[data-bpmn-url][data-ready="true"]').wait_for()
    for step in steps(route):
        assert page.locator(f'.djs-element[data-element-id="{step}"]').count() >= 1, f"{step} is not drawn"
    assert page.locator('.djs-element[data-element-id^="Lane_"]').count() >= 3  # the lanes, in one pool
    assert page.locator(f'[data-step="{first}"]').get_attribute("data-state") == "open"
    assert axe_problems(page) == []
    screenshot(page, f"route-{route}")
