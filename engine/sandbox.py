"""Route code runs sandboxed.

Gateway conditions, timer expressions, service parameters and script tasks are Python that process
owners write. A process owner is not a server administrator, so every expression and script is compiled
with RestrictedPython (no imports, no dunder or underscore attributes, no I/O, no try/except), sees only a
whitelist of builtins plus Loket's helpers and the case data, and is bounded per expression:

- in work: a line budget (loops, comprehensions) and a wall-clock budget (``MAX_SECONDS``, also while
  Loket's helpers run), so route code never holds a database lock for long;
- in size: one bytecode operation can do unbounded work (``9**9**9``, ``'x' * 10**9``) that no trace hook
  can interrupt, so ``**``, ``*``, ``+``, ``<<``, ``%``, f-strings and the growing builtins and text methods
  are rewritten into guards that refuse a result beyond ``MAX_INT_BITS`` or ``MAX_ITEMS`` before computing
  it; what a script leaves in the case data is measured the same way (shared references can make a small
  object that serializes to gigabytes).
"""

from __future__ import annotations

import ast
import math
import operator
import os
import re
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from functools import lru_cache
from pathlib import Path
from types import CodeType, FrameType
from typing import Any, NoReturn

from RestrictedPython import (
    RestrictingNodeTransformer,
    compile_restricted_eval,
    compile_restricted_exec,
    limited_builtins,
    safe_builtins,
)
from RestrictedPython.Guards import guarded_iter_unpack_sequence, guarded_unpack_sequence, safer_getattr
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine, TaskDataEnvironment

MAX_LINES = 100_000  # lines of route code per expression or script
MAX_SECONDS = float(os.environ.get("LOKET_SANDBOX_SECONDS", "1.0"))  # wall clock per expression or script
MAX_INT_BITS = 10_000  # about 3,000 decimal digits
MAX_ITEMS = 1_000_000  # characters of a text, items of a list, or (measured) items of a whole value
ROUTE_CODE = ("<expression>", "<script>")

TOO_LONG = "de route-code duurde te lang en is afgebroken"
TOO_BIG_INT = f"de route-code maakt een getal dat te groot is (meer dan {MAX_INT_BITS} bits) en is afgebroken"
TOO_BIG = f"de route-code maakt een waarde die te groot is (meer dan {MAX_ITEMS} tekens of items) en is afgebroken"


class SandboxError(Exception):
    """Route code that is not allowed, ran too long or made too big a value."""


# --- the budget of one run ------------------------------------------------------------------------------

class _Budget:
    """A trace function that stops runaway route code: lines of route code are counted, and the clock is
    read on every line and every call (Loket's helpers are trusted to do real work, but not for long)."""

    def __init__(self) -> None:
        self.lines = 0
        self.deadline = time.monotonic() + MAX_SECONDS

    def __call__(self, frame: FrameType, event: str, arg: Any) -> Any:
        if event == "call":
            code = frame.f_code.co_filename
            if time.monotonic() > self.deadline and _interruptible(code):
                raise SandboxError(TOO_LONG)
            # Count lines only of route code (and what it defines); a helper's frames get no line events.
            return self if code in ROUTE_CODE else None
        if event == "line":
            self.lines += 1
            if self.lines > MAX_LINES or time.monotonic() > self.deadline:
                raise SandboxError(TOO_LONG)
        return self


_PROJECT = str(Path(__file__).resolve().parent.parent) + os.sep


@lru_cache(maxsize=1024)
def _interruptible(filename: str) -> bool:
    """Route code and Loket's own code may be stopped as a function starts; a library (SQLAlchemy in the
    middle of a query) is left to return first."""
    return filename in ROUTE_CODE or (filename.startswith(_PROJECT) and "site-packages" not in filename)


def _bounded(run: Callable[[], Any]) -> Any:
    previous = sys.gettrace()
    sys.settrace(_Budget())
    try:
        return run()
    finally:
        sys.settrace(previous)


def _refuse(message: str) -> NoReturn:
    raise SandboxError(message)


# --- sizes ----------------------------------------------------------------------------------------------

def _bits(value: Any) -> int:
    return abs(int(value)).bit_length() if isinstance(value, int) else 0


def _check_int(value: Any) -> Any:
    if isinstance(value, int) and _bits(value) > MAX_INT_BITS:
        _refuse(TOO_BIG_INT)
    return value


def _length(value: Any) -> int:
    """Items of a sized value whose size an operation multiplies (texts, lists, tuples); else 0."""
    return len(value) if isinstance(value, (str, bytes, bytearray, list, tuple)) else 0


def measure(value: Any, limit: int = MAX_ITEMS) -> int:
    """How big ``value`` is when written out (characters of texts plus items of containers, shared parts
    counted each time they appear, as JSON or str() would), counted up to just past ``limit``."""
    total, stack = 0, [value]
    while stack and total <= limit:
        item = stack.pop()
        total += 1
        if isinstance(item, (str, bytes, bytearray)):
            total += len(item)
        elif isinstance(item, int) and not isinstance(item, bool):
            total += _bits(item) // 3  # about as many characters as decimal digits
        elif isinstance(item, Mapping):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, (list, tuple, set, frozenset)):
            stack.extend(item)
    return total


def _check_size(value: Any) -> Any:
    if measure(value) > MAX_ITEMS:
        _refuse(TOO_BIG)
    return value


# --- guarded operators ----------------------------------------------------------------------------------

def _pow(base: Any, exponent: Any, modulo: Any = None) -> Any:
    if modulo is not None:  # modular: the result is smaller than the modulus
        return pow(base, exponent, _check_int(modulo))
    if isinstance(base, int) and isinstance(exponent, int) and exponent > 0 and abs(base) > 1:
        if math.log2(abs(base)) * exponent > MAX_INT_BITS:  # the result's bits
            _refuse(TOO_BIG_INT)
    return base**exponent


def _mul(left: Any, right: Any) -> Any:
    if isinstance(left, int) and isinstance(right, int):
        if _bits(left) + _bits(right) > MAX_INT_BITS + 1:
            _refuse(TOO_BIG_INT)
    else:
        for sequence, times in ((left, right), (right, left)):
            if isinstance(times, int) and _length(sequence) * times > MAX_ITEMS:
                _refuse(TOO_BIG)
    return left * right


def _add(left: Any, right: Any) -> Any:
    if _length(left) + _length(right) > MAX_ITEMS:
        _refuse(TOO_BIG)
    return _check_int(left + right)


def _lshift(left: Any, right: Any) -> Any:
    if isinstance(left, int) and isinstance(right, int) and left and _bits(left) + right > MAX_INT_BITS:
        _refuse(TOO_BIG_INT)
    return left << right


# A width or precision in %-formatting or a format spec; '*' takes it from the arguments.
_PERCENT = re.compile(r"%(?:\([^)]*\))?[#0\- +]*(\*|\d+)?(?:\.(\*|\d+))?")
_DIGITS = re.compile(r"\d+")


def _check_widths(widths: Iterable[str | None]) -> None:
    for width in widths:
        if width == "*" or (width and int(width) > MAX_ITEMS):
            _refuse(TOO_BIG)


def _mod(left: Any, right: Any) -> Any:
    if isinstance(left, (str, bytes)):
        text = left if isinstance(left, str) else left.decode("latin-1")
        _check_widths(w for match in _PERCENT.finditer(text) for w in match.groups())
        _check_size(right)
    return left % right


def _format(value: Any, conversion: int, spec: str) -> str:
    """One f-string field: ``f"{value!r:>10}"``."""
    _check_size(value)
    if conversion == ord("r"):
        value = repr(value)
    elif conversion == ord("s"):
        value = str(value)
    elif conversion == ord("a"):
        value = ascii(value)
    if spec:
        _check_widths(_DIGITS.findall(spec))
    return format(value, spec)


_OPERATORS: dict[type[ast.operator], str] = {
    ast.Pow: "_pow_", ast.Mult: "_mul_", ast.Add: "_add_", ast.LShift: "_lshift_", ast.Mod: "_mod_",
}

_INPLACE: dict[str, Callable[[Any, Any], Any]] = {
    "+=": _add, "-=": operator.sub, "*=": _mul, "/=": operator.truediv,
    "//=": operator.floordiv, "%=": _mod, "**=": _pow,
}


def _inplacevar(op: str, x: Any, y: Any) -> Any:
    if op not in _INPLACE:
        raise SandboxError(f"operator {op} is niet toegestaan")
    return _INPLACE[op](x, y)


class _Policy(RestrictingNodeTransformer):
    """RestrictedPython's rules, plus: operators that can grow a value go through a guard, and try/except
    is refused (it would swallow the budget's SandboxError; and once a trace function has raised, Python
    switches tracing off, so a caught budget error would leave the rest of the code unbounded)."""

    def visit_BinOp(self, node: ast.BinOp) -> Any:
        node = self.node_contents_visit(node)
        guard = _OPERATORS.get(type(node.op))
        if guard is None:
            return node
        call = ast.Call(func=ast.Name(guard, ast.Load()), args=[node.left, node.right], keywords=[])
        return ast.fix_missing_locations(ast.copy_location(call, node))

    def visit_FormattedValue(self, node: ast.FormattedValue) -> Any:
        node = self.node_contents_visit(node)
        spec: ast.expr = node.format_spec if node.format_spec is not None else ast.Constant("")
        call = ast.Call(func=ast.Name("_format_", ast.Load()),
                        args=[node.value, ast.Constant(node.conversion), spec], keywords=[])
        value = ast.copy_location(ast.FormattedValue(value=call, conversion=-1, format_spec=None), node)
        return ast.fix_missing_locations(value)

    def visit_Try(self, node: ast.Try) -> Any:
        self.error(node, "try/except is niet toegestaan in route-code")
        return node


# --- guarded builtins and text methods ------------------------------------------------------------------

class _GuardedType(type):
    """``str`` as route code sees it: calling it measures the value first (str() of a list that shares
    its parts can be gigabytes), and isinstance(x, str) still works."""

    def __call__(cls, value: Any = "", *args: Any) -> Any:
        return str(_check_size(value), *args)

    def __instancecheck__(cls, instance: Any) -> bool:
        return isinstance(instance, str)

    def __subclasscheck__(cls, subclass: type) -> bool:
        return issubclass(subclass, str)


class _Str(metaclass=_GuardedType):
    pass


def _repr(value: Any) -> str:
    return repr(_check_size(value))


def _round(number: Any, ndigits: Any = None) -> Any:
    if isinstance(ndigits, int) and abs(ndigits) > MAX_INT_BITS:  # round(5, -10**9) computes 10**(10**9)
        _refuse(TOO_BIG_INT)
    return round(number, ndigits)


def _sum(iterable: Iterable[Any], start: Any = 0) -> Any:
    if not isinstance(start, (str, bytes, list, tuple)):  # numbers: nothing grows
        return sum(iterable, start)
    items = list(iterable)  # adding up texts or lists: the result is as big as all of them together
    if sum(_length(item) for item in items) + _length(start) > MAX_ITEMS:
        _refuse(TOO_BIG)
    return sum(items, start)


def _checked(size: int) -> None:
    if size > MAX_ITEMS:
        _refuse(TOO_BIG)


def _text_method(text: str | bytes, name: str) -> Callable[..., Any] | None:
    """A text method that can make a result much bigger than its text, with the result size checked first."""
    method = getattr(text, name)
    if name in ("ljust", "rjust", "center", "zfill"):
        def pad(width: int, *args: Any) -> Any:
            _checked(width)
            return method(width, *args)
        return pad
    if name == "expandtabs":
        def expand(tabsize: int = 8) -> Any:
            tab: Any = "\t" if isinstance(text, str) else b"\t"
            _checked(len(text) + text.count(tab) * max(tabsize, 0))
            return method(tabsize)
        return expand
    if name == "replace":
        def replace(old: Any, new: Any, count: int = -1) -> Any:
            found = text.count(old) if old else len(text) + 1
            found = found if count < 0 else min(found, count)
            _checked(len(text) + found * max(len(new) - len(old), 0))
            return method(old, new, count)
        return replace
    if name == "join":
        def join(iterable: Iterable[Any]) -> Any:
            items = list(iterable)
            _checked(sum(_length(item) for item in items) + len(text) * max(len(items) - 1, 0))
            return method(items)
        return join
    if name == "translate":
        def translate(table: Any) -> Any:
            values = table.values() if isinstance(table, Mapping) else ()
            longest = max((_length(v) for v in values), default=1)
            _checked(len(text) * max(longest, 1))
            return method(table)
        return translate
    return None


_GROWING = {"ljust", "rjust", "center", "zfill", "expandtabs", "replace", "join", "translate"}


def _getattr(obj: Any, name: str, default: Any = None) -> Any:
    if name in _GROWING and isinstance(obj, (str, bytes)):
        return _text_method(obj, name)
    return safer_getattr(obj, name, default)


def _builtins() -> dict[str, Any]:
    allowed = dict(safe_builtins)
    for name in ("setattr", "delattr", "__build_class__", "id", "hash", "_getattr_"):
        allowed.pop(name, None)
    allowed.update(limited_builtins)  # range/list/tuple with size limits
    allowed.update(
        dict=dict, set=set, frozenset=frozenset, min=min, max=max, sum=_sum, sorted=sorted, any=any, all=all,
        enumerate=enumerate, zip=zip, reversed=reversed, map=map, filter=filter,
        pow=_pow, str=_Str, repr=_repr, round=_round,
    )
    return allowed


BASE_GLOBALS: dict[str, Any] = {
    "__builtins__": _builtins(),
    "_getattr_": _getattr,
    "_getitem_": operator.getitem,
    "_getiter_": iter,
    "_write_": lambda obj: obj,
    "_iter_unpack_sequence_": guarded_iter_unpack_sequence,
    "_unpack_sequence_": guarded_unpack_sequence,
    "_inplacevar_": _inplacevar,
    "_pow_": _pow,
    "_mul_": _mul,
    "_add_": _add,
    "_lshift_": _lshift,
    "_mod_": _mod,
    "_format_": _format,
}


# --- compiling and running ------------------------------------------------------------------------------

@lru_cache(maxsize=4096)
def compile_expression(source: str) -> CodeType:
    result = compile_restricted_eval(source.strip(), "<expression>", policy=_Policy)
    if result.errors or result.code is None:
        raise SandboxError("; ".join(result.errors) or "niet te compileren")
    return result.code


@lru_cache(maxsize=1024)
def compile_script(source: str) -> CodeType:
    result = compile_restricted_exec(source, "<script>", policy=_Policy)
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
        return _bounded(lambda: _check_size(eval(code, scope)))

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
                _check_size(value)


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
