"""Every kind of read that the web app, the API and the CLI write to the access log reads as Dutch words in the
audit views and the PDF (engine.access.READ_KINDS): a new kind of read without a label fails here."""

from __future__ import annotations

import ast
import dataclasses
import io
from pathlib import Path

import pytest
from pypdf import PdfReader

from engine import access, audit_export
from engine.config import PROJECT_ROOT
from tests.helpers import PDF, add_document, do
from tests.ui import give_passwords, web_client

# The functions that write a read, and the position of their ``what`` argument. A wrapper that passes its own
# ``what`` on to one of these must be listed too (the walk says so when it meets one).
LOGGERS = {"record": 2, "append": 2, "record_read": 0, "_log": 1}
SOURCES = ("web", "engine", "cli")


def _logging_calls() -> list[tuple[str, int, ast.FunctionDef | None, ast.expr, ast.Module]]:
    """(file, line, enclosing function, ``what`` expression, module) of every call that writes a read."""
    found = []
    for folder in SOURCES:
        for path in sorted((PROJECT_ROOT / folder).rglob("*.py")):
            module = ast.parse(path.read_text(), str(path))
            for function, call in _calls(module):
                name = _logger_name(call, path)
                if name is None:
                    continue
                index = LOGGERS[name]
                what = next((k.value for k in call.keywords if k.arg == "what"), None)
                if what is None and len(call.args) > index:
                    what = call.args[index]
                assert what is not None, f"{path}:{call.lineno}: a read logged without 'what'"
                found.append((str(path.relative_to(PROJECT_ROOT)), call.lineno, function, what, module))
    return found


def _calls(module: ast.Module):
    """Each call with the function it is in (None at module level)."""
    def visit(node: ast.AST, function: ast.FunctionDef | None):
        for child in ast.iter_child_nodes(node):
            inner = child if isinstance(child, ast.FunctionDef) else function
            if isinstance(child, ast.Call):
                yield function, child
            yield from visit(child, inner)
    yield from visit(module, None)


def _logger_name(call: ast.Call, path: Path) -> str | None:
    func = call.func
    if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id == "access":
        return func.attr if func.attr in ("record", "append") else None
    if isinstance(func, ast.Name):
        if func.id in ("record_read", "_log"):
            return func.id
        if func.id == "append" and path.name == "access.py":
            return "append"
    return None


def _codes(node: ast.expr, function: ast.FunctionDef | None, module: ast.Module, where: str) -> list[str]:
    """The codes (or, for an f-string, the code's fixed start) an expression can log."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.JoinedStr):
        head = node.values[0] if node.values else None
        assert isinstance(head, ast.Constant), f"{where}: an f-string read must start with its kind"
        return [head.value]
    if isinstance(node, ast.IfExp):
        return _codes(node.body, function, module, where) + _codes(node.orelse, function, module, where)
    if isinstance(node, ast.Name) and function is not None:
        if node.id in {a.arg for a in function.args.args + function.args.kwonlyargs}:
            assert function.name in LOGGERS, (f"{where}: {function.name}() passes its '{node.id}' on to the access "
                                              "log; add it to LOGGERS in this test")
            return []  # a wrapper: its callers are walked
        values = [a.value for a in ast.walk(function) if isinstance(a, ast.Assign)
                  and any(isinstance(t, ast.Name) and t.id == node.id for t in a.targets)]
        assert values, f"{where}: cannot tell what '{node.id}' holds"
        return [code for value in values for code in _codes(value, function, module, where)]
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "get"
            and isinstance(node.func.value, ast.Name)):  # READS.get(tab, "case"): a module's table of codes
        table = next((a.value for a in module.body if isinstance(a, ast.Assign | ast.AnnAssign)
                      and any(isinstance(t, ast.Name) and t.id == node.func.value.id
                              for t in (a.targets if isinstance(a, ast.Assign) else [a.target]))), None)
        assert isinstance(table, ast.Dict), f"{where}: cannot read the table {node.func.value.id}"
        return [c for v in [*table.values, *node.args[1:]] for c in _codes(v, function, module, where)]
    raise AssertionError(f"{where}: cannot tell which kind of read this logs ({ast.unparse(node)}); "
                         "log a literal code or a table of them")


def test_every_kind_of_read_that_is_logged_has_a_dutch_label():
    calls = _logging_calls()
    logged: dict[str, str] = {}
    for path, line, function, what, module in calls:
        for code in _codes(what, function, module, f"{path}:{line}"):
            logged[code] = f"{path}:{line}"
    assert len(calls) > 20 and {"document:", "cases", "task:", "export:"} <= set(logged)  # the walk sees them
    missing = {code: where for code, where in logged.items() if access.read_kind(code) is None}
    assert not missing, f"reads without a label in engine.access.READ_KINDS: {missing}"


@pytest.mark.parametrize("what, label", [
    ("case", "dossier"), ("cases", "lijst van dossiers"), ("cases?q=vries", "dossiers gezocht op 'vries'"),
    ("documents", "lijst van documenten"), ("document:12", "document 12 (inhoud)"), ("task:besluit", "taak besluit"),
    ("events", "geschiedenis"), ("state", "toestand"), ("state@2026-03-01T09:00:00+00:00", "toestand op 01-03-2026"),
    ("state#7", "toestand na event 7"), ("replay", "opnieuw afgespeeld"), ("verify", "hash-keten gecontroleerd"),
    ("export:pdf", "export (pdf)"), ("access-log", "toegangslog"),
    ("raar:ding", "raar:ding"),  # no kind of today's: shown as it was stored (entries are permanent)
])
def test_labels(what, label):
    assert audit_export.read_label(what).startswith(label)


def test_the_audit_page_and_the_pdf_say_which_document_and_list_were_read(client, runtime, world, sample, db,
                                                                         tmp_path):
    runtime.settings = dataclasses.replace(runtime.settings, documents_dir=tmp_path / "documents")
    give_passwords(db)
    case = runtime.start_case(world["school"], "tlv-vso", sample["start"])
    do(runtime, world, "school", case.id, "aanmelding", sample["aanmelding"])
    document = add_document(runtime, world, "school", case.id, "opp", PDF)
    school = web_client(client.application, world, "school")
    assert school.get(f"/documenten/{document.id}").status_code == 200
    assert school.get(f"/cases/{case.id}?tab=documenten").status_code == 200

    auditor = web_client(client.application, world, "auditor")
    html = auditor.get(f"/audit/{case.id}").get_data(as_text=True)
    assert f"document {document.id} (inhoud)" in html and "lijst van documenten" in html
    assert f"document:{document.id}" not in html
    raw = auditor.get(f"/audit/{case.id}/export.pdf").data
    text = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(raw)).pages)
    assert "lijst van documenten" in " ".join(text.split())
