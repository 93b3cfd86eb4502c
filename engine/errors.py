"""Errors a user can act on. Each maps to one HTTP status and one CLI message; nothing else leaks out."""

from __future__ import annotations

from typing import Any


class LoketError(Exception):
    status = 400
    code = "bad_request"

    def __init__(self, message: str, details: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def to_dict(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, "details": self.details or {}}}


class BadRequest(LoketError):
    status = 400
    code = "bad_request"


class Unauthorized(LoketError):
    status = 401
    code = "unauthorized"


class Forbidden(LoketError):
    status = 403
    code = "forbidden"


class NotFound(LoketError):
    status = 404
    code = "not_found"


class Conflict(LoketError):
    status = 409
    code = "conflict"


class InvalidData(LoketError):
    """Form data that does not match its schema; ``details`` maps a field path to its messages."""

    status = 422
    code = "invalid_data"


class PayloadTooLarge(LoketError):
    """A request body past the configured size limit."""

    status = 413
    code = "payload_too_large"


class UnsupportedMediaType(LoketError):
    """A request body that is not JSON (text, a form, XML)."""

    status = 415
    code = "unsupported_media_type"


class ServiceUnavailable(LoketError):
    """Loket cannot serve the request now but will soon (the database is busy); ``retry_after`` in seconds."""

    status = 503
    code = "service_unavailable"

    def __init__(self, message: str, details: Any = None, *, retry_after: int = 5) -> None:
        super().__init__(message, details)
        self.retry_after = retry_after
