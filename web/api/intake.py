"""What a request must be before an API view sees it. Checked once, in one place, for every operation: only the
query parameters the operation declares; a body only as JSON, within the size limit, not nested past
``MAX_DEPTH``, with numbers that JSON and both databases hold, and without characters that PostgreSQL refuses
in text (NUL) or that cannot be written as UTF-8 (a lone surrogate). Each failure is a 400, 413, 415 or 422
with Loket's error shape, never a 500 from deep inside the engine or the database."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from typing import Any

from flask import Flask, current_app, g, request
from marshmallow import Schema
from marshmallow.utils import missing

from engine.errors import BadRequest, InvalidData, UnsupportedMediaType

# Forms nest a few levels (data → adviezen → [i] → field); anything deeper than this is not a form.
MAX_DEPTH = 32
# JSON numbers are kept as they came; PostgreSQL's bigint, SQLite's integer and every JSON client agree up to here.
MAX_INT = 2**63 - 1
_MAX_INT_DIGITS = len(str(MAX_INT))
# NUL: PostgreSQL refuses it in text and jsonb. A lone surrogate ("\ud800"): valid in JSON, not encodable as UTF-8.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
UNSTORABLE = "Bevat een teken dat niet kan worden opgeslagen (NUL of een losse surrogaat)."
UNKNOWN_PARAMETER = "Onbekende parameter."
INVALID = "Het verzoek bevat ongeldige velden."
_BODY_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
# An upload's multipart body holds the file plus its boundaries, headers and form fields.
UPLOAD_OVERHEAD = 64 * 1024


class _Unstorable(ValueError):
    """A JSON number that Loket does not store (too large, NaN or infinite)."""


def _parse_int(text: str) -> int:
    if len(text.lstrip("-")) > _MAX_INT_DIGITS or abs(value := int(text)) > MAX_INT:
        raise _Unstorable(text)
    return value


def _parse_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # 1e400 becomes inf, which no database's JSON holds
        raise _Unstorable(text)
    return value


def _parse_constant(text: str) -> Any:
    raise _Unstorable(text)  # NaN, Infinity, -Infinity: Python's json accepts them, JSON does not


def loads(raw: bytes) -> Any:
    """The body as JSON, or BadRequest (400) in Dutch."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise BadRequest("Het verzoek is geen geldige JSON (geen UTF-8).") from None
    try:
        return json.loads(text, parse_int=_parse_int, parse_float=_parse_float, parse_constant=_parse_constant)
    except _Unstorable:
        raise BadRequest("Het verzoek bevat een getal dat niet kan worden opgeslagen (te groot, NaN of oneindig).",
                         ) from None
    except RecursionError:
        raise BadRequest(f"Het verzoek is te diep genest (hoogstens {MAX_DEPTH} niveaus).") from None
    except ValueError:
        raise BadRequest("Het verzoek is geen geldige JSON.") from None


def _walk(value: Any) -> Iterator[tuple[str, Any, int]]:
    """(path, value, depth) of every node, without recursion (the depth is what is being checked)."""
    stack: list[tuple[str, Any, int]] = [("", value, 0)]
    while stack:
        path, node, depth = stack.pop()
        yield path, node, depth
        if depth >= MAX_DEPTH:
            continue
        if isinstance(node, dict):
            stack.extend((f"{path}.{k}" if path else str(k), v, depth + 1) for k, v in reversed(node.items()))
        elif isinstance(node, list):
            stack.extend((f"{path}.{i}" if path else str(i), v, depth + 1) for i, v in reversed(list(enumerate(node))))


def check_body(body: Any) -> None:
    """BadRequest when ``body`` nests too deep; InvalidData per field holding a character no database stores."""
    problems: dict[str, list[str]] = {}
    for path, node, depth in _walk(body):
        if depth >= MAX_DEPTH and isinstance(node, dict | list) and node:
            raise BadRequest(f"Het verzoek is te diep genest (hoogstens {MAX_DEPTH} niveaus).")
        if isinstance(node, str) and _UNSTORABLE.search(node):
            problems[path or "(verzoek)"] = [UNSTORABLE]
        elif isinstance(node, dict) and any(_UNSTORABLE.search(key) for key in node):
            problems[path or "(verzoek)"] = [UNSTORABLE]
    if problems:
        raise InvalidData(INVALID, problems)


_declared: dict[Any, frozenset[str]] = {}  # per view function: the same in every app made in this process


def _query_names(view: Any) -> frozenset[str]:
    """The query parameters an operation declares (through ``@blp.arguments(..., location="query")``)."""
    if view not in _declared:
        names: set[str] = set()
        for parameter in view._apidoc.get("arguments", {}).get("parameters", []):
            if parameter.get("in") == "query":
                schema = parameter["schema"]
                schema = schema() if isinstance(schema, type) else schema
                assert isinstance(schema, Schema)
                names |= {field.data_key or name for name, field in schema.fields.items()}
        _declared[view] = frozenset(names)
    return _declared[view]


def check_request() -> None:
    """Flask ``before_request``: refuse what no API operation can take, before authentication and the view."""
    view = current_app.view_functions.get(request.endpoint or "")
    upload = getattr(view, "loket_upload", False) and request.method in _BODY_METHODS
    if upload:  # a file upload (web.api.documents, the case page): multipart, with the document size limit
        g.loket_upload_limit = current_app.extensions["loket"].settings.max_document_bytes
        request.max_content_length = g.loket_upload_limit + UPLOAD_OVERHEAD
    if not hasattr(view, "_apidoc"):
        return  # not an API operation: the index page, the OpenAPI document, an unknown URL (404)
    allowed = _query_names(view)
    unknown = {name: [UNKNOWN_PARAMETER] for name in request.args if name not in allowed}
    if unknown:
        raise InvalidData(INVALID, unknown)
    bad = {name: [UNSTORABLE] for name, value in request.args.items(multi=True) if _UNSTORABLE.search(value)}
    if bad:
        raise InvalidData(INVALID, bad)
    g.loket_body = missing
    if request.method not in _BODY_METHODS:
        return
    if upload:
        if request.mimetype != "multipart/form-data":
            raise UnsupportedMediaType("Stuur het bestand als multipart/form-data, in het veld file.")
        return
    raw = request.get_data(cache=True)  # past MAX_CONTENT_LENGTH werkzeug raises RequestEntityTooLarge (413)
    if not raw:
        return
    if not request.is_json:
        raise UnsupportedMediaType("Stuur de body als JSON, met Content-Type: application/json.")
    body = loads(raw)
    check_body(body)
    g.loket_body = body


def body() -> Any:
    """The checked JSON body of this request, or marshmallow's ``missing`` when it has none."""
    return g.get("loket_body", missing)


def install(app: Flask) -> None:
    app.before_request(check_request)
