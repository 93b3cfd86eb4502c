"""Prometheus metrics in one process (the multi-process server is in test_serving.py): what a scrape of /metrics
shows after cases, completions and fired deadlines, that only committed work counts, and who may scrape."""

from __future__ import annotations

from freezegun import freeze_time
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import insert, select

from engine import clock
from engine.models import Event, OutboxMessage
from engine.scheduler import fire_due
from tests.helpers import call, do, open_task


def scrape(client, **kwargs) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = client.get("/metrics", **kwargs)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "text/plain"
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(response.get_data(as_text=True))
            for sample in family.samples}


def value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_a_scrape_shows_requests_cases_tasks_and_the_outbox(client, world, sample):
    started, done = value("loket_cases_started_total"), value("loket_tasks_completed_total", task="aanmelding")
    case = call(client, world, "school", "POST", "/api/v1/cases", {"route": "tlv-vso", "data": sample["start"]})
    assert case.status_code == 201
    task = next(t for t in case.get_json()["tasks"] if t["name"] == "aanmelding")
    answer = call(client, world, "school", "POST", f"/api/v1/tasks/{task['id']}/complete",
                  {"data": sample["aanmelding"]})
    assert answer.status_code == 200

    with client.application.extensions["loket"].db.transaction() as session:  # two to send, one refused
        for status in ("pending", "pending", "failed"):
            session.add(OutboxMessage(tenant_id=world.tenant_id, to_address="a@voorbeeld.nl", subject="s", body="b",
                                      status=status, next_attempt_at=clock.now(), created_at=clock.now()))

    seen = scrape(client)
    assert seen[("loket_cases_started_total", ())] == started + 1
    assert seen[("loket_tasks_completed_total", (("task", "aanmelding"),))] == done + 1
    route = "/api/v1/tasks/<uuid:task_id>/complete"
    assert seen[("loket_http_requests_total", (("method", "POST"), ("route", route), ("status", "200")))] >= 1
    assert seen[("loket_http_request_duration_seconds_count", (("method", "POST"), ("route", route)))] >= 1
    # The outbox depth is counted at the scrape, from the database.
    assert seen[("loket_outbox_depth", (("status", "pending"),))] == 2
    assert seen[("loket_outbox_depth", (("status", "failed"),))] == 1


def test_only_committed_events_count(runtime, world, sample):
    from engine.metrics import watch

    watch(runtime.db.engine)
    case = runtime.start_case(world["school"], "tlv-vso", sample["start"])
    with runtime.db.read() as session:
        first = session.scalars(select(Event).where(Event.case_id == case.id).order_by(Event.seq)).first()
        row = {column.name: getattr(first, column.name) for column in Event.__table__.columns if column.name != "id"}
    before = value("loket_cases_started_total")

    class Undone(Exception):
        pass

    try:  # a savepoint rolled back, then the whole transaction
        with runtime.db.transaction() as session:
            try:
                with session.begin_nested():
                    session.connection().execute(insert(Event.__table__), [{**row, "seq": 900}])
                    raise Undone
            except Undone:
                pass
            session.connection().execute(insert(Event.__table__), [{**row, "seq": 901}])
            raise Undone
    except Undone:
        pass
    assert value("loket_cases_started_total") == before

    with runtime.db.transaction() as session:  # one kept after a savepoint that was undone
        try:
            with session.begin_nested():
                session.connection().execute(insert(Event.__table__), [{**row, "seq": 902}])
                raise Undone
        except Undone:
            pass
        session.connection().execute(insert(Event.__table__), [{**row, "seq": 903}])
    assert value("loket_cases_started_total") == before + 1


def test_fired_deadlines_count_by_kind_with_how_late_they_fired(runtime, world, sample):
    with freeze_time("2026-12-22T08:00:00Z"):
        case = runtime.start_case(world["school"], "tlv-vso", sample["start"])
        do(runtime, world, "school", case.id, "aanmelding", sample["aanmelding"])
        open_task(runtime, case.id, "dossiercheck")
    warned = value("loket_deadlines_fired_total", kind="warning")
    late_count = value("loket_deadline_lateness_seconds_count", kind="warning")
    within_a_day = value("loket_deadline_lateness_seconds_bucket", kind="warning", le="86400.0")
    within_a_minute = value("loket_deadline_lateness_seconds_bucket", kind="warning", le="60.0")
    with freeze_time("2026-12-28T09:00:00Z"):  # the warning was due at the start of this day
        assert fire_due(runtime, clock.now()).fired == 1
    assert value("loket_deadlines_fired_total", kind="warning") == warned + 1
    assert value("loket_deadline_lateness_seconds_count", kind="warning") == late_count + 1
    assert value("loket_deadline_lateness_seconds_bucket", kind="warning", le="86400.0") == within_a_day + 1
    assert value("loket_deadline_lateness_seconds_bucket", kind="warning", le="60.0") == within_a_minute


def test_who_may_scrape(client, monkeypatch):
    assert client.get("/metrics").status_code == 200  # the test client comes from 127.0.0.1
    outside = client.get("/metrics", environ_base={"REMOTE_ADDR": "192.0.2.7"})
    assert outside.status_code == 403
    assert "LOKET_METRICS_TOKEN" in outside.get_json()["error"]["message"]
    proxied = client.get("/metrics", headers={"X-Forwarded-For": "192.0.2.7"})  # a proxy on this host
    assert proxied.status_code == 403

    monkeypatch.setenv("LOKET_METRICS_TOKEN", "geheim-metrics-token")
    assert client.get("/metrics").status_code == 403  # with a token set, loopback alone is not enough
    wrong = {"Authorization": "Bearer iets-anders"}
    assert client.get("/metrics", headers=wrong, environ_base={"REMOTE_ADDR": "192.0.2.7"}).status_code == 403
    right = {"Authorization": "Bearer geheim-metrics-token", "X-Forwarded-For": "192.0.2.7"}
    assert client.get("/metrics", headers=right, environ_base={"REMOTE_ADDR": "192.0.2.7"}).status_code == 200


def test_metrics_are_not_an_api_operation(client):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    assert not any(path.endswith(("/metrics", "/healthz", "/readyz")) for path in paths)


def test_a_scenario_run_counts_nothing_in_this_process():
    """A scenario (publish, `loket processes test`, the editor's Try) runs its scheduler sweeps in a throwaway
    world: its warnings and escalations are no work of this process and leave the metrics as they were."""
    from engine import scenarios
    from engine.config import PROJECT_ROOT

    directory = PROJECT_ROOT / "processes" / "scenarios"
    route = scenarios.route_from_files(
        "tlv-vso", (PROJECT_ROOT / "processes" / "tlv-vso.bpmn").read_text(encoding="utf-8"),
        {p.name: p.read_text(encoding="utf-8") for p in (PROJECT_ROOT / "processes" / "forms").glob("tlv-vso*.json")})
    kinds = ("warning", "escalation", "timer")
    before = {kind: value("loket_deadlines_fired_total", kind=kind) for kind in kinds}
    lateness = value("loket_deadline_lateness_seconds_count", kind="escalation")
    started, completed = value("loket_cases_started_total"), value("loket_tasks_completed_total", task="aanmelding")

    result = scenarios.run(scenarios.load(directory / "tlv-vso" / "termijnen.yaml", directory), route)
    assert result.ok, result.reason()
    assert any("escalatie" in line for step in result.steps for line in step.happened)  # it did fire, in there

    assert {kind: value("loket_deadlines_fired_total", kind=kind) for kind in kinds} == before
    assert value("loket_deadline_lateness_seconds_count", kind="escalation") == lateness
    assert value("loket_cases_started_total") == started
    assert value("loket_tasks_completed_total", task="aanmelding") == completed
