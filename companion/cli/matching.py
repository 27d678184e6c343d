"""Command-line commands for people, recommendations and cohort matching, added to the main app by
`register(app, ...)` in cli.py (which passes in its service factory and error wrapper)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from companion.cli.audit import record_cli
from companion.container import Services
from companion.errors import InvalidInput
from companion.matching.audit import MatchAudit
from companion.matching.demo_org import demo_rows, write_rows
from companion.matching.schemas import (
    CohortReport,
    CohortRequest,
    ImportReport,
    PairRef,
    RecommendationsResponse,
)

console = Console()
err = Console(stderr=True)


def print_import(report: ImportReport) -> None:
    if report.dry_run:
        console.print("[bold]dry run: nothing was written[/bold]; the import would make these changes:")
    console.print(
        f"created {len(report.created)}, updated {len(report.updated)}, unchanged {len(report.unchanged)}, "
        f"failed {len(report.failed)}; {report.embedded} profiles embedded"
    )
    if report.sync or report.reactivated:
        console.print(
            f"deactivated {len(report.deactivated)} (open proposals withdrawn: {report.withdrawn}), "
            f"reactivated {len(report.reactivated)}"
        )
    if report.dry_run:
        for key in report.created:
            console.print(f"  + create {key}", markup=False)
        for key in report.updated:
            console.print(f"  ~ update {key}: {', '.join(report.changes.get(key, []))}", markup=False)
        for key in report.deactivated:
            console.print(f"  - deactivate {key}", markup=False)
        for key in report.reactivated:
            console.print(f"  ^ reactivate {key}", markup=False)
    for failure in report.failed:
        console.print(
            f"[yellow]skipped row {failure.row}[/yellow] ({failure.key or 'no key'}): {failure.reason}"
        )
    for warning in report.warnings[:20]:
        console.print(f"[dim]note row {warning.row} ({warning.key}): {warning.reason}[/dim]")
    if len(report.warnings) > 20:
        console.print(f"[dim]… and {len(report.warnings) - 20} more notes (--json shows all)[/dim]")
    if report.ignored_columns:
        console.print(f"ignored columns: {', '.join(report.ignored_columns)}")


def print_recommendations(out: RecommendationsResponse) -> None:
    m = out.mentee
    console.print(f"[bold]Mentors for {m.name}[/bold] ({m.key}) · {m.department}, {m.site}, {m.timezone}")
    console.print(f"Goals: {out.goals}", markup=False, highlight=False)
    console.print(f"Wants: {', '.join(out.skills_wanted) or '(no skills listed)'}", markup=False)
    excluded = ", ".join(f"{rule.replace('_', ' ')} {n}" for rule, n in out.excluded.items() if n)
    console.print(
        f"{out.mentors_eligible} of {out.mentors_considered} mentors meet every hard rule"
        + (f" (failing: {excluded})" if excluded else "")
    )
    for r in out.results:
        b = r.breakdown
        w = b.weights
        console.print(
            f"\n[bold]{r.rank}. {r.mentor.name}[/bold] — {r.mentor.department}, {r.mentor.site}  "
            f"score {r.score:.3f}"
        )
        console.print(
            f"   similarity {b.similarity:.3f}×{w['similarity']:g} + skills {b.skills:.3f}×{w['skills']:g} "
            f"+ preferences {b.preferences:.3f}×{w['preferences']:g}; {r.places_left} place(s) left",
            highlight=False,
        )
        console.print(f"   {r.reason}", markup=False, highlight=False)


def print_cohort(report: CohortReport, show: int) -> None:
    run = f"run {report.run_id}" if report.run_id is not None else "dry run (nothing stored)"
    console.print(
        f"[bold]Cohort {run}[/bold]: matched {report.matched} of {report.mentees} mentees, "
        f"total score {report.total_score:.3f} ({report.seconds:.2f} s, {report.mentors} mentors with places)"
    )
    if report.cycle is not None:
        c = report.cycle
        console.print(
            f"For cycle {c.id} ({c.program}: {c.name}, {c.starts_on} to {c.ends_on}); "
            f"{report.repeat_excluded} pair(s) excluded by the consecutive-cycles rule",
            markup=False,
            highlight=False,
        )
    for warning in report.warnings:
        console.print(f"Warning: {warning}", markup=False, highlight=False)
    gap = report.total_score - report.greedy.total_score
    share = f", {100 * gap / report.greedy.total_score:+.1f}%" if report.greedy.total_score > 0 else ""
    console.print(
        f"Greedy baseline: matched {report.greedy.matched}, total score {report.greedy.total_score:.3f} "
        f"(optimal is {gap:+.3f}{share})"
    )
    if report.unmatched:
        console.print(f"\nUnmatched ({len(report.unmatched)}):")
        for u in report.unmatched:
            console.print(f"  {u.mentee.name} ({u.mentee.key}): {u.reason}", markup=False, highlight=False)
    if report.matches and show:
        table = Table("mentee", "mentor", "score", "reason", show_lines=False)
        for m in report.matches[:show]:
            table.add_row(m.mentee.name, m.mentor.name, f"{m.score:.3f}", m.reason)
        console.print(table)
        if len(report.matches) > show:
            console.print(f"… {len(report.matches) - show} more pairs (--show N or --json for all)")
    if report.audit is not None:
        print_audit(report.audit)


def print_audit(audit: MatchAudit) -> None:
    """The fairness audit in a few lines: overall figures, the spread per dimension, load, warnings."""
    mean = f"{audit.mean_score:.3f}" if audit.mean_score is not None else "-"
    console.print(
        f"\nAudit: matched {audit.matched} of {audit.mentees} ({audit.match_rate:.1f}%), mean score {mean}; "
        f"mentor load mean {100 * audit.load_mean:.0f}% of capacity, coefficient of variation "
        f"{audit.load_cv:.2f}",
        markup=False,
        highlight=False,
    )
    for d in audit.dimensions:
        if d.worst_rate_group is None:
            continue
        console.print(
            f"  {d.dimension}: match rate gap {d.rate_gap:.1f} points ({d.best_rate_group} best, "
            f"{d.worst_rate_group} worst), mean score gap {d.score_gap:.3f}",
            markup=False,
            highlight=False,
        )
    loads = ", ".join(f"{b.bucket}: {b.mentors}" for b in audit.load_distribution)
    console.print(f"  mentors by load: {loads}", markup=False, highlight=False)
    for warning in audit.warnings:
        console.print(f"  warning: {warning}", markup=False, highlight=False, style="yellow")


def _import_counts(report: ImportReport) -> dict[str, int]:
    return {
        "created": len(report.created),
        "updated": len(report.updated),
        "unchanged": len(report.unchanged),
        "failed": len(report.failed),
        **({"deactivated": len(report.deactivated)} if report.sync else {}),
    }


def _pairs(values: list[str] | None, option: str) -> list[PairRef]:
    pairs = []
    for value in values or []:
        mentee, sep, mentor = value.partition("=")
        if not sep or not mentee.strip() or not mentor.strip():
            raise InvalidInput(f"{option} takes MENTEE=MENTOR (keys or ids), got {value!r}")
        pairs.append(PairRef(mentee=mentee.strip(), mentor=mentor.strip()))
    return pairs


def register(
    app: typer.Typer, *, services: Callable[[], Services], run: Callable[[Callable[[], Any]], Any]
) -> None:
    """Add `people ...`, `recommend` and `match` to the command line."""
    people_app = typer.Typer(help="Mentor and mentee profiles.", no_args_is_help=True)
    app.add_typer(people_app, name="people")

    def ready() -> Services:
        svc = services()
        svc.db.create_tables()
        return svc

    @people_app.command("import")
    def people_import(
        file: Annotated[
            Path, typer.Argument(help="A .csv or .json file of people (upserted by id or email).")
        ],
        as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
        sync: Annotated[
            bool,
            typer.Option(
                "--sync",
                help="The file is the whole organization: deactivate active people missing from it "
                "(leavers keep their history; their open proposals are withdrawn).",
            ),
        ] = False,
        dry_run: Annotated[
            bool, typer.Option("--dry-run", help="Show every change the import would make; write nothing.")
        ] = False,
    ) -> None:
        """Import profiles. Bad rows are listed with their row number and skipped; good rows are kept."""
        svc: Services = run(ready)
        report: ImportReport = run(lambda: svc.people.import_file(file, sync=sync, dry_run=dry_run))
        if not dry_run:
            record_cli(svc, "people import", str(file), **_import_counts(report))
        if as_json:
            print(report.model_dump_json(indent=2))
        else:
            print_import(report)

    @people_app.command("demo")
    def people_demo(
        seed: Annotated[
            int, typer.Option(help="Random seed: the same seed gives the same organization.")
        ] = 7,
        size: Annotated[int, typer.Option(min=20, max=100000, help="Number of people.")] = 300,
        out: Annotated[
            Path | None,
            typer.Option(help="Write the rows to this .csv or .json file instead of loading them."),
        ] = None,
        as_json: Annotated[bool, typer.Option("--json", help="Print the import report as JSON.")] = False,
        program: Annotated[
            bool,
            typer.Option(
                "--program/--no-program",
                help="Also make the demo program: a past and a current cycle with pairs, sessions, goals, "
                "survey answers and nominations (once; running again adds nothing).",
            ),
        ] = True,
    ) -> None:
        """Generate the synthetic Larkfield Labs organization and load it (or write it to a file)."""
        if out is not None:
            rows = demo_rows(seed, size)
            write_rows(rows, out)
            console.print(f"wrote {len(rows)} people to {out}")
            return
        svc: Services = run(ready)
        report: ImportReport = run(lambda: svc.people.load_demo(seed=seed, size=size))
        record_cli(svc, "people demo", f"seed={seed}, size={size}", **_import_counts(report))
        demo = run(lambda: svc.program_demo.load(seed=seed)) if program else None
        if as_json:
            print(report.model_dump_json(indent=2))
            return
        console.print(f"Larkfield Labs demo organization, seed {seed}, {size} people")
        print_import(report)
        counts = run(lambda: ready().people.count())
        console.print(f"now {counts.get('mentor', 0)} mentors and {counts.get('mentee', 0)} mentees")
        if demo is not None and demo.note:
            console.print(demo.note)
        elif demo is not None:
            state = "made" if demo.created else "already there, unchanged"
            console.print(
                f"demo program {state}: {demo.cycles} cycles, {demo.pairs} pairs, {demo.sessions} sessions, "
                f"{demo.goals} goals, {demo.survey_answers} survey answers, {demo.nominations} nominations"
            )

    @people_app.command("list")
    def people_list(
        role: Annotated[str | None, typer.Option(help="mentor or mentee.")] = None,
        department: Annotated[str | None, typer.Option(help="Only this department.")] = None,
        limit: Annotated[int, typer.Option(min=1, max=100000, help="How many.")] = 50,
    ) -> None:
        """List profiles."""
        people = run(lambda: ready().people.list_people(role=role, department=department, limit=limit))
        table = Table("id", "key", "name", "role", "department", "site", "skills")
        for p in people:
            table.add_row(
                str(p.id), p.key, p.name, p.role, p.department or "", p.site or "", ", ".join(p.skills)
            )
        console.print(table)

    @app.command()
    def recommend(
        mentee: Annotated[str, typer.Argument(help="The mentee's key (email or id column) or person id.")],
        k: Annotated[int, typer.Option("-k", min=1, max=50, help="How many mentors.")] = 5,
        as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
    ) -> None:
        """Recommend mentors for a mentee, with each score's breakdown and a reason."""
        out: RecommendationsResponse = run(lambda: ready().matching.recommend(mentee, k=k, principal=None))
        if as_json:
            print(out.model_dump_json(indent=2))
        else:
            print_recommendations(out)

    @app.command()
    def match(
        mentee: Annotated[
            list[str] | None,
            typer.Option("--mentee", help="Only these mentees (repeatable; default: all unmatched)."),
        ] = None,
        pin: Annotated[
            list[str] | None, typer.Option(help="MENTEE=MENTOR pair that must be made (repeatable).")
        ] = None,
        forbid: Annotated[
            list[str] | None, typer.Option(help="MENTEE=MENTOR pair that must not be made (repeatable).")
        ] = None,
        dry_run: Annotated[bool, typer.Option("--dry-run", help="Do not store the run.")] = False,
        cycle: Annotated[
            int | None,
            typer.Option(
                "--cycle",
                min=1,
                help="Match for this program cycle (its id): never repeat a pair that ran in the "
                "program.max_consecutive_cycles cycles just before; accepted pairs join the cycle.",
            ),
        ] = None,
        accept: Annotated[
            bool, typer.Option("--accept", help="Accept every proposed match at once (as an admin).")
        ] = False,
        show: Annotated[int, typer.Option(min=0, help="Pairs to print.")] = 10,
        as_json: Annotated[bool, typer.Option("--json", help="Print the full report as JSON.")] = False,
    ) -> None:
        """Match many mentees to mentors at once (exactly optimal), and compare with a greedy baseline."""
        svc = ready()

        def work() -> tuple[CohortReport, list[str]]:
            request = CohortRequest(
                mentees=list(mentee) if mentee else None,
                pins=_pairs(pin, "--pin"),
                forbids=_pairs(forbid, "--forbid"),
                save=not dry_run,
                cycle_id=cycle,
            )
            report = svc.matching.cohort(request)
            notes: list[str] = []
            if accept and report.run_id is not None:
                accepted, skipped = svc.matching.accept_run(report.run_id)
                notes = [f"accepted {len(accepted)} matches", *skipped]
            return report, notes

        report, notes = run(work)
        if report.run_id is not None:
            accepted = {"accepted": True} if accept else {}
            record_cli(svc, "match", f"run_id={report.run_id}", matched=report.matched, **accepted)
        if as_json:
            print(json.dumps({**report.model_dump(mode="json"), "notes": notes}, indent=2))
            return
        print_cohort(report, show)
        for note in notes:
            console.print(note)
