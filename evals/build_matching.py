"""Build evals/matching.jsonl: mentees of the demo organization and the mentors an admin would accept.

    .venv/bin/python evals/build_matching.py > evals/matching.jsonl

The rule for "acceptable" reads only the profiles, never the recommender's scores. A mentor is
acceptable for a mentee when
1. every hard rule of the handbook holds: they share a working language; they have at least two hours
   of common working time (9:00-17:00 local, checked in January and July); neither is in the other's
   reporting line (manager chain, upward or downward); neither asked to avoid the other; the mentor
   has capacity; and
2. the mentor offers what the mentee came for: the mentee's main need (the first skill they list)
   is among the mentor's skills, or at least two of the mentee's wanted skills are.

Cases: 25 mentees drawn with a fixed seed from those with at least five acceptable mentors (so a perfect
top 5 is possible), from the organization `generate` in companion/demo_org.py builds with seed 7, 300
people.
"""

from __future__ import annotations

import json
import random
import sys
from typing import Any

import numpy as np

from companion.matching.demo_org import demo_rows
from companion.matching.timezones import overlap_hours, parse_timezone

SEED, SIZE, CASES, MIN_ACCEPTABLE = 7, 300, 25, 5
RULE = (
    "hard rules hold (language, >= 2 h overlap, no reporting line either way, not avoided, capacity) "
    "and the mentor offers the mentee's first-listed skill or at least two of their wanted skills"
)


def chain(rows_by_key: dict[str, dict[str, Any]], key: str) -> list[str]:
    out: list[str] = []
    current = rows_by_key[key].get("manager")
    while current and current not in out and current != key:
        out.append(current)
        current = rows_by_key.get(current, {}).get("manager")
    return out


def acceptable(
    mentee: dict[str, Any], mentor: dict[str, Any], rows_by_key: dict[str, dict[str, Any]]
) -> bool:
    if not set(mentee["languages"]) & set(mentor["languages"]):
        return False
    shared = overlap_hours(
        np.array([parse_timezone(mentee["timezone"])]),
        np.array([parse_timezone(mentor["timezone"])]),
        start=9,
        end=17,
    )
    if shared[0, 0] < 2:
        return False
    if mentor["email"] in chain(rows_by_key, mentee["email"]) or mentee["email"] in chain(
        rows_by_key, mentor["email"]
    ):
        return False
    avoid_a = (mentee.get("preferences") or {}).get("avoid") or []
    avoid_b = (mentor.get("preferences") or {}).get("avoid") or []
    if mentor["email"] in avoid_a or mentee["email"] in avoid_b or not mentor.get("capacity"):
        return False
    wanted, offered = mentee["skills"], set(mentor["skills"])
    return wanted[0] in offered or len(offered & set(wanted)) >= 2


def build() -> list[dict[str, Any]]:
    rows = demo_rows(SEED, SIZE)
    by_key = {r["email"]: r for r in rows}
    mentors = [r for r in rows if r["role"] == "mentor"]
    candidates = []
    for mentee in sorted((r for r in rows if r["role"] == "mentee"), key=lambda r: r["email"]):
        good = sorted(m["email"] for m in mentors if acceptable(mentee, m, by_key))
        if len(good) >= MIN_ACCEPTABLE:
            candidates.append((mentee, good))
    picked = random.Random(SEED).sample(candidates, CASES)
    cases = []
    for n, (mentee, good) in enumerate(sorted(picked, key=lambda c: c[0]["email"]), start=1):
        cases.append(
            {
                "id": f"match-{n:02d}",
                "org": {"seed": SEED, "size": SIZE},
                "mentee": mentee["email"],
                "goals": mentee["goals"],
                "skills_wanted": mentee["skills"],
                "timezone": mentee["timezone"],
                "languages": mentee["languages"],
                "acceptable": good,
                "rule": RULE,
            }
        )
    return cases


if __name__ == "__main__":
    for case in build():
        sys.stdout.write(json.dumps(case, ensure_ascii=False) + "\n")
