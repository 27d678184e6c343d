"""Goal specificity: goals in the aspiration's own terms, and measures that differ between aspirations."""

from __future__ import annotations

import re
from collections.abc import Sequence

from companion.evaluation.quality._terms import terms

Metric = tuple[float, str]


def goal_specificity(aspiration: str, statements: Sequence[tuple[str, str]]) -> Metric:
    """Share of goals whose statement and measure together use at least one of the aspiration's content
    terms, and whose measure does too (a measure that could belong to any goal is not specific)."""
    wanted = terms(aspiration)
    if not statements:
        return 0.0, "no goals"
    if not wanted:
        return 1.0, "the aspiration has no content terms to reuse"
    generic = [i for i, (statement, measure) in enumerate(statements, start=1)
               if not wanted & terms(f"{statement} {measure}") or not wanted & terms(measure)]  # fmt: skip
    value = round((len(statements) - len(generic)) / len(statements), 4)
    if generic:
        return value, f"goals {generic} do not use the aspiration's terms in their measure"
    return 1.0, f"all {len(statements)} goals measure something in the aspiration's terms"


def measure_key(measure: str) -> str:
    """A measure with numbers and dates blanked, so "3 presentations" and "4 presentations" compare equal."""
    return " ".join(re.sub(r"\d+(?:-\d+)*", "#", measure.lower()).split())


def distinct_share(measures_by_case: dict[str, str]) -> Metric:
    """Share of cases whose (first) measure no other case has, numbers aside."""
    if not measures_by_case:
        return 0.0, "no cases"
    keys = {case: measure_key(m) for case, m in measures_by_case.items()}
    counts: dict[str, int] = {}
    for key in keys.values():
        counts[key] = counts.get(key, 0) + 1
    shared = sorted(case for case, key in keys.items() if counts[key] > 1)
    value = round((len(keys) - len(shared)) / len(keys), 4)
    return value, f"{len(keys) - len(shared)}/{len(keys)} cases have a measure of their own" + (
        f"; shared by: {', '.join(shared[:6])}" if shared else ""
    )
