"""Job helpers for tests: waiting for a job to end, and a consumer process that can be killed mid-job."""

from __future__ import annotations

import time
from typing import Any

from companion.jobs.schemas import JobOut
from companion.jobs.service import JobService

REDIS_ENV = "COMPANION_TEST_REDIS_URL"


def wait_for(jobs: JobService, job_id: str, *, timeout: float = 60.0, status: str | None = None) -> JobOut:
    """Poll a job until it ended (or reached `status`); fails the test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        job = jobs.get(job_id)
        if (status is None and job.finished) or (status is not None and job.status == status):
            return job
        if time.monotonic() > deadline:
            raise AssertionError(f"job {job_id} still {job.status} after {timeout}s: {job.progress}")
        time.sleep(0.05)


def wait_api(client: Any, job_id: str, headers: dict[str, str], *, timeout: float = 60.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        response = client.get(f"/v1/jobs/{job_id}", headers=headers)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        if body["status"] in ("done", "failed", "cancelled"):
            return body
        if time.monotonic() > deadline:
            raise AssertionError(f"job {job_id} still {body['status']} after {timeout}s")
        time.sleep(0.05)


# A consumer in its own process, running one kind of job ("block") that reports progress and then waits
# forever: the test kills the process mid-job, as a crash or a restart would.
BLOCKING_CONSUMER = """
import sys, threading
from companion.jobs.consumer import JobConsumer
from companion.jobs.queue import build_huey
from companion.jobs.service import JobService
from companion.settings import JobsSettings
from companion.storage.db import Database
from pathlib import Path

db = Database(sys.argv[1])
settings = JobsSettings(mode="sqlite", heartbeat_seconds=0.2)
def block(ctx):
    ctx.progress(1, 3, "first step done; now stuck")
    threading.Event().wait()
    return {}
huey = build_huey(settings, Path(sys.argv[2]))
jobs = JobService(db=db, huey=huey, handlers={"block": block}, settings=settings)
JobConsumer(jobs, settings, periodic=False).start()
print("consuming", flush=True)
threading.Event().wait()
"""
