"""``loket init`` loads the SWV files (engine.swv_config) into the database, through events (engine.tenant_events).

A new SWV is made and every setting of its file is recorded as an event. An SWV that exists changes only when its
file's ``version`` is higher than the one loaded last: then what the file changed since that version is applied,
each change an event (before, after); what someone changed meanwhile on the web page, and the file did not
change, stays. The same version again changes nothing (idempotent); the same version with other content, or a
lower one, is reported and not applied. Each load leaves a marker event (path ``bestand``) holding the version,
the file's sha256 and the values it set, so the next version can be compared with it."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from . import clock
from .models import Route, Tenant
from .swv_config import SwvFile, read_all
from .tenant_events import Who, change, loaded_file, record

MARKER = "bestand"


@dataclass
class Loaded:
    key: str
    version: int
    state: str  # aangemaakt, bijgewerkt, ongewijzigd, overgeslagen
    changes: list[str] = field(default_factory=list)  # the paths changed
    note: str | None = None
    undeployed: list[str] = field(default_factory=list)  # routes it runs that are not deployed (yet)

    def line(self) -> str:
        what = f" ({len(self.changes)} wijzigingen)" if self.changes else ""
        note = f": {self.note}" if self.note else ""
        missing = (f"; let op, nog niet gedeployed: {', '.join(self.undeployed)} (een dossier daarop kan niet "
                   "starten)") if self.undeployed else ""
        return f"SWV {self.key} v{self.version} {self.state}{what}{note}{missing}"


def load(session: Session, swv: SwvFile) -> Loaded:
    """Create or update one SWV from its checked file."""
    who = Who(f"bestand:{swv.path.name}", MARKER)
    tenant = session.scalar(select(Tenant).where(Tenant.key == swv.key))
    before: dict[str, Any] = {}
    state = "bijgewerkt"
    if tenant is None:
        area = swv.wanted.get("area") or {"region": "midden"}
        tenant = Tenant(key=swv.key, name=swv.name, region=area["region"], settings={}, created_at=clock.now())
        session.add(tenant)
        session.flush()
        state = "aangemaakt"
    else:
        marker = loaded_file(session, tenant.id)
        if marker is not None:
            loaded = int(marker.version or 0)
            if swv.version < loaded:
                return Loaded(swv.key, swv.version, "overgeslagen", note=f"versie {loaded} is al geladen")
            if swv.version == loaded:
                note = None if marker.after.get("sha256") == swv.sha256 else (
                    "de inhoud is gewijzigd maar version niet verhoogd: niet toegepast (verhoog version)")
                return Loaded(swv.key, swv.version, "ongewijzigd", note=note)
            before = dict(marker.after.get("wanted") or {})
    changed = []
    for path in sorted(set(swv.wanted) | set(before)):
        value = swv.wanted.get(path)
        if path in before and before[path] == value:
            continue  # the file did not change it: a change made meanwhile (web, CLI) stays
        if change(session, tenant, path, value, who, version=swv.version) is not None:
            changed.append(path)
    record(session, tenant, MARKER, {"sha256": swv.sha256, "file": swv.path.name, "wanted": swv.wanted}, who,
           version=swv.version)
    return Loaded(swv.key, swv.version, state, changed)


def load_all(session: Session, processes_dir: Path) -> list[Loaded]:
    """Load every file in ``processes_dir/swv``; SwvFileInvalid (nothing loaded) if any file is wrong."""
    deployed = set(session.scalars(select(Route.key)))
    loaded = []
    for swv in read_all(processes_dir, session):
        result = load(session, swv)
        result.undeployed = [key for key in swv.wanted.get("routes") or [] if key not in deployed]
        loaded.append(result)
    return loaded
