"""Which school-holiday region a municipality is in: ``engine/data/gemeenten.json``.

The Regeling vaststelling schoolvakanties assigns the regions per gemeente. The shipped table gives a region
only where a source names it (a whole province, or a named gemeente); for the rest (most of Gelderland, the
split gemeenten Altena and De Ronde Venen) it says so, and the caller must be told the region explicitly.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources

DATA_FILE = "engine/data/gemeenten.json"


class UnknownMunicipality(ValueError):
    """A name that is no Dutch gemeente in the shipped table."""


@dataclass(frozen=True)
class Municipality:
    name: str  # as the table spells it: "'s-Gravenhage"
    province: str
    region: str | None  # None: not settled in the table
    source: str


@dataclass(frozen=True)
class MunicipalityTable:
    checked: str
    as_of: str
    by_key: dict[str, Municipality]  # lower-case name or alias -> municipality


def _key(name: str) -> str:
    return " ".join(name.replace("’", "'").split()).casefold()


@cache
def load_municipalities() -> MunicipalityTable:
    raw = json.loads((resources.files("engine") / "data" / "gemeenten.json").read_text("utf-8"))
    exceptions = raw["uitzonderingen"]
    by_key: dict[str, Municipality] = {}
    for province, names in raw["gemeenten"].items():
        default = raw["provincies"][province]
        for name in names:
            rule = exceptions.get(name, default)
            by_key[_key(name)] = Municipality(name, province, rule["regio"], rule["bron"])
    if set(exceptions) - {m.name for m in by_key.values()}:
        raise ValueError("gemeenten.json: een uitzondering noemt een onbekende gemeente")
    for alias, name in raw["andere_namen"].items():
        by_key.setdefault(_key(alias), by_key[_key(name)])
    return MunicipalityTable(raw["gecontroleerd"], raw["gemeenten_stand"], by_key)


def municipality(name: str) -> Municipality:
    """The gemeente called ``name`` (case and spacing do not matter; 'Den Haag' finds "'s-Gravenhage")."""
    found = load_municipalities().by_key.get(_key(name))
    if found is None:
        raise UnknownMunicipality(f"'{name}' is geen gemeente in {DATA_FILE} (stand {load_municipalities().as_of}).")
    return found


def region_of(names: list[str], region: str | None = None) -> tuple[str, list[Municipality]]:
    """The one region of these gemeenten, or ``region`` when given (it wins: a school or gemeente may have
    asked for another region). Raises ValueError, in Dutch, when the gemeenten lie in different regions or
    the table does not settle one and no region is given."""
    found = [municipality(n) for n in names]
    if region is not None:
        return region, found
    regions = {m.region for m in found}
    unknown = [m.name for m in found if m.region is None]
    if unknown:
        raise ValueError(f"de regio van {', '.join(unknown)} staat niet vast in {DATA_FILE}: geef --region "
                         "(zie de bijlage van de Regeling vaststelling schoolvakanties).")
    if len(regions) != 1:
        parts = ", ".join(f"{m.name} ({m.region})" for m in found)
        raise ValueError(f"deze gemeenten liggen in verschillende vakantieregio's: {parts}; geef --region.")
    return regions.pop() or "", found
