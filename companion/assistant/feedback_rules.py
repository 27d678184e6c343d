"""Rules that spot what makes feedback land badly: absolute words, judgments of character, vague claims.

They flag the draft before the model sees it, check the model's rewrite, and build the fallback.
"""

from __future__ import annotations

import re

from companion.assistant.models import Change, Flag

ABSOLUTES = (
    "always", "never", "constantly", "every single time", "every time", "all the time", "nothing",
    "no one", "nobody", "everyone", "everybody", "totally", "completely", "forever",
)  # fmt: skip
CHARACTER = (
    "lazy", "careless", "sloppy", "incompetent", "stupid", "dumb", "rude", "arrogant", "selfish",
    "unprofessional", "hopeless", "useless", "clueless", "disorganized", "disorganised", "irresponsible",
    "immature", "annoying", "difficult person", "bad attitude", "negative attitude", "attitude problem",
    "not a team player", "idiot", "pathetic", "unreliable",
)  # fmt: skip
VAGUE = (
    "not good", "bad job", "poor job", "do better", "could be better", "needs to improve", "need to improve",
    "step up", "not great", "unacceptable", "not okay", "not ok", "weird", "off", "meh", "fine I guess",
)  # fmt: skip

_WHY = {
    "absolute": "absolute words invite an argument about the exceptions; name the specific occasions instead",
    "character": "a judgment of character attacks the person and cannot be acted on; describe the "
    "observable behaviour instead",
    "vague": "a vague verdict gives nothing to act on; say what was observed and what good looks like",
}


def _pattern(phrases: tuple[str, ...]) -> re.Pattern[str]:
    ordered = sorted(phrases, key=len, reverse=True)
    return re.compile(r"\b(" + "|".join(re.escape(p) for p in ordered) + r")\b", re.IGNORECASE)


_PATTERNS = {"absolute": _pattern(ABSOLUTES), "character": _pattern(CHARACTER), "vague": _pattern(VAGUE)}


def find_flags(text: str) -> list[Flag]:
    flags: list[Flag] = []
    seen: set[tuple[str, str]] = set()
    for kind, pattern in _PATTERNS.items():
        for match in pattern.finditer(text):
            phrase = match.group(1).lower()
            if (
                kind == "vague"
                and phrase == "off"
                and not re.search(r"\b(seems?|seemed|was|is)\s+off\b", text, re.I)
            ):
                continue  # "off" is vague only as a verdict ("it was off"), not in "sign off"
            if (kind, phrase) not in seen:
                seen.add((kind, phrase))
                flags.append(Flag(kind=kind, phrase=phrase, why=_WHY[kind]))
    return flags


def rewrite_problems(text: str) -> list[str]:
    """Problems that make a rewrite unacceptable: any absolute word or judgment of character left in."""
    return [
        f"the rewrite still contains {f.kind} wording: '{f.phrase}'"
        for f in find_flags(text)
        if f.kind in ("absolute", "character")
    ]


def changes_for(flags: list[Flag]) -> list[Change]:
    verbs = {"absolute": "Replaced the absolute word", "character": "Removed the judgment",
             "vague": "Replaced the vague verdict"}  # fmt: skip
    return [Change(what=f"{verbs[f.kind]} '{f.phrase}'", why=f.why) for f in flags]


_ABSOLUTE_SWAPS = {
    "never": "did not", "nothing": "little", "no one": "few people", "nobody": "few people",
    "everyone": "people", "everybody": "people",
}  # fmt: skip
_DANGLING = re.compile(
    r"\s*\b(you are|you're|he is|she is|they are|it's|it is|that's|that is|frankly|honestly|really|just|very|"
    r"so|and|or|but)\s*(?=[.,;!?]|$)",
    re.IGNORECASE,
)


def strip_flagged(text: str) -> str:
    """The draft as observation only, for the fallback: sentences that are only a vague verdict are dropped,
    clauses judging character cut out, and absolute words softened without turning their meaning around
    ("never" becomes "did not", not nothing)."""
    kept = []
    for sentence in re.split(r"(?<=[.!?])\s+", text.strip()):
        if _PATTERNS["vague"].search(sentence) and _words_in(_PATTERNS["vague"].sub("", sentence)) < 4:
            continue
        clauses = re.split(r",\s+|;\s+|\s+(?:and|but)\s+", sentence.rstrip(".!?"))
        cleaned = ", ".join(c for c in clauses if not _PATTERNS["character"].search(c))
        cleaned = _PATTERNS["absolute"].sub(lambda m: _ABSOLUTE_SWAPS.get(m.group(1).lower(), ""), cleaned)
        for _ in range(3):
            cleaned = _DANGLING.sub("", cleaned)
        cleaned = re.sub(r"\s+([.,;!?])", r"\1", cleaned)
        cleaned = re.sub(r"([.,;!?])(\s*[.,;!?])+", r"\1", cleaned).strip(" ,;")
        if _words_in(cleaned) >= 2:
            cleaned = cleaned[0].upper() + cleaned[1:]
            kept.append(cleaned if cleaned[-1] in ".!?" else cleaned + ".")
    return re.sub(r"\s{2,}", " ", " ".join(kept))


def _words_in(text: str) -> int:
    return len(re.findall(r"[A-Za-z]{2,}", text))
