"""Describing where a replayed case parts from the stored one, in words an auditor can act on."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from SpiffWorkflow.util.task import TaskState

from . import statediff
from .models import Case


@dataclass
class Step:
    """What the replay knew after one event (kept for the timeline and to locate a divergence)."""

    seq: int
    type: str
    data: dict[str, Any] | None
    status: str
    state: dict[str, Any] | None = None


def same_incident(logged: dict[str, Any], produced: dict[str, Any], unrecorded: str | None) -> bool:
    """Is the replayed incident the logged one? A handler that failed then is not called again on replay:
    the replay stops at that same service call for want of a logged result, which is the same incident."""
    if logged.get("task") != produced.get("task"):
        return False
    if logged.get("error") == produced.get("error"):
        return True
    handler = str(logged.get("error", "")).split(":")[0]
    return unrecorded is not None and unrecorded == handler


def engine_differences(case: Case, data: dict[str, Any], state: dict[str, Any]) -> list[dict[str, Any]]:
    """Where the stored case data and workflow state differ from the replayed ones."""
    found = [{"what": "data", **item} for item in statediff.differences(case.data or {}, data, limit=10)]
    try:
        stored = statediff.normalise(case.state)
    except (ValueError, TypeError) as exc:
        return found + [{"what": "state", "path": [], "stored": f"onleesbaar: {exc}", "replayed": None}]
    found += [{"what": "state", **item} for item in statediff.differences(stored, state, limit=10)]
    return found


def arose_at(steps: list[Step], item: dict[str, Any]) -> int:
    """The event after which the replayed value behind a data or state difference took its final form."""

    def value(step: Step) -> Any:
        path = item["path"]
        if item["what"] == "data":
            return _dig(step.data, path)
        if step.state is None:
            return None
        if path and path[0] == "tasks" and len(path) > 1:
            tasks = step.state.get("tasks", {})
            name = path[1]
            final = steps[-1].state.get("tasks", {}) if steps[-1].state else {}
            if name not in final:  # only in the stored state: look at where its parent changed
                name = _nearest_parent(item, final)
            return tasks.get(name)
        return _dig(step.state, path[:1])

    if not steps:
        return 0
    final = value(steps[-1])
    seq = steps[0].seq
    previous: Any = object()
    for step in steps:
        current = value(step)
        if current != previous and current == final:
            seq = step.seq
        previous = current
    return seq


def _nearest_parent(item: dict[str, Any], final_tasks: dict[str, Any]) -> str | None:
    stored = item.get("stored")
    parent = stored.get("parent") if isinstance(stored, dict) else None
    return parent if parent in final_tasks else None


def _dig(value: Any, path: list[str]) -> Any:
    for key in path:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


_KIND = {"warning": "waarschuwing", "escalation": "escalatie", "case": "doorlooptijd", "timer": "timer"}


def describe(item: dict[str, Any]) -> str:
    """One difference in a sentence fragment."""
    what = item["what"]
    if what in ("case", "task", "deadline"):
        row = item["row"]
        where = {"case": "dossier",
                 "task": f"taak {row.get('name')} ({str(row.get('id'))[:8]})",
                 "deadline": f"termijn {_KIND.get(row.get('kind'), row.get('kind'))} van "
                             f"{'taak ' + str(row.get('task_id'))[:8] if row.get('task_id') else 'het dossier'} "
                             f"(nr. {row.get('n')})"}[what]
        if item.get("only"):
            side = "opgeslagen" if item["only"] == "stored" else "afgespeelde"
            return f"{where} bestaat alleen in de {side} gegevens"
        return f"{where}, {item['field']}: opgeslagen {_short(item['stored'])}, afgespeeld {_short(item['replayed'])}"
    path = item["path"]
    if what == "data":
        return f"gegeven {'.'.join(path)}: opgeslagen {_short(item['stored'])}, afgespeeld {_short(item['replayed'])}"
    if path and path[0] == "tasks" and len(path) > 1:
        where = f"taak {path[1]}"
        if item.get("only"):
            side = "opgeslagen" if item["only"] == "stored" else "afgespeelde"
            return f"{where} bestaat alleen in de {side} toestand"
        field_ = ".".join(path[2:])
        stored, replayed = item["stored"], item["replayed"]
        if field_ == "state":
            stored, replayed = TaskState.get_name(stored), TaskState.get_name(replayed)
        return f"{where}, {field_}: opgeslagen {_short(stored)}, afgespeeld {_short(replayed)}"
    return f"{'.'.join(path) or 'toestand'}: opgeslagen {_short(item['stored'])}, afgespeeld {_short(item['replayed'])}"


def _short(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 80 else text[:77] + "..."
