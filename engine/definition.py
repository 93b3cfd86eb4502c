"""The definition a replay runs on: the route version as stored now, checked against its deployment hash.

It is loaded freshly from the stored version text, never from the engine's cache keyed by sha256, and the
stored BPMN and forms must still hash to the version's sha256: a route edited in place is a finding.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, replace
from typing import Any

from . import bpmn
from .events import canonical
from .models import RouteVersion
from .validate import route_sha256


@dataclass
class Definition:
    spec: Any
    subs: dict[str, Any]
    titles: dict[str, str]
    route: dict[str, Any]
    problem: str | None = None  # why the stored version is not what was deployed
    has_timers: bool = False


class SpecCache:
    """Definitions loaded from the stored version text, once per version within one audit run."""

    def __init__(self) -> None:
        self._loaded: dict[int, Definition] = {}

    def get(self, version: RouteVersion) -> Definition:
        definition = self._loaded.get(version.id)
        if definition is None:
            definition = self._loaded[version.id] = load_definition(version)
        return definition


_definitions: dict[str, Definition] = {}


def load_definition(version: RouteVersion) -> Definition:
    """The version as stored now, checked against its deployment hash. Memoised by the hash of the stored
    texts themselves, so a definition edited in place is a different key and is checked afresh."""
    key = hashlib.sha256("\0".join([version.sha256, version.route.key, str(version.number), version.bpmn,
                                     version.spec, canonical(version.forms)]).encode()).hexdigest()
    found = _definitions.get(key)
    if found is None:
        if len(_definitions) > 64:
            _definitions.clear()
        found = _definitions[key] = _load_definition(version)
    return replace(found, route=dict(found.route))


def _load_definition(version: RouteVersion) -> Definition:

    route = {"key": version.route.key, "version": version.number, "sha256": version.sha256,
             "intact": True, "spec_matches_bpmn": True}
    problems = []
    if route_sha256(version.bpmn.encode(), version.forms) != version.sha256:
        route["intact"] = False
        problems.append("de opgeslagen BPMN of formulieren horen niet meer bij de versie-hash (na het deployen "
                        "gewijzigd)")
    try:
        raw = json.loads(version.spec)
        # Compare before restoring: the serializer consumes the dicts it restores from.
        matches = _spec_matches_bpmn(version, raw)
        spec = bpmn.SERIALIZER.from_dict(raw["spec"])
        subs = {key: bpmn.SERIALIZER.from_dict(value) for key, value in raw["subprocess_specs"].items()}
    except Exception as exc:  # a damaged stored spec is a finding, not a crash
        route["intact"] = route["spec_matches_bpmn"] = False
        problems.append(f"de opgeslagen definitie is onleesbaar ({type(exc).__name__})")
        return Definition(None, {}, {}, route, "; ".join(problems))
    if not matches:
        route["spec_matches_bpmn"] = False
        problems.append("de uitvoerbare definitie komt niet overeen met de opgeslagen BPMN")
    specs = [*spec.task_specs.values(), *(ts for sub in subs.values() for ts in sub.task_specs.values())]
    titles = {ts.name: getattr(ts, "bpmn_name", None) or ts.name for ts in specs}
    timers = any(bpmn.has_timer(s) for s in (spec, *subs.values()))
    return Definition(spec, subs, titles, route, "; ".join(problems) or None, timers)


def _spec_matches_bpmn(version: RouteVersion, stored: dict[str, Any]) -> bool:
    """Parse the stored BPMN again and compare with the stored executable spec (the file name aside)."""
    try:
        parsed = bpmn.parse_route(bpmn.parse_xml(version.bpmn.encode()), f"{version.route.key}.bpmn")
        fresh = json.loads(bpmn.dump_spec(parsed))
    except Exception:
        return False
    return _without_file(fresh) == _without_file(stored)


def _without_file(raw: dict[str, Any]) -> dict[str, Any]:
    out = {"spec": dict(raw.get("spec") or {}, file=None), "subprocess_specs": {}}
    for key, value in (raw.get("subprocess_specs") or {}).items():
        out["subprocess_specs"][key] = dict(value, file=None)
    return out
