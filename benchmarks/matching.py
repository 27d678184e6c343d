"""Mentor matching: top-10 latency over 100k mentors, a 2,000 x 1,000 cohort, and exactness checks.

1. **Top-10 among `--mentors` (100,000) mentors**, in process, through `companion.matching.scoring.rank`
   (the code
   behind `GET /v1/mentees/{id}/recommendations` once profiles are loaded): a `MentorPool` of synthetic
   mentors (sites, time zones, languages, skills, capacities and manager chains drawn like the demo
   organization's) with synthetic 384-d vectors: each is a normalized mix of two of 60 random "topic"
   directions plus noise, so neighbours are neither random nor copies. `--queries` synthetic mentees are
   ranked one by one (hard-rule masks, scores, top 10); the latency of each is recorded. Pools this large
   rank in two exact passes (half precision, then float32 on the candidates); the same queries are then
   ranked with a single float32 pass, for comparison, and the two top-10 lists are compared.
2. **Cohort of `--cohort-mentees` (2,000) mentees and `--cohort-mentors` (1,000) mentors** with capacities
   1-3, taken from the demo organization generator (`companion.matching.demo_org`), embedded with the fake
   hashed bag-of-words embedder (no model): scoring (the full n x m matrix and rule checks), the exact
   solver (`solve_optimal`) and the greedy baseline (`solve_greedy`), with their total scores.
3. **Exactness**: random small problems (capacities 1-3, ~70% feasible pairs) solved by `solve_optimal`,
   by `scipy.optimize.milp` (an independent exact MILP solver) and, on the smallest, by brute force
   over every assignment; reports the largest difference in total score and the greedy/optimal ratio.

Prints one JSON object on stdout; progress goes to stderr. No model, no network, no files.

    .venv/bin/python -m benchmarks.matching [--mentors 100000] [--queries 200] [--seed 0]
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from typing import Any

import numpy as np

from benchmarks._common import CpuMonitor, emit, log, percentile, r

TARGET_TOP10_P50_MS = 20.0
TARGET_COHORT_S = 10.0


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--mentors", type=int, default=100_000, help="mentors in the top-10 pool")
    parser.add_argument("--queries", type=int, default=200, help="mentees ranked in the top-10 test")
    parser.add_argument("--cohort-mentees", type=int, default=2000)
    parser.add_argument("--cohort-mentors", type=int, default=1000)
    parser.add_argument("--dims", type=int, default=384, help="vector size of the synthetic vectors")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    emit(
        {
            "benchmark": "matching",
            "top10": top10(args),
            "cohort": cohort(args),
            "exactness": exactness(args.seed),
        }
    )


# ---- 1. top-10 over a large pool ----------------------------------------------------------------------


def _synthetic_profiles(
    rng: random.Random, n: int, role: str, prefix: str, pool_keys: list[str]
) -> list[Any]:
    from companion.matching.demo_org import ALL_SKILLS, SITES, _languages
    from companion.matching.scoring import MatchProfile

    skills = sorted(ALL_SKILLS)
    sites = [s for s in SITES if s.timezone]
    remote = ["America/Vancouver", "Asia/Singapore", "Europe/Berlin"]
    out = []
    for i in range(n):
        at = rng.choices(range(len(sites) + 1), weights=[s.weight for s in sites] + [5])[0]
        site = sites[at] if at < len(sites) else None
        timezone = site.timezone if site else rng.choice(remote)
        # a manager chain of 2-6 people drawn from the pool (mentors' chains point at other mentors)
        chain = tuple(rng.sample(pool_keys, k=rng.randint(2, 6))) if pool_keys else ()
        out.append(
            MatchProfile(
                id=i,
                key=f"{prefix}{i}",
                name=f"{prefix}{i}",
                role=role,
                timezone=timezone,
                languages=tuple(_languages(rng, site.name if site else "Remote", timezone)),
                skills=tuple(
                    rng.sample(skills, k=rng.randint(3, 6) if role == "mentor" else rng.randint(2, 3))
                ),
                department=f"dept{rng.randrange(10)}",
                site=site.name if site else "Remote",
                capacity=rng.choice([1, 1, 2, 2, 2, 3]) if role == "mentor" else 0,
                ancestors=chain,
                department_pref=rng.choice([None, None, None, "different", "same"]),
            )
        )
    return out


def _topic_vectors(rng: np.random.Generator, n: int, topics: np.ndarray) -> np.ndarray:
    picks = rng.integers(0, len(topics), size=(n, 2))
    vectors = (
        topics[picks[:, 0]] + 0.6 * topics[picks[:, 1]] + 0.35 * rng.standard_normal((n, topics.shape[1]))
    )
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors.astype(np.float32)


def top10(args: argparse.Namespace) -> dict[str, Any]:
    from companion.matching.scoring import MentorPool, rank
    from companion.settings import MatchingSettings

    rng = random.Random(args.seed)
    nprng = np.random.default_rng(args.seed)
    topics = nprng.standard_normal((60, args.dims))
    topics /= np.linalg.norm(topics, axis=1, keepdims=True)
    log(f"top10: generating {args.mentors} mentors")
    keys = [f"mentor{i}" for i in range(args.mentors)]
    mentors = _synthetic_profiles(rng, args.mentors, "mentor", "mentor", keys[: max(1, args.mentors // 20)])
    vectors = _topic_vectors(nprng, args.mentors, topics)
    started = time.perf_counter()
    pool = MentorPool(mentors, vectors, settings=MatchingSettings())
    build_s = time.perf_counter() - started
    mentees = _synthetic_profiles(
        rng, args.queries + 10, "mentee", "mentee", keys[: max(1, args.mentors // 20)]
    )
    queries = _topic_vectors(nprng, len(mentees), topics)
    for mentee, vector in zip(mentees[:10], queries[:10], strict=True):  # warm-up
        rank(pool, mentee, vector, k=10)
    log(f"top10: ranking {args.queries} mentees")
    cpu = CpuMonitor()
    latencies = []
    found = []
    found_rows = []
    for mentee, vector in zip(mentees[10:], queries[10:], strict=True):
        t0 = time.perf_counter()
        block, rows = rank(pool, mentee, vector, k=10)
        latencies.append((time.perf_counter() - t0) * 1000)
        found.append(len(rows))
        found_rows.append(rows)
        del block
    p50 = percentile(latencies, 50)
    cpu_result = cpu.result()
    log("top10: the same queries with a single float32 pass, for comparison")
    single, same = [], 0
    for mentee, vector, rows in zip(mentees[10:], queries[10:], found_rows, strict=True):
        t0 = time.perf_counter()
        _, exact_rows = rank(pool, mentee, vector, k=10, two_pass=False)
        single.append((time.perf_counter() - t0) * 1000)
        same += exact_rows == rows
    return {
        "mentors": args.mentors,
        "dims": args.dims,
        "queries": args.queries,
        "pool_build_s": r(build_s, 2),
        "p50_ms": r(p50, 2),
        "p95_ms": r(percentile(latencies, 95), 2),
        "mean_ms": r(statistics.fmean(latencies), 2),
        "max_ms": r(max(latencies), 2),
        "mean_results": r(statistics.fmean(found), 2),
        "target_p50_ms": TARGET_TOP10_P50_MS,
        "meets_target": p50 <= TARGET_TOP10_P50_MS,
        "cpu": cpu_result,
        "single_float32_pass_p50_ms": r(percentile(single, 50), 2),
        "same_top10_as_single_float32_pass": f"{same}/{len(single)}",
    }


# ---- 2. a 2,000 x 1,000 cohort ------------------------------------------------------------------------


def cohort(args: argparse.Namespace) -> dict[str, Any]:
    from companion.knowledge.embeddings import FakeEmbedder
    from companion.matching.assignment import Problem, solve_greedy, solve_optimal
    from companion.matching.demo_org import demo_rows
    from companion.matching.profiles import match_profile, profile_text, reporting_chains
    from companion.matching.scoring import MentorPool
    from companion.settings import MatchingSettings
    from companion.storage.db import Person

    size = int((args.cohort_mentees + args.cohort_mentors) * 1.15)
    log(f"cohort: generating a demo organization of {size} people")
    rows = demo_rows(args.seed + 1, size)
    people = [
        Person(
            id=n,
            key=row["email"],
            name=row["name"],
            role=row["role"],
            department=row["department"],
            site=row["site"],
            manager_key=row["manager"],
            timezone=row["timezone"],
            languages=row["languages"],
            skills=row["skills"],
            expertise=row.get("expertise", ""),
            goals=row.get("goals", ""),
            capacity=row.get("capacity", 0),
            preferences=row.get("preferences") or {},
        )
        for n, row in enumerate(rows)
    ]
    chains = reporting_chains({p.key: p.manager_key for p in people})
    mentors = [p for p in people if p.role == "mentor"][: args.cohort_mentors]
    mentees = [p for p in people if p.role == "mentee"][: args.cohort_mentees]
    if len(mentors) < args.cohort_mentors or len(mentees) < args.cohort_mentees:
        raise SystemExit("the generated organization is too small for the cohort sizes asked")
    embedder = FakeEmbedder(args.dims)
    mentor_vectors = embedder.encode([profile_text(p) for p in mentors])
    mentee_vectors = embedder.encode([profile_text(p) for p in mentees])
    settings = MatchingSettings()
    cpu = CpuMonitor()
    t0 = time.perf_counter()
    pool = MentorPool(
        [match_profile(p, ancestors=chains[p.key]) for p in mentors], mentor_vectors, settings=settings
    )
    block = pool.score([match_profile(p, ancestors=chains[p.key]) for p in mentees], mentee_vectors)
    problem = Problem(block.total, block.feasible, pool.capacity)
    t1 = time.perf_counter()
    optimal = solve_optimal(problem)
    t2 = time.perf_counter()
    greedy = solve_greedy(problem)
    t3 = time.perf_counter()
    _verify(problem, optimal.mentor_of)
    total_s = t3 - t0
    return {
        "mentees": len(mentees),
        "mentors": len(mentors),
        "places": int(pool.capacity.sum()),
        "capacities": {str(c): int((pool.capacity == c).sum()) for c in (1, 2, 3)},
        "feasible_pairs_share": r(float(problem.feasible.mean()), 3),
        "score_s": r(t1 - t0, 3),
        "solve_optimal_s": r(t2 - t1, 3),
        "solve_greedy_s": r(t3 - t2, 3),
        "total_s": r(total_s, 3),
        "optimal": {"matched": optimal.matched, "total_score": r(optimal.total_score, 3)},
        "greedy": {"matched": greedy.matched, "total_score": r(greedy.total_score, 3)},
        "optimal_gain_over_greedy_pct": r(100 * (optimal.total_score / greedy.total_score - 1), 2),
        "target_s": TARGET_COHORT_S,
        "meets_target": total_s <= TARGET_COHORT_S,
        "cpu": cpu.result(),
    }


def _verify(problem: Any, mentor_of: np.ndarray) -> None:
    rows = np.flatnonzero(mentor_of >= 0)
    assert problem.feasible[rows, mentor_of[rows]].all(), "an infeasible pair was assigned"
    counts = np.bincount(mentor_of[rows], minlength=len(problem.places))
    assert (counts <= problem.places).all(), "a mentor got more mentees than places"


# ---- 3. exactness -------------------------------------------------------------------------------------


def _random_problem(rng: np.random.Generator, n: int, m: int) -> Any:
    from companion.matching.assignment import Problem

    return Problem(
        scores=rng.random((n, m)),
        feasible=rng.random((n, m)) < 0.7,
        places=rng.integers(1, 4, size=m),
    )


def _milp_total(problem: Any) -> float:
    from scipy.optimize import Bounds, LinearConstraint, milp

    rows, cols = np.nonzero(problem.feasible)
    if len(rows) == 0:
        return 0.0
    n, m = problem.scores.shape
    per_mentee = np.zeros((n, len(rows)))
    per_mentee[rows, np.arange(len(rows))] = 1
    per_mentor = np.zeros((m, len(rows)))
    per_mentor[cols, np.arange(len(rows))] = 1
    result = milp(
        c=-problem.scores[rows, cols],
        constraints=[LinearConstraint(per_mentee, 0, 1), LinearConstraint(per_mentor, 0, problem.places)],
        integrality=np.ones(len(rows)),
        bounds=Bounds(0, 1),
    )
    assert result.status == 0, result.message
    return float(-result.fun)


def exactness(seed: int) -> dict[str, Any]:
    from companion.matching.assignment import solve_brute_force, solve_greedy, solve_optimal

    rng = np.random.default_rng(seed + 2)
    out: dict[str, Any] = {}
    for label, (n, m, count, brute) in {
        "8x5": (8, 5, 50, False),
        "6x4": (6, 4, 30, True),
        "60x30": (60, 30, 10, False),
    }.items():
        worst = 0.0
        ratios = []
        for _ in range(count):
            problem = _random_problem(rng, n, m)
            optimal = solve_optimal(problem)
            _verify(problem, optimal.mentor_of)
            reference = solve_brute_force(problem).total_score if brute else _milp_total(problem)
            worst = max(worst, abs(optimal.total_score - reference))
            greedy = solve_greedy(problem).total_score
            ratios.append(greedy / optimal.total_score if optimal.total_score else 1.0)
        out[label] = {
            "instances": count,
            "reference": "brute force over every assignment" if brute else "scipy.optimize.milp",
            "max_abs_diff_vs_reference": float(f"{worst:.3g}"),
            "greedy_over_optimal_mean": r(statistics.fmean(ratios), 4),
            "greedy_over_optimal_min": r(min(ratios), 4),
        }
        log(f"exactness {label}: max diff {worst:.2e}")
    return out


if __name__ == "__main__":
    main()
