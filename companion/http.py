"""HTTP helpers shared by both edges, the JSON API (`api/`) and the web pages (`web/`), which do not
import each other: reading an upload within the size limit, and writing a stream as server-sent events."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from starlette.datastructures import UploadFile  # FastAPI's UploadFile and a page form's file

from companion.errors import InvalidInput, PayloadTooLarge


def read_upload(file: UploadFile, limit: int) -> tuple[bytes, str]:
    """The file's bytes and name; 413 when it is larger than `limit`, 422 when it has no name."""
    data = file.file.read(limit + 1)
    if len(data) > limit:
        raise PayloadTooLarge(f"file is larger than the {limit} byte limit (COMPANION_MAX_UPLOAD_BYTES)")
    if not file.filename:
        raise InvalidInput("the upload has no file name")
    return data, file.filename


def sse_lines(events: Iterator[tuple[str, dict[str, Any]]]) -> Iterator[str]:
    """Server-sent event lines; when the client goes away the event source is closed, which frees the
    model it is reading from."""
    try:
        for name, data in events:
            yield f"event: {name}\ndata: {json.dumps(data)}\n\n"
    finally:
        close = getattr(events, "close", None)
        if close is not None:
            close()
