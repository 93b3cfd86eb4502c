"""The gemeente -> vakantieregio table (engine/data/gemeenten.json, from the Regeling vaststelling schoolvakanties
art. 3): every Dutch gemeente of 2026 has its region, the exceptions the Regeling names are right, and an SWV set
up by any real gemeente needs no --region."""

from __future__ import annotations

import json
from collections import Counter
from importlib import resources

import pytest

from engine.regions import load_municipalities, municipality, region_of
from tests.helpers import cli

# CBS: the gemeenten per province on 1 January 2026 (342 in all; no herindeling since 1 January 2025).
PER_PROVINCE = {"Groningen": 10, "Fryslân": 18, "Drenthe": 12, "Overijssel": 25, "Flevoland": 6, "Gelderland": 51,
                "Utrecht": 26, "Noord-Holland": 44, "Zuid-Holland": 50, "Zeeland": 13, "Noord-Brabant": 56,
                "Limburg": 31}


def gemeenten() -> dict[str, object]:
    return {m.name: m for m in load_municipalities().by_key.values()}


def test_every_gemeente_of_2026_is_there_once_with_a_region_and_a_source():
    found = gemeenten()
    assert len(found) == 342 == sum(PER_PROVINCE.values())
    assert Counter(m.province for m in found.values()) == PER_PROVINCE
    assert all(m.region in ("noord", "midden", "zuid") and m.source for m in found.values())
    raw = json.loads((resources.files("engine") / "data" / "gemeenten.json").read_text("utf-8"))
    assert raw["gecontroleerd"] and "Regeling vaststelling schoolvakanties" in raw["bron"]
    assert "2026" in raw["gemeenten_stand"]


@pytest.mark.parametrize(("gemeente", "region"), [
    # whole provinces
    ("Groningen", "noord"), ("Leeuwarden", "noord"), ("Emmen", "noord"), ("Zwolle", "noord"), ("Amsterdam", "noord"),
    ("Almere", "noord"), ("Rotterdam", "midden"), ("Den Haag", "midden"), ("Utrecht", "midden"),
    ("Middelburg", "zuid"), ("Maastricht", "zuid"), ("Eindhoven", "zuid"), ("Den Bosch", "zuid"),
    # the exceptions of art. 3
    ("Zeewolde", "midden"), ("Hattem", "noord"), ("Eemnes", "noord"), ("Altena", "midden"),
    # Gelderland, split over all three regions
    ("Apeldoorn", "midden"), ("Ede", "midden"), ("Doetinchem", "midden"), ("Tiel", "midden"),
    ("West Betuwe", "midden"), ("Harderwijk", "midden"), ("Winterswijk", "midden"),
    ("Arnhem", "zuid"), ("Nijmegen", "zuid"), ("Berg en Dal", "zuid"), ("Zevenaar", "zuid"), ("Zaltbommel", "zuid"),
    ("Renkum", "zuid"), ("Rozendaal", "zuid"), ("Maasdriel", "zuid"),
    # former gemeenten, by the one they joined (art. 4)
    ("Groesbeek", "zuid"), ("Geldermalsen", "midden"), ("Rijnwaarden", "zuid"),
])
def test_spot_checks(gemeente, region):
    assert municipality(gemeente).region == region


@pytest.mark.parametrize(("gemeente", "region", "other", "part"), [
    ("Montferland", "midden", "zuid", "Didam"),
    ("Neder-Betuwe", "midden", "zuid", "Dodewaard"),
    ("De Ronde Venen", "midden", "noord", "Abcoude"),
    ("Altena", "midden", "zuid", "Hank en Dussen"),
])
def test_split_gemeenten_name_the_part_in_another_region(gemeente, region, other, part):
    found = municipality(gemeente)
    assert found.region == region
    [(where, what)] = found.parts
    assert where == other and part in what


def test_no_real_gemeente_needs_a_region_of_its_own_any_more(db_url):
    for name in gemeenten():
        region, _ = region_of([name])
        assert region in ("noord", "midden", "zuid"), name
    # And through the command line, for a few across the country (one SWV each).
    for i, name in enumerate(["Apeldoorn", "Neder-Betuwe", "Altena", "Súdwest-Fryslân", "'s-Gravenhage"]):
        made = cli(db_url, "tenants", "add", f"t{i}", "--name", name, "--gemeente", name)
        assert made.exit_code == 0, made.output
        assert f"regio {municipality(name).region}" in made.output
