"""Route code runs sandboxed.

Gateway conditions, timer expressions, service parameters and script tasks are Python that process
owners write. A process owner is not a server administrator, so every expression and script is compiled
with RestrictedPython (no imports, no dunder or underscore attributes, no I/O, no try/except), sees only a
whitelist of builtins plus Loket's helpers and the case data, and is bounded per expression:

- in work: a line budget (loops, comprehensions) and a wall-clock budget (``MAX_SECONDS``, also while
  Loket's helpers run), so route code never holds a database lock for long;
- in size: operations that can grow a value go through the guards of ``sandbox_limits``, which refuse a
  result that is too big before computing it; what a script leaves in the case data is measured the same
  way (shared references can make a small object that serializes to gigabytes);
- in memory: once route code has run for a moment (``METER_AFTER``), tracemalloc counts what it allocates,
  and the budget refuses the run once it holds more than ``MAX_BYTES`` more than when metering started
  (checked on every line of route code; a loop, comprehension or lambda gets a line event per round, so
  building many values that each pass the size guards is stopped too). What one line does between two
  checks is bounded by the size guards.
"""

from __future__ import annotations

import operator
import os
import sys
import threading
import time
import tracemalloc
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from types import CodeType, FrameType
from typing import Any

from RestrictedPython import compile_restricted_eval, compile_restricted_exec, limited_builtins, safe_builtins
from RestrictedPython.Guards import guarded_iter_unpack_sequence, guarded_unpack_sequence
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine, TaskDataEnvironment

from . import sandbox_limits as limits
from .sandbox_limits import MAX_INT_BITS, MAX_ITEMS, SandboxError

__all__ = [
    "MAX_BYTES", "MAX_INT_BITS", "MAX_ITEMS", "MAX_LINES", "MAX_SECONDS", "BASE_GLOBALS", "CaseScriptEngine",
    "SandboxEnvironment", "SandboxError", "ServiceCallError", "check_source", "compile_expression", "compile_script",
    "unmetered",
]

MAX_LINES = 100_000  # lines of route code per expression or script
MAX_SECONDS = float(os.environ.get("LOKET_SANDBOX_SECONDS", "1.0"))  # wall clock per expression or script
MAX_MEGABYTES = float(os.environ.get("LOKET_SANDBOX_MEGABYTES", "64"))  # memory per expression or script
MAX_BYTES = int(MAX_MEGABYTES * 1_000_000)
METER_AFTER = 0.002  # seconds a run goes unmetered (see _Budget)
ROUTE_CODE = ("<expression>", "<script>")

TOO_LONG = "de route-code duurde te lang en is afgebroken"
TOO_MUCH_MEMORY = f"de route-code gebruikt te veel geheugen (meer dan {MAX_MEGABYTES:g} MB) en is afgebroken"


# --- memory: tracemalloc, on only while route code runs ------------------------------------------------

class _Tracing:
    """tracemalloc is process-wide and slows every allocation while it is on: it is started by the first run
    of route code and stopped by the last (several threads may run route code at once). If something else
    traced already (a developer's profiler), it is left as it was."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._runs = 0
        self._ours = False

    def enter(self) -> int:
        """Start tracing if needed; the bytes traced now (a run counts from here)."""
        with self._lock:
            if self._runs == 0 and not tracemalloc.is_tracing():
                tracemalloc.start(1)
                self._ours = True
            self._runs += 1
            return tracemalloc.get_traced_memory()[0]

    def leave(self) -> None:
        with self._lock:
            self._runs -= 1
            if self._runs == 0 and self._ours:
                tracemalloc.stop()  # also forgets every trace: the next run starts from nothing
                self._ours = False


_tracing = _Tracing()


# --- the budget of one run ------------------------------------------------------------------------------

class _Budget:
    """A trace function that stops runaway route code: lines of route code are counted, and the clock is
    read on every line and every call (Loket's helpers are trusted to do real work, but not for long). Once a
    run has lasted ``METER_AFTER`` seconds its memory is metered too, on every line: an ordinary expression
    is done long before and pays nothing for tracemalloc; what a run can allocate before then is bounded by
    the size guards and the machine's memory bandwidth (a few tens of MB in 2 ms)."""

    def __init__(self) -> None:
        self.lines = 0
        now = time.monotonic()
        self.deadline = now + MAX_SECONDS
        self.meter_from = now + METER_AFTER
        self.ceiling: int | None = None  # traced bytes past which this run holds too much; None: not metered

    def __call__(self, frame: FrameType, event: str, arg: Any) -> Any:
        if event == "call":
            code = frame.f_code.co_filename
            if time.monotonic() > self.deadline and _interruptible(code):
                raise SandboxError(TOO_LONG)
            # Count lines only of route code (and what it defines); a helper's frames get no line events.
            return self if code in ROUTE_CODE else None
        if event == "line":
            self.lines += 1
            now = time.monotonic()
            if self.lines > MAX_LINES or now > self.deadline:
                raise SandboxError(TOO_LONG)
            if self.ceiling is not None:
                self.check_memory()
            elif now >= self.meter_from:
                self.ceiling = _tracing.enter() + MAX_BYTES
        return self

    def check_memory(self) -> None:
        if self.ceiling is not None and tracemalloc.get_traced_memory()[0] > self.ceiling:
            raise SandboxError(TOO_MUCH_MEMORY)

    def close(self) -> None:
        if self.ceiling is not None:
            self.ceiling = None
            _tracing.leave()


@contextmanager
def unmetered() -> Iterator[None]:
    """Loket's own setup work that route code happens to trigger (the SWV's calendar read from the database and
    built on first use) runs outside the running budget, and its time is credited back: a cold cache on a busy
    machine must not turn an ordinary ``werkdagen(10)`` into an incident. Only bounded work belongs here."""
    budget = sys.gettrace()
    if not isinstance(budget, _Budget):
        yield
        return
    sys.settrace(None)
    start = time.monotonic()
    try:
        yield
    finally:
        spent = time.monotonic() - start
        budget.deadline += spent
        budget.meter_from += spent
        sys.settrace(budget)


_PROJECT = str(Path(__file__).resolve().parent.parent) + os.sep


@lru_cache(maxsize=1024)
def _interruptible(filename: str) -> bool:
    """Route code and Loket's own code may be stopped as a function starts; a library (SQLAlchemy in the
    middle of a query) is left to return first."""
    return filename in ROUTE_CODE or (filename.startswith(_PROJECT) and "site-packages" not in filename)


def _bounded(run: Callable[[], Any]) -> Any:
    previous = sys.gettrace()
    budget = _Budget()
    sys.settrace(budget)
    try:
        result = run()
        budget.check_memory()  # what the last line made, before it is kept
        return result
    finally:
        sys.settrace(previous)
        budget.close()



def _builtins() -> dict[str, Any]:
    allowed = dict(safe_builtins)
    for name in ("setattr", "delattr", "__build_class__", "id", "hash", "_getattr_"):
        allowed.pop(name, None)
    allowed.update(limited_builtins)  # range/list/tuple with size limits
    allowed.update(
        dict=dict, set=set, frozenset=frozenset, min=min, max=max, sorted=sorted, any=any, all=all,
        enumerate=enumerate, zip=zip, reversed=reversed, map=map, filter=filter,
    )
    allowed.update(limits.BUILTINS)  # sum, pow, str, repr, round: with their results' size checked first
    return allowed


BASE_GLOBALS: dict[str, Any] = {
    "__builtins__": _builtins(),
    "_getitem_": operator.getitem,
    "_getiter_": iter,
    "_write_": lambda obj: obj,
    "_iter_unpack_sequence_": guarded_iter_unpack_sequence,
    "_unpack_sequence_": guarded_unpack_sequence,
    **limits.GLOBALS,  # _getattr_, _inplacevar_ and the operator guards
}


# --- compiling and running ------------------------------------------------------------------------------

@lru_cache(maxsize=4096)
def compile_expression(source: str) -> CodeType:
    result = compile_restricted_eval(source.strip(), "<expression>", policy=limits.Policy)
    if result.errors or result.code is None:
        raise SandboxError("; ".join(result.errors) or "niet te compileren")
    return result.code


@lru_cache(maxsize=1024)
def compile_script(source: str) -> CodeType:
    result = compile_restricted_exec(source, "<script>", policy=limits.Policy)
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
        return _bounded(lambda: limits.check_size(eval(code, scope)))

    def execute(self, script: str, context: dict, external_context: dict | None = None) -> bool:
        code = compile_script(script)
        self.check_for_overwrite(context, external_context or {})
        context.update(self.globals)
        context.update(external_context or {})
        try:
            _bounded(lambda: self._run(code, context))
        finally:
            self._remove_globals_and_functions_from_context(context, external_context)
        return True

    def _run(self, code: CodeType, context: dict) -> None:
        exec(code, context)
        # The case data becomes what the engine stores and serializes: measure all of it, as a list can
        # grow in place (append) as well as by assignment.
        for name, value in context.items():
            if self.globals.get(name, self) is not value:
                limits.check_size(value)


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
