"""The SWV's configuration over the REST API (procesbeheerder, beheerder): read it, change the SWV's own term of a
route (an event with channel api, as the page's change), read the history; a wrong term is a 422 per field, a
change in between a 409, another role a 403, an unknown route a 404."""

from __future__ import annotations

from tests.helpers import call


def test_a_process_owner_reads_and_changes_the_swvs_term_over_the_api(client, world):
    swv = call(client, world, "procesbeheerder", "GET", "/api/v1/swv").get_json()
    assert swv["key"] == "sterk-vo" and swv["terms"] == {} and swv["seq"] == 0 and swv["routes"] is None
    changed = call(client, world, "procesbeheerder", "PUT", "/api/v1/swv/terms/tlv-vso",
                   {"term": "weken(2)", "from": "knooppuntoverleg", "extensions": 2, "reason": "Besluit", "seq": 0})
    assert changed.status_code == 200
    assert changed.get_json() == {"route": "tlv-vso", "seq": 1, "term": {
        "term": "weken(2)", "from": "knooppuntoverleg", "escalateTo": "bestuurder", "legal": False, "extensions": 2}}
    assert call(client, world, "beheerder", "GET", "/api/v1/swv").get_json()["terms"]["tlv-vso"]["term"] == "weken(2)"
    (event,) = call(client, world, "procesbeheerder", "GET", "/api/v1/swv/history").get_json()
    assert (event["channel"], event["actor"], event["path"], event["before"], event["reason"]) == (
        "api", world["procesbeheerder"].email, "terms.tlv-vso", None, "Besluit")
    removed = call(client, world, "procesbeheerder", "PUT", "/api/v1/swv/terms/tlv-vso",
                   {"term": None, "reason": "Terug naar de route"})
    assert removed.get_json()["term"] is None
    assert call(client, world, "procesbeheerder", "GET", "/api/v1/swv").get_json()["terms"] == {}


def test_wrong_terms_conflicts_and_other_roles_are_refused(client, world):
    wrong = call(client, world, "procesbeheerder", "PUT", "/api/v1/swv/terms/tlv-vso",
                 {"term": "weken(", "from": "bestaat_niet", "reason": "x"})
    assert wrong.status_code == 422
    details = wrong.get_json()["error"]["details"]
    assert details["term"][0].startswith("'weken(' werkt niet")
    assert "heeft geen taak 'bestaat_niet'" in details["from"][0]
    assert call(client, world, "procesbeheerder", "PUT", "/api/v1/swv/terms/tlv-vso",
                {"term": "weken(2)"}).status_code == 422  # the reason is required
    assert call(client, world, "procesbeheerder", "PUT", "/api/v1/swv/terms/tlv-vso",
                {"term": "weken(2)", "reason": "eerst", "seq": 0}).status_code == 200
    late = call(client, world, "beheerder", "PUT", "/api/v1/swv/terms/tlv-vso",
                {"term": "weken(9)", "reason": "later", "seq": 0})
    assert late.status_code == 409
    assert call(client, world, "procesbeheerder", "GET", "/api/v1/swv").get_json()["terms"]["tlv-vso"]["term"] == \
        "weken(2)"
    assert call(client, world, "consulent", "GET", "/api/v1/swv").status_code == 403
    assert call(client, world, "consulent", "PUT", "/api/v1/swv/terms/tlv-vso",
                {"term": "weken(2)", "reason": "x"}).status_code == 403
    assert call(client, world, "procesbeheerder", "PUT", "/api/v1/swv/terms/bestaat-niet",
                {"term": "weken(2)", "reason": "x"}).status_code == 404
