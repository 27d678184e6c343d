"""No blanks: a draft is never a form with [placeholders] left to fill in."""

from __future__ import annotations

import re
from collections.abc import Sequence

Metric = tuple[float, str]

# a citation marker [1] or [1, 2] is not a blank; "[when and where ...]" or "[...]" is
_BLANK = re.compile(r"\[(?!\s*\d+(?:\s*,\s*\d+)*\s*\])[^\]]*\]|_{3,}|\.\.\.\s*\]|<[a-z ]+>", re.I)


def no_blanks(texts: Sequence[str]) -> Metric:
    found = [m.group(0) for text in texts for m in _BLANK.finditer(text)]
    if found:
        return 0.0, f"{len(found)} blanks left, first: {found[0][:60]}"
    return 1.0, "no placeholders or blanks"
