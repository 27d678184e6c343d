"""Behaviour kept: a feedback rewrite keeps what the mentor observed (the draft's concrete terms, once
the wording the feedback rules flag is set aside: judgments, absolute words, vague verdicts, sarcasm,
guesses at intent, rhetorical openers, labels)."""

from __future__ import annotations

import re

from companion.assistant.feedback_rules import find_flags
from companion.evaluation.quality._terms import terms

Metric = tuple[float, str]

_GENERIC = terms("you your are was were did does not have has been time times always work next again stop")


def observed_terms(draft: str) -> set[str]:
    """The draft's content terms that describe what happened: not the flagged phrases (removed as phrases,
    so "a waste of time" does not take "time" out of every draft), not pronouns and auxiliaries."""
    text = draft
    for flag in sorted(find_flags(draft), key=lambda f: len(f.phrase), reverse=True):
        text = re.sub(r"\b" + re.escape(flag.phrase) + r"\b", " ", text, flags=re.IGNORECASE)
    text = re.sub(r"[\"']", " ", text)
    return terms(text) - _GENERIC


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
