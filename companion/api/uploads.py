"""Reading an uploaded file within the size limit, shared by the upload routes."""

from __future__ import annotations

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
