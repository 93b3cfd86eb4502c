"""Which school-holiday region a municipality is in: ``engine/data/gemeenten.json``.

The Regeling vaststelling schoolvakanties (art. 3) assigns the regions per province and, where a province is
divided, per gemeente. The shipped table gives every gemeente of 2026 its region, with the source. Four gemeenten
are split by the Regeling (Montferland, Neder-Betuwe, De Ronde Venen, Altena): the table gives the region of the
larger part and names the other part (``parts``); a school there sets its own region.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources

from .calendar import REGIONS

DATA_FILE = "engine/data/gemeenten.json"


class UnknownMunicipality(ValueError):
    """A name that is no Dutch gemeente in the shipped table."""


@dataclass(frozen=True)
class Municipality:
    name: str  # as the table spells it: "'s-Gravenhage"
    province: str
    region: str | None  # None: not settled in the table (no gemeente of 2026 has None)
    source: str
    parts: tuple[tuple[str, str], ...] = ()  # (another region, the part of the gemeente in it)


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
            if rule["regio"] not in REGIONS:
                raise ValueError(f"gemeenten.json: {name} heeft geen geldige regio ({rule['regio']!r})")
            parts = tuple(sorted((rule.get("delen") or {}).items()))
            by_key[_key(name)] = Municipality(name, province, rule["regio"], rule["bron"], parts)
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


def split_notes(found: list[Municipality], region: str) -> list[str]:
    """For a split gemeente: which part lies in another region than ``region`` (a school there sets its own)."""
    return [f"{part} ({m.name}) ligt in regio {other}: geef een school daar die regio (loket schools add ... "
            f"--region {other})" for m in found for other, part in m.parts if other != region]


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
