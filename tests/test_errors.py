"""The one place validation errors become words, and the edges (API, pages, CLI) that use it."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field, ValidationError, field_validator, model_validator
from typer.testing import CliRunner

from companion.cli.main import app as cli_app
from companion.errors import Problem, validation_message, validation_problems
from tests.support.app import Api
from tests.support.people import MENTOR


class Step(BaseModel):
    text: str = Field(min_length=2)


class Plan(BaseModel):
    title: str = Field(min_length=3)
    steps: list[Step] = Field(default_factory=list)
    weeks: int = 4

    @field_validator("weeks")
    @classmethod
    def _weeks(cls, value: int) -> int:
        if value > 52:
            raise ValueError("a plan lasts a year at most")
        return value

    @model_validator(mode="after")
    def _has_steps(self) -> Plan:
        if self.title == "empty" and not self.steps:
            raise ValueError("give at least one step")
        return self


def error_of(**data: object) -> ValidationError:
    with pytest.raises(ValidationError) as caught:
        Plan.model_validate(data)
    return caught.value


def test_problems_name_the_dotted_field_and_drop_pydantics_value_error_prefix() -> None:
    problems = validation_problems(error_of(title="ok", steps=[{"text": "a"}], weeks=60))
    assert [p.field for p in problems] == ["title", "steps.0.text", "weeks"]
    assert [p.path for p in problems] == [("title",), ("steps", "0", "text"), ("weeks",)]
    assert problems[2].message == "a plan lasts a year at most"
    assert problems[0].message == "String should have at least 3 characters"
    assert str(problems[2]) == "weeks: a plan lasts a year at most"


def test_an_error_about_the_whole_input_takes_the_given_name_or_stands_alone() -> None:
    exc = error_of(title="empty")
    assert validation_problems(exc, whole="output") == [Problem("output", "give at least one step", ())]
    assert validation_message(exc) == "give at least one step"


def test_form_labels_name_top_level_fields_and_the_message_reads_as_a_phrase() -> None:
    labels = {"title": "Plan title", "steps": "Steps"}
    exc = error_of(title="x", steps=[{"text": "a"}], weeks=99)
    assert validation_message(exc, labels=labels) == (
        "Plan title: string should have at least 3 characters; "
        "Steps: string should have at least 2 characters; weeks: a plan lasts a year at most"
    )


def test_the_message_keeps_the_first_problems_only() -> None:
    exc = error_of(title="x", steps=[{"text": "a"}, {"text": "b"}, {"text": "c"}])
    assert validation_message(exc, limit=2) == (
        "title: String should have at least 3 characters; "
        "steps.0.text: String should have at least 2 characters"
    )
    assert len(validation_problems(exc)) == 4


def test_request_errors_skip_the_location_parts_asked_for() -> None:
    exc = RequestValidationError(
        [
            {"type": "missing", "loc": ("body", "name"), "msg": "Field required", "input": None},
            {"type": "json_invalid", "loc": ("body", 12), "msg": "JSON decode error", "input": None},
            {"type": "missing", "loc": ("body",), "msg": "Field required", "input": None},
        ]
    )
    assert [str(p) for p in validation_problems(exc, skip=("body",), whole="body")] == [
        "name: Field required",
        "12: JSON decode error",
        "body: Field required",
    ]


def test_api_422_names_each_bad_field_in_details_and_message(api: Api) -> None:
    body = {**MENTOR, "timezone": "Moon/Base", "capacity": "lots"}
    response = api.client.post("/v1/people", headers=api.auth("admin"), json=body)
    assert response.status_code == 422
    error = response.json()["error"]
    fields = [d["field"] for d in error["details"]]
    assert "capacity" in fields and "timezone" in fields
    assert "Value error," not in error["message"] and error["message"].startswith("invalid request: ")
    timezone = next(d for d in error["details"] if d["field"] == "timezone")
    assert f"timezone: {timezone['problem']}" in error["message"]


def test_cli_names_the_environment_variable_of_a_bad_setting(tmp_path: Path) -> None:
    env = {"COMPANION_DATA_DIR": str(tmp_path / "data"), "COMPANION_CHUNK_SIZE": "many"}
    result = CliRunner().invoke(cli_app, ["users", "list"], env=env)
    assert result.exit_code == 2
    assert "configuration error: COMPANION_CHUNK_SIZE: Input should be a valid integer" in result.stderr
