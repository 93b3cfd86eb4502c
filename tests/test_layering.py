"""Dependencies point one way (web → engine ← handlers, cli → engine) and no module imports itself round a
cycle: the engine can be used, tested and replayed without the web app or the handlers."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from engine.config import PROJECT_ROOT

PACKAGES = ("engine", "cli", "web", "handlers")


def test_importing_every_engine_module_leaves_flask_web_and_handlers_unloaded():
    probe = (
        "import importlib, pkgutil, sys, engine\n"
        "for info in pkgutil.walk_packages(engine.__path__, 'engine.'):\n"
        "    importlib.import_module(info.name)\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('flask', 'flask_smorest', 'werkzeug', "
        "'web', 'handlers', 'cli'))\n"
        "print(len([m for m in sys.modules if m.startswith('engine.')]), loaded)\n"
    )
    run = subprocess.run([sys.executable, "-c", probe], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True)
    count, loaded = run.stdout.strip().split(" ", 1)
    assert int(count) >= 20  # every engine module was really imported
    assert loaded == "[]"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PROJECT_ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path, name: str, known: set[str]) -> set[str]:
    """The project modules a module imports, anywhere in it but under ``if TYPE_CHECKING:``."""
    tree = ast.parse(path.read_text(), str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([node.module] if node.module else []))
            for alias in node.names:
                target = f"{base}.{alias.name}"
                found.add(target if target in known else base)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return {m for m in found if m in known and m != name}


def test_no_import_cycles():
    files = {_module_name(p): p for package in PACKAGES for p in (PROJECT_ROOT / package).rglob("*.py")}
    graph = {name: _imports(path, name, set(files)) for name, path in files.items()}
    cycles, state = [], {}

    def walk(node: str, stack: list[str]) -> None:
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                cycles.append(stack[stack.index(nxt):] + [nxt])
            elif nxt not in state:
                walk(nxt, stack)
        stack.pop()
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            walk(node, [])
    assert cycles == [], "import cycles: " + "; ".join(" → ".join(c) for c in cycles)


def test_engine_modules_stay_small():
    sizes = {p.relative_to(PROJECT_ROOT).as_posix(): len(p.read_text().splitlines())
             for p in (PROJECT_ROOT / "engine").rglob("*.py")}
    assert {path: n for path, n in sizes.items() if n > 400} == {}
