"""Behaviour kept: a feedback rewrite keeps what the mentor observed (the draft's concrete terms, once
the judgments, absolute words and vague verdicts are set aside)."""

from __future__ import annotations

import re

from companion.assistant.feedback_rules import ABSOLUTES, CHARACTER, VAGUE
from companion.evaluation.quality._terms import terms

Metric = tuple[float, str]

_JUDGED = terms(" ".join((*ABSOLUTES, *CHARACTER, *VAGUE)))
_GENERIC = terms("you your are was were did does not have has been time times always work next again stop")


def observed_terms(draft: str) -> set[str]:
    """The draft's content terms that describe what happened: not the judgment words, not pronouns and
    auxiliaries."""
    text = re.sub(r"[\"']", " ", draft)
    return terms(text) - _JUDGED - _GENERIC


def behaviour_kept(draft: str, rewrite: str, *, threshold: float = 0.5) -> Metric:
    """1 when the rewrite holds at least `threshold` of the draft's observed terms (or the draft has none);
    otherwise the share held, naming what was lost."""
    wanted = observed_terms(draft)
    if not wanted:
        return 1.0, "the draft names no concrete behaviour to keep"
    kept = wanted & terms(rewrite)
    share = len(kept) / len(wanted)
    reason = f"{len(kept)}/{len(wanted)} observed terms kept"
    lost = sorted(wanted - kept)
    if share >= threshold:
        return 1.0, reason
    return round(share, 4), reason + f"; lost: {', '.join(lost[:6])}"
