from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, UploadFile

from companion.api.deps import AdminUser, CurrentUser, RowId, ServicesDep
from companion.api.jobs import ACCEPTED, Background, accepted
from companion.http import read_upload
from companion.jobs.tasks import start_ingest_upload
from companion.knowledge.schemas import DocumentOut, IngestReport

router = APIRouter(prefix="/v1/knowledge", tags=["knowledge"])


@router.get("/documents", summary="List ingested guides")
def list_documents(services: ServicesDep, _user: CurrentUser) -> list[DocumentOut]:
    return services.knowledge.list_documents()


@router.get("/documents/{document_id}", summary="One ingested guide")
def get_document(document_id: RowId, services: ServicesDep, _user: CurrentUser) -> DocumentOut:
    return services.knowledge.get_document(document_id)


@router.post(
    "/documents",
    status_code=201,
    response_model=IngestReport,
    responses=ACCEPTED,
    summary="Upload a guide (admin): .md .txt .html .pdf .docx",
)
def upload_document(
    file: Annotated[UploadFile, File(description="The guide to ingest.")],
    services: ServicesDep,
    admin: AdminUser,
    background: Background = False,
) -> Any:
    data, name = read_upload(file, services.settings.max_upload_bytes)
    if background:
        return accepted(start_ingest_upload(services, data, name, principal=admin))
    return services.knowledge.ingest_bytes(data, name)


@router.delete("/documents/{document_id}", summary="Remove a guide and its chunks (admin)")
def delete_document(document_id: RowId, services: ServicesDep, _admin: AdminUser) -> IngestReport:
    return services.knowledge.delete_document(document_id)
