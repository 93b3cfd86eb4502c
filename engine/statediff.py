"""Compare two serialized workflow states the way an auditor means "the same".

SpiffWorkflow stamps ``last_state_change`` with the wall clock, and a task's id says nothing a reader can
check by eye (Loket derives it from the case and the event, ``engine.workflow.task_ids``), so two runs of the
same history never serialize byte for byte alike. ``normalise`` names every task by its spec
and its occurrence in tree order (``dossiercheck#2``: the second dossiercheck), replaces every task id in
the state by that name, and drops the timestamps; ``differences`` then lists what really differs.
"""

from __future__ import annotations

import json
from typing import Any

DROPPED = {"id", "last_state_change"}


def normalise(state: str | dict[str, Any]) -> dict[str, Any]:
    dct = json.loads(state) if isinstance(state, str) else state
    names: dict[str, str] = {}
    _name_tasks(dct, "", names)
    return _normalise_workflow(dct, names)


def _name_tasks(workflow: dict[str, Any], prefix: str, names: dict[str, str]) -> None:
    tasks = workflow.get("tasks") or {}
    seen: dict[str, int] = {}

    def name(task_id: str) -> None:
        spec = tasks[task_id].get("task_spec", "?")
        seen[spec] = seen.get(spec, 0) + 1
        names[task_id] = f"{prefix}{spec}#{seen[spec]}"

    order: list[str] = []
    root = workflow.get("root")
    stack: list[str] = [root] if isinstance(root, str) and root in tasks else []
    while stack:  # pre-order, children in their own order; iterative, because trees get deep
        task_id = stack.pop()
        order.append(task_id)
        stack.extend(reversed([c for c in tasks[task_id].get("children", []) if c in tasks]))
    reached = set(order)
    order.extend(sorted((t for t in tasks if t not in reached), key=lambda t: tasks[t].get("task_spec", "")))
    for task_id in order:
        name(task_id)
    for owner, sub in (workflow.get("subprocesses") or {}).items():
        _name_tasks(sub, f"{names.get(owner, owner)}>", names)


def _normalise_workflow(workflow: dict[str, Any], names: dict[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in workflow.items():
        if key == "tasks":
            out["tasks"] = {names[tid]: _task(task, names) for tid, task in value.items()}
        elif key == "subprocesses":
            out["subprocesses"] = {names.get(owner, owner): _normalise_workflow(sub, names)
                                   for owner, sub in value.items()}
        elif key in _DATA_FIELDS:
            out[key] = value
        elif key not in DROPPED:
            out[key] = _replace(value, names)
    return out


# Fields of a serialized task that hold case data, never task ids: compared as they are (walking them
# would be most of the cost of a replay).
_DATA_FIELDS = {"data", "delta"}


def _task(task: dict[str, Any], names: dict[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in task.items():
        if key in DROPPED:
            continue
        if key == "children":
            out[key] = [names.get(child, child) for child in value]
        elif key == "parent":
            out[key] = names.get(value, value)
        elif key in _DATA_FIELDS or not value:
            out[key] = value
        else:
            out[key] = _replace(value, names)
    delta = out.get("delta")
    if isinstance(delta, dict) and isinstance(delta.get("deletions"), list):
        # A set of keys, listed in the order of the data dict it came from; PostgreSQL's JSONB returns logged
        # data with its keys reordered, so the order says nothing.
        out["delta"] = dict(delta, deletions=sorted(delta["deletions"], key=str))
    return out


def _replace(value: Any, names: dict[str, str]) -> Any:
    if isinstance(value, str):
        return names.get(value, value)
    if isinstance(value, dict):
        return {names.get(k, k): _replace(v, names) for k, v in value.items()}
    if isinstance(value, list):
        return [_replace(v, names) for v in value]
    return value


def differences(stored: Any, replayed: Any, path: tuple[str, ...] = (), limit: int = 20) -> list[dict[str, Any]]:
    """Where two normalised states (or two data dicts) differ: one entry per differing leaf, at most
    ``limit``. A path is the list of keys from the top, e.g. ("tasks", "besluit#1", "data", "besluit")."""
    if stored == replayed:  # the usual answer, found at C speed
        return []
    out: list[dict[str, Any]] = []
    _diff(stored, replayed, path, out, limit)
    return out


def _diff(a: Any, b: Any, path: tuple[str, ...], out: list[dict[str, Any]], limit: int) -> None:
    if len(out) >= limit:
        return
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b), key=str):
            if key not in a:
                out.append({"path": list(path + (str(key),)), "stored": None, "replayed": b[key], "only": "replayed"})
            elif key not in b:
                out.append({"path": list(path + (str(key),)), "stored": a[key], "replayed": None, "only": "stored"})
            else:
                _diff(a[key], b[key], path + (str(key),), out, limit)
            if len(out) >= limit:
                return
    elif a != b:
        out.append({"path": list(path), "stored": a, "replayed": b})


def flat(data: Any, prefix: str = "") -> dict[str, Any]:
    """A nested dict as {"leerling.voornaam": "Sanne", ...}: the keys a person reads in a timeline."""
    if not isinstance(data, dict) or not data:
        return {prefix: data} if prefix else {}
    out: dict[str, Any] = {}
    for key, value in data.items():
        out.update(flat(value, f"{prefix}.{key}" if prefix else str(key)))
    return out


def changes(before: dict[str, Any], after: dict[str, Any]) -> list[dict[str, Any]]:
    """What changed between two versions of the case data, per leaf key, as before -> after."""
    a, b = flat(before or {}), flat(after or {})
    out = []
    for key in sorted(set(a) | set(b)):
        if a.get(key, _MISSING) != b.get(key, _MISSING):
            out.append({"key": key, "before": a.get(key), "after": b.get(key)})
    return out


_MISSING = object()
