"""The REST API against hostile or careless input (issue 10): every answer is Loket's error shape with a Dutch
message and one code per kind, never a 500, and nothing that a bad request asks for ends up in the audit trail."""

from __future__ import annotations

import json
import sqlite3
from datetime import timedelta

import pytest
from sqlalchemy.engine import make_url

from engine import clock
from engine.db import Database
from tests.helpers import call, to_besluit

CASES = "/api/v1/cases"


def error(response, status: int, code: str) -> dict:
    """The answer is ``status`` with Loket's error shape and ``code``; returns the error object."""
    assert response.status_code == status, response.get_data(as_text=True)[:500]
    body = response.get_json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "details"}, body
    assert body["error"]["code"] == code, body
    return body["error"]


def started(client, world, sample) -> int:
    response = call(client, world, "school", "POST", CASES, {"route": "tlv-vso", "data": sample["start"]})
    assert response.status_code == 201, response.get_json()
    return response.get_json()["id"]


def reads(client, world, case_id: int) -> list[str]:
    """What the case's access log says was read."""
    response = call(client, world, "auditor", "GET", f"{CASES}/{case_id}/access-log?limit=1000")
    return [entry["what"] for entry in response.get_json()]


def auth(world, role: str = "school", **headers: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {world.tokens[role]}", **headers}


# ---------------------------------------------------------------- 1. the size of a request

def test_a_request_over_the_size_limit_is_refused_with_413(client, world, sample):
    assert client.application.config["MAX_CONTENT_LENGTH"] == 1_000_000
    big = {"route": "tlv-vso", "data": {**sample["start"], "toelichting": "x" * 1_100_000}}
    err = error(call(client, world, "school", "POST", CASES, big), 413, "payload_too_large")
    assert "1 MB" in err["message"]


def test_the_size_limit_is_configurable(settings, db, monkeypatch):
    from web import create_app

    monkeypatch.setenv("LOKET_MAX_REQUEST_BYTES", "2000")
    app = create_app(settings, db)
    assert app.config["MAX_CONTENT_LENGTH"] == 2000


# ---------------------------------------------------------------- 2. paging of a case's events

def test_the_events_of_a_case_come_in_pages(client, runtime, world, sample):
    case_id = to_besluit(runtime, world, sample)
    everything = call(client, world, "consulent", "GET", f"{CASES}/{case_id}/events")
    total = len(everything.get_json()["events"])
    assert total >= 4 and everything.headers["X-Total-Count"] == str(total)

    page = call(client, world, "consulent", "GET", f"{CASES}/{case_id}/events?limit=2&offset=1")
    assert page.status_code == 200 and page.headers["X-Total-Count"] == str(total)
    assert [e["seq"] for e in page.get_json()["events"]] == [2, 3]
    last = call(client, world, "consulent", "GET", f"{CASES}/{case_id}/events?limit=500&offset={total - 1}")
    assert [e["seq"] for e in last.get_json()["events"]] == [total]
    for bad in ("limit=0", "limit=501", "offset=-1", "limit=tien"):
        err = error(call(client, world, "consulent", "GET", f"{CASES}/{case_id}/events?{bad}"), 422, "invalid_data")
        assert set(err["details"]) == {bad.split("=")[0]}


# ---------------------------------------------------------------- 3. the state of a case at a moment

@pytest.mark.parametrize("moment", ["9999-12-31T23:59:59+00:00", "1999-12-31T23:59:59+00:00",
                                    "0001-01-01T00:00:00+01:00", "future"])
def test_a_state_outside_the_cases_lifetime_is_refused_and_not_logged(client, world, sample, moment):
    case_id = started(client, world, sample)
    if moment == "future":
        moment = (clock.now() + timedelta(hours=1)).isoformat()
    response = client.get(f"{CASES}/{case_id}/state", query_string={"at": moment}, headers=auth(world, "consulent"))
    err = error(response, 422, "invalid_data")
    assert set(err["details"]) == {"at"}
    assert not [what for what in reads(client, world, case_id) if what.startswith("state")]

    now = client.get(f"{CASES}/{case_id}/state", query_string={"at": clock.now().isoformat()},
                     headers=auth(world, "consulent"))
    assert now.status_code == 200


def test_a_state_after_an_impossible_event_number_is_refused(client, world, sample):
    case_id = started(client, world, sample)
    response = call(client, world, "consulent", "GET", f"{CASES}/{case_id}/state?seq=99999999999999999999")
    assert set(error(response, 422, "invalid_data")["details"]) == {"seq"}


# ---------------------------------------------------------------- 4. numbers and ids past what the database holds

@pytest.mark.parametrize("path", [
    "/api/v1/cases/99999999999999999999", "/api/v1/cases/3000000000", "/api/v1/cases/0",
    "/api/v1/cases/99999999999999999999/events", "/api/v1/cases/3000000000/verify",
    "/api/v1/users/99999999999999999999/access-log", "/api/v1/users/3000000000/access-log",
    "/api/v1/tasks/%00", "/api/v1/tasks/%ED%A0%80", "/api/v1/tasks/" + "a" * 100,
])
def test_an_id_the_database_cannot_hold_is_not_found(client, world, path):
    error(call(client, world, "auditor", "GET", path), 404, "not_found")


@pytest.mark.parametrize("query", ["offset=1e20", "offset=100000000000000000000", "limit=100000000000000000000",
                                   "offset=9223372036854775808", "limit=1.5"])
def test_a_paging_number_out_of_range_is_invalid(client, world, query):
    for path in ("/api/v1/tasks", f"/api/v1/users/{world['school'].user_id}/access-log"):
        err = error(call(client, world, "auditor", "GET", f"{path}?{query}"), 422, "invalid_data")
        assert set(err["details"]) == {query.split("=")[0]}


def test_deeply_nested_json_is_a_bad_request(client, world):
    deep = "[" * 10_000 + "]" * 10_000
    error(call(client, world, "school", "POST", CASES, raw=deep), 400, "bad_request")
    nested: dict = {}
    for _ in range(100):
        nested = {"x": nested}
    error(call(client, world, "school", "POST", CASES, {"route": "tlv-vso", "data": nested}), 400, "bad_request")


@pytest.mark.parametrize("number", ["9" * 5000, "1e400", "-1e400", "NaN", "Infinity", "-Infinity",
                                    "99999999999999999999999"])
def test_a_number_json_or_the_database_cannot_hold_is_a_bad_request(client, world, sample, number):
    raw = '{"route": "tlv-vso", "data": {"leerling": {"voornaam": NUMBER}}}'.replace("NUMBER", number)
    err = error(call(client, world, "school", "POST", CASES, raw=raw), 400, "bad_request")
    assert "getal" in err["message"]


@pytest.mark.parametrize("text, field", [
    (r'{"route": "tlv-vso", "data": {"leerling": {"voornaam": "A\u0000B"}}}', "data.leerling.voornaam"),
    (r'{"route": "tlv-vso", "data": {"leerling": {"voornaam": "\ud800"}}}', "data.leerling.voornaam"),
    (r'{"route": "tlv-vso", "data": {"adviezen": [{"x": 1}, {"auteur": "\udfff"}]}}', "data.adviezen.1.auteur"),
    (r'{"route": "tlv-vso", "data": {"\u0000": 1}}', "data"),
    (r'{"route": "tlv\u0000"}', "route"),
])
def test_a_character_no_database_can_store_is_refused_per_field(client, world, text, field):
    err = error(call(client, world, "school", "POST", CASES, raw=text), 422, "invalid_data")
    assert set(err["details"]) == {field}
    assert "teken" in err["details"][field][0]


def test_a_nul_in_a_task_completion_is_refused_before_the_engine(client, world, sample):
    case = call(client, world, "school", "POST", CASES, {"route": "tlv-vso", "data": sample["start"]}).get_json()
    task = case["tasks"][0]["id"]
    data = {**sample["aanmelding"], "onderwijsbehoeften": "kleine\x00groep"}
    err = error(call(client, world, "school", "POST", f"/api/v1/tasks/{task}/complete", {"data": data}),
                422, "invalid_data")
    assert set(err["details"]) == {"data.onderwijsbehoeften"}


def test_a_nul_in_a_query_parameter_is_refused(client, world):
    err = error(call(client, world, "school", "GET", "/api/v1/tasks?route=tlv%00"), 422, "invalid_data")
    assert set(err["details"]) == {"route"}


@pytest.mark.parametrize("content_type, body", [
    ("text/plain", '{"route": "tlv-vso", "data": {}}'),
    ("application/x-www-form-urlencoded", "route=tlv-vso"),
    ("application/xml", "<case><route>tlv-vso</route></case>"),
    ("multipart/form-data; boundary=x", "--x\r\nContent-Disposition: form-data; name=route\r\n\r\ntlv\r\n--x--"),
])
def test_a_body_that_is_not_json_is_unsupported(client, world, content_type, body):
    response = client.post(CASES, data=body, headers=auth(world, **{"Content-Type": content_type}))
    assert "JSON" in error(response, 415, "unsupported_media_type")["message"]


def test_a_body_without_a_content_type_is_unsupported(client, world):
    response = client.post(CASES, data=b'{"route": "tlv-vso", "data": {}}', headers=auth(world))
    error(response, 415, "unsupported_media_type")


def test_json_with_a_charset_or_a_json_suffix_is_json(client, world, sample):
    body = json.dumps({"route": "tlv-vso", "data": sample["start"]})
    for content_type in ("application/json; charset=utf-8", "application/vnd.loket+json"):
        response = client.post(CASES, data=body, headers=auth(world, **{"Content-Type": content_type}))
        assert response.status_code == 201, response.get_json()


def test_an_empty_body_where_one_is_needed_is_a_bad_request(client, world, sample):
    error(call(client, world, "school", "POST", CASES, raw=""), 400, "bad_request")
    response = client.post(CASES, headers=auth(world))
    assert "body" in error(response, 400, "bad_request")["message"]
    case_id = started(client, world, sample)
    error(call(client, world, "consulent", "POST", f"{CASES}/{case_id}/suspend", raw=""), 400, "bad_request")


def test_a_body_is_optional_where_nothing_in_it_is_required(client, world, sample):
    case_id = started(client, world, sample)
    call(client, world, "consulent", "POST", f"{CASES}/{case_id}/suspend", {"reason": "Wachten op ouders."})
    resumed = client.post(f"{CASES}/{case_id}/resume", headers=auth(world, "consulent"))
    assert resumed.status_code == 200 and resumed.get_json()["status"] == "open"
    task = call(client, world, "school", "GET", f"{CASES}/{case_id}").get_json()["tasks"][0]["id"]
    assert client.post(f"/api/v1/tasks/{task}/claim", headers=auth(world)).status_code == 200


@pytest.mark.parametrize("path", ["/api/v1/routes?x=1", "/api/v1/tasks?scope=role&bogus=1", "/api/v1/cases/{case}?x=1",
                                  "/api/v1/cases/{case}/events?limit=5&page=2", "/api/v1/cases/{case}/state?when=nu",
                                  "/api/v1/cases/{case}/verify?x=", "/api/v1/cases/{case}/export?format=json&x=1",
                                  "/api/v1/cases/{case}/access-log?x=1", "/api/v1/users/{user}/access-log?x=1"])
def test_an_unknown_query_parameter_is_refused(client, world, sample, path):
    path = path.format(case=started(client, world, sample), user=world["school"].user_id)
    err = error(call(client, world, "auditor", "GET", path), 422, "invalid_data")
    unknown = path.rsplit("&", 1)[-1].rsplit("?", 1)[-1].split("=")[0]
    assert err["details"] == {unknown: ["Onbekende parameter."]}


def test_an_unknown_query_parameter_on_a_post_is_refused(client, world, sample):
    response = call(client, world, "school", "POST", f"{CASES}?dry_run=1", {"route": "tlv-vso",
                                                                            "data": sample["start"]})
    assert error(response, 422, "invalid_data")["details"] == {"dry_run": ["Onbekende parameter."]}


def test_one_code_and_dutch_messages_for_every_invalid_request(client, world, sample):
    missing = error(call(client, world, "school", "POST", CASES, {"route": "tlv-vso"}), 422, "invalid_data")
    assert missing["details"] == {"data": ["Dit veld is verplicht."]}
    assert missing["message"] == "Het verzoek bevat ongeldige velden."
    unknown = error(call(client, world, "school", "POST", CASES, {"route": "tlv-vso", "data": {}, "extra": 1}),
                    422, "invalid_data")
    assert unknown["details"] == {"extra": ["Onbekend veld."]}
    wrong = error(call(client, world, "school", "POST", CASES, {"route": 5, "data": []}), 422, "invalid_data")
    assert wrong["details"] == {"route": ["Moet tekst zijn."], "data": ["Moet een object zijn."]}
    form = error(call(client, world, "school", "POST", CASES, {"route": "tlv-vso", "data": {"school": "16PX00"}}),
                 422, "invalid_data")
    assert form["details"]["leerling"] == ["Dit veld is verplicht."]
    not_object = error(call(client, world, "school", "POST", CASES, raw="[1]"), 422, "invalid_data")
    assert not_object["details"] == {"(verzoek)": ["Het verzoek moet een JSON-object zijn."]}
    scope = error(call(client, world, "school", "GET", "/api/v1/tasks?scope=iedereen"), 422, "invalid_data")
    assert scope["details"] == {"scope": ["Moet een van deze waarden zijn: mine, role, all."]}
    case_id = started(client, world, sample)
    weeks = error(call(client, world, "consulent", "POST", f"{CASES}/{case_id}/extend", {"weeks": 99, "reason": ""}),
                  422, "invalid_data")
    assert weeks["details"] == {"weeks": ["Moet tussen 1 en 52 liggen."], "reason": ["Moet 1 tot 2000 tekens zijn."]}
    malformed = error(call(client, world, "school", "POST", CASES, raw="{niet json"), 400, "bad_request")
    assert malformed["message"] == "Het verzoek is geen geldige JSON."
    error(client.delete("/api/v1/routes"), 405, "method_not_allowed")


# ---------------------------------------------------------------- 6. verify is a logged read

def test_verifying_a_case_is_in_its_access_log(client, runtime, world, sample):
    case_id = to_besluit(runtime, world, sample)
    assert call(client, world, "auditor", "GET", f"{CASES}/{case_id}/verify").status_code == 200
    assert "verify" in reads(client, world, case_id)


# ---------------------------------------------------------------- 7. SQLite busy

def test_a_write_while_another_process_holds_the_lock_is_503(db_url, settings, runtime, world, sample):
    if not db_url.startswith("sqlite"):
        pytest.skip("alleen SQLite heeft één schrijfslot voor de hele database")
    from web import create_app

    database = Database(db_url, busy_timeout=0.2)
    client = create_app(settings, database).test_client()
    case_id = started(client, world, sample)
    other = sqlite3.connect(make_url(db_url).database, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        for response in (call(client, world, "school", "POST", CASES, {"route": "tlv-vso", "data": sample["start"]}),
                         call(client, world, "school", "GET", f"{CASES}/{case_id}")):  # a read logs itself
            err = error(response, 503, "service_unavailable")
            assert response.headers["Retry-After"].isdigit() and "bezet" in err["message"]
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert call(client, world, "school", "POST", CASES, {"route": "tlv-vso", "data": sample["start"]}).status_code \
        == 201
    database.dispose()


# ---------------------------------------------------------------- 5. the document declares every error

def test_the_document_declares_every_error_an_operation_can_answer(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method == "parameters":
                continue
            responses = operation["responses"]
            expected = {"401", "403", "422", "503"}
            if "{" in path or method == "post":
                expected.add("404")
            if method == "post":
                expected |= {"400", "409", "413", "415"}
            if (method, path) in {("get", "/api/v1/routes"), ("get", "/api/v1/tasks")}:  # every user reads these
                expected -= {"403", "404"}
            assert expected <= set(responses), (method, path, sorted(responses))
            for status in expected:
                response = responses[status]
                if "$ref" in response:
                    response = spec["components"]["responses"][response["$ref"].rsplit("/", 1)[-1]]
                schema = response["content"]["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/ErrorBody"}, (method, path, status)
    start = spec["paths"]["/api/v1/cases"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    start = spec["components"]["schemas"][start["$ref"].rsplit("/", 1)[-1]]
    assert set(start["required"]) == {"route", "data"}
    ids = spec["paths"]["/api/v1/cases/{case_id}"]["parameters"][0]["schema"]
    assert ids == {"type": "integer", "minimum": 1, "maximum": 2147483647}
