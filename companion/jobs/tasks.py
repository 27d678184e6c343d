"""The work each job kind does: thin calls into the existing services, with progress.

Every handler takes a `JobContext` and returns a JSON-able dict (the service's report), stored as the
job's result. Handlers are idempotent, so a job interrupted by a restart can simply run again.
"""

from __future__ import annotations

import logging
from datetime import date
from typing import TYPE_CHECKING, Any

from companion.errors import InvalidInput
from companion.evaluation.runner import SUITES
from companion.identity.auth import Principal
from companion.jobs.schemas import EvalRunRequest, JobOut
from companion.jobs.service import Handler, JobContext
from companion.matching.people import parse_rows
from companion.matching.schemas import CohortRequest

if TYPE_CHECKING:
    from companion.container import Services

log = logging.getLogger("companion.jobs")
INGEST_UPLOAD = "ingest_upload"
REINGEST = "reingest"
INGEST_SAMPLE = "ingest_sample"
PEOPLE_IMPORT = "people_import"
EVAL_RUN = "eval_run"
COHORT = "cohort"
NUDGES = "nudges"


def handlers(services: Services) -> dict[str, Handler]:
    """Each job kind's work, reading the services lazily (a worker builds only what its jobs use)."""

    def ingest_upload(ctx: JobContext) -> dict[str, Any]:
        name = str(ctx.params["filename"])
        if ctx.payload is None:
            raise InvalidInput(f"the upload of {name} is no longer stored; upload it again")
        ctx.progress(0, None, f"reading and chunking {name}")
        report = services.knowledge.ingest_bytes(
            ctx.payload,
            name,
            chunk_progress=lambda done, total: ctx.progress(done, total, "chunks embedded"),
        )
        return report.model_dump(mode="json")

    def reingest(ctx: JobContext) -> dict[str, Any]:
        sources = ctx.params.get("sources")
        wanted = list(sources) if sources else [d.source for d in services.knowledge.list_documents()]
        ctx.progress(0, len(wanted), "re-reading the guides' files")
        report = services.knowledge.reingest(wanted, progress=lambda source: ctx.step(f"ingested {source}"))
        return report.model_dump(mode="json")

    def ingest_sample(ctx: JobContext) -> dict[str, Any]:
        knowledge = services.knowledge
        folder = knowledge.sample_dir
        files = knowledge.collect([folder])[0] if folder is not None and folder.is_dir() else []
        ctx.progress(0, len(files), "ingesting the sample handbook")
        report = knowledge.ingest_sample(progress=lambda source: ctx.step(f"ingested {source}"))
        return report.model_dump(mode="json")

    def people_import(ctx: JobContext) -> dict[str, Any]:
        name = str(ctx.params["filename"])
        if ctx.payload is None:
            raise InvalidInput(f"the file {name} is no longer stored; import it again")
        ctx.progress(0, 1, f"importing and embedding the profiles of {name}")
        sync, dry_run = bool(ctx.params.get("sync")), bool(ctx.params.get("dry_run"))
        report = services.people.import_bytes(ctx.payload, name, sync=sync, dry_run=dry_run)
        return report.model_dump(mode="json")

    def cohort(ctx: JobContext) -> dict[str, Any]:
        request = CohortRequest.model_validate(ctx.params["request"])
        ctx.progress(0, 1, "scoring every mentee against every mentor and solving the assignment")
        report = services.matching.cohort(request, created_by=ctx.started_by)
        return report.model_dump(mode="json")

    def eval_run(ctx: JobContext) -> dict[str, Any]:
        params = ctx.params
        evaluation = services.evaluation_for(params.get("backend"))
        suites = params.get("suites") or None
        limit = params.get("limit")
        cases, skipped = evaluation.plan(suites, limit)
        ctx.progress(0, len(cases), f"running {len(cases)} cases")
        previous = evaluation.list_runs(limit=1)
        run = evaluation.run(
            suites=suites,
            limit=limit,
            judge=params.get("judge"),
            note=str(params.get("note", "")),
            progress=lambda label: ctx.step(f"ran {label}"),
        )
        result: dict[str, Any] = {"run_id": run.id, "score": run.score, "pass_rate": run.pass_rate}
        result["skipped"] = skipped
        if previous:
            compared = evaluation.compare(previous[0].id, run.id)
            result.update(
                baseline_id=previous[0].id,
                score_delta=compared.score_delta,
                regressions=len(compared.regressions),
                improvements=len(compared.improvements),
            )
            if params.get("scheduled") and compared.regressions:
                result["emailed"] = _email_regression(services, result)
        return result

    def nudges(ctx: JobContext) -> dict[str, Any]:
        today = date.fromisoformat(ctx.params["today"]) if ctx.params.get("today") else None
        dry_run = bool(ctx.params.get("dry_run"))
        ctx.progress(0, None, "finding the nudges due today" + (" (dry run)" if dry_run else ""))
        report = services.nudges.run(today, dry_run=dry_run)
        ctx.progress(1, 1, f"{report.sent} sent, {report.failed} failed")
        return report.model_dump(mode="json")

    return {
        INGEST_UPLOAD: ingest_upload,
        REINGEST: reingest,
        INGEST_SAMPLE: ingest_sample,
        PEOPLE_IMPORT: people_import,
        COHORT: cohort,
        EVAL_RUN: eval_run,
        NUDGES: nudges,
    }


def _email_regression(services: Services, result: dict[str, Any]) -> int:
    """E-mail the admins that the scheduled run regressed (once per run); returns how many got it."""
    try:
        report = services.nudges.notify_admins_of_regression(
            run_id=int(result["run_id"]),
            baseline_id=int(result["baseline_id"]),
            regressions=int(result["regressions"]),
            score_delta=float(result.get("score_delta") or 0.0),
        )
    except Exception as exc:  # noqa: BLE001 - the run itself succeeded: a mail problem must not fail it
        log.warning("could not e-mail the eval regression: %s", exc)
        return 0
    for error in report.errors:
        log.warning("eval regression e-mail: %s", error)
    return report.sent


# ---- starting jobs (the API routes and the pages share these) ------------------------------------------


def start_ingest_upload(
    services: Services, data: bytes, filename: str, *, principal: Principal | None
) -> JobOut:
    """Queue an uploaded guide: the cheap checks (name, type, content) run now, so a bad file is refused
    with its 4xx at once; reading, chunking and embedding run in the job."""
    name = services.knowledge.check_upload(data, filename)
    return services.jobs.start(
        INGEST_UPLOAD, title=f"Ingest of {name}", params={"filename": name}, payload=data, principal=principal
    )


def start_reingest(services: Services, sources: list[str] | None, *, principal: Principal | None) -> JobOut:
    title = f"Re-ingest of {sources[0]}" if sources and len(sources) == 1 else "Re-ingest of every guide"
    return services.jobs.start(REINGEST, title=title, params={"sources": sources}, principal=principal)


def start_ingest_sample(services: Services, *, principal: Principal | None) -> JobOut:
    return services.jobs.start(INGEST_SAMPLE, title="Ingest of the sample handbook", principal=principal)


def start_people_import(
    services: Services,
    data: bytes,
    filename: str,
    *,
    principal: Principal | None,
    sync: bool = False,
    dry_run: bool = False,
) -> JobOut:
    # a file that is not CSV or JSON, or holds too many rows, is refused now, with its reason
    parse_rows(data, filename, max_rows=services.settings.limits.max_import_rows)
    kind = ("Dry run of the sync" if sync else "Dry run") if dry_run else ("Sync" if sync else "Import")
    return services.jobs.start(
        PEOPLE_IMPORT,
        title=f"{kind} of {filename}",
        params={"filename": filename, "sync": sync, "dry_run": dry_run},
        payload=data,
        principal=principal,
    )


def start_cohort(services: Services, request: CohortRequest, *, principal: Principal | None) -> JobOut:
    return services.jobs.start(
        COHORT, title="Cohort matching run", params={"request": request.model_dump(mode="json")},
        principal=principal,
    )  # fmt: skip


def start_nudges(
    services: Services, *, principal: Principal | None, today: date | None = None, dry_run: bool = False
) -> JobOut:
    title = "Dry run of the e-mail nudges" if dry_run else "E-mail nudges"
    params = {"today": today.isoformat() if today else None, "dry_run": dry_run, "scheduled": False}
    return services.jobs.start(NUDGES, title=title, params=params, principal=principal)


def start_eval_run(services: Services, request: EvalRunRequest, *, principal: Principal | None) -> JobOut:
    unknown = [s for s in request.suites if s not in SUITES]
    if unknown:
        raise InvalidInput(f"unknown suite {unknown[0]!r}; use one of: {', '.join(SUITES)}")
    if request.backend is not None and request.backend not in services.eval_backends:
        raise InvalidInput(
            f"backend {request.backend!r} is not available here; use one of: "
            f"{', '.join(services.eval_backends)}"
        )
    suites = ", ".join(request.suites) if request.suites else "all suites"
    limit = f", at most {request.limit} cases each" if request.limit else ""
    return services.jobs.start(
        EVAL_RUN,
        title=f"Eval run: {suites}{limit}",
        params={**request.model_dump(mode="json"), "scheduled": False},
        principal=principal,
    )
