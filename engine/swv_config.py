"""The SWV files: ``processes/swv/<key>.yaml``, one versioned file per samenwerkingsverband (name, code,
gemeenten, commissions, routes, own terms, intake windows, herbeoordeling deadline, labels, calendar choices and
schools), checked against ``processes/swv/swv.schema.json`` and then on meaning (gemeenten known, terms that
compute, tasks that exist). A file becomes the wanted value of each settings path (engine.tenant_events);
engine.swv_load applies the difference as events."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator, ValidationError
from sqlalchemy.orm import Session

from .calendar_settings import advisory_key
from .regions import UnknownMunicipality, region_of
from .scenario_format import ScenarioInvalid, dutch, read_yaml
from .swv_settings import monthday, normal_term, term_problems
from .tlv_register import normalise_code

SCHEMA_FILE = "swv.schema.json"
DAY_RULES = {"vrij": True, "werkdag": False, "standaard": None}


class SwvFileInvalid(Exception):
    """SWV files that cannot be loaded; ``problems`` are Dutch lines ``file: key: what is wrong``."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class SwvFile:
    path: Path
    key: str
    version: int
    sha256: str
    name: str
    wanted: dict[str, Any] = field(default_factory=dict)  # settings path -> value (engine.tenant_events)


def files(folder: Path) -> list[Path]:
    return sorted((folder / "swv").glob("*.yaml")) if (folder / "swv").is_dir() else []


def _validator(folder: Path) -> Draft202012Validator:
    return Draft202012Validator(json.loads((folder / "swv" / SCHEMA_FILE).read_text("utf-8")))


def _where(parts: Any) -> str:
    """``schools.2.gemeente`` as a person counts: ``schools[3].gemeente``."""
    out = ""
    for part in parts:
        out += f"[{part + 1}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _message(error: ValidationError) -> str:
    own = error.schema.get("x-melding") if isinstance(error.schema, dict) else None
    if own and error.validator == "pattern":
        return f"'{error.instance}' {own}"
    if error.validator == "anyOf" and not error.absolute_path:
        return "'gemeenten' (of 'region') ontbreekt"
    if error.validator == "uniqueItems":
        return "noemt iets twee keer"
    return dutch(error)


def read(path: Path, session: Session, validator: Draft202012Validator) -> SwvFile:
    """Read and check one SWV file. Raises SwvFileInvalid naming the file and each key."""
    name = str(path)
    text = path.read_text("utf-8")
    try:
        document = read_yaml(text, name)
    except ScenarioInvalid as exc:
        raise SwvFileInvalid(exc.problems) from None
    if not isinstance(document, dict):
        raise SwvFileInvalid([f"{name}: een SWV-bestand is een YAML-object met version, key, name, ..."])
    errors = sorted(validator.iter_errors(document), key=lambda e: [str(p) for p in e.absolute_path])
    problems = [f"{name}: {_where(e.absolute_path) or '(bestand)'}: {_message(e)}" for e in errors]
    if problems:
        raise SwvFileInvalid(problems)
    wanted, found = _wanted(document, session)
    if document["key"] != path.stem:
        found.append(("key", f"'{document['key']}' hoort in {document['key']}.yaml, niet in {path.name}"))
    if found:
        raise SwvFileInvalid([f"{name}: {where}: {what}" for where, what in found])
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    return SwvFile(path, document["key"], document["version"], digest, document["name"], wanted)


def _wanted(doc: dict[str, Any], session: Session) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """The value of every settings path the file sets, and what is wrong with its meaning."""
    problems: list[tuple[str, str]] = []
    wanted: dict[str, Any] = {"name": doc["name"]}
    region = doc.get("region")
    try:
        region, found = region_of(list(doc.get("gemeenten") or []), region) if doc.get("gemeenten") else (region, [])
        wanted["area"] = {"gemeenten": [m.name for m in found], "region": region}
    except (UnknownMunicipality, ValueError) as exc:
        problems.append(("gemeenten", str(exc).replace("--region", "'region'")))
    try:
        wanted["code"] = normalise_code(doc["code"]) if doc.get("code") else None
    except ValueError as exc:
        problems.append(("code", str(exc)))
    routes = doc.get("routes")
    for key in ("routes", "lwoo", "commissions", "max_extensions", "herbeoordeling", "labels"):
        wanted[key] = doc.get(key)
    if routes is not None and ("lwoo" in routes) != (doc.get("lwoo") == "toewijzing"):
        problems.append(("lwoo", "zet 'lwoo: toewijzing' als lwoo in routes staat, en laat beide weg bij "
                                 "opting-out"))
    for number, commission in enumerate(doc.get("commissions") or [], start=1):
        for route in commission["routes"]:
            if routes is not None and route not in routes:
                problems.append((f"commissions[{number}].routes", f"route '{route}' staat niet in routes"))
    for route, term in (doc.get("terms") or {}).items():
        if routes is not None and route not in routes:
            problems.append((f"terms.{route}", f"route '{route}' staat niet in routes"))
        for key, what in term_problems(session, route, term, region=region or "midden").items():
            problems.append((f"terms.{route}.{key}", what))
        wanted[f"terms.{route}"] = normal_term(term)
    for route, windows in (doc.get("intake_windows") or {}).items():
        if routes is not None and route not in routes:
            problems.append((f"intake_windows.{route}", f"route '{route}' staat niet in routes"))
        for number, window in enumerate(windows, start=1):
            for end in ("from", "to"):
                try:
                    monthday(window[end])
                except ValueError as exc:
                    problems.append((f"intake_windows.{route}[{number}].{end}", str(exc)))
        wanted[f"intake_windows.{route}"] = [dict(w) for w in windows]
    if doc.get("herbeoordeling"):
        try:
            monthday(doc["herbeoordeling"]["deadline"])
        except ValueError as exc:
            problems.append(("herbeoordeling.deadline", str(exc)))
        wanted["herbeoordeling"] = {"open_weeks_before": 12, **doc["herbeoordeling"]}
    wanted["calendar"] = _calendar(doc.get("calendar") or {}, problems)
    seen: set[str] = set()
    for number, school in enumerate(doc["schools"], start=1):
        if school["code"] in seen:
            problems.append((f"schools[{number}].code", f"'{school['code']}' staat er twee keer in"))
        seen.add(school["code"])
        if school.get("gemeente") and not school.get("region"):
            try:
                region_of([school["gemeente"]])
            except (UnknownMunicipality, ValueError) as exc:
                problems.append((f"schools[{number}].gemeente", str(exc).replace("--region", "'region'")))
        wanted[f"schools.{school['code']}"] = {k: school[k] for k in ("name", "kind", "gemeente", "region")
                                               if school.get(k)}
    return wanted, problems


def _calendar(calendar: dict[str, Any], problems: list[tuple[str, str]]) -> dict[str, Any]:
    advisory: dict[str, bool] = {}
    for name, on in (calendar.get("advies") or {}).items():
        try:
            advisory[advisory_key(name)] = bool(on)
        except ValueError as exc:
            problems.append((f"calendar.advies.{name}", str(exc)))
    return {"may5_off": DAY_RULES[calendar.get("5_mei", "standaard")],
            "good_friday_off": DAY_RULES[calendar.get("goede_vrijdag", "standaard")], "advisory": advisory}


def read_all(folder: Path, session: Session) -> list[SwvFile]:
    """Every SWV file in ``folder/swv``, checked; all problems of all files at once (SwvFileInvalid)."""
    paths = files(folder)
    if not paths:
        return []
    validator = _validator(folder)
    found, problems = [], []
    for path in paths:
        try:
            found.append(read(path, session, validator))
        except SwvFileInvalid as exc:
            problems += exc.problems
    if problems:
        raise SwvFileInvalid(problems)
    return found
