"""The eval runner stores runs, compare finds regressions, the API is admin only, the CLI gates on a score."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from companion.cli.main import app
from companion.container import Services
from companion.evaluation.runner import SUITES, load_suite
from companion.settings import Settings
from tests.support.app import KNOWLEDGE, REPO, make_api, web_client
from tests.support.evaluation import build

GOOD_REPLY = {
    "rewritten": "In Monday's sprint review two of your tickets were still open. That delayed the release by "
    "a day. Could you flag blockers at standup next time?",
    "situation": "Monday's sprint review meeting",
    "behaviour": "two tickets were still open",
    "impact": "the release slipped by one day",
    "next_step": "flag blockers at the next standup",
    "changes": [{"what": "Removed 'lazy'", "why": "it judges character"}],
    "sources": [1],
}


@pytest.fixture
def two_runs(tmp_path: Path) -> Iterator[tuple[Services, int, int]]:
    good = build(tmp_path, [GOOD_REPLY])
    first = good.evaluation.run(suites=["feedback"])
    good.close()
    worse = build(tmp_path, [])  # no reply: the grounded fallback, with placeholders to fill in
    second = worse.evaluation.run(suites=["feedback"], note="fallback")
    yield worse, first.id, second.id
    worse.close()


def test_every_suite_file_loads_with_enough_cases() -> None:
    minimum = {"goals": 25, "session_prep": 25, "feedback": 30, "ask": 40, "adversarial": 20, "matching": 20}
    for suite in SUITES:
        cases = load_suite(REPO / "evals", suite)
        assert len(cases) >= minimum[suite], suite
        assert len({c.id for c in cases}) == len(cases), f"{suite}: duplicate ids"


def test_run_is_stored_with_trace_and_compare_lists_the_regression(
    two_runs: tuple[Services, int, int],
) -> None:
    services, a, b = two_runs
    detail = services.evaluation.get_run(a)
    assert detail.run.model == "fake" and detail.run.cases == 1
    assert detail.run.prompt_versions["feedback"] == services.prompts.version("feedback")
    assert detail.settings["llm"]["fake_replies"] == "1 scripted replies"
    result = detail.results[0]
    assert result.origin == "model" and result.passed
    assert result.metrics["sbi_present"].value == 1.0
    trace = services.evaluation.get_result(result.id)
    assert trace.inputs["draft"].startswith("You are lazy")
    assert trace.context and trace.context[0]["text"]
    assert trace.output["rewritten"].startswith("In Monday's")

    report = services.evaluation.compare(a, b)
    assert [c.case_id for c in report.regressions] == ["fb-1"]
    change = report.regressions[0]
    assert change.after < change.before
    assert any(line.startswith("sbi_present: 1.0 -> 0.") for line in change.metrics), change.metrics
    assert report.improvements == [] and report.suites["feedback"] < 0
    back = services.evaluation.compare(b, a)
    assert [c.case_id for c in back.improvements] == ["fb-1"] and back.regressions == []


def test_api_is_admin_only_and_rejects_bad_ids(two_runs: tuple[Services, int, int]) -> None:
    services, a, b = two_runs
    for api in make_api(services):
        assert api.client.get("/v1/evals/runs").status_code == 401
        for role in ("mentee", "mentor"):
            assert api.client.get("/v1/evals/runs", headers=api.auth(role)).status_code == 403
            assert api.client.get(f"/v1/evals/runs/{a}", headers=api.auth(role)).status_code == 403
        admin = api.auth("admin")
        runs = api.client.get("/v1/evals/runs", headers=admin).json()
        assert [r["id"] for r in runs] == [b, a]
        detail = api.client.get(f"/v1/evals/runs/{b}?suite=feedback", headers=admin).json()
        result_id = detail["results"][0]["id"]
        passed = detail["results"][0]["passed"]
        assert api.client.get(f"/v1/evals/runs/{b}?suite=goals", headers=admin).json()["results"] == []
        other = api.client.get(f"/v1/evals/runs/{b}?passed={str(not passed).lower()}", headers=admin).json()
        assert other["results"] == []
        compared = api.client.get(f"/v1/evals/compare?a={a}&b={b}", headers=admin).json()
        assert compared["regressions"][0]["case_id"] == "fb-1"
        trace = api.client.get(f"/v1/evals/results/{result_id}", headers=admin).json()
        assert trace["output"]["origin"] == "grounded"

        url = f"/v1/evals/results/{result_id}/label"
        assert api.client.post(url, json={"good": False}, headers=api.auth("mentor")).status_code == 403
        labelled = api.client.post(url, json={"good": False, "note": "placeholders"}, headers=admin)
        assert labelled.status_code == 200 and labelled.json()["good"] is False
        again = api.client.post(url, json={"good": True}, headers=admin).json()
        assert again["id"] == labelled.json()["id"] and again["good"] is True

        assert api.client.get("/v1/evals/runs/999999", headers=admin).status_code == 404
        assert api.client.get("/v1/evals/runs/0", headers=admin).status_code == 422
        assert api.client.get("/v1/evals/runs/abc", headers=admin).status_code == 422
        assert api.client.get(f"/v1/evals/compare?a={a}&b=999999", headers=admin).status_code == 404
        assert api.client.get(f"/v1/evals/compare?a={a}", headers=admin).status_code == 422
        assert (
            api.client.post("/v1/evals/results/999999/label", json={"good": True}, headers=admin).status_code
            == 404
        )
        assert api.client.post(url, json={"good": "maybe"}, headers=admin).status_code == 422


def test_guide_injection_is_traced_and_scored(tmp_path: Path) -> None:
    services = build(tmp_path, [])
    case = load_suite(REPO / "evals", "adversarial")[0]
    assert case.guide and case.task == "ask"
    outcome = services.evaluation.run_case(case)
    assert outcome.context[0]["id"] == "eval-poisoned-guide"
    assert "injection_resisted" in outcome.metrics
    services.close()


def test_cli_run_list_compare_and_exit_code(tmp_path: Path) -> None:
    runner = CliRunner()
    env = {
        "COMPANION_DATA_DIR": str(tmp_path / "data"),
        "COMPANION_EMBEDDINGS__MODE": "fake",
        "COMPANION_STORE__MODE": "embedded",
        "COMPANION_LLM__MODE": "fake",
        "COLUMNS": "200",
    }
    assert runner.invoke(app, ["ingest", str(KNOWLEDGE)], env=env).exit_code == 0
    junit = tmp_path / "junit.xml"
    out = tmp_path / "run.json"
    args = ["eval", "run", "--suite", "goals", "--suite", "feedback", "--limit", "2"]
    ok = runner.invoke(
        app, [*args, "--fail-under", "0.1", "--junit", str(junit), "--json", str(out)], env=env
    )
    assert ok.exit_code == 0, ok.output
    assert "run 1: score" in ok.output
    assert '<testsuite name="goals" tests="2"' in junit.read_text()
    assert len(json.loads(out.read_text())["results"]) == 4
    failed = runner.invoke(app, [*args, "--fail-under", "1.0", "--baseline", "1"], env=env)
    assert failed.exit_code == 1
    assert "under --fail-under 1.0" in failed.output and "run 1 -> run 2" in failed.output
    listed = runner.invoke(app, ["eval", "list"], env=env)
    assert listed.exit_code == 0 and "fake" in listed.output
    compared = runner.invoke(app, ["eval", "compare", "1", "2", "--json"], env=env)
    assert compared.exit_code == 0 and json.loads(compared.output)["unchanged"] == 4
    missing = runner.invoke(app, ["eval", "compare", "1", "99"], env=env)
    assert missing.exit_code == 1 and "does not exist" in missing.output
    unknown = runner.invoke(app, ["eval", "run", "--suite", "nope"], env=env)
    assert unknown.exit_code == 1 and "unknown suite" in unknown.output


def test_admin_pages_render_for_a_signed_in_admin(two_runs: tuple[Services, int, int]) -> None:
    """The eval pages sign in like every other admin page: the session, not an API token."""
    services, a, b = two_runs
    for api in make_api(services):
        anonymous = api.client.get("/admin/evals", follow_redirects=False)
        assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/signin")
        for token_only in (
            api.client.get("/admin/evals", headers=api.auth("admin"), follow_redirects=False),
            api.client.get("/admin/evals", cookies={"token": api.tokens["admin"]}, follow_redirects=False),
        ):
            assert token_only.status_code == 303 and token_only.headers["location"].startswith("/signin")
        assert api.client.get("/v1/evals/runs", headers=api.auth("admin")).status_code == 200
        assert web_client(api, "mentor").get("/admin/evals").status_code == 403
        admin = web_client(api, "admin")
        runs = admin.get("/admin/evals")
        assert runs.status_code == 200 and "<polyline" in runs.text and f"/admin/evals/runs/{a}" in runs.text
        run = admin.get(f"/admin/evals/runs/{b}?suite=feedback")
        assert run.status_code == 200 and "fb-1" in run.text and "sbi_present" in run.text
        result_id = services.evaluation.get_run(b).results[0].id
        trace = admin.get(f"/admin/evals/results/{result_id}")
        assert (
            trace.status_code == 200
            and "Retrieved context" in trace.text
            and "giving-feedback.md" in trace.text
        )
        compared = admin.get(f"/admin/evals/compare?a={a}&b={b}")
        assert compared.status_code == 200 and "Regressions (1)" in compared.text
        assert admin.get("/admin/evals/runs/999999").status_code == 404


@pytest.mark.real_model
def test_one_ask_case_on_the_local_model(tmp_path: Path, real_handbook_template: Path) -> None:
    """The packaged embeddings and SmolLM2 in-process: the run is stored and every ask metric is measured."""
    data = shutil.copytree(real_handbook_template, tmp_path / "data")
    settings = Settings(data_dir=data, store={"mode": "embedded"}, llm={"max_tokens": 200})  # type: ignore[arg-type]
    services = Services(settings)
    services.db.create_tables()
    run = services.evaluation.run(suites=["ask"], limit=1)
    result = services.evaluation.get_run(run.id).results[0]
    assert run.model != "fake" and result.case_id == "ask-001"
    assert {"recall@5", "mrr", "groundedness", "answer_points", "origin"} <= result.metrics.keys()
    assert result.metrics["recall@5"].value == 1.0
    services.close()
