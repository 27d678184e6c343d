"""Running jobs: a huey consumer on threads (inside `companion serve`, or alone in `companion worker`),
its periodic work (recovering interrupted jobs every minute, the scheduled eval run), and recovery when it
starts."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from huey import crontab
from huey.consumer import Consumer

from companion.jobs.schemas import JobOut
from companion.jobs.service import JobService
from companion.jobs.tasks import EVAL_RUN, NUDGES
from companion.settings import EmailSettings, JobsSettings

log = logging.getLogger("companion.jobs")
SCHEDULED_EVAL_PREFIX = "nightly-eval-"
SCHEDULED_NUDGES_PREFIX = "nudges-"


class _ThreadConsumer(Consumer):
    """huey's consumer without its signal handlers: it runs beside a server (or a CLI command) that owns
    the process's signals, and is stopped by `JobConsumer.stop`."""

    def _set_signal_handlers(self) -> None:
        return None


def schedule(jobs: JobService, settings: JobsSettings, *, email: EmailSettings | None = None) -> None:
    """Register the periodic tasks on the job queue (they run where a consumer runs with periodic=True):
    recovery, purging, the scheduled eval run when configured, and the daily nudges when e-mail is on."""
    huey = jobs.huey

    @huey.periodic_task(crontab(), name="recover_jobs")
    def recover_jobs() -> None:
        jobs.recover()

    @huey.periodic_task(crontab(minute="30", hour="3"), name="purge_jobs")
    def purge_jobs() -> None:
        jobs.purge()

    if settings.nightly_eval_hour is not None:

        @huey.periodic_task(crontab(minute="0", hour=str(settings.nightly_eval_hour)), name="nightly_eval")
        def nightly_eval() -> None:
            start_scheduled_eval(jobs, settings)

    if email is not None and email.enabled and email.nudge_hour is not None:

        @huey.periodic_task(crontab(minute="0", hour=str(email.nudge_hour)), name="daily_nudges")
        def daily_nudges() -> None:
            start_scheduled_nudges(jobs)


def start_scheduled_eval(jobs: JobService, settings: JobsSettings, *, now: datetime | None = None) -> JobOut:
    """The day's scheduled eval run; its id is the date, so several consumers start it once."""
    day = (now or datetime.now(UTC)).strftime("%Y%m%d")
    suites = list(settings.nightly_eval_suites)
    limit = settings.nightly_eval_limit
    return jobs.start(
        EVAL_RUN,
        title=f"Scheduled eval run of {day}",
        params={"suites": suites, "limit": limit, "judge": None, "backend": None, "scheduled": True,
                "note": f"scheduled run {day}"},
        job_id=f"{SCHEDULED_EVAL_PREFIX}{day}",
    )  # fmt: skip


def start_scheduled_nudges(jobs: JobService, *, now: datetime | None = None) -> JobOut:
    """The day's nudge run; its id is the date, so several consumers start it once."""
    day = (now or datetime.now(UTC)).strftime("%Y%m%d")
    return jobs.start(
        NUDGES,
        title=f"Daily e-mail nudges of {day}",
        params={"today": None, "dry_run": False, "scheduled": True},
        job_id=f"{SCHEDULED_NUDGES_PREFIX}{day}",
    )


class JobConsumer:
    """Starts and stops a huey consumer on threads for one JobService."""

    def __init__(self, jobs: JobService, settings: JobsSettings, *, periodic: bool = True) -> None:
        self.jobs = jobs
        self.settings = settings
        self.periodic = periodic
        self._consumer: Consumer | None = None

    @property
    def running(self) -> bool:
        return self._consumer is not None

    def start(self) -> dict[str, list[str]]:
        """Recover what a previous process left behind, then start consuming. Returns the recovery."""
        if self.jobs.huey.immediate:
            raise RuntimeError("the immediate job queue runs jobs in the caller; it has no consumer")
        recovered = self.jobs.recover(requeue_waiting=True)
        consumer = _ThreadConsumer(
            self.jobs.huey,
            workers=self.settings.workers,
            periodic=self.periodic,
            initial_delay=0.05,
            backoff=1.5,
            max_delay=0.25,  # an idle SQLite queue is polled at least 4 times a second (Redis blocks)
            worker_type="thread",
            check_worker_health=False,
            shutdown_timeout=5.0,
        )
        consumer.start()
        self._consumer = consumer
        log.info("job consumer started: %s workers on %s", self.settings.workers, self.settings.backend)
        return recovered

    def stop(self) -> None:
        """Stop taking jobs; a job still running after the grace period is left `running` for recovery."""
        if self._consumer is None:
            return
        self._consumer.stop(graceful=True)
        self._consumer = None
