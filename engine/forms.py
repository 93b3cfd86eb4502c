"""Form data checked server-side against the task's JSON Schema, with one Dutch message per field."""

from __future__ import annotations

from typing import Any

from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import ValidationError

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


def _path(parts: Any) -> str:
    return ".".join(str(p) for p in parts)


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
    if v == "const":
        return [(where, f"Moet {error.validator_value!r} zijn.")]
    if v == "format":
        return [(where, f"Moet {_FORMATS.get(error.validator_value, error.validator_value)} zijn.")]
    if v == "minItems":
        return [(where, f"Geef er minstens {error.validator_value}.")]
    if v == "maxItems":
        return [(where, f"Geef er hoogstens {error.validator_value}.")]
    if v == "minLength":
        return [(where, "Dit veld mag niet leeg zijn." if error.validator_value == 1
                 else f"Minstens {error.validator_value} tekens.")]
    if v == "maxLength":
        return [(where, f"Hoogstens {error.validator_value} tekens.")]
    if v in ("minimum", "exclusiveMinimum", "maximum", "exclusiveMaximum"):
        return [(where, f"Waarde buiten bereik ({v} {error.validator_value}).")]
    if v == "pattern":
        return [(where, "Heeft niet de juiste vorm.")]
    if v == "contains":
        hint = error.schema.get("description") or "Een van de items voldoet niet aan de eis."
        return [(where, hint)]
    if v in ("if", "then", "allOf", "anyOf", "oneOf") and error.context:
        out: list[tuple[str, str]] = []
        for sub in error.context:
            out.extend(_messages(sub))
        return out
    return [(where, error.message)]


def validate(schema: dict[str, Any] | None, data: Any) -> dict[str, Any]:
    """Return ``data`` if it fits ``schema``; else raise InvalidData with ``{field: [messages]}``."""
    if not isinstance(data, dict):
        raise BadRequest("Formuliergegevens moeten een JSON-object zijn.")
    if schema is None:
        return data
    details: dict[str, list[str]] = {}
    validator = _validator(schema)
    for error in validator.iter_errors(data):
        for field, message in _messages(error):
            details.setdefault(field or "(formulier)", [])
            if message not in details[field or "(formulier)"]:
                details[field or "(formulier)"].append(message)
    if details:
        raise InvalidData("Het formulier is niet goed ingevuld.", details)
    return data
