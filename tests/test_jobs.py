"""Background jobs: the API's 202 path and /v1/jobs on the immediate queue; real consumers on SQLite huey,
in-process memory huey and Redis; the jobs table on SQLite and PostgreSQL; cancel; recovery after a
consumer dies mid-job; the scheduled eval run."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

from companion.container import Services
from companion.errors import Conflict, InvalidInput, NotFound
from companion.identity.auth import Principal, Role
from companion.jobs.consumer import JobConsumer, start_scheduled_eval
from companion.jobs.queue import build_huey
from companion.jobs.schemas import JobProgress
from companion.jobs.service import JobContext, JobService
from companion.settings import JobsSettings, Settings
from companion.storage.db import Database, JobRecord
from tests.support.app import Api, free_port, make_api, make_settings
from tests.support.jobs import BLOCKING_CONSUMER, REDIS_ENV, wait_api, wait_for

GUIDE = b"# Check-ins\n\n## Weekly\nMentor and mentee meet every week to review the goals they agreed.\n"
OTHER = b"# Closing\n\n## Reflection\nAt the end of a cycle both write a short reflection together.\n"
ADMIN = Principal(id=0, name="scheduler", role=Role.admin)


# ---- the API on the immediate queue ------------------------------------------------------------------


@pytest.fixture
def eval_api(tmp_path: Path) -> Iterator[Api]:
    services = Services(make_settings(tmp_path, llm={"mode": "fake"}))
    services.db.create_tables()
    yield from make_api(services)
    services.close()


def test_upload_in_the_background_answers_202_with_a_job_that_ends_with_the_report(api: Api) -> None:
    admin = api.auth("admin")
    response = api.client.post(
        "/v1/knowledge/documents?background=true", files={"file": ("weekly.md", GUIDE)}, headers=admin
    )
    assert response.status_code == 202, response.text
    job = response.json()
    assert response.headers["location"] == f"/v1/jobs/{job['id']}"
    assert job["kind"] == "ingest_upload" and job["title"] == "Ingest of weekly.md"
    assert job["started_by"] == "admin1"
    shown = wait_api(api.client, job["id"], admin)
    assert shown["status"] == "done", shown
    assert shown["result"]["added"] == ["weekly.md"] and shown["result"]["chunks_written"] >= 1
    chunks = shown["result"]["chunks_written"]
    assert shown["progress"]["done"] == shown["progress"]["total"] == chunks
    assert [d.source for d in api.services.knowledge.list_documents()] == ["weekly.md"]
    # the stored upload is dropped once the job ended
    with api.services.db.session() as session:
        assert session.get(JobRecord, job["id"]).payload is None  # type: ignore[union-attr]
    listed = api.client.get("/v1/jobs", headers=admin).json()
    assert [j["id"] for j in listed] == [job["id"]]
    assert api.client.get("/v1/jobs?status=failed", headers=admin).json() == []

    # without ?background the contract is unchanged: 201 and the report
    sync = api.client.post("/v1/knowledge/documents", files={"file": ("o.md", OTHER)}, headers=admin)
    assert sync.status_code == 201 and sync.json()["added"] == ["o.md"]


def test_a_bad_upload_is_refused_at_once_and_starts_no_job(api: Api) -> None:
    admin = api.auth("admin")
    refused = api.client.post(
        "/v1/knowledge/documents?background=true", files={"file": ("notes.exe", b"MZ...")}, headers=admin
    )
    assert refused.status_code == 415 and "unsupported file type '.exe'" in refused.json()["error"]["message"]
    bad_people = api.client.post(
        "/v1/people/import?background=true", files={"file": ("p.txt", b"name\nx\n")}, headers=admin
    )
    assert bad_people.status_code == 422 and "use a .csv or .json file" in bad_people.text
    assert api.client.get("/v1/jobs", headers=admin).json() == []


def test_job_routes_are_admin_only_and_unknown_ids_are_404(api: Api) -> None:
    job = api.client.post(
        "/v1/knowledge/documents?background=true",
        files={"file": ("weekly.md", GUIDE)},
        headers=api.auth("admin"),
    ).json()
    for role in ("mentee", "mentor"):
        assert api.client.get(f"/v1/jobs/{job['id']}", headers=api.auth(role)).status_code == 403
        assert api.client.post(f"/v1/jobs/{job['id']}/cancel", headers=api.auth(role)).status_code == 403
    missing = api.client.get("/v1/jobs/" + "f" * 32, headers=api.auth("admin"))
    assert missing.status_code == 404 and "no job with id" in missing.json()["error"]["message"]
    assert api.client.get("/v1/jobs/" + "a" * 40, headers=api.auth("admin")).status_code == 422
    # an ended job cannot be cancelled
    ended = api.client.post(f"/v1/jobs/{job['id']}/cancel", headers=api.auth("admin"))
    assert ended.status_code == 409 and "already ended (done)" in ended.json()["error"]["message"]


def test_people_import_and_cohort_run_in_the_background(api: Api) -> None:
    admin = api.auth("admin")
    people = (
        b"id,name,role,timezone,languages,skills,expertise,goals,capacity\n"
        b"t1,Tom Mentor,mentor,Europe/London,english,python,I teach python testing,,1\n"
        b"e1,Eve Mentee,mentee,Europe/London,english,python,,I want to learn python testing,\n"
        b"e2,Bad Row,mentee,Mars/Olympus,english,python,,I want to learn,\n"
    )
    started = api.client.post(
        "/v1/people/import?background=true", files={"file": ("p.csv", people)}, headers=admin
    )
    assert started.status_code == 202
    job = wait_api(api.client, started.json()["id"], admin)
    assert job["status"] == "done" and job["result"]["created"] == ["t1", "e1"]
    assert [f["row"] for f in job["result"]["failed"]] == [4]

    cohort = api.client.post("/v1/matching/cohort?background=true", json={"save": True}, headers=admin)
    assert cohort.status_code == 202 and cohort.json()["kind"] == "cohort"
    done = wait_api(api.client, cohort.json()["id"], admin)
    assert done["status"] == "done" and done["result"]["matched"] == 1
    run = api.client.get(f"/v1/matching/runs/{done['result']['run_id']}", headers=admin)
    assert run.status_code == 200


def test_eval_run_starts_from_the_api_and_lands_on_a_stored_run(eval_api: Api) -> None:
    admin = eval_api.auth("admin")
    body = {"suites": ["feedback"], "limit": 2, "judge": False, "backend": "fake", "note": "from the web"}
    started = eval_api.client.post("/v1/evals/runs", json=body, headers=admin)
    assert started.status_code == 202, started.text
    assert started.json()["title"] == "Eval run: feedback, at most 2 cases each"
    job = wait_api(eval_api.client, started.json()["id"], admin)
    assert job["status"] == "done", job
    assert job["progress"]["done"] == job["progress"]["total"] == 2
    assert job["progress"]["message"] == "done"
    run = eval_api.client.get(f"/v1/evals/runs/{job['result']['run_id']}", headers=admin).json()
    assert run["run"]["cases"] == 2 and run["run"]["note"] == "from the web"
    assert "baseline_id" not in job["result"], "the first run has nothing to compare with"

    second = wait_api(
        eval_api.client, eval_api.client.post("/v1/evals/runs", json=body, headers=admin).json()["id"], admin
    )
    assert second["result"]["baseline_id"] == job["result"]["run_id"]
    assert second["result"]["regressions"] == 0  # same cases, same fake model

    for bad, message in (
        ({"suites": ["nope"]}, "unknown suite 'nope'"),
        ({"backend": "openai"}, "backend 'openai' is not available here"),
        ({"limit": 0}, "limit"),
    ):
        refused = eval_api.client.post("/v1/evals/runs", json=bad, headers=admin)
        assert refused.status_code == 422 and message in refused.json()["error"]["message"], refused.text
    assert eval_api.client.post("/v1/evals/runs", json={}, headers=eval_api.auth("mentor")).status_code == 403


def test_a_failing_job_records_the_reason_and_the_next_job_still_runs(api: Api) -> None:
    admin = api.auth("admin")
    # a PDF by name and magic bytes (the cheap checks pass) that the loader cannot read (in the job)
    started = api.client.post(
        "/v1/knowledge/documents?background=true",
        files={"file": ("broken.pdf", b"%PDF-1.4\nnot really a pdf\n%%EOF")},
        headers=admin,
    )
    assert started.status_code == 202, started.text
    failed = wait_api(api.client, started.json()["id"], admin)
    assert failed["status"] == "failed" and "corrupt or unreadable PDF" in failed["error"]
    assert failed["progress"]["message"].startswith("failed: ")
    ok = api.client.post(
        "/v1/knowledge/documents?background=true", files={"file": ("weekly.md", GUIDE)}, headers=admin
    ).json()
    assert wait_api(api.client, ok["id"], admin)["status"] == "done"


# ---- the service on a real consumer --------------------------------------------------------------------


def _service(db: Database, settings: JobsSettings, data_dir: Path, handlers: dict[str, Any]) -> JobService:
    return JobService(db=db, huey=build_huey(settings, data_dir), handlers=handlers, settings=settings)


class Gate:
    """A job kind that reports progress, then waits to be let through (so tests can look at it running)."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.runs = 0

    def __call__(self, ctx: JobContext) -> dict[str, Any]:
        self.runs += 1
        ctx.progress(0, 3, "step 1")
        while not self.release.wait(0.02):
            ctx.progress(1, 3, "waiting at step 2")  # raises JobCancelled when asked to stop
        ctx.progress(3, 3, "finished")
        return {"value": ctx.params.get("value")}


@pytest.fixture(params=["memory", "sqlite", "redis"])
def queue_settings(request: pytest.FixtureRequest) -> JobsSettings:
    if request.param == "redis":
        url = os.environ.get(REDIS_ENV)
        if not url:
            pytest.skip(f"{REDIS_ENV} is not set")
        return JobsSettings(mode="redis", redis_url=url, name=f"t{uuid.uuid4().hex[:10]}")
    return JobsSettings(mode=request.param)  # type: ignore[arg-type]


def _at_step_2(jobs: JobService, job_id: str) -> JobProgress:
    deadline = time.monotonic() + 30
    while jobs.get(job_id).progress.message != "waiting at step 2":
        assert time.monotonic() < deadline, jobs.get(job_id)
        time.sleep(0.02)
    return jobs.get(job_id).progress


def test_consumer_runs_jobs_and_cancels_queued_and_running_ones(
    any_db_settings: Settings, queue_settings: JobsSettings
) -> None:
    db = Database(any_db_settings.resolved_database_url)
    db.create_tables()
    gate = Gate()
    jobs = _service(db, queue_settings, any_db_settings.data_dir, {"gate": gate})
    # queued while no consumer runs; cancelling one of them means it never runs
    first = jobs.start("gate", title="first", params={"value": 1})
    doomed = jobs.start("gate", title="doomed", params={"value": 2})
    assert first.status == doomed.status == "queued" and first.progress.message == "waiting for a worker"
    assert jobs.cancel(doomed.id).status == "cancelled"
    with pytest.raises(Conflict):
        jobs.cancel(doomed.id)

    consumer = JobConsumer(jobs, queue_settings, periodic=False)
    consumer.start()
    try:
        running = wait_for(jobs, first.id, status="running", timeout=30)
        assert running.attempts == 1 and running.started_at is not None
        progress = _at_step_2(jobs, first.id)
        assert (progress.done, progress.total, progress.percent) == (1, 3, 33)
        gate.release.set()
        done = wait_for(jobs, first.id, timeout=30)
        assert done.status == "done" and done.result == {"value": 1}
        assert (done.progress.done, done.progress.total, done.progress.percent) == (3, 3, 100)

        # a running job stops at its next progress step
        gate.release.clear()
        third = jobs.start("gate", title="third", params={"value": 3})
        _at_step_2(jobs, third.id)
        asked = jobs.cancel(third.id)
        assert asked.status == "running" and asked.cancel_requested
        stopped = wait_for(jobs, third.id, timeout=30)
        assert stopped.status == "cancelled" and stopped.error == "cancelled while running"
        assert stopped.progress.done == 1, "the progress made before the cancel is kept"
    finally:
        gate.release.set()
        consumer.stop()
    assert jobs.get(doomed.id).status == "cancelled" and gate.runs == 2
    assert [j.title for j in jobs.list_jobs()] == ["third", "doomed", "first"]
    with pytest.raises(NotFound):
        jobs.get("nope")
    with pytest.raises(InvalidInput, match="unknown job kind"):
        jobs.start("other", title="x")
    db.dispose()


def test_an_upload_ingests_on_a_sqlite_consumer_while_requests_go_on(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, jobs={"mode": "sqlite"})
    services = Services(settings)
    services.db.create_tables()
    consumer = services.job_consumer(periodic=False)
    consumer.start()
    try:
        for api in make_api(services):
            admin = api.auth("admin")
            job = api.client.post(
                "/v1/knowledge/documents?background=true",
                files={"file": ("weekly.md", GUIDE)},
                headers=admin,
            ).json()
            assert job["status"] in ("queued", "running", "done")
            assert api.client.get("/healthz").status_code == 200
            done = wait_api(api.client, job["id"], admin)
            assert done["status"] == "done" and done["result"]["added"] == ["weekly.md"]
        assert (tmp_path / "data" / "jobs.db").is_file()
    finally:
        consumer.stop()
        services.close()


# ---- recovery ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("attempts", [2, 1])
def test_a_job_running_when_its_consumer_dies_is_requeued_or_failed_never_lost(
    tmp_path: Path, attempts: int
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    url = f"sqlite:///{data / 'companion.db'}"
    db = Database(url)
    db.create_tables()
    settings = JobsSettings(mode="sqlite", max_attempts=attempts)
    finished: list[str] = []

    def block(ctx: JobContext) -> dict[str, Any]:
        finished.append(ctx.job_id)
        return {"second": True}

    jobs = _service(db, settings, data, {"block": block})
    job = jobs.start("block", title="stuck")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    worker = subprocess.Popen(
        [sys.executable, "-c", BLOCKING_CONSUMER, url, str(data)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert worker.stdout is not None and worker.stdout.readline().strip() == "consuming"
        wait_for(jobs, job.id, status="running", timeout=60)
        deadline = time.monotonic() + 30
        while jobs.get(job.id).progress.done != 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert jobs.get(job.id).progress.message == "first step done; now stuck"
    finally:
        worker.kill()
        worker.wait(timeout=30)
    assert jobs.get(job.id).status == "running", "the dead worker left it running"

    consumer = JobConsumer(jobs, settings, periodic=False)
    recovered = consumer.start()  # a restart: recovery first
    try:
        if attempts == 2:
            assert recovered["requeued"] == [job.id]
            done = wait_for(jobs, job.id, timeout=30)
            assert done.status == "done" and done.attempts == 2 and done.result == {"second": True}
            assert finished == [job.id]
        else:
            assert recovered["failed"] == [job.id]
            failed = jobs.get(job.id)
            assert failed.status == "failed" and failed.attempts == 1
            assert failed.error is not None and f"worker {running_worker(db, job.id)} stopped" in failed.error
            assert "attempt 1 of 1" in failed.error and finished == []
    finally:
        consumer.stop()
    db.dispose()


def running_worker(db: Database, job_id: str) -> str:
    with db.session() as session:
        record = session.get(JobRecord, job_id)
        assert record is not None
        return record.worker


def test_a_worker_on_another_machine_is_judged_by_its_heartbeat(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'c.db'}")
    db.create_tables()
    settings = JobsSettings(mode="memory", stale_after_seconds=60)
    jobs = _service(db, settings, tmp_path, {"noop": lambda ctx: {}})
    quiet, recent = jobs.start("noop", title="quiet"), jobs.start("noop", title="recent")
    now = datetime.now(UTC)
    with db.session() as session:
        for job_id, heard in ((quiet.id, now - timedelta(minutes=5)), (recent.id, now)):
            session.execute(
                update(JobRecord)
                .where(JobRecord.id == job_id)
                .values(status="running", worker="elsewhere:4242", attempts=1, heartbeat_at=heard)
            )
    outcome = jobs.recover()
    assert outcome["requeued"] == [quiet.id] and outcome["failed"] == []
    assert jobs.get(quiet.id).status == "queued"
    assert "not heard from since" in jobs.get(quiet.id).progress.message
    assert jobs.get(recent.id).status == "running", "a worker heard from recently is left alone"
    db.dispose()


# ---- the scheduled eval run ----------------------------------------------------------------------------


def test_the_scheduled_eval_starts_once_a_day_and_reports_regressions(tmp_path: Path) -> None:
    settings = make_settings(
        tmp_path, llm={"mode": "fake"}, jobs={"mode": "immediate", "nightly_eval_suites": ["feedback"],
                                              "nightly_eval_limit": 1}
    )  # fmt: skip
    services = Services(settings)
    services.db.create_tables()
    day = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
    first = start_scheduled_eval(services.jobs, settings.jobs, now=day)
    again = start_scheduled_eval(services.jobs, settings.jobs, now=day)
    assert first.id == again.id == "nightly-eval-20261201" and first.status == "done"
    assert len(services.evaluation.list_runs()) == 1, "several consumers start the day's run once"
    second = start_scheduled_eval(services.jobs, settings.jobs, now=day + timedelta(days=1))
    assert second.result is not None and second.result["baseline_id"] == first.result["run_id"]  # type: ignore[index]
    assert second.result["regressions"] == 0 and second.started_by == ""
    services.close()


# ---- the CLI -------------------------------------------------------------------------------------------


def test_cli_queues_an_eval_run_follows_it_and_lists_shows_and_cancels_jobs(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from companion.cli.main import app as cli_app

    runner = CliRunner()
    env = {
        "COMPANION_DATA_DIR": str(tmp_path / "data"),
        "COMPANION_EMBEDDINGS__MODE": "fake",
        "COMPANION_STORE__MODE": "memory",
        "COMPANION_LLM__MODE": "fake",
        "COMPANION_JOBS__MODE": "immediate",
    }
    queued = runner.invoke(cli_app, ["jobs", "eval", "--suite", "feedback", "--limit", "1"], env=env)
    assert queued.exit_code == 0, queued.output
    assert "queued job" in queued.stderr and "Eval run: feedback" in queued.stderr
    assert "done: Eval run: feedback, at most 1 cases each" in " ".join(queued.stdout.split())
    assert "eval run 1: score" in queued.stdout

    listed = runner.invoke(cli_app, ["jobs", "list"], env=env)
    assert listed.exit_code == 0 and " done " in listed.stdout and " cli " in listed.stdout
    services = Services(Settings(data_dir=tmp_path / "data", embeddings={"mode": "fake"}))  # type: ignore[arg-type]
    job = services.jobs.list_jobs()[0]
    services.close()
    shown = runner.invoke(cli_app, ["jobs", "show", job.id], env=env)
    assert shown.exit_code == 0 and f'"id": "{job.id}"' in shown.stdout and '"run_id": 1' in shown.stdout
    cancelled = runner.invoke(cli_app, ["jobs", "cancel", job.id], env=env)
    assert cancelled.exit_code == 1 and "already ended (done)" in cancelled.stderr
    missing = runner.invoke(cli_app, ["jobs", "show", "nope"], env=env)
    assert missing.exit_code == 1 and "no job with id 'nope'" in missing.stderr
    bad = runner.invoke(cli_app, ["jobs", "eval", "--suite", "nope"], env=env)
    assert bad.exit_code == 1 and "unknown suite 'nope'" in bad.stderr


def test_companion_worker_runs_queued_jobs_and_stops_on_sigint(tmp_path: Path) -> None:
    import signal

    env = {
        **os.environ,
        "PYTHONPATH": str(Path(__file__).resolve().parents[1]),
        "COMPANION_DATA_DIR": str(tmp_path / "data"),
        "COMPANION_EMBEDDINGS__MODE": "fake",
        "COMPANION_STORE__MODE": "memory",
        "COMPANION_JOBS__MODE": "sqlite",
    }
    settings = make_settings(tmp_path, jobs={"mode": "sqlite"})
    services = Services(settings)
    services.db.create_tables()
    job = services.jobs.start("reingest", title="Re-ingest of every guide", params={"sources": None})
    worker = subprocess.Popen(
        [sys.executable, "-m", "companion", "worker", "--no-periodic"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        done = wait_for(services.jobs, job.id, timeout=90)
        assert done.status == "done" and done.result is not None and done.result["failed"] == []
        assert done.attempts == 1
    finally:
        worker.send_signal(signal.SIGINT)
        _, errors = worker.communicate(timeout=60)
        services.close()
    assert worker.returncode == 0, errors
    assert "threads on the sqlite queue" in errors and "worker: stopping" in errors


def test_an_unreachable_queue_is_a_503_and_leaves_no_job_waiting(tmp_path: Path) -> None:
    from companion.errors import BackendUnavailable

    db = Database(f"sqlite:///{tmp_path / 'c.db'}")
    db.create_tables()
    free = free_port()
    settings = JobsSettings(mode="redis", redis_url=f"redis://127.0.0.1:{free}/0")
    jobs = _service(db, settings, tmp_path, {"noop": lambda ctx: {}})
    with pytest.raises(BackendUnavailable, match="the job queue is unavailable"):
        jobs.start("noop", title="lost?")
    [job] = jobs.list_jobs()
    assert job.status == "failed" and job.error is not None and "queue is unavailable" in job.error
    db.dispose()


def test_a_large_guide_reports_its_embedding_batch_by_batch(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, embeddings={"mode": "fake", "batch_size": 4})
    services = Services(settings)
    services.db.create_tables()
    sections = "".join(f"## Part {n}\n{'Mentors and mentees agree on goals. ' * 12}\n\n" for n in range(12))
    guide = f"# Long guide\n\n{sections}".encode()
    heard: list[tuple[int, int]] = []
    report = services.knowledge.ingest_bytes(
        guide, "long.md", chunk_progress=lambda done, total: heard.append((done, total))
    )
    chunks = report.chunks_written
    assert chunks > 8
    assert heard == [(min(n, chunks), chunks) for n in range(4, chunks + 4, 4)], "one report per batch of 4"
    # the same guide through a job: the bar's total is the chunks to embed
    services.knowledge.delete_source("long.md")
    job = services.jobs.start("ingest_upload", title="t", params={"filename": "long.md"}, payload=guide)
    assert job.status == "done" and (job.progress.done, job.progress.total) == (chunks, chunks)
    services.close()


def test_serve_runs_the_consumer_in_process_and_stops_it_on_shutdown(tmp_path: Path) -> None:
    import re
    import signal

    import httpx

    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": str(Path(__file__).resolve().parents[1]),
        "COMPANION_DATA_DIR": str(tmp_path / "data"),
        "COMPANION_EMBEDDINGS__MODE": "fake",
        "COMPANION_STORE__MODE": "memory",
        "COMPANION_SEED_SAMPLE_KNOWLEDGE": "false",
        "COMPANION_WEB__PASSWORD_TIME_COST": "1",
        "COMPANION_WEB__PASSWORD_MEMORY_KIB": "1024",
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "companion", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: list[str] = []
    try:
        assert server.stderr is not None
        deadline = time.monotonic() + 90
        while not any("Application startup complete" in line for line in lines):
            assert time.monotonic() < deadline and server.poll() is None, "".join(lines)
            lines.append(server.stderr.readline())
        text = "".join(lines)
        assert "Background jobs: 2 worker threads on the sqlite queue" in text
        token = re.search(r"API token:\s+(\S+)", text)
        assert token, text
        headers = {"Authorization": f"Bearer {token.group(1)}"}
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=headers, timeout=30) as client:
            started = client.post(
                "/v1/knowledge/documents", params={"background": "true"}, files={"file": ("w.md", GUIDE)}
            )
            assert started.status_code == 202, started.text
            job = wait_api(client, started.json()["id"], {})
            assert job["status"] == "done" and job["result"]["added"] == ["w.md"]
    finally:
        server.send_signal(signal.SIGINT)
        server.communicate(timeout=60)
    assert server.returncode == 0


def test_ended_jobs_are_purged_after_keep_days(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'c.db'}")
    db.create_tables()
    settings = JobsSettings(mode="immediate", keep_days=7)
    jobs = _service(db, settings, tmp_path, {"noop": lambda ctx: {}})
    old = jobs.start("noop", title="old")
    jobs.start("noop", title="recent")
    waiting = _service(db, JobsSettings(mode="memory", keep_days=7), tmp_path, {"noop": lambda ctx: {}})
    queued = waiting.start("noop", title="waiting")
    with db.session() as session:
        for job_id in (old.id, queued.id):
            session.execute(
                update(JobRecord)
                .where(JobRecord.id == job_id)
                .values(created_at=datetime.now(UTC) - timedelta(days=30))
            )
        session.execute(
            update(JobRecord)
            .where(JobRecord.id == old.id)
            .values(finished_at=datetime.now(UTC) - timedelta(days=8))
        )
    assert jobs.purge() == 1
    assert {j.title for j in jobs.list_jobs()} == {"recent", "waiting"}, "never a job that has not ended"
    db.dispose()
