"""`companion program recognition` and `companion program dashboard`: the mentor recognition report
and the success dashboard's figures on the command line (added to the `program` group by `register`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from companion.container import Services
from companion.program.dashboard import FIGURES, Dashboard
from companion.program.recognition import RecognitionReport

console = Console()
CycleOption = Annotated[
    int | None, typer.Option("--cycle", min=1, help="A cycle's id (default: all cycles / the current one).")
]


def _share(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.0f}%"


def print_dashboard(dash: Dashboard) -> None:
    if dash.summary is None or dash.cycle is None:
        console.print("no program cycles yet (`companion people demo` makes a demo program)")
        return
    s = dash.summary
    console.print(f"{dash.cycle.name} ({dash.cycle.program}), {dash.cycle.starts_on} to {dash.cycle.ends_on}")
    console.print(
        f"pairs {s.pairs}, sessions per pair {s.sessions_per_pair:.1f}, "
        f"on rhythm {_share(s.on_rhythm_share)}, "
        f"goal by week 4 {_share(s.goals_by_week4_share)}, goals achieved {s.goals_achieved}, "
        f"at risk {s.at_risk}, mentor hours {s.hours:.0f}"
    )
    for q in dash.ratings:
        shown = f"mean {q.mean:.2f} from {q.answers}" if q.shown else f"fewer than {dash.min_answers} answers"
        console.print(f"  {q.text}: {shown}", markup=False)
    for p in dash.at_risk[:10]:
        console.print(f"  at risk: {p.mentor_name} / {p.mentee_name}: {'; '.join(p.reasons)}", markup=False)


def print_recognition(report: RecognitionReport) -> None:
    where = f" in {report.cycle_name}" if report.cycle_name else " (all cycles)"
    table = Table(
        "mentor",
        "sessions",
        "hours",
        "mentees",
        "goals achieved",
        "nominations",
        title=f"{report.award_name}{where}",
    )
    for m in report.mentors:
        table.add_row(
            m.name,
            str(m.sessions),
            f"{m.hours:.1f}",
            str(m.mentees),
            str(m.goals_achieved),
            str(m.nominations),
        )
    console.print(table)


def register(
    program_app: typer.Typer, *, services: Callable[[], Services], run: Callable[[Callable[[], Any]], Any]
) -> None:
    def ready() -> Services:
        svc = services()
        svc.db.create_tables()
        return svc

    @program_app.command("recognition")
    def recognition(
        cycle: CycleOption = None,
        as_csv: Annotated[bool, typer.Option("--csv", help="Print the report as CSV.")] = False,
        as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    ) -> None:
        """Mentor recognition: sessions, hours, mentees, goals achieved and award nominations per mentor."""
        svc = ready()
        if as_csv:
            print(run(lambda: svc.recognition.report_csv(cycle_id=cycle)), end="")
            return
        report: RecognitionReport = run(lambda: svc.recognition.report(cycle_id=cycle))
        if as_json:
            print(report.model_dump_json(indent=2))
        else:
            print_recognition(report)

    @program_app.command("dashboard")
    def dashboard(
        cycle: CycleOption = None,
        figure: Annotated[
            str | None, typer.Option(help=f"Print one figure as CSV: {', '.join(FIGURES)}.")
        ] = None,
        as_json: Annotated[bool, typer.Option("--json", help="Print every figure as JSON.")] = False,
    ) -> None:
        """The success dashboard's figures for a cycle (and the trend across cycles)."""
        svc = ready()
        if figure is not None:
            print(run(lambda: svc.dashboard.figure_csv(figure, cycle_id=cycle)), end="")
            return
        dash: Dashboard = run(lambda: svc.dashboard.dashboard(cycle_id=cycle))
        if as_json:
            print(dash.model_dump_json(indent=2))
        else:
            print_dashboard(dash)
