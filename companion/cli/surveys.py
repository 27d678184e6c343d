"""`companion surveys` (list, results, create): the participant surveys from the command line. Results
follow the same rule as the pages and the API: aggregates of at least `program.survey_min_answers`."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from companion.cli.audit import record_cli
from companion.container import Services
from companion.errors import InvalidInput, validation_message
from companion.program.surveys import QuestionResult, SurveyIn, SurveyOut, SurveyResults

console = Console(soft_wrap=True)  # messages are not cut to the terminal width (tables still fit it)


def _when(survey: SurveyOut) -> str:
    opens = survey.opens_on.isoformat() if survey.opens_on else "any time"
    closes = survey.closes_on.isoformat() if survey.closes_on else "no end"
    return f"{opens} to {closes}"


def _question_lines(q: QuestionResult, n: int) -> list[str]:
    if not q.shown:
        return [f"  shown once {n} people have answered this question ({q.answered} so far)"]
    if q.counts is not None:
        counts = "  ".join(f"{r}: {c}" for r, c in q.counts.items())
        mean = f"{q.mean:.2f}" if q.mean is not None else "-"
        return [f"  mean {mean} of {q.answered}   {counts}"]
    return [f"  - {text}" for text in q.texts or []]


def print_results(results: SurveyResults) -> None:
    console.print(f"[bold]{escape(results.title)}[/bold] (survey {results.survey_id})")
    console.print(results.message, markup=False)
    if results.shown:
        for q in results.questions:
            console.print(q.text, markup=False)
            for line in _question_lines(q, results.min_answers):
                console.print(line, markup=False)
    for part in results.by_audience or []:
        console.print(f"[bold]{part.role}s[/bold] ({part.answers} answers)")
        for q in part.questions:
            console.print(q.text, markup=False)
            for line in _question_lines(q, results.min_answers):
                console.print(line, markup=False)
    if results.by_audience_message:
        console.print(results.by_audience_message, markup=False)


def register(
    app: typer.Typer, *, services: Callable[[], Services], run: Callable[[Callable[[], Any]], Any]
) -> None:
    surveys_app = typer.Typer(help="Participant surveys: list, results, create.", no_args_is_help=True)
    app.add_typer(surveys_app, name="surveys")

    def ready() -> Services:
        svc = services()
        svc.db.create_tables()
        return svc

    @surveys_app.command("list")
    def surveys_list(
        as_json: Annotated[bool, typer.Option("--json", help="Print the surveys as JSON.")] = False,
    ) -> None:
        """All surveys, newest first, with their answer counts."""
        surveys: list[SurveyOut] = run(lambda: ready().surveys.list_surveys())
        if as_json:
            print("[" + ",".join(s.model_dump_json() for s in surveys) + "]")
            return
        if not surveys:
            console.print("no surveys yet: create one with `companion surveys create --kind mid`")
            return
        table = Table("id", "title", "kind", "for", "open", "answers")
        for s in surveys:
            table.add_row(
                str(s.id),
                escape(s.title),
                s.kind,
                s.audience,
                _when(s) + (" (open)" if s.is_open else ""),
                str(s.answers),
            )
        console.print(table)

    @surveys_app.command("results")
    def surveys_results(
        survey_id: Annotated[int, typer.Argument(min=1, help="The survey's id (see `surveys list`).")],
        as_json: Annotated[bool, typer.Option("--json", help="Print the results as JSON.")] = False,
    ) -> None:
        """A survey's aggregated results (nothing of fewer than `program.survey_min_answers` answers)."""
        results: SurveyResults = run(lambda: ready().surveys.results(survey_id))
        if as_json:
            print(results.model_dump_json(indent=2))
            return
        print_results(results)

    @surveys_app.command("create")
    def surveys_create(
        kind: Annotated[str, typer.Option(help="mid (mid-cycle check-in) or end (end of cycle).")],
        cycle: Annotated[
            int | None, typer.Option(min=1, help="The cycle's id (its milestones set the dates).")
        ] = None,
        audience: Annotated[str, typer.Option(help="mentee, mentor or both.")] = "both",
        title: Annotated[str | None, typer.Option(help="Title (default: from the kind and cycle).")] = None,
        opens: Annotated[str | None, typer.Option(help="Opening day, YYYY-MM-DD.")] = None,
        closes: Annotated[str | None, typer.Option(help="Closing day, YYYY-MM-DD.")] = None,
    ) -> None:
        """Create a survey with the default questions of its kind (edit them on the admin page)."""

        def create() -> SurveyOut:
            try:
                data = SurveyIn.model_validate(
                    {
                        "kind": kind,
                        "audience": audience,
                        "title": title,
                        "cycle_id": cycle,
                        "opens_on": _day(opens, "--opens"),
                        "closes_on": _day(closes, "--closes"),
                    }
                )
            except ValidationError as exc:
                raise InvalidInput(validation_message(exc)) from None
            svc = ready()
            created = svc.surveys.create(data)
            record_cli(svc, "create survey", f"survey {created.id}", kind=created.kind)
            return created

        survey: SurveyOut = run(create)
        console.print(
            f"survey {survey.id} created: {escape(survey.title)} ({survey.kind}, for {survey.audience}, "
            f"{_when(survey)}, {len(survey.questions)} questions)"
        )


def _day(value: str | None, option: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidInput(f"{option}: use a date like 2026-06-30") from None
