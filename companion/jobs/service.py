"""Job records and their lifecycle: start (a row, then the job's id on the queue), run (claim, heartbeat,
progress, outcome), cancel, and recovery of jobs whose worker stopped.

A job's row is claimed with one conditional UPDATE (queued -> running), so a job id that reaches the queue
twice (a recovery re-enqueue, a retry) still runs once at a time; the work itself is idempotent (ingest
skips what is already stored, an import updates by key, an eval run stores nothing until it ends).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from huey import Huey
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from companion.errors import BackendUnavailable, CompanionError, Conflict, InvalidInput, NotFound
from companion.identity.auth import Principal
from companion.jobs.schemas import FINISHED, JobOut, JobProgress, JobStatus
from companion.settings import JobsSettings
from companion.storage.db import Database, JobRecord, utcnow

log = logging.getLogger("companion.jobs")
MAX_JOB_ID = 32


class JobCancelled(Exception):
    """Raised inside a job's work when someone asked to cancel it (from its progress callback)."""


@dataclass
class JobContext:
    """What a job's work gets: its parameters, its payload (an uploaded file) and a progress callback."""

    job_id: str
    params: dict[str, Any]
    payload: bytes | None
    started_by: int | None
    _report: Callable[[int, int | None, str], None] = field(repr=False)
    done: int = 0
    total: int | None = None

    def progress(self, done: int | None = None, total: int | None = None, message: str = "") -> None:
        """Record progress; raises JobCancelled when the job was asked to stop."""
        if total is not None:
            self.total = total
        self.done = self.done + 1 if done is None else done
        self._report(self.done, self.total, message)

    def step(self, message: str) -> None:
        """One more step done (the shape of the services' `progress(label)` callbacks)."""
        self.progress(None, None, message)


Handler = Callable[[JobContext], dict[str, Any]]


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _alive_here(worker: str) -> bool | None:
    """Whether a worker of this machine is still running (None: another machine's, cannot tell)."""
    host, _, pid = worker.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return None
    if int(pid) == os.getpid():
        return True
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class JobService:
    def __init__(
        self,
        *,
        db: Database,
        huey: Huey,
        handlers: Mapping[str, Handler],
        settings: JobsSettings,
        worker: str | None = None,
    ) -> None:
        self.db = db
        self.huey = huey
        self.handlers = handlers
        self.settings = settings
        self.worker = worker or worker_name()
        self._task = huey.task(name="run_job")(self.run)

    # ---- starting and reading ----------------------------------------------------------------------

    def start(
        self,
        kind: str,
        *,
        title: str,
        params: dict[str, Any] | None = None,
        payload: bytes | None = None,
        principal: Principal | None = None,
        job_id: str | None = None,
    ) -> JobOut:
        """Record a queued job and put its id on the queue. `job_id` makes a start idempotent (a scheduled
        run): a second start with the same id returns the first job."""
        if kind not in self.handlers:
            raise InvalidInput(f"unknown job kind {kind!r}; known: {', '.join(sorted(self.handlers))}")
        job_id = job_id or uuid.uuid4().hex
        try:
            queued = self._insert(kind, job_id, title, params, payload, principal)
        except IntegrityError:  # the same id started at once elsewhere (a scheduled run): that one stands
            return self.get(job_id)
        if queued is None:
            return self.get(job_id)
        try:
            self._enqueue(job_id)
        except Exception as exc:  # the queue (Redis, the jobs.db file) is unreachable: say so, keep no orphan
            with self.db.session() as session:
                orphan = session.get(JobRecord, job_id)
                if orphan is not None and orphan.status == JobStatus.queued:
                    self._finish(orphan, JobStatus.failed, error=f"the job queue is unavailable: {exc}")
            raise BackendUnavailable(f"the job queue is unavailable: {str(exc)[:200]}") from exc
        return self.get(job_id) if self.huey.immediate else queued

    def _insert(
        self,
        kind: str,
        job_id: str,
        title: str,
        params: dict[str, Any] | None,
        payload: bytes | None,
        principal: Principal | None,
    ) -> JobOut | None:
        """The new job's row, committed; None when a job with this id exists already."""
        with self.db.session() as session:
            if session.get(JobRecord, job_id) is not None:
                return None
            record = JobRecord(
                id=job_id,
                kind=kind,
                title=title[:300],
                status=JobStatus.queued.value,
                params=params or {},
                payload=payload,
                progress_done=0,
                progress_total=None,
                progress_message="waiting for a worker",
                started_by=principal.id if principal and principal.id > 0 else None,
                started_by_name=principal.name if principal else "",
                attempts=0,
                cancel_requested=False,
                worker="",
                created_at=utcnow(),
            )
            session.add(record)
            session.flush()
            return self._out(record)

    def _enqueue(self, job_id: str) -> None:
        self._task(job_id)

    def get(self, job_id: str) -> JobOut:
        with self.db.session() as session:
            record = session.get(JobRecord, job_id) if 0 < len(job_id) <= MAX_JOB_ID else None
            if record is None:
                raise NotFound(f"no job with id {job_id!r}")
            return self._out(record)

    def list_jobs(
        self, *, kind: str | None = None, status: JobStatus | None = None, limit: int = 50
    ) -> list[JobOut]:
        query = select(JobRecord).order_by(JobRecord.created_at.desc(), JobRecord.id).limit(limit)
        if kind:
            query = query.where(JobRecord.kind == kind)
        if status:
            query = query.where(JobRecord.status == status.value)
        with self.db.session() as session:
            return [self._out(r) for r in session.scalars(query)]

    def cancel(self, job_id: str) -> JobOut:
        """A queued job is cancelled at once; a running one stops at its next progress step."""
        with self.db.session() as session:
            record = session.get(JobRecord, job_id) if 0 < len(job_id) <= MAX_JOB_ID else None
            if record is None:
                raise NotFound(f"no job with id {job_id!r}")
            if record.status in FINISHED:
                raise Conflict(f"job {job_id} already ended ({record.status}); nothing to cancel")
            if record.status == JobStatus.queued:
                self._finish(record, JobStatus.cancelled, error="cancelled before it started")
            else:
                record.cancel_requested = True
                record.progress_message = "cancelling: stops at the next step"
        return self.get(job_id)

    # ---- running (in a consumer) -------------------------------------------------------------------

    def run(self, job_id: str) -> None:
        """The queue's task: claim the job, run its handler, record the outcome. Never raises."""
        attempt = self._claim(job_id)
        if attempt is None:
            return
        with self.db.session() as session:
            record = session.get(JobRecord, job_id)
            assert record is not None
            context = JobContext(
                job_id=job_id,
                params=dict(record.params),
                payload=record.payload,
                started_by=record.started_by,
                _report=lambda d, t, msg: self._report(job_id, attempt, d, t, msg),
            )
            kind = record.kind
        stop = threading.Event()
        beat = threading.Thread(target=self._heartbeat, args=(job_id, attempt, stop), daemon=True)
        beat.start()
        try:
            result = self.handlers[kind](context)
        except JobCancelled:
            self._end(job_id, attempt, JobStatus.cancelled, error="cancelled while running", context=context)
        except CompanionError as exc:
            self._end(job_id, attempt, JobStatus.failed, error=exc.message, context=context)
        except Exception as exc:  # the job fails, the worker lives on
            log.exception("job %s (%s) failed", job_id, kind)
            self._end(job_id, attempt, JobStatus.failed, error=f"unexpected error: {exc}", context=context)
        else:
            self._end(job_id, attempt, JobStatus.done, result=result, context=context)
        finally:
            stop.set()

    def _claim(self, job_id: str) -> int | None:
        now = utcnow()
        with self.db.session() as session:
            claimed: int = session.execute(  # type: ignore[attr-defined]
                update(JobRecord)
                .where(JobRecord.id == job_id, JobRecord.status == JobStatus.queued.value)
                .values(
                    status=JobStatus.running.value,
                    attempts=JobRecord.attempts + 1,
                    worker=self.worker,
                    started_at=now,
                    heartbeat_at=now,
                    progress_message="started",
                )
            ).rowcount
            if not claimed:
                return None  # cancelled, already running elsewhere, or done
            record = session.get(JobRecord, job_id)
            return record.attempts if record is not None else None

    def _mine(self, job_id: str, attempt: int) -> Any:
        return (
            (JobRecord.id == job_id)
            & (JobRecord.attempts == attempt)
            & (JobRecord.status == JobStatus.running.value)
        )

    def _report(self, job_id: str, attempt: int, done: int, total: int | None, message: str) -> None:
        with self.db.session() as session:
            session.execute(
                update(JobRecord)
                .where(self._mine(job_id, attempt))
                .values(
                    progress_done=done,
                    progress_total=total,
                    progress_message=message[:2000],
                    heartbeat_at=utcnow(),
                )
            )
            cancel = session.scalar(select(JobRecord.cancel_requested).where(JobRecord.id == job_id))
        if cancel:
            raise JobCancelled(job_id)  # outside the session: the progress above is kept

    def _heartbeat(self, job_id: str, attempt: int, stop: threading.Event) -> None:
        while not stop.wait(self.settings.heartbeat_seconds):
            try:
                with self.db.session() as session:
                    session.execute(
                        update(JobRecord).where(self._mine(job_id, attempt)).values(heartbeat_at=utcnow())
                    )
            except CompanionError:
                log.warning("job %s: heartbeat not recorded (database unavailable)", job_id)

    def _end(
        self,
        job_id: str,
        attempt: int,
        status: JobStatus,
        *,
        context: JobContext,
        result: dict[str, Any] | None = None,
        error: str | None = None,
    ) -> None:
        with self.db.session() as session:
            record = session.get(JobRecord, job_id)
            if record is None or record.attempts != attempt or record.status != JobStatus.running:
                return  # recovered and restarted elsewhere meanwhile: that attempt reports
            if status == JobStatus.done and record.cancel_requested:
                message = "finished before it could be cancelled"
            else:
                message = ""
            if status == JobStatus.done and context.total is not None:
                record.progress_done = context.total
            self._finish(record, status, result=result, error=error, message=message)

    @staticmethod
    def _finish(
        record: JobRecord,
        status: JobStatus,
        *,
        result: dict[str, Any] | None = None,
        error: str | None = None,
        message: str = "",
    ) -> None:
        record.status = status.value
        record.result = result
        record.error = error
        record.payload = None  # the uploaded file is not kept with a finished job
        record.finished_at = utcnow()
        record.progress_message = message or {
            JobStatus.done: "done",
            JobStatus.failed: f"failed: {error}",
            JobStatus.cancelled: error or "cancelled",
        }.get(status, status.value)

    # ---- recovery ----------------------------------------------------------------------------------

    def recover(self, *, requeue_waiting: bool = False) -> dict[str, list[str]]:
        """Jobs left `running` by a worker that stopped (its process is gone, or it has not been heard from
        for `stale_after_seconds`) are queued again while attempts remain, else marked failed with the
        reason. With `requeue_waiting` (a consumer starting), queued jobs are put on the queue again too:
        a memory queue loses them on a restart, and a duplicate is harmless (the claim runs it once)."""
        now = utcnow()
        stale_before = now - timedelta(seconds=self.settings.stale_after_seconds)
        outcome: dict[str, list[str]] = {"requeued": [], "failed": [], "waiting": []}  # job ids
        with self.db.session() as session:
            running = session.scalars(select(JobRecord).where(JobRecord.status == JobStatus.running.value))
            for record in running:
                alive = _alive_here(record.worker)
                heard = _aware(record.heartbeat_at)
                if alive is True or (alive is None and heard is not None and heard >= stale_before):
                    continue
                why = (
                    f"worker {record.worker} stopped"
                    if alive is False
                    else f"worker {record.worker} not heard from since {heard:%Y-%m-%d %H:%M:%S} UTC"
                    if heard is not None
                    else f"worker {record.worker} never reported"
                )
                if record.attempts < self.settings.max_attempts and not record.cancel_requested:
                    record.status = JobStatus.queued.value
                    record.progress_message = f"queued again after an interruption ({why})"
                    outcome["requeued"].append(record.id)
                elif record.cancel_requested:
                    self._finish(record, JobStatus.cancelled, error=f"cancelled; interrupted ({why})")
                    outcome["failed"].append(record.id)
                else:
                    error = (
                        f"interrupted ({why}) on attempt {record.attempts} of "
                        f"{self.settings.max_attempts}; start it again"
                    )
                    self._finish(record, JobStatus.failed, error=error)
                    outcome["failed"].append(record.id)
            if requeue_waiting:
                waiting = session.scalars(
                    select(JobRecord.id).where(JobRecord.status == JobStatus.queued.value)
                )
                outcome["waiting"] = [i for i in waiting if i not in outcome["requeued"]]
        for job_id in outcome["requeued"] + outcome["waiting"]:
            self._enqueue(job_id)
        if outcome["requeued"] or outcome["failed"]:
            log.warning("recovered interrupted jobs: %s", outcome)
        return outcome

    def purge(self, *, now: datetime | None = None) -> int:
        """Delete ended jobs older than `keep_days`. Returns how many."""
        before = (now or utcnow()) - timedelta(days=self.settings.keep_days)
        ended = [status.value for status in FINISHED]
        with self.db.session() as session:
            removed: int = session.execute(  # type: ignore[attr-defined]
                delete(JobRecord).where(JobRecord.status.in_(ended), JobRecord.finished_at < before)
            ).rowcount
        return removed

    # ---- output ------------------------------------------------------------------------------------

    @staticmethod
    def _out(record: JobRecord) -> JobOut:
        total = record.progress_total
        percent = None
        if total:
            percent = min(100, round(100 * record.progress_done / total))
        elif total == 0:
            percent = 100
        return JobOut(
            id=record.id,
            kind=record.kind,
            title=record.title,
            status=JobStatus(record.status),
            progress=JobProgress(
                done=record.progress_done, total=total, message=record.progress_message, percent=percent
            ),
            result=record.result,
            error=record.error,
            started_by=record.started_by_name,
            attempts=record.attempts,
            cancel_requested=record.cancel_requested,
            created_at=record.created_at,
            started_at=record.started_at,
            finished_at=record.finished_at,
        )


def _aware(value: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes (stored as UTC)."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)
