"""The five SWV files (processes/swv/*.yaml) as `loket init` loads them, on a real database (both backends):
each SWV made with its schools, terms, routes and windows; a second init changes nothing; a higher version applies
what the file changed, as events, and keeps a change made meanwhile; a bad file is refused naming file and key."""

from __future__ import annotations

import shutil
from functools import partial
from pathlib import Path

import pytest
import yaml
from sqlalchemy import select

from engine.config import PROJECT_ROOT
from engine.db import Database
from engine.models import School, Tenant
from engine.models_swv import TenantEvent
from engine.tenant_events import differences
from tests.helpers import checked_cli

KEYS = ["amsterdam-diemen", "midden-kennemerland", "sterk-vo", "westelijke-mijnstreek", "zuid-utrecht"]


@pytest.fixture
def processes(tmp_path) -> Path:
    """A copy of processes/ that a test may change."""
    folder = tmp_path / "processes"
    shutil.copytree(PROJECT_ROOT / "processes", folder)
    return folder


@pytest.fixture
def loket(db_url, processes):
    return partial(checked_cli, {"LOKET_DATABASE_URL": db_url, "LOKET_PROCESSES": str(processes)})


def _tenant(db: Database, key: str) -> tuple[Tenant, list[School], list[TenantEvent]]:
    with db.read() as session:
        tenant = session.scalar(select(Tenant).where(Tenant.key == key))
        assert tenant is not None
        schools = list(session.scalars(select(School).where(School.tenant_id == tenant.id).order_by(School.code)))
        events = list(session.scalars(select(TenantEvent).where(TenantEvent.tenant_id == tenant.id)
                                      .order_by(TenantEvent.seq)))
        assert differences(session, tenant) == []  # the settings are what their events say
        session.expunge_all()
    return tenant, schools, events


def _edit(processes: Path, key: str, change) -> None:
    path = processes / "swv" / f"{key}.yaml"
    document = yaml.safe_load(path.read_text())
    change(document)
    path.write_text(yaml.safe_dump(document, allow_unicode=True, sort_keys=False))


def test_init_makes_the_five_swvs_with_their_configuration(loket, db):
    out = loket("init").stdout
    for key in KEYS:
        assert f"SWV {key} v2 aangemaakt" in out
    wm, schools, events = _tenant(db, "westelijke-mijnstreek")
    assert wm.name == "Samenwerkingsverband VO Westelijke Mijnstreek" and wm.region == "zuid"
    assert wm.settings["tlv"]["code"] == "VO3104"
    assert "lwoo" not in wm.settings["routes"] and "lwoo" not in wm.settings  # opted out
    assert wm.settings["labels"] == {"knooppuntoverleg": "Knooppunt"}
    assert wm.settings["intake_windows"]["tlv-pro"][0]["from"] == "11-01"
    assert {s.code for s in schools} >= {"92WM03", "92WM04"}  # a PrO and a VSO school
    assert all(e.channel == "bestand" and e.version == 2 for e in events)
    sterk, _, _ = _tenant(db, "sterk-vo")
    assert sterk.settings["terms"]["tlv-vso"] == {"term": "weken(2)", "from": "knooppuntoverleg",
                                                  "escalateTo": "bestuurder", "legal": False, "extensions": 1}
    assert "opdc" not in sterk.settings["terms"]  # crisis excepted from the two weeks
    assert sterk.settings["lwoo"] == "toewijzing"
    zu, zu_schools, _ = _tenant(db, "zuid-utrecht")
    assert zu.region == "midden" and zu.settings["terms"]["thuiszitter"]["term"] == "weken(13)"
    assert [w["label"] for w in zu.settings["intake_windows"]["tlv-pro"]] == ["Instroom leerjaar 1", "Zij-instroom"]
    assert {s.code for s in zu_schools} >= {"90ZU04", "90ZU05", "90ZU06"}  # PrO, VSO and OPDC
    ad, _, _ = _tenant(db, "amsterdam-diemen")
    assert ad.region == "noord" and [c["name"] for c in ad.settings["commissions"]] == ["Regioloket"]
    assert ad.settings["herbeoordeling"] == {"deadline": "03-01", "open_weeks_before": 12}
    mk, mk_schools, _ = _tenant(db, "midden-kennemerland")
    assert len(mk_schools) == 7 and mk.region == "noord"
    assert {s.code: s for s in mk_schools}["94MK05"].name == "VSO De Duinrand"


def test_a_second_init_changes_nothing(loket, db):
    loket("init")
    _, _, before = _tenant(db, "zuid-utrecht")
    out = loket("init").stdout
    assert "SWV zuid-utrecht v2 ongewijzigd" in out
    _, _, after = _tenant(db, "zuid-utrecht")
    assert len(after) == len(before)


def test_a_higher_version_applies_its_changes_as_events_and_keeps_a_change_made_meanwhile(loket, db, processes):
    loket("init")
    # Meanwhile the SWV's process owner set another thuiszitter term (the CLI's code path, as the web page's).
    loket("tenants", "term", "sterk-vo", "--route", "thuiszitter", "--term", "weken(8)")

    def bump(doc):
        doc["version"] = 3
        doc["terms"]["tlv-vso"]["term"] = "weken(3)"
        doc["schools"].append({"code": "91SV09", "name": "Leidsche Rijn College", "kind": "regulier",
                               "gemeente": "Utrecht"})
        doc["intake_windows"]["tlv-pro"][0]["to"] = "07-15"

    _edit(processes, "sterk-vo", bump)
    out = loket("init").stdout
    assert "SWV sterk-vo v3 bijgewerkt (3 wijzigingen)" in out
    tenant, schools, events = _tenant(db, "sterk-vo")
    assert tenant.settings["terms"]["tlv-vso"]["term"] == "weken(3)"
    assert tenant.settings["terms"]["thuiszitter"]["term"] == "weken(8)"  # the file did not change it
    assert "91SV09" in {s.code for s in schools}
    bumped = {e.path: e for e in events if e.version == 3 and e.path != "bestand"}
    assert set(bumped) == {"terms.tlv-vso", "schools.91SV09", "intake_windows.tlv-pro"}
    assert bumped["terms.tlv-vso"].before["term"] == "weken(2)" and bumped["terms.tlv-vso"].after["term"] == "weken(3)"
    assert bumped["schools.91SV09"].before is None
    # Editing without a higher version is reported, not applied.
    _edit(processes, "sterk-vo", lambda doc: doc["terms"]["tlv-vso"].update(term="weken(5)"))
    out = loket("init").stdout
    assert "SWV sterk-vo v3 ongewijzigd: de inhoud is gewijzigd maar version niet verhoogd" in out
    assert _tenant(db, "sterk-vo")[0].settings["terms"]["tlv-vso"]["term"] == "weken(3)"


def test_an_swv_made_by_hand_is_taken_over_by_its_file(loket, db):
    loket("tenants", "add", "sterk-vo", "--name", "Sterk VO", "--region", "midden")
    loket("schools", "add", "16PX00", "--tenant", "sterk-vo", "--name", "School 16PX00")
    assert "SWV sterk-vo v2 bijgewerkt" in loket("init").stdout
    tenant, schools, _ = _tenant(db, "sterk-vo")
    assert tenant.name == "Sterk VO Utrecht en Stichtse Vecht"
    assert {s.code: s.name for s in schools}["16PX00"] == "Vechtstreek College"


def test_bad_files_are_refused_naming_file_and_key(loket, db, processes):
    def spoil(doc):
        doc["terms"]["tlv-vso"]["term"] = "weken("
        doc["terms"]["tlv-vso"]["from"] = "bestaat_niet"
        doc["intake_windows"]["tlv-pro"][0]["to"] = "02-30"
        doc["schools"][0]["gemeente"] = "Atlantis"
        doc["lwoo"] = "toewijzing"

    _edit(processes, "westelijke-mijnstreek", spoil)
    _edit(processes, "zuid-utrecht", lambda doc: doc.update(onbekend=1, version="een"))
    result = loket("init", ok=False)
    assert result.exit_code == 1
    errors = result.stderr.splitlines()
    wm = str(processes / "swv" / "westelijke-mijnstreek.yaml")
    zu = str(processes / "swv" / "zuid-utrecht.yaml")
    assert any(line.startswith(f"fout: {wm}: terms.tlv-vso.term: 'weken(' werkt niet") for line in errors)
    assert f"fout: {wm}: terms.tlv-vso.from: route 'tlv-vso' heeft geen taak 'bestaat_niet'" in result.stderr
    assert f"fout: {wm}: intake_windows.tlv-pro[1].to: '02-30' is geen dag van het jaar (MM-DD)" in errors
    assert f"fout: {wm}: schools[1].gemeente: 'Atlantis' is geen gemeente" in result.stderr
    assert f"fout: {wm}: lwoo: zet 'lwoo: toewijzing'" in result.stderr
    assert f"fout: {zu}: (bestand): onbekende sleutel 'onbekend'" in result.stderr
    assert f"fout: {zu}: version: moet een geheel getal zijn" in result.stderr
    with db.read() as session:  # nothing loaded
        assert session.scalar(select(Tenant).where(Tenant.key == "sterk-vo")) is None


def test_show_prints_the_whole_configuration_and_its_history(loket):
    loket("init")
    loket("tenants", "term", "westelijke-mijnstreek", "--route", "thuiszitter", "--term", "weken(9)", "--reason",
          "Besluit bestuur 12 november")
    shown = loket("tenants", "show", "westelijke-mijnstreek").stdout.splitlines()
    for line in ["SWV westelijke-mijnstreek: Samenwerkingsverband VO Westelijke Mijnstreek", "SWV-code: VO3104",
                 "regio: zuid (gemeenten: Sittard-Geleen, Stein, Beek, Beekdaelen)",
                 "lwoo: geen toewijzing per leerling (opting-out)",
                 "  Commissie van Toelaatbaarheid (CvT): tlv-vso, tlv-pro, herbeoordeling",
                 "  tlv-vso: weken(4) vanaf knooppuntoverleg, escalatie naar bestuurder, hoogstens 1 keer verlengen",
                 "  tlv-pro: Aanmelding PrO (1 november t/m 30 april)",
                 "herbeoordeling: aanvragen uiterlijk 1 april, zaken 12 weken eerder geopend",
                 "labels: knooppuntoverleg = Knooppunt",
                 "  92WM04   VSO Kasteel Limbricht [vso]: regio zuid, gemeente Sittard-Geleen"]:
        assert line in shown
    assert any(line.startswith("bestand: processes/swv/westelijke-mijnstreek.yaml versie 2") for line in shown)
    latest = shown[shown.index("laatste wijzigingen: 10") + 1]
    assert latest.endswith("via cli: terms.thuiszitter: weken(10) -> bestuurder => weken(9) -> bestuurder "
                           "(Besluit bestuur 12 november)")


def test_migration_0013_adds_tenant_events_and_goes_back(empty_db_url):
    from alembic import command
    from sqlalchemy import create_engine, inspect

    from engine.db import alembic_config, upgrade

    def tables() -> set[str]:
        engine = create_engine(empty_db_url)
        try:
            return set(inspect(engine).get_table_names())
        finally:
            engine.dispose()

    upgrade(empty_db_url)
    assert "tenant_events" in tables()
    command.downgrade(alembic_config(empty_db_url), "0012")
    assert "tenant_events" not in tables()
    upgrade(empty_db_url)
    assert "tenant_events" in tables()
