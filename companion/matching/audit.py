"""The fairness audit of a cohort matching run: one pure function over the run's inputs and its result.

For the mentees the run tried to match it gives, per department, site, seniority and time zone of the
mentee ("unknown" when the profile leaves it empty), how many were matched (the match rate, in percent)
and the mean score of their pairs; for the mentors, the load against capacity after the run; and how far
the run is from an even spread:

- rate gap: best group's match rate minus worst group's, in percentage points, per dimension;
- score gap: highest group mean score minus lowest, among groups with at least one pair;
- load CV: coefficient of variation (population standard deviation / mean) of the mentors' load, where
  load = (mentees held before the run + mentees assigned by it) / capacity.

Gaps and warnings count only groups of at least `min_group_size` mentees. A warning names each such
group whose match rate is more than `warn_points` points under the overall rate. No database here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from statistics import fmean, pstdev

from pydantic import BaseModel, Field

DIMENSIONS = ("department", "site", "seniority", "timezone")
UNKNOWN = "unknown"
LOAD_BUCKETS = ("0%", "1-49%", "50-99%", "100%")


@dataclass(frozen=True)
class MenteeOutcome:
    """One mentee of the run: the groups they belong to and their pair's score (None: unmatched)."""

    key: str
    department: str | None
    site: str | None
    seniority: str | None
    timezone: str | None
    score: float | None


@dataclass(frozen=True)
class MentorOutcome:
    """One mentor of the pool: capacity, mentees held before the run, mentees the run assigned."""

    key: str
    name: str
    capacity: int
    held: int
    assigned: int


class GroupFigure(BaseModel):
    group: str
    mentees: int
    matched: int
    match_rate: float = Field(description="Matched mentees in percent of the group's mentees.")
    mean_score: float | None = Field(description="Mean score of the group's pairs (None: no pair).")
    compared: bool = Field(description="Large enough (audit_min_group_size) to count in gaps and warnings.")


class DimensionAudit(BaseModel):
    dimension: str
    groups: list[GroupFigure] = Field(description="Groups, largest first (then by name).")
    rate_gap: float = Field(description="Best minus worst compared group's match rate, in points.")
    best_rate_group: str | None
    worst_rate_group: str | None
    score_gap: float = Field(
        description="Highest minus lowest compared group mean score (groups with pairs)."
    )
    best_score_group: str | None
    worst_score_group: str | None


class MentorLoad(BaseModel):
    key: str
    name: str
    capacity: int
    held: int = Field(description="Mentees the mentor already had before the run.")
    assigned: int = Field(description="Mentees this run gives the mentor.")
    load: float = Field(description="(held + assigned) / capacity.")


class LoadBucket(BaseModel):
    bucket: str
    mentors: int


class MatchAudit(BaseModel):
    mentees: int = Field(description="Mentees the run tried to match (not those already with a mentor).")
    matched: int
    match_rate: float = Field(description="Matched mentees in percent.")
    mean_score: float | None = Field(description="Mean score of the run's pairs.")
    dimensions: list[DimensionAudit]
    mentor_load: list[MentorLoad] = Field(description="Mentors with a capacity, most loaded first.")
    load_distribution: list[LoadBucket] = Field(description="Mentors per load bucket.")
    load_mean: float
    load_cv: float = Field(description="Coefficient of variation of mentor load (0: perfectly even).")
    warnings: list[str] = Field(description="Groups served worse than the overall rate by over warn_points.")
    warn_points: float
    min_group_size: int


def audit_run(
    mentees: Sequence[MenteeOutcome],
    mentors: Sequence[MentorOutcome],
    *,
    warn_points: float,
    min_group_size: int,
) -> MatchAudit:
    """The audit of one run (see the module docstring for every definition)."""
    matched = [m for m in mentees if m.score is not None]
    overall = _rate(len(matched), len(mentees))
    dimensions = [_dimension(name, mentees, min_group_size) for name in DIMENSIONS]
    warnings = [
        f"{d.dimension} {g.group}: {g.matched} of {g.mentees} matched ({g.match_rate:.1f}%), "
        f"{overall - g.match_rate:.1f} points under the overall {overall:.1f}%"
        for d in dimensions
        for g in d.groups
        if g.compared and _under(len(matched), len(mentees), g) > warn_points
    ]
    loads = sorted(
        (
            MentorLoad(
                key=m.key,
                name=m.name,
                capacity=m.capacity,
                held=m.held,
                assigned=m.assigned,
                load=round((m.held + m.assigned) / m.capacity, 4),
            )
            for m in mentors
            if m.capacity > 0
        ),
        key=lambda x: (-x.load, -x.assigned, x.key),
    )
    values = [x.load for x in loads]
    mean = fmean(values) if values else 0.0
    return MatchAudit(
        mentees=len(mentees),
        matched=len(matched),
        match_rate=overall,
        mean_score=_mean([m.score for m in matched if m.score is not None]),
        dimensions=dimensions,
        mentor_load=loads,
        load_distribution=[
            LoadBucket(bucket=name, mentors=sum(1 for v in values if _bucket(v) == name))
            for name in LOAD_BUCKETS
        ],
        load_mean=round(mean, 4),
        load_cv=round(pstdev(values) / mean, 4) if mean > 0 else 0.0,
        warnings=warnings,
        warn_points=warn_points,
        min_group_size=min_group_size,
    )


def _dimension(name: str, mentees: Sequence[MenteeOutcome], min_group_size: int) -> DimensionAudit:
    members: dict[str, list[MenteeOutcome]] = {}
    for mentee in mentees:
        value = getattr(mentee, name)
        label = " ".join(value.split()) if isinstance(value, str) and value.strip() else UNKNOWN
        members.setdefault(label, []).append(mentee)
    groups = sorted(
        (_group(label, people, min_group_size) for label, people in members.items()),
        key=lambda g: (-g.mentees, g.group),
    )
    compared = [g for g in groups if g.compared]
    by_rate = sorted(compared, key=lambda g: (-g.match_rate, g.group))
    scored = sorted(
        (g for g in compared if g.mean_score is not None), key=lambda g: (-(g.mean_score or 0.0), g.group)
    )
    return DimensionAudit(
        dimension=name,
        groups=groups,
        rate_gap=round(by_rate[0].match_rate - by_rate[-1].match_rate, 1) if len(by_rate) > 1 else 0.0,
        best_rate_group=by_rate[0].group if len(by_rate) > 1 else None,
        worst_rate_group=by_rate[-1].group if len(by_rate) > 1 else None,
        score_gap=round((scored[0].mean_score or 0.0) - (scored[-1].mean_score or 0.0), 4)
        if len(scored) > 1
        else 0.0,
        best_score_group=scored[0].group if len(scored) > 1 else None,
        worst_score_group=scored[-1].group if len(scored) > 1 else None,
    )


def _group(label: str, people: list[MenteeOutcome], min_group_size: int) -> GroupFigure:
    scores = [p.score for p in people if p.score is not None]
    return GroupFigure(
        group=label,
        mentees=len(people),
        matched=len(scores),
        match_rate=_rate(len(scores), len(people)),
        mean_score=_mean(scores),
        compared=len(people) >= min_group_size,
    )


def _under(matched: int, mentees: int, group: GroupFigure) -> float:
    """Points by which the group's exact (unrounded) match rate is under the overall one."""
    return 100.0 * (matched * group.mentees - group.matched * mentees) / (mentees * group.mentees)


def _rate(part: int, whole: int) -> float:
    return round(100.0 * part / whole, 1) if whole else 0.0


def _mean(values: Sequence[float]) -> float | None:
    return round(fmean(values), 4) if values else None


def _bucket(load: float) -> str:
    if load <= 0:
        return LOAD_BUCKETS[0]
    if load < 0.5:
        return LOAD_BUCKETS[1]
    if load < 1:
        return LOAD_BUCKETS[2]
    return LOAD_BUCKETS[3]
