"""Answer key-point coverage: does the answer carry each point a good answer must make?"""

from __future__ import annotations

from collections.abc import Sequence

from companion.evaluation.quality._terms import terms

Metric = tuple[float, str]


def point_covered(answer: str, point: str) -> bool:
    """A point is covered when the answer holds it verbatim (case-insensitive), or holds at least two
    thirds of its content terms (all of them for a point of one or two terms): "within 48 hours" is
    covered by "in the 48 hours after", not by "48 minutes"."""
    if point.lower() in answer.lower():
        return True
    wanted = terms(point)
    if not wanted:
        return False
    have = terms(answer)
    hit = len(wanted & have)
    return hit == len(wanted) if len(wanted) <= 2 else hit * 3 >= len(wanted) * 2


def key_point_coverage(answer: str, points: Sequence[str]) -> Metric:
    if not points:
        return 1.0, "no key points"
    missing = [p for p in points if not point_covered(answer, p)]
    value = round((len(points) - len(missing)) / len(points), 4)
    reason = f"{len(points) - len(missing)}/{len(points)} key points covered"
    return value, reason + (f"; missing: {', '.join(missing)}" if missing else "")
