"""Form data checked server-side against the task's JSON Schema, with one Dutch message per field."""

from __future__ import annotations

from collections.abc import Iterator
from itertools import chain
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import ValidationError

from . import criteria_rules, form_rules, tlv_rules, zorgplicht_rules  # noqa: F401  (the rule modules register with form_rules)
from .errors import BadRequest, InvalidData

_TYPES = {
    "string": "tekst", "integer": "geheel getal", "number": "getal", "boolean": "ja/nee (true/false)",
    "object": "object", "array": "lijst", "null": "leeg",
}
_FORMATS = {"date": "een datum (JJJJ-MM-DD)", "date-time": "een tijdstip (ISO 8601)", "email": "een e-mailadres"}


_validators: dict[int, tuple[dict, Draft202012Validator]] = {}


def _validator(schema: dict[str, Any]) -> Draft202012Validator:
    """One validator per schema object (forms live as long as their cached route version)."""
    found = _validators.get(id(schema))
    if found is None or found[0] is not schema:
        found = _validators[id(schema)] = (schema, Draft202012Validator(schema, format_checker=FormatChecker()))
    return found[1]


MAX_DETAILS = 100  # fields told in one answer: a hostile form should not get a message per item back


def _path(parts: Any) -> str:
    return ".".join(str(p) for p in parts)


def _too_long(limit: Any) -> str:
    return f"Maximaal {limit} tekens."


def _too_many(limit: Any) -> str:
    return f"Maximaal {limit} items."


def _over_limits(schema: Any, data: Any, path: list[Any]) -> Iterator[tuple[str, str]]:
    """Texts and lists past their maxLength/maxItems, found before the full validation: a list past its
    limit is not looked into (100,000 items would each be validated and each get a message)."""
    if not isinstance(schema, dict):
        return
    if isinstance(data, str):
        limit = schema.get("maxLength")
        if isinstance(limit, int) and len(data) > limit:
            yield _path(path), _too_long(limit)
    elif isinstance(data, list):
        limit = schema.get("maxItems")
        if isinstance(limit, int) and len(data) > limit:
            yield _path(path), _too_many(limit)
            return
        items = schema.get("items")
        for n, item in enumerate(data):
            yield from _over_limits(items, item, [*path, n])
    elif isinstance(data, dict):
        fields = schema.get("properties")
        for key, value in data.items():
            if isinstance(fields, dict) and key in fields:
                yield from _over_limits(fields[key], value, [*path, key])


def _messages(error: ValidationError) -> list[tuple[str, str]]:
    """(field path, Dutch message) for one jsonschema error."""
    where = _path(error.absolute_path)
    v = error.validator
    if v == "required":
        missing = [f for f in error.validator_value if isinstance(error.instance, dict) and f not in error.instance]
        return [(_path([*error.absolute_path, f]), "Dit veld is verplicht.") for f in missing]
    if v in ("additionalProperties", "unevaluatedProperties"):
        allowed = set((error.schema.get("properties") or {}).keys())
        extra = [k for k in error.instance if k not in allowed] if isinstance(error.instance, dict) else []
        return [(_path([*error.absolute_path, k]), "Onbekend veld.") for k in extra] or [(where, error.message)]
    if v == "type":
        wanted = error.validator_value if isinstance(error.validator_value, list) else [error.validator_value]
        return [(where, "Moet " + " of ".join(str(_TYPES.get(t, t)) for t in wanted) + " zijn.")]
    if v == "enum":
        return [(where, "Kies een van: " + ", ".join(str(x) for x in error.validator_value) + ".")]
    if v == "const":  # a yes/no the form requires (e.g. the parents were heard) reads as ja/nee, not True/False
        value = error.validator_value
        shown = {True: "ja", False: "nee"}.get(value, repr(value)) if isinstance(value, bool) else repr(value)
        return [(where, f"Moet {shown} zijn.")]
    if v == "format":
        return [(where, f"Moet {_FORMATS.get(error.validator_value, error.validator_value)} zijn.")]
    if v == "minItems":
        return [(where, f"Geef er minstens {error.validator_value}.")]
    if v == "maxItems":
        return [(where, _too_many(error.validator_value))]
    if v == "minLength":
        return [(where, "Dit veld mag niet leeg zijn." if error.validator_value == 1
                 else f"Minstens {error.validator_value} tekens.")]
    if v == "maxLength":
        return [(where, _too_long(error.validator_value))]
    if v in ("minimum", "exclusiveMinimum", "maximum", "exclusiveMaximum"):
        return [(where, f"Waarde buiten bereik ({v} {error.validator_value}).")]
    if v == "pattern":
        return [(where, "Heeft niet de juiste vorm.")]
    if v in ("contains", "minContains", "maxContains"):  # the rule's own words, from the schema holding it
        hint = error.schema.get("description") or "Een van de items voldoet niet aan de eis."
        return [(where, hint)]
    if v in ("if", "then", "allOf", "anyOf", "oneOf") and error.context:
        out: list[tuple[str, str]] = []
        for sub in error.context:
            out.extend(_messages(sub))
        return out
    return [(where, error.message)]


def validate(schema: dict[str, Any] | None, data: Any,
             context: form_rules.RuleContext | None = None) -> dict[str, Any]:
    """Return ``data`` if it fits ``schema`` and the rules it names (``x-loket-rules``, checked once the schema
    holds, against ``context``); else raise InvalidData with ``{field: [messages]}``."""
    if not isinstance(data, dict):
        raise BadRequest("Formuliergegevens moeten een JSON-object zijn.")
    if schema is None:
        return data
    details: dict[str, list[str]] = {}
    over = list(_over_limits(schema, data, []))
    errors = iter(over) if over else (m for e in _validator(schema).iter_errors(data) for m in _messages(e))
    first = next(errors, None)
    # The rules read valid data only; errors stay lazy (a hostile form is not read to its end).
    found = chain([first], errors) if first is not None else form_rules.check(schema, data, context)
    for field, message in found:
        field = field or "(formulier)"
        if field not in details and len(details) >= MAX_DETAILS:
            details.setdefault("(formulier)", []).append("Er zijn meer fouten; verbeter eerst deze.")
            break
        if message not in details.setdefault(field, []):
            details[field].append(message)
    if details:
        raise InvalidData("Het formulier is niet goed ingevuld.", details)
    return data
