"""The diagrams of the thuiszitter, arrangement and opdc routes on the case page: every step of the BPMN file is
drawn by bpmn-js (the routes carry a full diagram with their lanes in one pool), the open task is marked, and the
page passes axe-core's serious/critical rules. Each diagram is kept as a screenshot. A placement that ends in a TLV
request offers the linked tlv-vso start, whose form begins with the placement's pupil."""

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


def test_a_placement_that_ends_in_a_tlv_request_leads_to_the_tlv_form(live, page):
    from tests.test_follow_up import tlv_requested

    source = tlv_requested(live.runtime, live.world)
    log_in(page, live, "school")
    page.goto(f"{live.url}/cases/{source}")
    page.get_by_test_id("start-follow-up").wait_for()
    assert axe_problems(page) == []
    page.get_by_test_id("start-follow-up").click()
    page.wait_for_url(f"{live.url}/cases/new?route=tlv-vso&van={source}")
    assert page.locator('input[value="Jansen"]').count() == 1  # the placement's pupil, filled in
    screenshot(page, "route-opdc-vervolg")
