"""Command-line commands for programs and cycles: `program list|create` and `cycle create|list|add-pair|
rhythm|at-risk`, added to the main app by `register(app, ...)` (which passes in its service factory and
error wrapper). The rhythm tables list at-risk pairs first, as the admin page does."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from companion.cli.audit import record_cli
from companion.container import Services
from companion.errors import InvalidInput, validation_message
from companion.program.schemas import CycleIn, CycleOut, PairIn, PairRhythmOut, ProgramIn, RhythmReport

console = Console(soft_wrap=True)  # messages are not cut to the terminal width (tables still fit it)

AsJson = Annotated[bool, typer.Option("--json", help="Print JSON.")]
Today = Annotated[str | None, typer.Option(help="Judge on this day (YYYY-MM-DD) instead of today.")]
STATUS_STYLE = {"at_risk": "red", "overdue": "yellow", "on_rhythm": "green", "not_started": "dim"}


def _day(value: str | None, option: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidInput(f"{option} must be a date as YYYY-MM-DD, got {value!r}") from None


def _model(build: Callable[[], Any]) -> Any:
    try:
        return build()
    except ValidationError as exc:
        raise InvalidInput(validation_message(exc)) from None


def rhythm_table(title: str, pairs: list[PairRhythmOut]) -> Table:
    table = Table(title=title)
    for column in ("Pair", "Mentor", "Mentee", "Sessions", "Last session", "Next due", "Status", "Why"):
        table.add_column(column, justify="right" if column == "Sessions" else "left", overflow="fold")
    for p in pairs:
        style = STATUS_STYLE[p.status]
        table.add_row(
            str(p.mentorship_id),
            p.mentor_name,
            p.mentee_name,
            f"{p.sessions} of {p.expected}",
            p.last_session.isoformat() if p.last_session else "none",
            p.next_due.isoformat() if p.next_due else "-",
            f"[{style}]{p.status.replace('_', ' ')}[/{style}]",
            "; ".join(p.reasons),
        )
    return table


def print_cycle(cycle: CycleOut) -> None:
    console.print(
        f"[bold]cycle {cycle.id}[/bold] {cycle.name} ({cycle.program_name}): {cycle.starts_on} to "
        f"{cycle.ends_on}, {cycle.weeks} weeks, {cycle.pairs} pair(s)",
        highlight=False,
    )
    for m in cycle.milestones:
        console.print(f"  week {m.week:>2}  {m.due_on}  {m.title} [dim]({m.kind})[/dim]", highlight=False)
    for warning in cycle.warnings:
        console.print(f"  [yellow]warning:[/yellow] {warning}", highlight=False)


def print_rhythm(report: RhythmReport) -> None:
    rules = report.rules
    console.print(
        f"{report.cycle.name}: week {report.week} on {report.today}; {len(report.pairs)} pair(s), "
        f"{report.at_risk} at risk, {report.on_rhythm} on rhythm (a session every {rules.cadence_days} "
        f"days; at risk after {rules.gap_days} days without one, or under {rules.min_sessions} by week "
        f"{rules.by_week})",
        highlight=False,
    )
    if report.pairs:
        console.print(rhythm_table(f"Rhythm of cycle {report.cycle.id}", report.pairs))


def register(
    app: typer.Typer, *, services: Callable[[], Services], run: Callable[[Callable[[], Any]], Any]
) -> typer.Typer:
    """Add `program ...` and `cycle ...` to the command line; returns the `program` group (the outcome,
    recognition and dashboard commands join it)."""
    program_app = typer.Typer(
        help="Mentoring programs (one-to-one pairs or group circles), their outcomes, recognition and the "
        "success dashboard.",
        no_args_is_help=True,
    )
    cycle_app = typer.Typer(
        help="A program's cycles, their pairs and their check-in rhythm.", no_args_is_help=True
    )
    app.add_typer(program_app, name="program")
    app.add_typer(cycle_app, name="cycle")

    def ready() -> Services:
        svc = services()
        svc.db.create_tables()
        return svc

    @program_app.command("list")
    def program_list(as_json: AsJson = False) -> None:
        """List the programs."""
        svc: Services = run(ready)
        programs = run(svc.programs.list_programs)
        if as_json:
            print(json.dumps([p.model_dump(mode="json") for p in programs], indent=2))
            return
        if not programs:
            console.print("no programs yet: `companion program create NAME`")
        for p in programs:
            console.print(
                f"{p.id}  {p.name}  [dim]{p.kind}, a session every {p.cadence_days} days, "
                f"{p.cycles} cycle(s)[/dim]",
                highlight=False,
            )

    @program_app.command("create")
    def program_create(
        name: Annotated[str, typer.Argument(help="The program's unique name.")],
        kind: Annotated[
            str, typer.Option(help="one_to_one or group (circles of one mentor).")
        ] = "one_to_one",
        cadence_days: Annotated[
            int | None, typer.Option(help="A session every this many days (default: the setting).")
        ] = None,
        description: Annotated[str, typer.Option(help="What the program is for.")] = "",
    ) -> None:
        """Create a program."""
        svc: Services = run(ready)
        data = run(
            lambda: _model(
                lambda: ProgramIn.model_validate(
                    {"name": name, "kind": kind, "cadence_days": cadence_days, "description": description}
                )
            )
        )
        program = run(lambda: svc.programs.create_program(data))
        record_cli(svc, "program create", program.name, id=program.id, kind=program.kind)
        console.print(f"created program {program.id} {program.name} ({program.kind})", highlight=False)

    @cycle_app.command("create")
    def cycle_create(
        program: Annotated[str, typer.Option("--program", help="The program's id or name.")],
        starts: Annotated[str, typer.Option("--starts", help="First day (YYYY-MM-DD).")],
        ends: Annotated[
            str | None, typer.Option("--ends", help="Last day (default: program.cycle_weeks later).")
        ] = None,
        name: Annotated[str | None, typer.Option(help="Name (default: from the dates).")] = None,
    ) -> None:
        """Start a cycle of a program, with the milestones of the settings."""
        svc: Services = run(ready)
        found = run(lambda: svc.programs.find_program(program))
        data = run(
            lambda: _model(
                lambda: CycleIn(name=name, starts_on=_day(starts, "--starts"), ends_on=_day(ends, "--ends"))
            )
        )
        cycle = run(lambda: svc.programs.create_cycle(found.id, data))
        record_cli(svc, "cycle create", cycle.name, id=cycle.id, program=found.id)
        print_cycle(cycle)

    @cycle_app.command("list")
    def cycle_list(
        program: Annotated[
            str | None, typer.Option("--program", help="Only this program (id or name).")
        ] = None,
        as_json: AsJson = False,
    ) -> None:
        """List cycles, newest first, with their milestones."""
        svc: Services = run(ready)
        program_id = run(lambda: svc.programs.find_program(program).id) if program else None
        cycles = run(lambda: svc.programs.list_cycles(program_id))
        if as_json:
            print(json.dumps([c.model_dump(mode="json") for c in cycles], indent=2))
            return
        if not cycles:
            console.print("no cycles yet: `companion cycle create --program NAME --starts YYYY-MM-DD`")
        for c in cycles:
            print_cycle(c)

    @cycle_app.command("add-pair")
    def cycle_add_pair(
        cycle_id: Annotated[int, typer.Argument(min=1, help="The cycle's id.")],
        mentorship: Annotated[int | None, typer.Option(min=1, help="The mentorship's id.")] = None,
        mentor: Annotated[
            str | None, typer.Option(help="Or: the mentor's user name (with --mentee).")
        ] = None,
        mentee: Annotated[str | None, typer.Option(help="And the mentee's user name.")] = None,
        joined: Annotated[
            str | None, typer.Option(help="When the pair joined, if after the start (YYYY-MM-DD).")
        ] = None,
    ) -> None:
        """Add an active mentorship (pair) to a cycle."""
        svc: Services = run(ready)

        def mentorship_id() -> int:
            if mentorship is not None:
                return mentorship
            if mentor and mentee:
                return svc.programs.mentorship_between(mentor, mentee)
            raise InvalidInput("name the pair: --mentorship ID, or --mentor USER and --mentee USER")

        pair_id: int = run(mentorship_id)
        data = run(lambda: _model(lambda: PairIn(mentorship_id=pair_id, joined_on=_day(joined, "--joined"))))
        pair = run(lambda: svc.programs.add_pair(cycle_id, data))
        record_cli(svc, "cycle add-pair", f"cycle {cycle_id}", mentorship=pair.mentorship_id)
        console.print(
            f"added pair {pair.mentorship_id} ({pair.mentor_name} with {pair.mentee_name}) "
            f"to cycle {cycle_id}",
            highlight=False,
        )

    @cycle_app.command("rhythm")
    def cycle_rhythm(
        cycle_id: Annotated[int, typer.Argument(min=1, help="The cycle's id.")],
        today: Today = None,
        as_json: AsJson = False,
    ) -> None:
        """Each pair's sessions against the expected rhythm, at-risk pairs first."""
        svc: Services = run(ready)
        report: RhythmReport = run(lambda: svc.rhythm.cycle_rhythm(cycle_id, today=_day(today, "--today")))
        if as_json:
            print(report.model_dump_json(indent=2))
        else:
            print_rhythm(report)

    @cycle_app.command("at-risk")
    def cycle_at_risk(
        cycle_id: Annotated[int, typer.Argument(min=1, help="The cycle's id.")],
        today: Today = None,
        as_json: AsJson = False,
    ) -> None:
        """The cycle's at-risk pairs and why."""
        svc: Services = run(ready)
        pairs: list[PairRhythmOut] = run(lambda: svc.rhythm.at_risk(cycle_id, today=_day(today, "--today")))
        if as_json:
            print(json.dumps([p.model_dump(mode="json") for p in pairs], indent=2))
        elif not pairs:
            console.print(f"no pair of cycle {cycle_id} is at risk")
        else:
            console.print(rhythm_table(f"At-risk pairs of cycle {cycle_id}", pairs))

    return program_app
