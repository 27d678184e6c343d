"""Admin page for the knowledge base: list the ingested guides, upload one (with a progress bar when
JavaScript runs, see static/admin_knowledge.js), delete one, and re-ingest one, all, or the sample handbook.

Uploads are checked like the JSON API's (`read_upload`, then `KnowledgeService.ingest_bytes`): too big
-> 413, a type the loaders do not read -> 415, content that does not match its name -> 422.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from companion.api.deps import RowId, ServicesDep
from companion.errors import CompanionError
from companion.jobs.schemas import JobOut, JobStatus
from companion.jobs.service import MAX_JOB_ID
from companion.jobs.tasks import (
    INGEST_SAMPLE,
    INGEST_UPLOAD,
    REINGEST,
    start_ingest_sample,
    start_ingest_upload,
    start_reingest,
)
from companion.knowledge.loaders import SUPPORTED_SUFFIXES
from companion.knowledge.schemas import IngestReport
from companion.web.common import AdminPage, CheckedForm, field, render, uploaded_file
from companion.web.jobs_pages import job_context

router = APIRouter(prefix="/admin/knowledge", include_in_schema=False)
KNOWLEDGE_JOBS = (INGEST_UPLOAD, REINGEST, INGEST_SAMPLE)


def _page(
    request: Request,
    services: ServicesDep,
    *,
    status_code: int = 200,
    report: IngestReport | None = None,
    report_title: str = "",
    **context: Any,
) -> HTMLResponse:
    knowledge = services.knowledge
    docs = knowledge.list_documents()
    sample_dir = knowledge.sample_dir
    page: dict[str, Any] = {
        "docs": docs,
        "kept": {d.source for d in docs if knowledge.guide_file(d.source) is not None},
        "total_chunks": sum(d.chunks for d in docs),
        "report": report,
        "report_title": report_title,
        "accept": ",".join(SUPPORTED_SUFFIXES),
        "suffixes": ", ".join(SUPPORTED_SUFFIXES),
        "max_upload_bytes": services.settings.max_upload_bytes,
        "background_above_bytes": services.settings.jobs.background_above_bytes,
        "sample_dir": sample_dir if sample_dir is not None and sample_dir.is_dir() else None,
    }
    page.update(context)
    return render(request, "admin/knowledge.html", page, status_code=status_code)


def _summary(report: IngestReport) -> str:
    parts = [
        f"{len(report.added)} added",
        f"{len(report.updated)} updated",
        f"{len(report.unchanged)} unchanged",
        f"{len(report.failed)} failed",
    ]
    return f"{', '.join(parts)}; {report.chunks_written} chunks written, {report.chunks_deleted} removed."


@router.get("", response_class=HTMLResponse)
def knowledge_page(
    request: Request,
    services: ServicesDep,
    admin: AdminPage,
    job: Annotated[str | None, Query(max_length=MAX_JOB_ID)] = None,
) -> HTMLResponse:
    context = job_context(services, job, page="/admin/knowledge", kinds=KNOWLEDGE_JOBS)
    shown: JobOut | None = context["job"]
    if shown is not None and shown.status == JobStatus.done and shown.result is not None:
        report = IngestReport.model_validate(shown.result)
        context.update(report=report, report_title=shown.title)
        context["error" if report.failed else "notice"] = f"{shown.title}: {_summary(report)}"
    return _page(request, services, **context)


def _started(request: Request, job: JobOut, action: str, target: str) -> RedirectResponse:
    request.state.audit_action = action
    request.state.audit_target = target
    return RedirectResponse(f"/admin/knowledge?job={job.id}", status_code=303)


@router.post("/upload", response_class=HTMLResponse)
def upload_guide(
    request: Request, services: ServicesDep, admin: AdminPage, form: CheckedForm
) -> Response:
    try:
        data, name = uploaded_file(
            form, max_bytes=services.settings.max_upload_bytes, missing="choose a guide file to upload"
        )
        if len(data) > services.settings.jobs.background_above_bytes or field(form, "background") == "1":
            job = start_ingest_upload(services, data, name, principal=admin.principal)
            return _started(request, job, "upload guide", name)
        report = services.knowledge.ingest_bytes(data, name)
    except CompanionError as exc:
        return _page(request, services, error=f"Upload refused: {exc.message}", status_code=exc.status_code)
    request.state.audit_action = "upload guide"
    request.state.audit_target = name
    verb = "Added" if report.added else "Updated" if report.updated else "Already up to date:"
    return _page(
        request,
        services,
        status_code=201 if report.added else 200,
        notice=f"{verb} {name}: {report.chunks_written} chunks written.",
        report=report,
        report_title=f"Upload of {name}",
    )


@router.post("/{document_id}/delete", response_class=HTMLResponse)
def delete_guide(
    request: Request, services: ServicesDep, admin: AdminPage, form: CheckedForm, document_id: RowId
) -> HTMLResponse:
    try:
        report = services.knowledge.delete_document(document_id)
    except CompanionError as exc:
        return _page(request, services, error=exc.message, status_code=exc.status_code)
    source = report.deleted[0]
    request.state.audit_action = "delete guide"
    request.state.audit_target = source
    notice = f"Deleted {source} and its {report.chunks_deleted} chunks."
    return _page(request, services, notice=notice)


@router.post("/{document_id}/reingest", response_class=HTMLResponse)
def reingest_guide(
    request: Request, services: ServicesDep, admin: AdminPage, form: CheckedForm, document_id: RowId
) -> HTMLResponse:
    try:
        source = services.knowledge.get_document(document_id).source
        report = services.knowledge.reingest([source])
    except CompanionError as exc:
        return _page(request, services, error=exc.message, status_code=exc.status_code)
    request.state.audit_action = "re-ingest guide"
    request.state.audit_target = source
    return _reingested(request, services, report, f"Re-ingest of {source}")


@router.post("/reingest", response_class=HTMLResponse)
def reingest_all(
    request: Request, services: ServicesDep, admin: AdminPage, form: CheckedForm
) -> Response:
    if field(form, "background") == "1":
        job = start_reingest(services, None, principal=admin.principal)
        return _started(request, job, "re-ingest guides", "all")
    try:
        report = services.knowledge.reingest()
    except CompanionError as exc:
        return _page(request, services, error=exc.message, status_code=exc.status_code)
    request.state.audit_action = "re-ingest guides"
    request.state.audit_target = "all"
    return _reingested(request, services, report, "Re-ingest of every listed guide")


@router.post("/sample", response_class=HTMLResponse)
def ingest_sample(
    request: Request, services: ServicesDep, admin: AdminPage, form: CheckedForm
) -> Response:
    if field(form, "background") == "1":
        job = start_ingest_sample(services, principal=admin.principal)
        return _started(request, job, "ingest sample guides", str(services.knowledge.sample_dir))
    try:
        report = services.knowledge.ingest_sample()
    except CompanionError as exc:
        return _page(request, services, error=exc.message, status_code=exc.status_code)
    request.state.audit_action = "ingest sample guides"
    request.state.audit_target = str(services.knowledge.sample_dir)
    return _reingested(request, services, report, "Ingest of the sample handbook")


def _reingested(request: Request, services: ServicesDep, report: IngestReport, title: str) -> HTMLResponse:
    context: dict[str, Any] = {"report": report, "report_title": title}
    if report.failed:
        context["error"] = f"{title}: {_summary(report)} See the failed guides below."
    else:
        context["notice"] = f"{title}: {_summary(report)}"
    return _page(request, services, **context)
