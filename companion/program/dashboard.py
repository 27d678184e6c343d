"""The figures of the success dashboard, for one cycle and across cycles: pairs, sessions per pair (a
histogram), the share of pairs on rhythm (judged by `companion.program.cadence.assess`), the share of
pairs with a goal set by the end of week 4, goal outcomes, survey ratings (distribution and trend, only
from at least `survey_min_answers` answers), the pairs at risk and the mentors' hours; and each figure as
CSV.

A cycle costs a fixed handful of queries whatever its size (pairs, their sessions, their goals, the names,
the survey answers); the per-pair work is plain Python over those rows.
"""

from __future__ import annotations

import csv
import io
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from pydantic import BaseModel, Field
from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from companion.errors import NotFound
from companion.program.cadence import CadenceRules, assess, due_in_week
from companion.program.pairs import cycle_sessions, display_names
from companion.settings import ProgramSettings
from companion.storage.db import (
    Cycle,
    CycleMentorship,
    Database,
    GoalRecord,
    Mentorship,
    Program,
    Survey,
    SurveyResponse,
)

HISTOGRAM_CAP = 12  # pairs with more sessions than this share the last column ("12+")
GOALS_BY_WEEK = 4
RATINGS = (1, 2, 3, 4, 5)
FIGURES = ("summary", "sessions-per-pair", "rhythm", "goals", "ratings", "at-risk", "mentor-hours", "trend")


class CycleRef(BaseModel):
    id: int
    name: str
    program: str
    starts_on: date
    ends_on: date


class Bucket(BaseModel):
    label: str
    value: float


class RatingQuestion(BaseModel):
    survey_id: int
    survey: str
    key: str
    text: str
    answers: int
    shown: bool = Field(description="False when there are fewer answers than the threshold.")
    distribution: list[Bucket] = Field(default_factory=list, description="Answers per rating 1-5 (if shown).")
    mean: float | None = None


class AtRiskPair(BaseModel):
    mentorship_id: int
    mentor_id: int
    mentor_name: str
    mentee_id: int
    mentee_name: str
    sessions: int
    expected: int
    last_session: date | None
    reasons: list[str]


class MentorHours(BaseModel):
    mentor_id: int
    name: str
    pairs: int
    sessions: int
    hours: float


class CycleSummary(BaseModel):
    cycle: CycleRef
    pairs: int
    sessions: int
    sessions_per_pair: float
    on_rhythm_share: float | None
    goals_by_week4_share: float | None
    goals_set: int
    goals_achieved: int
    at_risk: int
    hours: float
    rating_means: dict[str, float | None] = Field(
        default_factory=dict, description="Mean rating per question key (None below the answer threshold)."
    )


class Dashboard(BaseModel):
    today: date
    min_answers: int
    cycles: list[CycleRef] = Field(description="Every cycle, newest first (the picker).")
    cycle: CycleRef | None = Field(description="The cycle shown (None: there are no cycles yet).")
    summary: CycleSummary | None
    histogram: list[Bucket] = Field(default_factory=list, description="Pairs by their number of sessions.")
    rhythm: list[Bucket] = Field(default_factory=list, description="Pairs on rhythm, behind, at risk.")
    goals: list[Bucket] = Field(default_factory=list, description="Goals of the cycle by status.")
    goals_by_week4: int = 0
    ratings: list[RatingQuestion] = Field(default_factory=list)
    at_risk: list[AtRiskPair] = Field(default_factory=list)
    mentor_hours: list[MentorHours] = Field(default_factory=list)
    trend: list[CycleSummary] = Field(default_factory=list, description="Every started cycle, oldest first.")


@dataclass
class _Pair:
    id: int
    mentorship_id: int
    mentor_id: int
    mentee_id: int
    dates: list[date] = field(default_factory=list)
    minutes: int = 0


@dataclass
class _CycleFigures:
    summary: CycleSummary
    histogram: list[Bucket]
    rhythm: list[Bucket]
    goals: list[Bucket]
    goals_by_week4: int
    ratings: list[RatingQuestion]
    at_risk: list[AtRiskPair]
    mentor_hours: list[MentorHours]


class DashboardService:
    def __init__(
        self, *, db: Database, settings: ProgramSettings, today: Callable[[], date] = date.today
    ) -> None:
        self.db = db
        self.settings = settings
        self.today = today

    def cycles(self) -> list[CycleRef]:
        """Every cycle, newest first."""
        with self.db.session() as session:
            return [ref for ref, _ in _cycles(session)]

    def dashboard(self, *, cycle_id: int | None = None) -> Dashboard:
        """The chosen cycle (default: the one running today, else the latest started, else the next)."""
        today = self.today()
        with self.db.session() as session:
            cycles = _cycles(session)
            refs = [ref for ref, _ in cycles]
            empty = Dashboard(
                today=today,
                min_answers=self.settings.survey_min_answers,
                cycles=refs,
                cycle=None,
                summary=None,
            )
            if cycle_id is not None and all(ref.id != cycle_id for ref in refs):
                raise NotFound(f"no cycle with id {cycle_id}")
            if not cycles:
                return empty
            chosen = cycle_id if cycle_id is not None else _default_cycle(refs, today)
            trend: list[CycleSummary] = []
            shown: _CycleFigures | None = None
            for ref, cadence in sorted(cycles, key=lambda c: (c[0].starts_on, c[0].id)):
                if ref.starts_on > today and ref.id != chosen:
                    continue  # a future cycle has no figures yet; it is shown only when picked
                figures = self._figures(session, ref, cadence, today)
                if ref.starts_on <= today:
                    trend.append(figures.summary)
                if ref.id == chosen:
                    shown = figures
            assert shown is not None
            return empty.model_copy(
                update={
                    "cycle": shown.summary.cycle,
                    "summary": shown.summary,
                    "histogram": shown.histogram,
                    "rhythm": shown.rhythm,
                    "goals": shown.goals,
                    "goals_by_week4": shown.goals_by_week4,
                    "ratings": shown.ratings,
                    "at_risk": shown.at_risk,
                    "mentor_hours": shown.mentor_hours,
                    "trend": trend,
                }
            )

    # ---- one cycle -----------------------------------------------------------------------------------

    def _figures(self, session: Session, ref: CycleRef, cadence_days: int, today: date) -> _CycleFigures:
        rules = CadenceRules.from_settings(self.settings, cadence_days=cadence_days)
        pairs = _pairs(session, ref)
        _add_sessions(session, ref, pairs)
        goals = _goals(session, ref)
        names = display_names(
            session, {p.mentor_id for p in pairs.values()} | {p.mentee_id for p in pairs.values()}
        )

        counts = Counter(min(len(p.dates), HISTOGRAM_CAP) for p in pairs.values())
        top = max(counts, default=0)
        histogram = [
            Bucket(label=f"{n}+" if n == HISTOGRAM_CAP else str(n), value=counts.get(n, 0))
            for n in range(top + 1)
        ]

        on_rhythm = behind = 0
        at_risk: list[tuple[int, AtRiskPair]] = []
        for pair in pairs.values():
            rhythm = assess(
                pair.dates, starts_on=ref.starts_on, ends_on=ref.ends_on, today=today, rules=rules
            )
            if rhythm.at_risk:
                at_risk.append(
                    (
                        rhythm.days_since_last or 0,
                        AtRiskPair(
                            mentorship_id=pair.mentorship_id,
                            mentor_id=pair.mentor_id,
                            mentor_name=names.get(pair.mentor_id, f"user {pair.mentor_id}"),
                            mentee_id=pair.mentee_id,
                            mentee_name=names.get(pair.mentee_id, f"user {pair.mentee_id}"),
                            sessions=rhythm.sessions,
                            expected=rhythm.expected,
                            last_session=rhythm.last_session,
                            reasons=rhythm.reasons,
                        ),
                    )
                )
            elif rhythm.on_rhythm:
                on_rhythm += 1
            else:
                behind += 1
        at_risk.sort(key=lambda item: (-item[0], item[1].mentee_name))
        rhythm_buckets = [
            Bucket(label="on rhythm", value=on_rhythm),
            Bucket(label="behind", value=behind),
            Bucket(label="at risk", value=len(at_risk)),
        ]

        week4_end = due_in_week(ref.starts_on, GOALS_BY_WEEK)
        early = {mentee for mentee, created, _ in goals if created <= week4_end}
        by_week4 = sum(1 for p in pairs.values() if p.mentee_id in early)
        statuses = Counter(status for _, _, status in goals)
        goal_buckets = [Bucket(label=s, value=statuses.get(s, 0)) for s in ("active", "achieved", "dropped")]

        per_mentor: dict[int, list[_Pair]] = defaultdict(list)
        for pair in pairs.values():
            per_mentor[pair.mentor_id].append(pair)
        hours = [
            MentorHours(
                mentor_id=mentor,
                name=names.get(mentor, f"user {mentor}"),
                pairs=len(own),
                sessions=sum(len(p.dates) for p in own),
                hours=round(sum(p.minutes for p in own) / 60, 2),
            )
            for mentor, own in per_mentor.items()
        ]
        hours.sort(key=lambda h: (-h.hours, h.name))

        ratings = _ratings(session, ref, self.settings.survey_min_answers)
        means = _means(ratings)
        n_pairs = len(pairs)
        sessions = sum(len(p.dates) for p in pairs.values())
        started = today >= ref.starts_on
        summary = CycleSummary(
            cycle=ref,
            pairs=n_pairs,
            sessions=sessions,
            sessions_per_pair=round(sessions / n_pairs, 2) if n_pairs else 0.0,
            on_rhythm_share=round(on_rhythm / n_pairs, 4) if n_pairs and started else None,
            goals_by_week4_share=round(by_week4 / n_pairs, 4) if n_pairs and today > week4_end else None,
            goals_set=len(goals),
            goals_achieved=statuses.get("achieved", 0),
            at_risk=len(at_risk),
            hours=round(sum(p.minutes for p in pairs.values()) / 60, 2),
            rating_means=means,
        )
        return _CycleFigures(
            summary=summary,
            histogram=histogram,
            rhythm=rhythm_buckets,
            goals=goal_buckets,
            goals_by_week4=by_week4,
            ratings=ratings,
            at_risk=[pair for _, pair in at_risk],
            mentor_hours=hours,
        )

    # ---- CSV -----------------------------------------------------------------------------------------

    def figure_csv(self, figure: str, *, cycle_id: int | None = None) -> str:
        if figure not in FIGURES:
            raise NotFound(f"no dashboard figure {figure!r}; choose one of {', '.join(FIGURES)}")
        return figure_csv(self.dashboard(cycle_id=cycle_id), figure)


def figure_csv(dash: Dashboard, figure: str) -> str:
    """One figure of the dashboard as CSV (the same numbers as its table)."""
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    s = dash.summary
    if figure == "summary":
        w.writerow(["figure", "value"])
        if s is not None:
            w.writerows(_summary_rows(s))
    elif figure == "sessions-per-pair":
        w.writerow(["sessions", "pairs"])
        w.writerows([b.label, int(b.value)] for b in dash.histogram)
    elif figure == "rhythm":
        w.writerow(["rhythm", "pairs"])
        w.writerows([b.label, int(b.value)] for b in dash.rhythm)
    elif figure == "goals":
        w.writerow(["status", "goals"])
        w.writerows([b.label, int(b.value)] for b in dash.goals)
        if s is not None:
            w.writerow(["pairs with a goal by week 4", dash.goals_by_week4])
    elif figure == "ratings":
        w.writerow(["survey", "question", "answers", "mean", *[f"rated {r}" for r in RATINGS]])
        for q in dash.ratings:
            if q.shown:
                w.writerow(
                    [q.survey, q.text, q.answers, f"{q.mean:.2f}", *[int(b.value) for b in q.distribution]]
                )
            else:
                w.writerow([q.survey, q.text, f"fewer than {dash.min_answers}", "", *[""] * len(RATINGS)])
    elif figure == "at-risk":
        w.writerow(["mentor", "mentee", "sessions", "expected", "last session", "reasons"])
        for p in dash.at_risk:
            last = p.last_session.isoformat() if p.last_session else ""
            w.writerow([p.mentor_name, p.mentee_name, p.sessions, p.expected, last, "; ".join(p.reasons)])
    elif figure == "mentor-hours":
        w.writerow(["mentor", "pairs", "sessions", "hours"])
        w.writerows([h.name, h.pairs, h.sessions, f"{h.hours:.2f}"] for h in dash.mentor_hours)
    elif figure == "trend":
        keys = sorted({k for c in dash.trend for k in c.rating_means})
        w.writerow(
            [
                "cycle",
                "starts on",
                "pairs",
                "sessions per pair",
                "on rhythm",
                "goals by week 4",
                "goals achieved",
                "hours",
                *keys,
            ]
        )
        for c in dash.trend:
            w.writerow(
                [
                    c.cycle.name,
                    c.cycle.starts_on.isoformat(),
                    c.pairs,
                    f"{c.sessions_per_pair:.2f}",
                    _share(c.on_rhythm_share),
                    _share(c.goals_by_week4_share),
                    c.goals_achieved,
                    f"{c.hours:.2f}",
                    *[_mean(c.rating_means.get(k)) for k in keys],
                ]
            )
    else:
        raise NotFound(f"no dashboard figure {figure!r}; choose one of {', '.join(FIGURES)}")
    return out.getvalue()


def _summary_rows(s: CycleSummary) -> list[list[object]]:
    return [
        ["cycle", s.cycle.name],
        ["pairs", s.pairs],
        ["sessions", s.sessions],
        ["sessions per pair", f"{s.sessions_per_pair:.2f}"],
        ["on rhythm", _share(s.on_rhythm_share)],
        ["goals by week 4", _share(s.goals_by_week4_share)],
        ["goals set", s.goals_set],
        ["goals achieved", s.goals_achieved],
        ["pairs at risk", s.at_risk],
        ["mentor hours", f"{s.hours:.2f}"],
    ]


def _share(value: float | None) -> str:
    return "" if value is None else f"{value * 100:.1f}%"


def _mean(value: float | None) -> str:
    return "" if value is None else f"{value:.2f}"


# ---- queries -----------------------------------------------------------------------------------------


def _cycles(session: Session) -> list[tuple[CycleRef, int]]:
    rows = session.execute(
        select(Cycle, Program.name, Program.cadence_days)
        .join(Program, Program.id == Cycle.program_id)
        .order_by(Cycle.starts_on.desc(), Cycle.id.desc())
    )
    return [
        (
            CycleRef(id=c.id, name=c.name, program=program, starts_on=c.starts_on, ends_on=c.ends_on),
            cadence,
        )
        for c, program, cadence in rows
    ]


def _default_cycle(refs: list[CycleRef], today: date) -> int:
    running = [r for r in refs if r.starts_on <= today <= r.ends_on]
    started = [r for r in refs if r.starts_on <= today]
    pick = running or started or sorted(refs, key=lambda r: r.starts_on)
    return pick[0].id


def _pairs(session: Session, ref: CycleRef) -> dict[int, _Pair]:
    rows = session.execute(
        select(CycleMentorship.id, Mentorship.id, Mentorship.mentor_user_id, Mentorship.mentee_user_id)
        .join(Mentorship, Mentorship.id == CycleMentorship.mentorship_id)
        .where(CycleMentorship.cycle_id == ref.id)
    )
    return {cm: _Pair(cm, m, mentor, mentee) for cm, m, mentor, mentee in rows}


def _add_sessions(session: Session, ref: CycleRef, pairs: dict[int, _Pair]) -> None:
    """The pairs' sessions held in the cycle, in one query (a session without a mentor counts for the
    mentee's pair)."""
    rows = session.execute(cycle_sessions(ref.id, ref.starts_on, ref.ends_on))
    for pair_id, _mentorship_id, held_on, minutes in rows:
        pair = pairs.get(pair_id)
        if pair is not None:
            pair.dates.append(held_on)
            pair.minutes += minutes


def _goals(session: Session, ref: CycleRef) -> list[tuple[int, date, str]]:
    """(mentee, day set, status) of the goals of the cycle: set in it (goals.cycle_id), or set between its
    dates by a mentee of its pairs without a cycle."""
    mentees = (
        select(Mentorship.mentee_user_id)
        .join(CycleMentorship, CycleMentorship.mentorship_id == Mentorship.id)
        .where(CycleMentorship.cycle_id == ref.id)
    )
    start = datetime.combine(ref.starts_on, datetime.min.time(), tzinfo=UTC)
    end = datetime.combine(ref.ends_on, datetime.max.time(), tzinfo=UTC)
    rows = session.execute(
        select(GoalRecord.mentee_user_id, GoalRecord.created_at, GoalRecord.status).where(
            GoalRecord.mentee_user_id.in_(mentees),
            or_(
                GoalRecord.cycle_id == ref.id,
                and_(
                    GoalRecord.cycle_id.is_(None),
                    GoalRecord.created_at >= start,
                    GoalRecord.created_at <= end,
                ),
            ),
        )
    )
    return [(mentee, created.date(), status) for mentee, created, status in rows]


def _ratings(session: Session, ref: CycleRef, min_answers: int) -> list[RatingQuestion]:
    surveys = list(session.scalars(select(Survey).where(Survey.cycle_id == ref.id).order_by(Survey.id)))
    if not surveys:
        return []
    answers: dict[int, list[dict[str, object]]] = defaultdict(list)
    for survey_id, given in session.execute(
        select(SurveyResponse.survey_id, SurveyResponse.answers).where(
            SurveyResponse.survey_id.in_([s.id for s in surveys])
        )
    ):
        answers[survey_id].append(given or {})
    out: list[RatingQuestion] = []
    for survey in surveys:
        for question in survey.questions or []:
            if question.get("type") != "rating":
                continue
            key = str(question.get("key", ""))
            values = [v for v in (_rating(a.get(key)) for a in answers[survey.id]) if v is not None]
            shown = len(values) >= min_answers
            counts = Counter(values)
            out.append(
                RatingQuestion(
                    survey_id=survey.id,
                    survey=survey.title,
                    key=key,
                    text=str(question.get("text", key)),
                    answers=len(values),
                    shown=shown,
                    distribution=[Bucket(label=str(r), value=counts.get(r, 0)) for r in RATINGS]
                    if shown
                    else [],
                    mean=round(sum(values) / len(values), 2) if shown else None,
                )
            )
    return out


def _rating(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    try:
        number = int(str(value))
    except (TypeError, ValueError):
        return None
    return number if number in RATINGS else None


def _means(ratings: list[RatingQuestion]) -> dict[str, float | None]:
    """Mean per question key over the cycle's surveys, weighted by answers; None when no survey of the
    cycle reached the threshold for that question."""
    total: dict[str, float] = defaultdict(float)
    count: dict[str, int] = defaultdict(int)
    keys: list[str] = []
    for q in ratings:
        if q.key not in keys:
            keys.append(q.key)
        if q.shown and q.mean is not None:
            total[q.key] += q.mean * q.answers
            count[q.key] += q.answers
    return {k: (round(total[k] / count[k], 2) if count[k] else None) for k in keys}
