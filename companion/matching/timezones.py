"""Time zones and shared working hours.

A pair's overlap is measured on two reference days, one in January and one in July, and the smaller of
the two counts: daylight saving starts and ends on different dates around the world, and a pair should
keep its shared hours all year.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np

_FIXED = re.compile(r"^(?:UTC|GMT)\s*(?:([+-])(\d{1,2})(?::?(\d{2}))?)?$", re.IGNORECASE)
_REFERENCE_DAYS = (datetime(2025, 1, 15, 12, tzinfo=UTC), datetime(2025, 7, 15, 12, tzinfo=UTC))


@lru_cache(maxsize=4096)
def parse_timezone(name: str) -> tuple[float, float]:
    """UTC offsets in hours on the January and July reference days. Raises ValueError if unknown."""
    text = name.strip()
    fixed = _FIXED.match(text)
    if fixed:
        sign, hours, minutes = fixed.groups()
        offset = int(hours or 0) + int(minutes or 0) / 60
        if offset > 14 or int(minutes or 0) >= 60:
            raise ValueError(f"offset out of range in {name!r}")
        offset = -offset if sign == "-" else offset
        return offset, offset
    try:
        zone = ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown time zone {name!r}; use an IANA name like Europe/London or an offset like UTC+05:30"
        ) from None
    offsets = []
    for day in _REFERENCE_DAYS:
        delta = day.astimezone(zone).utcoffset()
        offsets.append(delta.total_seconds() / 3600 if delta is not None else 0.0)
    return offsets[0], offsets[1]


def overlap_hours(offsets_a: np.ndarray, offsets_b: np.ndarray, *, start: float, end: float) -> np.ndarray:
    """Shared working hours between every row of `offsets_a` (n, 2) and of `offsets_b` (m, 2): (n, m).

    Both sides work `start`..`end` local time. On a 24-hour circle two windows of length L whose
    starts are d hours apart share max(0, L - d) + max(0, L - (24 - d)) hours (d folded into 0..12).
    """
    length = end - start
    worst: np.ndarray | None = None
    for season in range(2):
        gap = np.abs(offsets_a[:, season, None] - offsets_b[None, :, season]) % 24.0
        gap = np.minimum(gap, 24.0 - gap)
        shared = np.maximum(0.0, length - gap) + np.maximum(0.0, length - (24.0 - gap))
        worst = shared if worst is None else np.minimum(worst, shared)
    assert worst is not None
    return worst
