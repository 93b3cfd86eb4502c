"""GET /api/v1/cases and engine.case_list: every case a user may see, searched, filtered, sorted and paged."""

from __future__ import annotations

import pytest

from engine import clock
from engine.case_list import list_cases
from engine.errors import BadRequest
from tests.conftest import make_world
from tests.helpers import at, call


def start(runtime, world, role: str, school: str, voornaam: str, achternaam: str, moment: str) -> int:
    data = {"leerling": {"voornaam": voornaam, "achternaam": achternaam, "geboortedatum": "2013-04-02"},
            "school": school}
    with clock.frozen(at(moment)):
        return runtime.start_case(world[role], "tlv-vso", data).id


@pytest.fixture
def cases(runtime, world):
    """Four cases at two schools, opened a day apart: ids in order of opening."""
    return [start(runtime, world, "school", "16PX00", "Sanne", "de Vries", "2026-11-02T09:00"),
            start(runtime, world, "school2", "20LJ00", "Daan", "Jansen", "2026-11-03T09:00"),
            start(runtime, world, "school", "16PX00", "Fatima", "El Amrani", "2026-11-04T09:00"),
            start(runtime, world, "consulent", "20LJ00", "Sanne", "Bakker", "2026-11-05T09:00")]


def ids(runtime, actor, **kwargs) -> tuple[list[int], int]:
    with runtime.db.read() as session:
        page = list_cases(session, actor, **kwargs)
        return [c.id for c in page.cases], page.total


def test_a_school_finds_its_own_cases_back_and_no_others(runtime, world, cases):
    assert ids(runtime, world["school"]) == ([cases[2], cases[0]], 2)
    assert ids(runtime, world["school2"]) == ([cases[3], cases[1]], 2)
    assert ids(runtime, world["consulent"]) == (cases[::-1], 4)
    other = make_world(runtime.db, "ander-swv")
    assert ids(runtime, other["consulent"]) == ([], 0)


def test_search_by_pupil_name_or_case_number_and_filters(runtime, world, cases):
    consulent = world["consulent"]
    assert ids(runtime, consulent, q="sanne") == ([cases[3], cases[0]], 2)
    assert ids(runtime, consulent, q="SANNE vries") == ([cases[0]], 1)
    assert ids(runtime, consulent, q="el amr") == ([cases[2]], 1)
    assert ids(runtime, consulent, q=f"#{cases[1]}") == ([cases[1]], 1)
    assert ids(runtime, consulent, q="100%_") == ([], 0)  # LIKE wildcards are plain characters
    assert ids(runtime, world["school"], q=str(cases[1])) == ([], 0)  # another school's number: not found
    assert ids(runtime, consulent, school="20LJ00") == ([cases[3], cases[1]], 2)
    assert ids(runtime, consulent, route="tlv-vso", status="open") == (cases[::-1], 4)
    assert ids(runtime, consulent, route="onbekend") == ([], 0)
    assert ids(runtime, consulent, status="closed") == ([], 0)


def test_paging_is_stable_and_sorts_are_offered(runtime, world, cases):
    consulent = world["consulent"]
    pages = [ids(runtime, consulent, limit=3, offset=offset) for offset in (0, 3)]
    assert pages == [(cases[::-1][:3], 4), (cases[::-1][3:], 4)]
    assert ids(runtime, consulent, sort="oldest") == (cases, 4)
    with pytest.raises(BadRequest):
        ids(runtime, consulent, sort="willekeurig")
    with pytest.raises(BadRequest):
        ids(runtime, consulent, limit=0)


def test_the_api_answers_the_same_with_the_documented_shape(client, world, cases):
    resp = call(client, world, "school", "GET", "/api/v1/cases?q=sanne&limit=10")
    assert resp.status_code == 200, resp.get_json()
    body = resp.get_json()
    assert resp.headers["X-Total-Count"] == "1" and (body["total"], body["offset"], body["limit"]) == (1, 0, 10)
    assert body["cases"] == [{
        "id": cases[0], "route": "tlv-vso", "title": "TLV VSO", "pupil": "Sanne de Vries", "school": "16PX00",
        "status": "open", "outcome": None, "opened_at": "2026-11-02T08:00:00+00:00", "due_at": None,
        "closed_at": None}]
    everything = call(client, world, "auditor", "GET", "/api/v1/cases?school=20LJ00&sort=oldest").get_json()
    assert [c["id"] for c in everything["cases"]] == [cases[1], cases[3]]
    bad = call(client, world, "consulent", "GET", "/api/v1/cases?status=weg&limit=0")
    assert bad.status_code == 422 and set(bad.get_json()["error"]["details"]) == {"status", "limit"}
    assert call(client, world, "consulent", "GET", "/api/v1/cases?zoek=x").status_code == 422
