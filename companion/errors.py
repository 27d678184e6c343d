"""One small exception hierarchy. Services raise these; `app.py` maps them to JSON once.

Also the one function that words validation errors for people (`validation_problems`).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol


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


class LimitExceeded(PayloadTooLarge):
    """Content beyond a configured limit (decompressed size, characters, chunks, pages, rows).

    The message names the limit and the setting that raises it; nothing has been written."""

    code = "limit_exceeded"

    def __init__(self, message: str, *, limit: int, setting: str) -> None:
        env = f"COMPANION_LIMITS__{setting.upper()}"
        super().__init__(
            f"{message} (limit {limit:,}, setting {env})",
            details={"limit": setting, "value": limit, "setting": env},
        )


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


# ---- validation errors, worded for people ----------------------------------------------------------


class HasErrors(Protocol):
    """A pydantic `ValidationError` or FastAPI's `RequestValidationError` (not imported: no FastAPI here)."""

    def errors(self) -> Sequence[Any]: ...


@dataclass(frozen=True)
class Problem:
    """One validation error: where (`field`: a form label, the dotted path, or the name of the whole input;
    `path`: the raw location) and what is wrong (`message`)."""

    field: str
    message: str
    path: tuple[str, ...]

    def __str__(self) -> str:
        return f"{self.field}: {self.message}" if self.field else self.message


def validation_problems(
    exc: HasErrors,
    *,
    labels: Mapping[str, str] | None = None,
    skip: Collection[str] = (),
    whole: str = "",
) -> list[Problem]:
    """The one place a validation error becomes words: the API, the pages, the CLI, imports and evals use it.

    A problem names its field by the dotted path (leaving out the parts in `skip`, such as FastAPI's
    "body"), or `whole` when the error is about the input as a whole. With `labels` (a form), a top-level
    field is named by its label and the message reads as a phrase after it ("Goal: string should ...").
    pydantic's "Value error, " before the messages of custom validators is dropped.
    """
    problems = []
    for error in exc.errors():
        path = tuple(str(p) for p in error.get("loc", ()) if str(p) not in skip)
        message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
        where = ".".join(path)
        if labels is not None:
            where = labels.get(path[0], where) if path else where
            message = message[:1].lower() + message[1:]
        problems.append(Problem(where or whole, message, path))
    return problems


def validation_message(
    exc: HasErrors,
    *,
    labels: Mapping[str, str] | None = None,
    skip: Collection[str] = (),
    whole: str = "",
    limit: int = 5,
) -> str:
    """The first `limit` problems as one line: 'field: problem; field: problem'."""
    return summarize(validation_problems(exc, labels=labels, skip=skip, whole=whole), limit)


def summarize(problems: Sequence[Problem], limit: int = 5) -> str:
    """Problems as one line, the first `limit` of them: 'field: problem; field: problem'."""
    return "; ".join(str(p) for p in problems[:limit])
