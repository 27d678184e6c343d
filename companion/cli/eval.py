"""`companion eval`: run the eval suites, list stored runs, compare two runs."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from companion.container import Services
from companion.evaluation.runner import SUITES, junit_xml
from companion.evaluation.schemas import CompareReport, EvalRunOut

console = Console()
err = Console(stderr=True)


def register(
    app: typer.Typer, *, services: Callable[[], Services], run: Callable[[Callable[[], Any]], Any]
) -> None:
    eval_app = typer.Typer(help="Eval suites: run, list and compare runs.", no_args_is_help=True)
    app.add_typer(eval_app, name="eval")

    @eval_app.command("calibrate")
    def eval_calibrate(
        suite: Annotated[
            list[str] | None,
            typer.Option(help="Task suite to calibrate (repeatable): goals, session_prep, feedback, ask."),
        ] = None,
        limit: Annotated[int | None, typer.Option(min=1, help="At most this many cases per suite.")] = None,
    ) -> None:
        """Measure how often the configured model's replies pass validation, per task, and store it for
        the `auto` policy (the model is asked for every case)."""
        svc = services()
        svc.db.create_tables()
        found = run(lambda: svc.evaluation.calibrate(suites=suite, limit=limit))
        table = Table("backend", "task", "prompt", "passed", "pass rate", "auto calls the model")
        threshold = svc.settings.assistant.min_pass_rate
        for c in found:
            table.add_row(
                escape(c.backend), c.task, c.prompt_version, f"{c.passed}/{c.cases}", f"{c.pass_rate:.2f}",
                "yes" if c.pass_rate >= threshold else "no",
            )  # fmt: skip
        console.print(table)

    @eval_app.command("run")
    def eval_run(
        suite: Annotated[
            list[str] | None,
            typer.Option(help=f"Suite to run (repeatable): {', '.join(SUITES)}. Default: all."),
        ] = None,
        limit: Annotated[int | None, typer.Option(min=1, help="At most this many cases per suite.")] = None,
        baseline: Annotated[
            int | None, typer.Option(help="Compare with this stored run and list regressions.")
        ] = None,
        fail_under: Annotated[
            float | None,
            typer.Option(min=0, max=1, help="Exit with code 1 when the run's score is below this."),
        ] = None,
        judge: Annotated[
            bool | None, typer.Option("--judge/--no-judge", help="Grade outputs with the LLM judge too.")
        ] = None,
        note: Annotated[str, typer.Option(help="A note stored with the run.")] = "",
        json_file: Annotated[
            Path | None, typer.Option("--json", help="Write the run's results as JSON.")
        ] = None,
        junit_file: Annotated[Path | None, typer.Option("--junit", help="Write JUnit XML for CI.")] = None,
    ) -> None:
        """Run the eval suites through the assistant and the recommender; store and summarize the run."""
        svc = services()
        svc.db.create_tables()
        cases, skipped = run(lambda: svc.evaluation.plan(suite, limit))
        for name, why in skipped.items():
            err.print(f"[yellow]skipping {name}:[/yellow] {escape(why)}")
        with Progress(
            TextColumn("[bold]eval"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("{task.fields[current]}"),
            console=err,
        ) as bar:
            task = bar.add_task("eval", total=len(cases), current="")
            result: EvalRunOut = run(
                lambda: svc.evaluation.run(
                    suites=suite,
                    limit=limit,
                    judge=judge,
                    note=note,
                    progress=lambda label: bar.update(task, advance=1, current=label),
                )
            )
        _print_run(result)
        if json_file or junit_file:
            detail = svc.evaluation.get_run(result.id)
            if json_file:
                json_file.write_text(detail.model_dump_json(indent=2))
            if junit_file:
                junit_file.write_text(junit_xml(detail))
        if baseline is not None:
            _print_compare(run(lambda: svc.evaluation.compare(baseline, result.id)))
        if fail_under is not None and result.score < fail_under:
            err.print(f"[red]eval score {result.score:.3f} is under --fail-under {fail_under}[/red]")
            raise typer.Exit(1)

    @eval_app.command("list")
    def eval_list(
        limit: Annotated[int, typer.Option(min=1, help="Most recent runs to show.")] = 20,
    ) -> None:
        """Stored eval runs, newest first."""
        svc = services()
        svc.db.create_tables()
        runs: list[EvalRunOut] = run(lambda: svc.evaluation.list_runs(limit=limit))
        table = Table("run", "when (UTC)", "model", "cases", "score", "pass", "suites")
        for r in runs:
            suites = ", ".join(f"{k} {v.score:.2f}" for k, v in r.summary.items())
            table.add_row(
                str(r.id), r.created_at.strftime("%Y-%m-%d %H:%M"), r.model, str(r.cases),
                f"{r.score:.3f}", f"{r.pass_rate:.0%}", suites,
            )  # fmt: skip
        console.print(table)

    @eval_app.command("compare")
    def eval_compare(
        a: Annotated[int, typer.Argument(help="Baseline run id.")],
        b: Annotated[int, typer.Argument(help="Run to compare with the baseline.")],
        as_json: Annotated[bool, typer.Option("--json", help="Print the comparison as JSON.")] = False,
    ) -> None:
        """Cases that got worse (regressions) or better from run A to run B, and why."""
        svc = services()
        svc.db.create_tables()
        report: CompareReport = run(lambda: svc.evaluation.compare(a, b))
        if as_json:
            print(report.model_dump_json(indent=2))
            return
        _print_compare(report)


def _print_run(r: EvalRunOut) -> None:
    table = Table("suite", "cases", "score", "pass rate", "metrics (mean)", title=f"eval run {r.id}")
    for name, s in r.summary.items():
        metrics = ", ".join(f"{k} {v:.2f}" for k, v in s.metrics.items())
        table.add_row(name, str(s.cases), f"{s.score:.3f}", f"{s.pass_rate:.0%}", metrics)
    console.print(table)
    console.print(
        f"run {r.id}: score {r.score:.3f}, {r.pass_rate:.0%} of {r.cases} cases passed, model {r.model}, "
        f"{r.seconds:.1f} s"
    )


def _print_compare(c: CompareReport) -> None:
    console.print(f"run {c.a} -> run {c.b}: score {c.score_delta:+.3f}")
    for suite, delta in c.suites.items():
        console.print(f"  {suite}: {delta:+.3f}")
    if c.prompt_changes:
        console.print(f"  prompts changed: {', '.join(c.prompt_changes)}")
    for title, changes in (("regressions", c.regressions), ("improvements", c.improvements)):
        console.print(f"[bold]{title}: {len(changes)}[/bold]")
        for ch in changes:
            console.print(f"  {ch.suite}/{ch.case_id}: {ch.before:.2f} -> {ch.after:.2f} ({ch.delta:+.2f})")
            for line in ch.metrics:
                console.print(f"    [dim]{escape(line)}[/dim]")
    console.print(f"unchanged: {c.unchanged}")
