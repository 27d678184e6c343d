"""Runtime assets (prompts, eval suites, sample guides): where they are found, the settings that move
them, and the clean error when one is missing. The wheel's copy of them is checked by `.ci/wheel_smoke.py`."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from companion.assets import NAMES, asset_dir
from companion.assistant.prompts import PromptLibrary
from companion.cli.main import app
from companion.container import Services
from companion.errors import AssetMissing
from companion.settings import Settings
from tests.support.app import REPO, make_api, make_settings

runner = CliRunner()


def _unwrapped(text: str) -> str:
    """The CLI's message with all whitespace removed: rich wraps (and folds long paths) at its width."""
    return "".join(text.split())


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {
        "COMPANION_DATA_DIR": str(tmp_path / "data"),
        "COMPANION_EMBEDDINGS__MODE": "fake",
        "COMPANION_STORE__MODE": "embedded",
        "COMPANION_LLM__MODE": "fake",
        "COLUMNS": "400",
        **extra,
    }


def test_in_a_checkout_the_assets_are_the_top_level_folders_and_the_settings_defaults() -> None:
    assert {name: asset_dir(name) for name in NAMES} == {name: REPO / name for name in NAMES}
    settings = Settings()
    assert settings.prompts_dir == REPO / "prompts"
    assert settings.evals.dir == REPO / "evals"
    assert settings.sample_knowledge_dir == REPO / "knowledge"
    with pytest.raises(ValueError, match="unknown asset"):
        asset_dir("templates")


def test_the_prompts_dir_setting_chooses_the_templates(tmp_path: Path) -> None:
    mine = tmp_path / "prompts"
    shutil.copytree(REPO / "prompts", mine)
    (mine / "goals.j2").write_text((mine / "goals.j2").read_text() + "\n{# edited #}\n")
    services = Services(make_settings(tmp_path, prompts_dir=mine))
    assert services.prompts.directory == mine
    assert services.prompts.version("goals") != PromptLibrary().version("goals")
    assert services.prompts.version("ask") == PromptLibrary().version("ask")


def test_a_missing_included_template_is_named(tmp_path: Path) -> None:
    mine = tmp_path / "prompts"
    shutil.copytree(REPO / "prompts", mine)
    (mine / "_excerpts.j2").unlink()
    with pytest.raises(AssetMissing, match=r"prompt template '_excerpts' is missing.*COMPANION_PROMPTS_DIR"):
        PromptLibrary(mine).render("ask", question="q", excerpts=[])


def test_a_missing_prompt_is_a_one_line_cli_error_naming_path_and_setting(tmp_path: Path) -> None:
    empty = tmp_path / "no-prompts"
    empty.mkdir()
    result = runner.invoke(
        app, ["goals", "present to leadership"], env=_env(tmp_path, COMPANION_PROMPTS_DIR=str(empty))
    )
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit)  # typer.Exit, not an escaped exception
    assert _unwrapped(f"there is no file {empty / 'goals.j2'}") in _unwrapped(result.stderr)
    assert "COMPANION_PROMPTS_DIR" in result.stderr and "Traceback" not in result.output


def test_a_missing_prompt_is_a_json_error_from_the_api(tmp_path: Path) -> None:
    empty = tmp_path / "no-prompts"
    empty.mkdir()
    services = Services(make_settings(tmp_path, prompts_dir=empty))
    services.db.create_tables()
    for api in make_api(services):
        response = api.client.post(
            "/v1/goals/draft", json={"aspiration": "present to leadership"}, headers=api.auth("mentee")
        )
        assert response.status_code == 500
        error = response.json()["error"]
        assert error["code"] == "asset_missing"
        assert str(empty / "goals.j2") in error["message"] and "COMPANION_PROMPTS_DIR" in error["message"]
    services.close()


def test_a_missing_eval_suite_names_the_setting(tmp_path: Path) -> None:
    empty = tmp_path / "no-evals"
    empty.mkdir()
    result = runner.invoke(
        app,
        ["eval", "run", "--suite", "goals", "--limit", "1"],
        env=_env(tmp_path, COMPANION_EVALS__DIR=str(empty)),
    )
    assert result.exit_code == 1, result.output
    expected = f"eval suite 'goals' is missing: there is no file {empty / 'goals.jsonl'}"
    assert _unwrapped(expected) in _unwrapped(result.stderr)
    assert "COMPANION_EVALS__DIR" in result.stderr
