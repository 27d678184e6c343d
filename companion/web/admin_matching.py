"""Admin page for cohort matching: run a match (the options of `POST /v1/matching/cohort`, including the
program cycle it is for), review the proposed pairs and the run's fairness audit (match rate and mean
score per group as charts with tables, mentor load, warnings), tick pairs to pin or forbid and run again,
publish a stored run (accept all its proposed matches, as `POST /v1/matching/runs/{id}/accept`, which
links the accounts as mentorships and adds them to the run's cycle), past runs."""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from starlette.datastructures import FormData

from companion.api.deps import RowId, ServicesDep
from companion.errors import CompanionError, InvalidInput, validation_message
from companion.jobs.schemas import JobOut, JobStatus
from companion.jobs.service import MAX_JOB_ID
from companion.jobs.tasks import COHORT, start_cohort
from companion.matching.audit import MatchAudit
from companion.matching.schemas import CohortReport, CohortRequest, MatchOut, PairRef
from companion.schemas import MAX_DB_ID
from companion.web.charts import bar_chart, column_chart
from companion.web.common import AdminPage, CheckedForm, field, render
from companion.web.jobs_pages import job_context

router = APIRouter(prefix="/admin/matching", include_in_schema=False)
PAIR_HINT = "write one pair a line as 'mentee = mentor' (each an id, key or email)"
EMPTY_FORM = {"mentees": "", "pins": "", "forbids": "", "dry_run": False, "cycle_id": ""}
DIMENSION_LABELS = {"timezone": "time zone"}  # the other dimensions read as they are


def _page(request: Request, services: ServicesDep, *, status_code: int = 200, **context: Any) -> HTMLResponse:
    page: dict[str, Any] = {
        "runs": services.matching.list_runs(limit=20),
        "review": None,
        "skipped": [],
        "form": EMPTY_FORM,
        "job": None,
        "job_active": False,
        "cycles": services.matching.cycle_choices(),
        "max_consecutive_cycles": services.settings.program.max_consecutive_cycles,
    }
    page.update(context)
    return render(request, "admin/matching.html", page, status_code=status_code)


def _pair_text(pairs: list[tuple[str, str]]) -> str:
    return "\n".join(f"{mentee} = {mentor}" for mentee, mentor in pairs)


def _pairs(lines: list[str], what: str) -> list[tuple[str, str]]:
    pairs: list[tuple[str, str]] = []
    for number, raw in enumerate(lines, start=1):
        line = raw.strip()
        if not line:
            continue
        mentee, found, mentor = line.partition("->" if "->" in line else "=")
        if not found or not mentee.strip() or not mentor.strip():
            raise InvalidInput(f"{what}, line {number} ({line[:80]!r}): {PAIR_HINT}")
        pair = (mentee.strip(), mentor.strip())
        if pair not in pairs:
            pairs.append(pair)
    return pairs


def _cycle_id(text: str) -> int | None:
    text = text.strip()
    if not text:
        return None
    if not text.isdigit():
        raise InvalidInput(f"cycle: choose a cycle from the list (got {text[:40]!r})")
    return int(text)


def _ticked(form: FormData, name: str) -> list[str]:
    return [v for v in form.getlist(name) if isinstance(v, str)]


def _audit_view(audit: MatchAudit | None) -> dict[str, Any] | None:
    """The audit with its charts: per dimension a match-rate and a mean-score bar chart, and the
    distribution of mentor load (the template puts a table of the same figures beside each)."""
    if audit is None:
        return None
    dimensions = []
    for d in audit.dimensions:
        label = DIMENSION_LABELS.get(d.dimension, d.dimension)
        scored = [(g.group, g.mean_score) for g in d.groups if g.mean_score is not None]
        dimensions.append(
            {
                "key": d.dimension,
                "label": label,
                "audit": d,
                "warned": any(w.startswith(f"{d.dimension} ") for w in audit.warnings),
                "rate_chart": bar_chart(
                    f"Match rate by {label}",
                    [(g.group, g.match_rate) for g in d.groups],
                    unit="%",
                    maximum=100,
                ),
                "score_chart": bar_chart(f"Mean score by {label}", scored, maximum=1, color="#c0792a"),
            }
        )
    load_chart = column_chart(
        "Mentors by load (held + assigned, of capacity)",
        [(b.bucket, b.mentors) for b in audit.load_distribution],
    )
    return {"audit": audit, "dimensions": dimensions, "load_chart": load_chart}


def _review_of_report(report: CohortReport) -> dict[str, Any]:
    title = f"Run {report.run_id}" if report.run_id is not None else "Dry run (not stored)"
    gain = report.total_score - report.greedy.total_score
    summary = (
        f"Matched {report.matched} of {report.mentees} mentees, total score {report.total_score:.3f} "
        f"({report.mentors} mentors with places; {report.seconds:.2f} s). Greedy baseline: matched "
        f"{report.greedy.matched}, total score {report.greedy.total_score:.3f} (optimal is {gain:+.3f})."
    )
    if report.cycle is not None:
        c = report.cycle
        summary += (
            f" For cycle {c.program}: {c.name} ({c.starts_on} to {c.ends_on}): {report.repeat_excluded} "
            "pair(s) excluded because they ran together in the cycles just before."
        )
    return {
        "run_id": report.run_id,
        "title": title,
        "summary": summary,
        "matches": report.matches,
        "unmatched": [(f"{u.mentee.name} ({u.mentee.key})", u.reason) for u in report.unmatched],
        "proposed": sum(1 for m in report.matches if m.status == "proposed") if report.run_id else 0,
        "audit": _audit_view(report.audit),
        "cycle_id": report.cycle.id if report.cycle else None,
        "warnings": report.warnings,
    }


def _review_of_run(services: ServicesDep, admin: AdminPage, run_id: int) -> dict[str, Any]:
    run = services.matching.get_run(run_id)
    matches = services.matching.list_matches(principal=admin.principal, run_id=run_id)
    statuses: dict[str, int] = {}
    for match in matches:
        statuses[match.status] = statuses.get(match.status, 0) + 1
    stored = run.report.get("unmatched")
    unmatched = [
        (str(u.get("mentee", "?")), str(u.get("reason", "")))
        for u in (stored if isinstance(stored, list) else [])
        if isinstance(u, dict)
    ]
    status_text = ", ".join(f"{n} {status}" for status, n in sorted(statuses.items())) or "no matches"
    summary = (
        f"Stored {run.created_at:%Y-%m-%d %H:%M} UTC. Matched {run.matched} of {run.mentees} mentees, "
        f"total score {run.total_score:.3f} (greedy baseline {run.greedy_score:.3f}). Now: {status_text}."
    )
    cycle = run.report.get("cycle")
    if run.cycle_id is not None and isinstance(cycle, dict):
        summary += (
            f" For cycle {cycle.get('program')}: {cycle.get('name')}; {run.report.get('repeat_excluded', 0)} "
            "pair(s) excluded because they ran together in the cycles just before."
        )
    return {
        "run_id": run.id,
        "title": f"Run {run.id}",
        "summary": summary,
        "matches": matches,
        "unmatched": unmatched,
        "proposed": statuses.get("proposed", 0),
        "audit": _audit_view(run.audit),
        "cycle_id": run.cycle_id,
        "warnings": _stored_warnings(run.report.get("warnings")),
    }


def _stored_warnings(value: object) -> list[str]:
    """The circle warnings kept in a stored run's report (none in runs stored before them)."""
    return [w for w in value if isinstance(w, str)] if isinstance(value, list) else []


def _pinned_text(matches: list[MatchOut]) -> str:
    return _pair_text([(m.mentee.key, m.mentor.key) for m in matches if m.pinned and m.status == "proposed"])


@router.get("", response_class=HTMLResponse)
def matching_page(
    request: Request,
    services: ServicesDep,
    admin: AdminPage,
    run: Annotated[int | None, Query(ge=1, le=MAX_DB_ID)] = None,
    job: Annotated[str | None, Query(max_length=MAX_JOB_ID)] = None,
) -> Response:
    if job is not None:
        context = job_context(services, job, page="/admin/matching", kinds=(COHORT,))
        shown: JobOut | None = context["job"]
        if shown is not None and shown.status == JobStatus.done and shown.result is not None:
            report = CohortReport.model_validate(shown.result)
            if report.run_id is not None:  # a stored run: its review page
                return RedirectResponse(f"/admin/matching?run={report.run_id}", status_code=303)
            context["review"] = _review_of_report(report)
        return _page(request, services, **context)
    if run is None:
        return _page(request, services)
    try:
        review = _review_of_run(services, admin, run)
    except CompanionError as exc:
        return _page(request, services, error=exc.message, status_code=exc.status_code)
    form = {**EMPTY_FORM, "pins": _pinned_text(review["matches"]), "cycle_id": str(review["cycle_id"] or "")}
    return _page(request, services, review=review, form=form)


@router.post("/run", response_class=HTMLResponse)
def run_cohort(request: Request, services: ServicesDep, admin: AdminPage, form: CheckedForm) -> Response:
    values = {
        "mentees": field(form, "mentees"),
        "pins": field(form, "pins"),
        "forbids": field(form, "forbids"),
        "dry_run": field(form, "dry_run") == "on",
        "cycle_id": field(form, "cycle_id"),
    }
    try:
        pins = _pairs(str(values["pins"]).splitlines() + _ticked(form, "pin"), "pins")
        forbids = _pairs(str(values["forbids"]).splitlines() + _ticked(form, "forbid"), "forbids")
        values["pins"], values["forbids"] = _pair_text(pins), _pair_text(forbids)
        mentees = [m.strip() for m in re.split(r"[\n,;]+", str(values["mentees"])) if m.strip()]
        try:
            cohort = CohortRequest(
                mentees=list(dict.fromkeys(mentees)) or None,
                pins=[PairRef(mentee=a, mentor=b) for a, b in pins],
                forbids=[PairRef(mentee=a, mentor=b) for a, b in forbids],
                save=not values["dry_run"],
                cycle_id=_cycle_id(str(values["cycle_id"])),
            )
        except ValidationError as exc:
            raise InvalidInput(validation_message(exc)) from None
        if field(form, "background") == "1":
            job = start_cohort(services, cohort, principal=admin.principal)
            request.state.audit_action = "run cohort match"
            request.state.audit_target = f"job {job.id}"
            return RedirectResponse(f"/admin/matching?job={job.id}", status_code=303)
        report = services.matching.cohort(cohort, created_by=admin.principal.id)
    except CompanionError as exc:
        return _page(request, services, error=exc.message, form=values, status_code=exc.status_code)
    review = _review_of_report(report)
    if report.run_id is None:
        request.state.audit_skip = True  # a dry run changes nothing
    else:
        request.state.audit_action = "run cohort match"
        request.state.audit_target = f"run {report.run_id}"
    notice = f"{review['title']}: matched {report.matched} of {report.mentees} mentees (review below)."
    return _page(request, services, review=review, form=values, notice=notice)


@router.post("/runs/{run_id}/publish", response_class=HTMLResponse)
def publish_run(
    request: Request, services: ServicesDep, admin: AdminPage, form: CheckedForm, run_id: RowId
) -> HTMLResponse:
    try:
        accepted, skipped = services.matching.accept_run(run_id)
        review = _review_of_run(services, admin, run_id)
    except CompanionError as exc:
        return _page(request, services, error=exc.message, status_code=exc.status_code)
    request.state.audit_action = "publish matching run"
    request.state.audit_target = f"run {run_id}"
    linked = sum(1 for m in accepted if m.linked)
    notice = (
        f"Published run {run_id}: {len(accepted)} match(es) accepted; {linked} linked as mentorships "
        "between user accounts (a pair is linked when both profiles have an account)."
    )
    if review["cycle_id"] is not None:
        notice += " The run's mentorships are now part of its cycle."
    context: dict[str, Any] = {"review": review, "notice": notice, "skipped": skipped}
    if skipped:
        context["error"] = f"{len(skipped)} match(es) could not be accepted and stay proposed; see below."
    return _page(request, services, **context)
