"""TLV numbers with the SWV code and the TLV register (issue 9): numbers per SWV per year without gaps or
duplicates, the register entry kept until the einddatum plus a margin, and what the case shows."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from engine import clock
from engine.models import Tenant
from engine.models_tlv import TlvRegister
from engine.retention import run_retention
from engine.tlv_register import keep_until, normalise_code
from tests.conftest import make_world
from tests.helpers import at, call, cli, do, load_case, to_besluit


def set_code(db, world, code: str = "VO3104", **more) -> None:
    with db.transaction() as session:
        session.get(Tenant, world.tenant_id).settings = {"tlv": {"code": code, **more}}


def grant(runtime, world, sample, moment: str) -> int:
    with clock.frozen(at(moment)):  # the TLV starts on the day of the decision and runs to 31 July 2028
        case_id = to_besluit(runtime, world, sample)
        do(runtime, world, "commissie", case_id, "besluit",
           dict(sample["toekennen"], ingangsdatum=at(moment).date().isoformat()))
    return case_id


@pytest.mark.parametrize("text, code", [("VO 31.04", "VO3104"), ("vo31-04", "VO3104"), ("PO 21.01", "PO2101"),
                                        ("VO3104", "VO3104")])
def test_an_swv_code_as_duo_writes_it(text, code):
    assert normalise_code(text) == code


def test_not_an_swv_code():
    with pytest.raises(ValueError, match="geen SWV-code"):
        normalise_code("Sterk VO")


def test_numbers_carry_the_swv_code_and_count_per_swv_and_year(runtime, world, sample, db):
    set_code(db, world)
    other = make_world(db, "vo-zuid-utrecht")
    set_code(db, other, "VO2605")
    first = grant(runtime, world, sample, "2026-11-30T10:00")
    second = grant(runtime, world, sample, "2026-12-31T23:30")  # still 2026 in the Netherlands
    theirs = grant(runtime, other, sample, "2026-12-01T10:00")
    new_year = grant(runtime, world, sample, "2027-01-01T00:30")  # 2026 in UTC, 2027 here
    numbers = [load_case(runtime, c).data["tlv"]["nummer"] for c in (first, second, theirs, new_year)]
    assert numbers == ["VO3104-TLV-2026-0001", "VO3104-TLV-2026-0002", "VO2605-TLV-2026-0001",
                       "VO3104-TLV-2027-0001"]


def test_the_register_keeps_the_minimal_record(runtime, world, sample, db):
    set_code(db, world)
    case_id = grant(runtime, world, sample, "2026-11-30T10:00")
    with db.read() as session:
        (entry,) = session.scalars(select(TlvRegister))
        assert (entry.nummer, entry.swv_code, entry.case_id, entry.besluitdatum, entry.soort, entry.categorie,
                entry.ingangsdatum, entry.einddatum) == (
            "VO3104-TLV-2026-0001", "VO3104", case_id, date(2026, 11, 30), "lg", "midden", date(2026, 11, 30),
            date(2028, 7, 31))
        # Dossier three years after the decision (29 Nov 2029) is later than 31 Jul 2028 + 12 months (30 Jul 2029).
        assert entry.keep_until == date(2029, 11, 29)


def test_keep_until_is_the_einddatum_plus_margin_and_never_before_the_dossier():
    # A TLV to 31 July 2031 decided 1 Aug 2026: kept until 31 July 2032 (12 months' margin).
    assert keep_until(date(2026, 8, 1), date(2031, 7, 31), 12) == date(2032, 7, 30)
    assert keep_until(date(2026, 8, 1), date(2027, 7, 31), 12) == date(2029, 7, 31)  # the dossier's 3 years
    assert keep_until(date(2026, 8, 1), None, 12) == date(2029, 7, 31)


def test_retention_removes_register_entries_past_their_term(runtime, world, sample, db):
    set_code(db, world, register_marge_maanden=0)
    grant(runtime, world, sample, "2026-11-30T10:00")
    assert run_retention(db, datetime(2029, 11, 29, 12, tzinfo=UTC)).register == 0
    report = run_retention(db, datetime(2029, 11, 30, 12, tzinfo=UTC) + timedelta(days=1))
    assert report.register == 1
    with db.read() as session:
        assert session.scalars(select(TlvRegister)).all() == []


def test_the_cli_sets_the_code_and_lists_the_register(runtime, world, sample, db, db_url):
    result = cli(db_url, "tlv", "settings", "sterk-vo", "--code", "VO 31.04")
    assert result.exit_code == 0, result.output
    assert "SWV-code: VO3104" in result.output and "einddag: 07-31" in result.output
    bad = cli(db_url, "tlv", "settings", "sterk-vo", "--code", "Sterk")
    assert bad.exit_code != 0 and bad.output.startswith("fout: 'Sterk' is geen SWV-code")
    grant(runtime, world, sample, "2026-11-30T10:00")
    listing = cli(db_url, "tlv", "register", "sterk-vo")
    assert "VO3104-TLV-2026-0001  besluit 2026-11-30  2026-11-30 t/m 2028-07-31  lg/midden" in listing.output


def test_the_case_shows_its_number_and_the_zorgplicht_beside_the_tlv_clock(runtime, world, sample, db, client):
    set_code(db, world)
    aanmelding = dict(sample["aanmelding"], datum_aanmelding_ouders="2026-10-01")
    with clock.frozen(at("2026-11-30T10:00")):
        case_id = to_besluit(runtime, world, dict(sample, aanmelding=aanmelding))
        do(runtime, world, "commissie", case_id, "besluit", sample["toekennen"])
    body = call(client, world, "consulent", "GET", f"/api/v1/cases/{case_id}").get_json()
    assert body["data"]["tlv"]["nummer"] == "VO3104-TLV-2026-0001"
    # Registered 1 Oct 2026: 6 weeks end Thu 12 Nov, 10 weeks Thu 10 Dec; decided 30 Nov: the TLV fits.
    zorgplicht = body["zorgplicht"]
    assert (zorgplicht["termijn"], zorgplicht["verlengd_tot"], zorgplicht["tlv_past"]) == (
        "2026-11-12", "2026-12-10", True)


def test_grants_at_the_same_moment_get_every_number_once_and_leave_no_gap(db, world):
    """Eight grants in eight threads at once (SQLite: one writer at a time; PostgreSQL: they queue on the
    counter row): numbers 1 to 8, each once, and eight register entries."""
    import threading

    from engine.tlv_register import grant as grant_tlv

    set_code(db, world)
    moment = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)
    got: list[str] = []
    errors: list[Exception] = []
    start = threading.Barrier(8)

    def one() -> None:
        try:
            start.wait(10)
            with db.transaction() as session:
                got.append(grant_tlv(session, world.tenant_id, None, moment,
                                     {"soort": "cluster_4", "categorie": "laag", "ingangsdatum": "2027-03-01",
                                      "einddatum": "2028-07-31"})["nummer"])
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=one) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []
    assert sorted(got) == [f"VO3104-TLV-2027-{n:04d}" for n in range(1, 9)]
    with db.read() as session:
        assert sorted(e.nummer for e in session.scalars(select(TlvRegister))) == sorted(got)
