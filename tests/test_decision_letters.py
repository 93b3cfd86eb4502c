"""The decision letter is made after the decision's transaction (engine.decision_letters): the mail waits for it,
the PDF reaches the school over real SMTP on loopback, its sha256 is an event on the case, and a crash between
the decision's commit and the letter loses nothing."""

from __future__ import annotations

import hashlib
from datetime import date

import pytest
from sqlalchemy import select

from engine import clock, decision_letters, letters
from engine.decision_record import objection_until
from engine.mail import deliver_due
from engine.models import OutboxMessage
from engine.runtime import build_runtime
from tests.helpers import at, dispute_then_admitted, do, events_of, load_case
from tests.test_decision import consistent, decide, received
from tests.test_mail import Recorder, Server, free_port


@pytest.fixture
def server():
    """A real SMTP server on loopback that keeps what it accepts (tests/test_mail.py)."""
    running = Server(Recorder()).start()
    yield running
    running.stop()


def mails(runtime, case_id: int) -> list[OutboxMessage]:
    with runtime.db.read() as session:
        return list(session.scalars(select(OutboxMessage).where(OutboxMessage.case_id == case_id)))


def decided(runtime, world, sample, when: str = "2026-03-05T10:00") -> int:
    """A TLV granted on Thursday 5 March 2026 (received Monday 2 February)."""
    case_id = received(runtime, world, sample)
    decide(runtime, world, sample, case_id, when, sample["toekennen"])
    return case_id


def test_the_pdf_arrives_by_smtp_and_its_hash_is_an_event_on_the_case(runtime, world, sample, db, server):
    case_id = decided(runtime, world, sample)
    [waiting] = mails(runtime, case_id)
    assert waiting.attachment is None and waiting.status == "pending"
    with clock.frozen(at("2026-03-05T10:00:05")):
        # Delivery alone leaves a mail whose letter is not made yet where it is: no besluit mail without its letter.
        assert deliver_due(runtime.db, server.url).sent == 0
        assert decision_letters.make_due(runtime) == 1
        assert deliver_due(runtime.db, server.url).sent == 1
    [(_, to, message, _)] = server.handler.received
    assert to == [waiting.to_address] and "toegekend" in message["Subject"]
    [attached] = list(message.iter_attachments())
    pdf = attached.get_content()
    assert attached.get_content_type() == "application/pdf" and pdf.startswith(b"%PDF")
    assert attached.get_filename() == f"besluit-{case_id}-toekenning.pdf"
    [made] = events_of(runtime, case_id, "decision_letter_made")
    assert made.actor == "systeem"
    assert made.payload["sha256"] == hashlib.sha256(pdf).hexdigest() and made.payload["bytes"] == len(pdf)
    assert (made.payload["bekendmaking"], made.payload["bezwaar_tot"]) == ("2026-03-05", "2026-04-16")
    record = load_case(runtime, case_id).decision["record"]
    assert record["brief"]["sha256"] == made.payload["sha256"]
    # The same record makes the same bytes: the letter can be made again from the case and checked by its hash.
    assert hashlib.sha256(letters.decision_pdf(record)).hexdigest() == made.payload["sha256"]
    with clock.frozen(at("2026-03-05T10:00:20")):
        assert decision_letters.make_due(runtime) == 0  # made once, logged once
    assert len(events_of(runtime, case_id, "decision_letter_made")) == 1
    consistent(runtime, db, case_id)


def test_a_crash_between_the_commit_and_the_letter_still_delivers_it(runtime, world, sample, db, settings, server,
                                                                      monkeypatch):
    case_id = decided(runtime, world, sample)
    real = letters.decision_pdf

    def crash(record, **kwargs):
        raise MemoryError("het proces stopt midden in het opmaken")

    monkeypatch.setattr(letters, "decision_pdf", crash)
    with clock.frozen(at("2026-03-05T10:00:05")):
        assert decision_letters.make_due(runtime) == 0  # the rendering died; the round goes on
        assert deliver_due(runtime.db, server.url).sent == 0
    assert [m.status for m in mails(runtime, case_id)] == ["pending"] and not events_of(runtime, case_id,
                                                                                      "decision_letter_made")
    monkeypatch.setattr(letters, "decision_pdf", real)
    restarted = build_runtime(db, settings)  # a new process on the same database, as after a restart
    with clock.frozen(at("2026-03-05T10:01:00")):
        assert decision_letters.make_due(restarted) == 1
        assert deliver_due(restarted.db, server.url).sent == 1
    [(_, _, message, _)] = server.handler.received
    [attached] = list(message.iter_attachments())
    assert attached.get_content().startswith(b"%PDF")
    assert [m.status for m in mails(runtime, case_id)] == ["sent"]
    consistent(runtime, db, case_id)


def test_a_letter_made_on_a_later_day_is_made_known_that_day(runtime, world, sample, db):
    case_id = decided(runtime, world, sample)  # Thursday 5 March 2026
    with clock.frozen(at("2026-03-06T08:30")):  # the scheduler was down overnight
        assert decision_letters.make_due(runtime) == 1
    [made] = events_of(runtime, case_id, "decision_letter_made")
    assert made.payload["bekendmaking"] == "2026-03-06"
    assert made.payload["bezwaar_tot"] == objection_until(date(2026, 3, 6)).isoformat() == "2026-04-17"
    record = load_case(runtime, case_id).decision["record"]
    assert (record["besluitdatum"], record["bekendmaking"], record["bezwaar_tot"]) == ("2026-03-05", "2026-03-06",
                                                                                       "2026-04-17")
    assert "17-04-2026" in record["rechtsmiddel"]
    [mail] = mails(runtime, case_id)
    assert hashlib.sha256(mail.attachment).hexdigest() == made.payload["sha256"]
    assert hashlib.sha256(letters.decision_pdf(record)).hexdigest() == made.payload["sha256"]
    consistent(runtime, db, case_id)


def test_a_refusal_closes_the_case_and_its_letter_is_still_made(runtime, world, sample, db):
    case_id = received(runtime, world, sample)
    decide(runtime, world, sample, case_id, "2026-03-05T10:00", sample["afwijzen"])
    with clock.frozen(at("2026-03-05T10:00:10")):
        assert decision_letters.make_due(runtime) == 1
    assert events_of(runtime, case_id, "decision_letter_made")
    consistent(runtime, db, case_id)


def test_a_letter_that_could_not_go_out_is_made_again_for_the_day_it_is_sent(runtime, world, sample, db, server):
    case_id = decided(runtime, world, sample)  # Thursday 5 March 2026
    down = f"smtp://127.0.0.1:{free_port()}?timeout=2"  # nothing listens there: the mail server is down
    with clock.frozen(at("2026-03-05T10:00:05")):
        assert decision_letters.make_due(runtime, sending=True) == 1
        assert deliver_due(runtime.db, down).retried == 1
    with clock.frozen(at("2026-03-06T08:00")):
        assert decision_letters.make_due(runtime) == 0  # no mail server configured here: nothing is sent anyway
        assert decision_letters.make_due(runtime, sending=True) == 1  # Friday: made again for today
        assert decision_letters.make_due(runtime, sending=True) == 0
        assert deliver_due(runtime.db, server.url).sent == 1
    first, second = events_of(runtime, case_id, "decision_letter_made")
    assert (first.payload["bekendmaking"], second.payload["bekendmaking"]) == ("2026-03-05", "2026-03-06")
    assert second.payload["bezwaar_tot"] == "2026-04-17"
    [(_, _, message, _)] = server.handler.received
    [attached] = list(message.iter_attachments())
    assert hashlib.sha256(attached.get_content()).hexdigest() == second.payload["sha256"] != first.payload["sha256"]
    assert load_case(runtime, case_id).decision["record"]["bekendmaking"] == "2026-03-06"
    with clock.frozen(at("2026-03-09T08:00")):
        assert decision_letters.make_due(runtime, sending=True) == 0  # it went out: its day stays
    consistent(runtime, db, case_id)


def test_the_outbox_says_a_mail_waits_for_its_letter(runtime, world, sample, db_url):
    from tests.helpers import cli

    case_id = decided(runtime, world, sample)
    waiting = cli(db_url, "outbox", "list", "--tenant", "sterk-vo").output
    assert f"wacht op de brief besluit-{case_id}-toekenning.pdf" in waiting
    with clock.frozen(at("2026-03-05T10:00:05")):
        decision_letters.make_due(runtime)
    assert "wacht op de brief" not in cli(db_url, "outbox", "list", "--tenant", "sterk-vo").output


def test_a_second_decision_after_a_dispute_gets_its_own_letter_and_record(runtime, world, db, server):
    """zorgplicht-aanmelding, scenario advies-geschil-toegelaten: the school refuses, the parents take the dispute
    to the Geschillencommissie, and after its opinion the school admits the pupil after all: two decisions on one
    case, two letters, each made from its own record and sent."""
    from tests.test_zorgplicht import AANMELDING, BESLUIT, START

    with clock.frozen(at("2026-02-02T09:00")):
        case_id = runtime.start_case(world["school"], "zorgplicht-aanmelding", START).id
        do(runtime, world, "school", case_id, "aanmelding", {**AANMELDING, "datum_aanmelding_ouders": "2026-02-02"})
    with clock.frozen(at("2026-02-04T10:00")):
        do(runtime, world, "school", case_id, "besluit",
           {**BESLUIT, "uitkomst": "weigeren", "reden_weigering": "andere_school",
            "andere_school": "Het Baken (20LJ00)", "motivering": "Het Baken kan Mila de begeleiding bieden."})
    with clock.frozen(at("2026-02-04T10:00:05")):
        assert decision_letters.make_due(runtime) == 1
        assert deliver_due(runtime.db, server.url).sent == 1
    dispute_then_admitted(runtime, world, case_id)
    assert load_case(runtime, case_id).outcome == "toegelaten_na_geschil"
    with clock.frozen(at("2026-04-21T09:00:05")):  # a scheduler round: the second letter is made and goes out
        assert decision_letters.make_due(runtime) == 1
        assert deliver_due(runtime.db, server.url).sent == 1
    assert [(m.attachment_name, m.status) for m in mails(runtime, case_id)] == [
        (f"besluit-{case_id}-weigering.pdf", "sent"), (f"besluit-{case_id}-toelating.pdf", "sent")]
    refusal, admission = events_of(runtime, case_id, "decision_letter_made")
    assert refusal.payload["bestand"] == f"besluit-{case_id}-weigering.pdf"
    assert admission.payload["bestand"] == f"besluit-{case_id}-toelating.pdf"
    assert (refusal.payload["bekendmaking"], admission.payload["bekendmaking"]) == ("2026-02-04", "2026-04-21")
    sent = {message.get_filename(): message.get_content() for _, _, mail, _ in server.handler.received
            for message in mail.iter_attachments()}
    assert hashlib.sha256(sent[refusal.payload["bestand"]]).hexdigest() == refusal.payload["sha256"]
    assert hashlib.sha256(sent[admission.payload["bestand"]]).hexdigest() == admission.payload["sha256"]
    # The case holds both records, each with its own letter; the one in force is the admission.
    state = load_case(runtime, case_id).decision
    first, second = state["records"]
    assert (first["uitkomst"], second["uitkomst"]) == ("weigering", "toelating")
    assert first["brief"]["sha256"] == refusal.payload["sha256"]
    assert second["brief"]["sha256"] == admission.payload["sha256"]
    assert state["record"] == second and state["outcome"] == "toelating"
    assert (state["decided"], state["late"]) == ("2026-02-04", False)  # the term was met by the first decision
    for record, made in ((first, refusal), (second, admission)):  # each letter can be made again from its record
        assert hashlib.sha256(letters.decision_pdf(record)).hexdigest() == made.payload["sha256"]
    assert "laat Mila Jansen toe" in second["besluit"] and "niet toe" in first["besluit"]
    with clock.frozen(at("2026-04-21T09:01")):
        assert decision_letters.make_due(runtime) == 0
    consistent(runtime, db, case_id)
