"""The size guards of the sandbox: refuse a result that is too big before computing it.

One bytecode operation can do unbounded work (``9**9**9`` computes a 1.2-billion-bit int, ``'x' * 10**9``
takes a gigabyte) and no trace hook can interrupt it. So ``Policy`` rewrites ``**``, ``*``, ``+``, ``<<``,
``%`` and f-string fields into calls of the guards here, and the builtins and text methods that can grow a
value are replaced by guarded ones; each refuses a result beyond ``MAX_INT_BITS`` or ``MAX_ITEMS``.
"""

from __future__ import annotations

import ast
import math
import operator
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any, NoReturn

from RestrictedPython import RestrictingNodeTransformer
from RestrictedPython.Guards import safer_getattr

MAX_INT_BITS = 10_000  # about 3,000 decimal digits
MAX_ITEMS = 1_000_000  # characters of a text, items of a list, or (measured) items of a whole value

TOO_BIG_INT = f"de route-code maakt een getal dat te groot is (meer dan {MAX_INT_BITS} bits) en is afgebroken"
TOO_BIG = f"de route-code maakt een waarde die te groot is (meer dan {MAX_ITEMS} tekens of items) en is afgebroken"


class SandboxError(Exception):
    """Route code that is not allowed, ran too long or made too big a value."""


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


def check_size(value: Any) -> Any:
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
        check_size(right)
    return left % right


def _format(value: Any, conversion: int, spec: str) -> str:
    """One f-string field: ``f"{value!r:>10}"``."""
    check_size(value)
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


class Policy(RestrictingNodeTransformer):
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
        return str(check_size(value), *args)

    def __instancecheck__(cls, instance: Any) -> bool:
        return isinstance(instance, str)

    def __subclasscheck__(cls, subclass: type) -> bool:
        return issubclass(subclass, str)


class _Str(metaclass=_GuardedType):
    pass


def _repr(value: Any) -> str:
    return repr(check_size(value))


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


# What route code sees in place of the builtins and the names Policy calls.
BUILTINS: dict[str, Any] = {"sum": _sum, "pow": _pow, "str": _Str, "repr": _repr, "round": _round}
GLOBALS: dict[str, Any] = {
    "_getattr_": _getattr, "_inplacevar_": _inplacevar, "_pow_": _pow, "_mul_": _mul, "_add_": _add,
    "_lshift_": _lshift, "_mod_": _mod, "_format_": _format,
}
