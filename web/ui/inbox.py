"""The inbox (``/``): tabs Mijn taken · Team · Alle with counts, filters, search, sort and paging; the chosen task's
form beside the list (htmx swaps it in; without JavaScript ``?taak=`` renders it in the page)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from flask import render_template, request

from engine import clock, drafts, worklist

from . import bp, current_actor, is_htmx, runtime

TABS = [("mijn", "mine", "Mijn taken"), ("team", "role", "Team"), ("alle", "all", "Alle")]
SCOPE = {tab: scope for tab, scope, _ in TABS}
SORTS = [("termijn", "Termijn (dringendst eerst)"), ("nieuwste", "Nieuwste eerst"), ("dossier", "Dossiernummer")]
PAGE = 25


def _int(value: str | None, default: int) -> int:
    return int(value) if value and value.isdigit() and len(value) < 9 else default


def _query() -> dict[str, Any]:
    args = request.args
    overdue = {"ja": True, "nee": False}.get(args.get("te_laat", ""))
    school = args.get("school", "")
    return {
        "tab": args.get("tab", ""),
        "route": args.get("route", "")[:64],
        "school": school if school.isdigit() and len(school) < 9 else "",
        "te_laat": args.get("te_laat", "") if overdue is not None else "",
        "q": args.get("q", "")[: worklist.MAX_TEXT],
        "sort": args.get("sort", "termijn") if args.get("sort") in worklist.SORTS else "termijn",
        "pagina": max(1, _int(args.get("pagina"), 1)),
        "overdue": overdue,
    }


def link(query: dict[str, Any], **changes: Any) -> str:
    """The inbox URL with the current choices and some changed (empty ones left out)."""
    merged = {**query, **changes}
    keep = {k: merged[k] for k in ("tab", "route", "school", "te_laat", "q", "sort", "pagina", "taak")
            if merged.get(k) not in (None, "", 1) or (k == "pagina" and merged.get(k, 1) != 1)}
    if keep.get("sort") == "termijn":
        del keep["sort"]
    return "/?" + urlencode(keep) if keep else "/"


@bp.route("/")
def inbox() -> Any:
    actor = current_actor()
    query = _query()
    filters = worklist.Filters(route=query["route"] or None,
                               school_id=int(query["school"]) if query["school"] else None,
                               overdue=query["overdue"], text=query["q"] or None)
    rt = runtime()
    with rt.db.read() as session:
        tabs = worklist.scopes(session, actor)
        known = None
        if query["tab"] not in SCOPE:  # no tab chosen: Mijn taken when something is claimed, else Team
            known = worklist.counts(session, filters, tabs)
            query["tab"] = "mijn" if known["mine"] else "team"
        rows, counts = worklist.search(session, actor, scope=SCOPE[query["tab"]], filters=filters,
                                       sort=query["sort"], limit=PAGE, offset=(query["pagina"] - 1) * PAGE,
                                       tabs=tabs, totals=known)
        total = counts[SCOPE[query["tab"]]]
        routes, schools = worklist.choices(session, actor)
        with_draft = drafts.saved_for(session, actor, [r.task.id for r in rows])
    now = clock.now()
    context = {
        "query": query, "tabs": TABS, "counts": counts, "rows": rows, "total": total, "routes": routes,
        "schools": schools, "sorts": SORTS, "page_size": PAGE, "with_draft": with_draft,
        "badge": lambda t: worklist.due_badge(t, now), "link": lambda **c: link(query, **c),
        "decision_badge": lambda d: worklist.decision_badge(d, now),
        "pages": max(1, -(-total // PAGE)), "chosen": request.args.get("taak"),
    }
    here = link(query, taak=None)
    context["list_url"] = here + ("&" if "?" in here else "?") + "deel=lijst"
    if is_htmx() and request.args.get("deel") == "lijst":
        return render_template("_inbox_list.html", **context)
    panel = None
    chosen = request.args.get("taak")
    if chosen:
        from .task_form import panel_context

        panel = panel_context(chosen)
    return render_template("inbox.html", panel=panel, **context)
