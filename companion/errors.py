"""One small exception hierarchy. Services raise these; `app.py` maps them to JSON once."""

from __future__ import annotations


class CompanionError(Exception):
    """Base error: a message meant for the person who sent the request."""

    status_code = 500
    code = "internal_error"

    def __init__(self, message: str, *, details: object | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class InvalidInput(CompanionError):
    status_code = 422
    code = "invalid_input"


class NotFound(CompanionError):
    status_code = 404
    code = "not_found"


class Conflict(CompanionError):
    status_code = 409
    code = "conflict"


class Unauthorized(CompanionError):
    status_code = 401
    code = "unauthorized"


class Forbidden(CompanionError):
    status_code = 403
    code = "forbidden"


class PayloadTooLarge(CompanionError):
    status_code = 413
    code = "payload_too_large"


class UnsupportedMediaType(CompanionError):
    status_code = 415
    code = "unsupported_media_type"


class BackendUnavailable(CompanionError):
    """A backend (vector store, database, model) cannot be reached right now."""

    status_code = 503
    code = "backend_unavailable"


class BackendTimeout(CompanionError):
    status_code = 504
    code = "backend_timeout"


class AssetMissing(CompanionError):
    """A file Companion ships (prompt, eval suite, sample guide) is not where the settings point."""

    status_code = 500
    code = "asset_missing"
