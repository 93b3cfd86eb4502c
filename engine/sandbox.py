"""Route code runs sandboxed.

Gateway conditions, timer expressions, service parameters and script tasks are Python that process
owners write. A process owner is not a server administrator, so every expression and script is compiled
with RestrictedPython (no imports, no dunder or underscore attributes, no I/O), sees only a whitelist of
builtins plus Loket's helpers and the case data, and is stopped after a bounded amount of work.
"""

from __future__ import annotations

import operator
import sys
import time
from collections.abc import Callable, Mapping
from functools import lru_cache
from types import CodeType
from typing import Any

from RestrictedPython import compile_restricted_eval, compile_restricted_exec, limited_builtins, safe_builtins
from RestrictedPython.Guards import guarded_iter_unpack_sequence, guarded_unpack_sequence, safer_getattr
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine, TaskDataEnvironment

MAX_LINES = 100_000
ROUTE_CODE = ("<expression>", "<script>")
MAX_SECONDS = 1.0


class SandboxError(Exception):
    """Route code that is not allowed or ran too long."""


_INPLACE = {
    "+=": operator.iadd, "-=": operator.isub, "*=": operator.imul, "/=": operator.itruediv,
    "//=": operator.ifloordiv, "%=": operator.imod, "**=": operator.ipow,
}


def _inplacevar(op: str, x: Any, y: Any) -> Any:
    if op not in _INPLACE:
        raise SandboxError(f"operator {op} is niet toegestaan")
    return _INPLACE[op](x, y)


def _builtins() -> dict[str, Any]:
    allowed = dict(safe_builtins)
    for name in ("setattr", "delattr", "__build_class__", "id", "hash", "_getattr_"):
        allowed.pop(name, None)
    allowed.update(limited_builtins)  # range/list/tuple with size limits
    allowed.update(
        dict=dict, set=set, frozenset=frozenset, min=min, max=max, sum=sum, sorted=sorted, any=any, all=all,
        enumerate=enumerate, zip=zip, reversed=reversed, map=map, filter=filter,
    )
    return allowed


BASE_GLOBALS: dict[str, Any] = {
    "__builtins__": _builtins(),
    "_getattr_": safer_getattr,
    "_getitem_": operator.getitem,
    "_getiter_": iter,
    "_write_": lambda obj: obj,
    "_iter_unpack_sequence_": guarded_iter_unpack_sequence,
    "_unpack_sequence_": guarded_unpack_sequence,
    "_inplacevar_": _inplacevar,
}


@lru_cache(maxsize=4096)
def compile_expression(source: str) -> CodeType:
    result = compile_restricted_eval(source.strip(), "<expression>")
    if result.errors or result.code is None:
        raise SandboxError("; ".join(result.errors) or "niet te compileren")
    return result.code


@lru_cache(maxsize=1024)
def compile_script(source: str) -> CodeType:
    result = compile_restricted_exec(source, "<script>")
    if result.errors or result.code is None:
        raise SandboxError("; ".join(result.errors) or "niet te compileren")
    return result.code


def check_source(source: str, *, script: bool = False) -> str | None:
    """The reason route code would be refused, or None. Used by route validation."""
    try:
        (compile_script if script else compile_expression)(source)
    except SandboxError as exc:
        return str(exc)
    return None


class _Budget:
    """A trace function that stops runaway route code (loops, huge comprehensions)."""

    def __init__(self) -> None:
        self.lines = 0
        self.deadline = time.monotonic() + MAX_SECONDS

    def __call__(self, frame, event, arg):
        if event == "call":
            # Count only route code (and what it defines); Loket's own helpers are trusted and not metered.
            return self if frame.f_code.co_filename in ROUTE_CODE else None
        if event == "line":
            self.lines += 1
            if self.lines > MAX_LINES or (self.lines % 1000 == 0 and time.monotonic() > self.deadline):
                raise SandboxError("de route-code duurde te lang en is afgebroken")
        return self


def _bounded(run: Callable[[], Any]) -> Any:
    previous = sys.gettrace()
    sys.settrace(_Budget())
    try:
        return run()
    finally:
        sys.settrace(previous)


class SandboxEnvironment(TaskDataEnvironment):
    """SpiffWorkflow's script environment, with restricted compilation and Loket's helpers in scope."""

    def __init__(self, helpers: Mapping[str, Any] | None = None) -> None:
        globals_ = dict(BASE_GLOBALS)
        globals_.update(helpers or {})
        super().__init__(globals_)

    def evaluate(self, expression: str, context: dict, external_context: dict | None = None) -> Any:
        code = compile_expression(expression)
        scope = dict(self.globals)
        scope.update(external_context or {})
        scope.update(context)
        return _bounded(lambda: eval(code, scope))

    def execute(self, script: str, context: dict, external_context: dict | None = None) -> bool:
        code = compile_script(script)
        self.check_for_overwrite(context, external_context or {})
        context.update(self.globals)
        context.update(external_context or {})
        try:
            _bounded(lambda: exec(code, context))
        finally:
            self._remove_globals_and_functions_from_context(context, external_context)
        return True


class ServiceCallError(Exception):
    """A handler failed. Carries the real error, which SpiffWorkflow would otherwise mask as a NameError."""

    def __init__(self, handler: str, original: BaseException) -> None:
        super().__init__(f"{handler}: {type(original).__name__}: {original}")
        self.handler = handler
        self.original = original


class CaseScriptEngine(PythonScriptEngine):
    """The script engine for one case action: sandboxed code plus service calls through Loket's handlers."""

    def __init__(self, helpers: Mapping[str, Any] | None, call_service: Callable[..., Any]) -> None:
        super().__init__(environment=SandboxEnvironment(helpers))
        self._call_service = call_service

    def call_service(self, task: Any, operation_name: str, operation_params: dict, **kwargs: Any) -> str:
        # Overridden at the engine level so the real exception is kept (the base class masks it).
        return self._call_service(task, operation_name, operation_params)
