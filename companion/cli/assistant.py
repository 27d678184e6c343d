"""CLI commands of the assistant: goals, agenda, feedback, ask. They run as the local operator (admin)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from companion.assistant.models import (
    AskRequest,
    Citation,
    FeedbackRequest,
    GenerationInfo,
    GoalDraftRequest,
    SessionPrepRequest,
)
from companion.container import Services
from companion.identity.auth import Principal, Role

OPERATOR = Principal(id=0, name="cli", role=Role.admin)
console = Console()


def register(
    app: typer.Typer, *, services: Callable[[], Services], run: Callable[[Callable[[], Any]], Any]
) -> None:
    def ready() -> Services:
        """The services with the schema brought up to date (retrieval reads the chunk catalogue)."""
        svc = services()
        svc.db.create_tables()
        return svc

    @app.command()
    def goals(
        aspiration: Annotated[str, typer.Argument(help="What the mentee wants to achieve.")],
        context: Annotated[str, typer.Option(help="Role, constraints, what was tried.")] = "",
        max_goals: Annotated[int, typer.Option(min=1, max=5, help="At most this many goals.")] = 3,
        weeks: Annotated[int, typer.Option(min=2, max=52, help="Latest target date, in weeks.")] = 12,
        polish: Annotated[
            bool, typer.Option(help="Ask the model to polish the grounded draft anyway.")
        ] = False,
        as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
    ) -> None:
        """Draft SMART goals from an aspiration, grounded in the guides."""
        request = GoalDraftRequest(
            aspiration=aspiration, context=context, max_goals=max_goals, horizon_weeks=weeks, polish=polish
        )
        result = run(lambda: ready().mentoring.draft_goals(OPERATOR, request))
        if as_json:
            print(result.model_dump_json(indent=2))
            return
        for n, goal in enumerate(result.goals, start=1):
            console.print(f"[bold]{n}. {escape(goal.statement)}[/bold]")
            console.print(f"   measure: {escape(goal.measure)}\n   target:  {goal.target_date}")
            for step in goal.first_steps:
                console.print(f"   - {escape(step)}")
            console.print(f"   [dim]{_cites(goal.citations)}[/dim]")
        _footer(result.generation)

    @app.command()
    def agenda(
        goal: Annotated[list[str] | None, typer.Option(help="A goal to prepare for (repeatable).")] = None,
        notes: Annotated[str, typer.Option(help="Notes of the last session.")] = "",
        minutes: Annotated[int, typer.Option(min=15, max=180, help="Session length.")] = 60,
        polish: Annotated[
            bool, typer.Option(help="Ask the model to polish the grounded draft anyway.")
        ] = False,
        as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
    ) -> None:
        """A time-boxed agenda and questions for the next session."""
        request = SessionPrepRequest(
            length_minutes=minutes, goals=goal or [], last_notes=notes, polish=polish
        )
        result = run(lambda: ready().mentoring.prepare_session(OPERATOR, request))
        if as_json:
            print(result.model_dump_json(indent=2))
            return
        for item in result.items:
            title = escape(item.title)
            console.print(f"[bold]{item.minutes:>3} min  {title}[/bold]  [dim]{_cites(item.citations)}[/dim]")
            console.print(f"         {escape(item.purpose)}")
        console.print("\nQuestions to bring:")
        for question in result.questions:
            console.print(f"  - {escape(question)}")
        _footer(result.generation)

    @app.command()
    def feedback(
        draft: Annotated[str, typer.Argument(help="The feedback as you would say it now.")],
        context: Annotated[str, typer.Option(help="What happened, who it is for.")] = "",
        situation: Annotated[str, typer.Option(help="When and where it happened.")] = "",
        impact: Annotated[str, typer.Option(help="The effect it had.")] = "",
        polish: Annotated[
            bool, typer.Option(help="Ask the model to polish the grounded draft anyway.")
        ] = False,
        as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
    ) -> None:
        """Rewrite draft feedback as situation, behaviour, impact and next step, and say why."""
        request = FeedbackRequest(
            draft=draft, context=context, situation=situation, impact=impact, polish=polish
        )
        result = run(lambda: ready().mentoring.coach_feedback(OPERATOR, request))
        if as_json:
            print(result.model_dump_json(indent=2))
            return
        console.print(f"[bold]Rewritten:[/bold] {escape(result.rewritten)}\n")
        for label in ("situation", "behaviour", "impact", "next_step"):
            console.print(f"  {label:>10}: {escape(getattr(result, label) or '(not said yet)')}")
        if result.questions:
            console.print("\nTo finish the rewrite, answer (then run again with --situation / --impact):")
            for question in result.questions:
                console.print(f"  ? {escape(question)}")
        console.print("\nWhat changed and why:")
        for change in result.changes:
            console.print(f"  - {escape(change.what)}: {escape(change.why)}")
        console.print(f"[dim]{_cites(result.citations)}[/dim]")
        _footer(result.generation)

    @app.command()
    def ask(
        question: Annotated[str, typer.Argument(help="A question about the mentoring program.")],
        stream: Annotated[
            bool, typer.Option(help="Print the grounded draft at once, then the final answer.")
        ] = True,
        polish: Annotated[
            bool, typer.Option(help="Ask the model to polish the grounded draft anyway.")
        ] = False,
        as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
    ) -> None:
        """Answer from the guides, with numbered citations. Only checked text is printed as the answer."""
        request = AskRequest(question=question, polish=polish)
        svc: Services = run(ready)
        if as_json or not stream:
            result = run(lambda: svc.mentoring.ask(OPERATOR, request))
            final: dict[str, Any] = result.model_dump(mode="json")
            if as_json:
                print(json.dumps(final, indent=2))
                return
            console.print(final["answer"], markup=False)
        else:
            final, draft = {}, None
            for name, data in run(lambda: svc.mentoring.ask_stream(OPERATOR, request)):
                if name == "draft":
                    draft = data
                    console.print(data["answer"], markup=False)
                    if data.get("polishing"):
                        console.print("[dim](grounded draft; asking the model to polish it...)[/dim]")
                elif name == "answer":
                    final = data
            if draft is None or final["answer"] != draft["answer"]:
                if draft is not None:
                    console.print("\n[bold]The model's polish passed the checks:[/bold]")
                console.print(final["answer"], markup=False)
        for citation in final["citations"]:
            console.print(f"  [{citation['n']}] {citation['citation']}", markup=False)
        _footer(GenerationInfo.model_validate(final["generation"]))


def _cites(citations: list[Citation]) -> str:
    return escape("; ".join(f"[{c.n}] {c.citation}" for c in citations))


def _footer(info: GenerationInfo) -> None:
    if info.origin == "grounded":
        reason = info.problems[-1] if info.problems else info.policy or "the model was not asked"
        console.print(f"\n[yellow]origin: grounded[/yellow] (grounded draft; {escape(reason)})")
    else:
        console.print(f"\n[dim]origin: model ({info.model}, {info.attempts} call(s))[/dim]")
