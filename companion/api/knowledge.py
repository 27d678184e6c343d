from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Path, UploadFile

from companion.api.deps import AdminUser, CurrentUser, ServicesDep
from companion.http import read_upload
from companion.schemas import MAX_DB_ID, DocumentOut, IngestReport

RowId = Annotated[int, Path(ge=1, le=MAX_DB_ID, description="Database id.")]

router = APIRouter(prefix="/v1/knowledge", tags=["knowledge"])


@router.get("/documents", summary="List ingested guides")
def list_documents(services: ServicesDep, _user: CurrentUser) -> list[DocumentOut]:
    return services.knowledge.list_documents()


@router.get("/documents/{document_id}", summary="One ingested guide")
def get_document(document_id: RowId, services: ServicesDep, _user: CurrentUser) -> DocumentOut:
    return services.knowledge.get_document(document_id)


@router.post("/documents", status_code=201, summary="Upload a guide (admin): .md .txt .html .pdf .docx")
def upload_document(
    file: Annotated[UploadFile, File(description="The guide to ingest.")],
    services: ServicesDep,
    _admin: AdminUser,
) -> IngestReport:
    data, name = read_upload(file, services.settings.max_upload_bytes)
    return services.knowledge.ingest_bytes(data, name)


@router.delete("/documents/{document_id}", summary="Remove a guide and its chunks (admin)")
def delete_document(document_id: RowId, services: ServicesDep, _admin: AdminUser) -> IngestReport:
    return services.knowledge.delete_document(document_id)
