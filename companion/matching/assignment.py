"""Cohort assignment: exact (linear_sum_assignment on capacity slots), greedy, and brute force for checks.

The exact solver turns "each mentor takes up to c mentees" into a plain assignment problem:
- every mentor becomes c columns (slots), c = places left (capped at the number of mentees who could
  take them, which changes nothing and keeps the matrix small);
- every mentee row also gets "unmatched" columns costing `unmatched_penalty`;
- a feasible pair costs -score, an infeasible one +inf (scipy never picks it).
Minimizing the cost maximizes the total score minus the penalty for unmatched mentees, exactly. Pinned
pairs are fixed first and take their mentor's places; the rest is solved around them.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import linear_sum_assignment

UNMATCHED = -1


@dataclass
class Problem:
    scores: np.ndarray
    feasible: np.ndarray
    places: np.ndarray
    pins: list[tuple[int, int]] = field(default_factory=list)
    unmatched_penalty: float = 0.0

    def __post_init__(self) -> None:
        self.scores = np.asarray(self.scores, dtype=np.float64)
        self.feasible = np.asarray(self.feasible, dtype=bool)
        self.places = np.asarray(self.places, dtype=np.int64)
        n, m = self.scores.shape
        if self.feasible.shape != (n, m) or self.places.shape != (m,):
            raise ValueError("scores, feasible and places do not agree in shape")


@dataclass
class Assignment:
    mentor_of: np.ndarray
    total_score: float

    @property
    def matched(self) -> int:
        return int((self.mentor_of != UNMATCHED).sum())

    def objective(self, problem: Problem) -> float:
        return self.total_score - problem.unmatched_penalty * (len(self.mentor_of) - self.matched)


def check_pins(problem: Problem) -> str | None:
    """None if the pins can all hold, else the first problem found (a message naming the indices)."""
    seen: set[int] = set()
    used = np.zeros_like(problem.places)
    for mentee, mentor in problem.pins:
        if mentee in seen:
            return f"mentee {mentee} is pinned twice"
        seen.add(mentee)
        if not problem.feasible[mentee, mentor]:
            return f"pin {mentee}->{mentor} breaks a hard rule"
        used[mentor] += 1
        if used[mentor] > problem.places[mentor]:
            return f"pins give mentor {mentor} more mentees than places"
    return None


def _start(problem: Problem) -> tuple[np.ndarray, np.ndarray]:
    problem_error = check_pins(problem)
    if problem_error:
        raise ValueError(problem_error)
    mentor_of = np.full(problem.scores.shape[0], UNMATCHED, dtype=np.int64)
    places = problem.places.copy()
    for mentee, mentor in problem.pins:
        mentor_of[mentee] = mentor
        places[mentor] -= 1
    return mentor_of, places


def _total(problem: Problem, mentor_of: np.ndarray) -> float:
    rows = np.flatnonzero(mentor_of != UNMATCHED)
    return float(problem.scores[rows, mentor_of[rows]].sum())


def solve_optimal(problem: Problem) -> Assignment:
    mentor_of, places = _start(problem)
    free_rows = np.flatnonzero(mentor_of == UNMATCHED)
    usable = problem.feasible[free_rows] & (places > 0)[None, :]
    rows = free_rows[usable.any(axis=1)]
    if len(rows):
        usable = usable[usable.any(axis=1)]
        wanted = usable.sum(axis=0)
        slots = np.repeat(np.arange(len(places)), np.minimum(places, wanted))
        cost = np.full((len(rows), len(slots) + len(rows)), np.inf)
        cost[:, : len(slots)] = np.where(usable[:, slots], -problem.scores[rows][:, slots], np.inf)
        cost[:, len(slots) :] = problem.unmatched_penalty
        picked_rows, picked_cols = linear_sum_assignment(cost)
        for r, c in zip(picked_rows, picked_cols, strict=True):
            if c < len(slots):
                mentor_of[rows[r]] = slots[c]
                places[slots[c]] -= 1
        _fill_ties(problem, mentor_of, places)
    return Assignment(mentor_of, _total(problem, mentor_of))


def _fill_ties(problem: Problem, mentor_of: np.ndarray, places: np.ndarray) -> None:
    """Give a left-over place to an unmatched mentee who can take it. With scores >= 0 this only
    happens on exact ties (a zero-score pair vs. a zero penalty), so the total never drops."""
    for row in np.flatnonzero(mentor_of == UNMATCHED):
        options = np.flatnonzero(problem.feasible[row] & (places > 0))
        if len(options):
            best = options[np.argmax(problem.scores[row, options])]
            if problem.scores[row, best] + problem.unmatched_penalty >= 0:
                mentor_of[row] = best
                places[best] -= 1


def solve_greedy(problem: Problem) -> Assignment:
    """Baseline: take the best remaining feasible pair while places last."""
    mentor_of, places = _start(problem)
    rows, cols = np.nonzero(problem.feasible)
    values = problem.scores[rows, cols]
    for k in np.argsort(-values, kind="stable"):
        r, c = rows[k], cols[k]
        if mentor_of[r] == UNMATCHED and places[c] > 0:
            if values[k] + problem.unmatched_penalty < 0:
                break
            mentor_of[r] = c
            places[c] -= 1
    return Assignment(mentor_of, _total(problem, mentor_of))


def solve_brute_force(problem: Problem) -> Assignment:
    """Every assignment, for checking the solver on small cases (n mentees, m mentors: (m+1)^n tries)."""
    n, m = problem.scores.shape
    pinned = dict(problem.pins)
    choices = [
        [pinned[i]] if i in pinned else [UNMATCHED, *np.flatnonzero(problem.feasible[i]).tolist()]
        for i in range(n)
    ]
    best: tuple[float, tuple[int, ...]] | None = None
    for combo in itertools.product(*choices):
        counts = np.bincount([c for c in combo if c != UNMATCHED], minlength=m)
        if (counts > problem.places).any():
            continue
        value = sum(problem.scores[i, c] for i, c in enumerate(combo) if c != UNMATCHED)
        value -= problem.unmatched_penalty * combo.count(UNMATCHED)
        if best is None or value > best[0] + 1e-12:
            best = (value, combo)
    if best is None:
        raise ValueError("pins cannot all hold")
    mentor_of = np.array(best[1], dtype=np.int64)
    return Assignment(mentor_of, _total(problem, mentor_of))
