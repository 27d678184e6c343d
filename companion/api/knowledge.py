from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, UploadFile

from ..deps import AdminUser, CurrentUser, ServicesDep
from ..errors import InvalidInput, PayloadTooLarge
from ..schemas import DocumentOut, IngestReport

router = APIRouter(prefix="/v1/knowledge", tags=["knowledge"])


@router.get("/documents", summary="List ingested guides")
def list_documents(services: ServicesDep, _user: CurrentUser) -> list[DocumentOut]:
    return services.knowledge.list_documents()


@router.get("/documents/{document_id}", summary="One ingested guide")
def get_document(document_id: int, services: ServicesDep, _user: CurrentUser) -> DocumentOut:
    return services.knowledge.get_document(document_id)


@router.post("/documents", status_code=201, summary="Upload a guide (admin): .md .txt .html .pdf .docx")
def upload_document(
    file: Annotated[UploadFile, File(description="The guide to ingest.")],
    services: ServicesDep,
    _admin: AdminUser,
) -> IngestReport:
    limit = services.settings.max_upload_bytes
    data = file.file.read(limit + 1)
    if len(data) > limit:
        raise PayloadTooLarge(f"file is larger than the {limit} byte limit (COMPANION_MAX_UPLOAD_BYTES)")
    if not file.filename:
        raise InvalidInput("the upload has no file name")
    return services.knowledge.ingest_bytes(data, file.filename)


@router.delete("/documents/{document_id}", summary="Remove a guide and its chunks (admin)")
def delete_document(document_id: int, services: ServicesDep, _admin: AdminUser) -> IngestReport:
    return services.knowledge.delete_document(document_id)
