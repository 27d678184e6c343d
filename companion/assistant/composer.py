"""The grounded composer: every task's answer built without the model, from the user's own input and the
retrieved guidance, in well under a second.

Each `compose_*` is a pure function of (input, grounding, embedder where it ranks text, today where it
dates things) -> draft. The service returns the draft as the answer (`origin: grounded`) unless the policy
calls the model and the model's edit of the draft passes validation. Nothing here quotes a hostile chunk
or a hostile input (`guard.is_hostile`), and no draft is a form with [bracket] blanks.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import date, timedelta
from threading import Event, Lock
from typing import Protocol

import numpy as np

from companion.assistant.feedback_rules import (
    ABSOLUTES,
    CHARACTER,
    VAGUE_PATTERN,
    contradicts,
    find_flags,
    plain_draft,
)
from companion.assistant.feedback_rules import sentences as draft_sentences
from companion.assistant.goal_rules import plan_for, read_aspiration
from companion.assistant.grounding import Grounding
from companion.assistant.guard import is_hostile
from companion.assistant.models import AgendaItem, DraftedGoal
from companion.knowledge.embeddings import TextEmbedder
from companion.knowledge.keyword import tokenize

_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(])")
_WORDS = re.compile(r"[A-Za-z]{2,}")


def _words(text: str) -> int:
    return len(_WORDS.findall(text))


def _plain(text: str) -> str:
    """Markdown inline markup removed: emphasis, code, links."""
    text = re.sub(r"\[([^\]]+)\]\([^)]*\)", r"\1", text)
    text = re.sub(r"(\*\*|__|\*|`)", "", text)
    return " ".join(text.split())


def _sentence(text: str) -> str:
    text = text.strip().rstrip(";,:")
    if not text:
        return text
    text = text[0].upper() + text[1:]
    return text if text[-1] in ".!?" else text + "."


# ---- ask -------------------------------------------------------------------------------------------------


class Encoder(Protocol):
    def encode(self, texts: list[str]) -> np.ndarray: ...


class SentenceVectors:
    """The embedder with a bounded memory of the sentence vectors it made: guide sentences come back in
    request after request, so after the first few only the question is encoded."""

    def __init__(self, embedder: TextEmbedder, *, max_items: int = 50_000) -> None:
        self.embedder = embedder
        self.max_items = max_items
        self._vectors: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = Lock()

    def encode(self, texts: list[str]) -> np.ndarray:
        with self._lock:
            missing = list(dict.fromkeys(t for t in texts if t not in self._vectors))
        if missing:
            fresh = self.embedder.encode(missing)
            with self._lock:
                for text, vector in zip(missing, fresh, strict=True):
                    self._vectors[text] = vector
                while len(self._vectors) > self.max_items:
                    self._vectors.popitem(last=False)
        with self._lock:
            rows = []
            for text in texts:
                vector = self._vectors.get(text)
                if vector is None:  # evicted meanwhile by a concurrent request
                    vector = self.embedder.encode([text])[0]
                self._vectors.move_to_end(text, last=True) if text in self._vectors else None
                rows.append(vector)
        dims = getattr(self.embedder, "dimensions", 0)
        return np.stack(rows) if rows else np.zeros((0, dims), dtype=np.float32)

    def warm(self, texts: list[str], *, stop: Event | None = None, batch: int = 32) -> int:
        """Encode guide sentences ahead of the first request, `batch` at a time, until done or `stop` is
        set (the app stops a warm-up that is still running when it shuts down); returns how many new
        sentences were encoded. The texts go shortest first, so a batch pads little and small batches stay
        fast; a shutdown waits for one batch at most (figures in docs/assistant.md)."""
        with self._lock:
            new = [t for t in dict.fromkeys(texts) if t not in self._vectors]
        new.sort(key=len)  # texts of one length per batch: little padding, so small batches stay fast
        done = 0
        for start in range(0, len(new), batch):
            if stop is not None and stop.is_set():
                break
            part = new[start : start + batch]
            self.encode(part)
            done += len(part)
        return done


@dataclass(frozen=True)
class Candidate:
    """A quotable sentence of chunk `n` (its citation number) with the texts that judge its relevance:
    the sentence under its section heading, and the sentence with its neighbours in the chunk (a sentence
    like "It can follow a simple pattern: ..." only means something beside the one before it)."""

    n: int
    position: int
    text: str
    in_context: str = ""
    windows: tuple[str, ...] = ()

    @property
    def views(self) -> tuple[str, ...]:
        return (self.text, self.in_context or self.text, *(self.windows or (self.text,)))


_TABLE_RULE = re.compile(r"^:?-{2,}:?$")
_LIST_ITEM = re.compile(
    r"^(?:(?:[-*+]|\d+[.)])\s+(?:\[[ xX]\]\s+|[☐☑☒]\s*)?|(?:\[[ xX]\]|[☐☑☒])\s*)"
)  # a bullet, a number, a checkbox ("[ ]", "- [x]", "☐"): "[ ]" quoted would read as an empty citation
_LABEL = re.compile(r"^\*\*([^*]{1,40}?)[.:]\*\*\s+(?=\S)")  # "**Name it.** Raise it ..." leads with a label


def _labelled(line: str) -> str:
    """A line that opens on a bold label keeps the label with its first sentence ("Name it: raise it
    gently ..."), instead of a label too short to quote and a sentence that no longer says what it is."""
    match = _LABEL.match(line)
    if not match:
        return line
    return f"{match.group(1)}: {_lower_first(line[match.end() :])}"


def _table_sentences(lines: list[str]) -> list[str]:
    """A Markdown table as sentences, one per row ("Header: cell; header: cell."). A table whose header
    row is not in the chunk (no rule line) cannot be read reliably, so it is skipped."""
    rows = [[_plain(c) for c in line.strip().strip("|").split("|")] for line in lines]
    rule = next((i for i, r in enumerate(rows) if all(_TABLE_RULE.match(c) or not c for c in r)), None)
    if rule is None or rule == 0:
        return []
    head = rows[rule - 1]
    out = []
    for row in rows[rule + 1 :]:
        pairs = [f"{h}: {c}" if h else c for h, c in zip(head, row, strict=False) if c]
        if pairs:
            out.append(_sentence("; ".join(pairs)))
    return out


def text_units(text: str) -> list[str]:
    """The sentences of a guide chunk: no headings, no table rules, table rows as sentences, and a list
    that follows a line ending in ':' joined to that line ("Winners receive: a lantern; ...") unless that
    makes it too long to quote, when the items stand alone."""
    units: list[str] = []
    for block in re.split(r"\n\s*\n", text):
        raw = [line for line in block.splitlines() if line.strip()]
        lines = [line.strip() for line in raw]
        if not lines:
            continue
        if all(line.startswith("|") for line in lines):
            units.extend(_table_sentences(lines))
            continue
        paragraph: list[str] = []
        items: list[str] = []

        def flush(paragraph: list[str] = paragraph, items: list[str] = items) -> None:
            joined = (units[-1] + " " + "; ".join(i.rstrip(".;?!") for i in items)) if units else ""
            if items and units and units[-1].endswith(":") and len(joined) <= 480:
                units[-1] = _sentence(joined)
            else:
                for item in items:
                    units.extend(_split(item))
            items.clear()
            if paragraph:
                units.extend(_split(" ".join(paragraph)))
                paragraph.clear()

        for original, line in zip(raw, lines, strict=True):
            if line.startswith("#") or line.startswith("|"):
                flush()
                continue
            if items and not _LIST_ITEM.match(line) and (original[:1].isspace() or line[:1].islower()):
                items[-1] = f"{items[-1]} {_plain(line)}"  # an item wrapped onto an indented next line
                continue
            if _LIST_ITEM.match(line):
                if paragraph:
                    units.extend(_split(" ".join(paragraph)))
                    paragraph.clear()
                items.append(_plain(_labelled(_LIST_ITEM.sub("", line))))
            else:
                if items:
                    flush()
                paragraph.append(_labelled(line) if not paragraph else line)
        flush()
    return units


def _split(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE.split(_plain(text)) if s.strip()]


_ABOUT_THE_GUIDE = re.compile(
    r"^(?:this|the|these)\s+(?:guide|guides|page|section|document)\b|^(?:see|read)\s+the\s+guide\b", re.I
)  # a sentence about the document ("This guide explains ...") answers nothing
_SPECIFIC = re.compile(
    r"\d|\b(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|half|once|twice|"
    r"daily|weekly|fortnightly|monthly|quarterly|yearly|annually|hours?|minutes?|days?|weeks?|months?|"
    r"years?|January|February|March|April|May|June|July|August|September|October|November|December|"
    r"Monday|Tuesday|Wednesday|Thursday|Friday)\b",
    re.I,
)  # a count, a duration, a frequency or a date: the concrete detail an answer usually needs
_DANGLING = re.compile(r"(?:They|It|This|These|That|Those|He|She)\b")
RANK_PRIOR = 0.15  # added to a sentence of the chunk ranked n: RANK_PRIOR / n
SPECIFIC_PRIOR = 0.05  # added to a sentence with a count, a duration, a frequency or a date
OVERLAP_WEIGHT = 0.15  # times the share of the question's words the sentence has
ANSWER_SPAN = 2  # sentences after a question line ("Who can apply?") judged beside that question too


def quotable(unit: str) -> bool:
    return (
        _words(unit) >= 4
        and len(unit) <= 480
        and not unit.endswith(("?", ":"))
        and not _ABOUT_THE_GUIDE.match(unit)
    )


def chunk_candidates(text: str, heading: str, n: int = 0) -> list[Candidate]:
    """The quotable sentences of one chunk with their heading context and neighbour windows (computed
    from the chunk alone, so the texts to embed are the same in every request and can be warmed)."""
    every = text_units(text)
    if every and text.lstrip()[:1].islower():
        every = every[1:]  # the chunk opens inside a sentence (an overlap window): that piece is no sentence
    units: list[str] = []
    asked: list[str] = []  # per quotable unit: the question line it answers (a FAQ's first sentences), or ""
    question, since = "", 0
    for unit in every:
        if unit.endswith("?"):
            question, since = unit, 0
        elif quotable(unit):
            units.append(unit)
            asked.append(question if since < ANSWER_SPAN else "")
            since += 1
    section = heading.split(" > ")[-1].strip()
    found = []
    for i, unit in enumerate(units):
        before = units[i - 1] if i > 0 else ""
        after = units[i + 1] if i + 1 < len(units) else ""
        pairs = (f"{before} {unit}", f"{unit} {after}", f"{asked[i]} {unit}" if asked[i] else "")
        windows = tuple(w for w in pairs if w.strip() and w.strip() != unit)
        context = f"{section}: {unit}" if section else unit
        found.append(Candidate(n, i, unit, context, windows))
    return found


def answer_candidates(grounding: Grounding) -> list[Candidate]:
    """The quotable sentences of every chunk that does not talk to the assistant, best-ranked chunk
    first; a sentence already taken from a better chunk is not repeated."""
    hostile = grounding.hostile
    seen: set[str] = set()
    found = []
    for index, chunk in enumerate(grounding.chunks):
        if index in hostile:
            continue  # a chunk that talks to the assistant is never quoted
        for candidate in chunk_candidates(chunk.text, chunk.heading, index + 1):
            key = candidate.text.lower()
            if key in seen:
                continue
            seen.add(key)
            found.append(candidate)
    return found


def answer_views(texts: list[tuple[str, str]]) -> list[str]:
    """Every text the composer embeds for these (chunk text, heading) pairs: what warming encodes."""
    return [view for text, heading in texts for c in chunk_candidates(text, heading) for view in c.views]


def compose_answer(
    question: str,
    grounding: Grounding,
    embedder: Encoder,
    *,
    max_sentences: int = 8,
    diversity: float = 0.2,
    follow: int = 2,
    gap: float = 0.3,
) -> str | None:
    """The guide sentences closest in meaning to the question, chosen by maximal marginal relevance so
    they do not repeat each other, each cited [n]: at most `max_sentences`, none scoring `gap` below the
    best. A sentence's relevance is the mean of the question's similarity with the sentence, with the
    sentence under its heading and with its best window of neighbours, plus a little word overlap, a
    prior for the better-ranked chunk and for a concrete detail (a count, duration or date), minus a
    little for a sentence that opens on a pronoun. The sentence after each of the first `follow` picks
    joins it when still relevant (it usually carries the detail). None when no safe chunk has a quotable
    sentence."""
    scored = score_candidates(question, grounding, embedder)
    if scored is None:
        return None
    candidates, sentence_rows, relevance = scored
    return " ".join(
        _cited(candidates[i].text, candidates[i].n)
        for i in _select(candidates, sentence_rows, relevance, max_sentences, diversity, follow, gap)
    )


def score_candidates(
    question: str, grounding: Grounding, embedder: Encoder
) -> tuple[list[Candidate], np.ndarray, np.ndarray] | None:
    """The pool's quotable sentences, their vectors and their relevance to the question (see
    `compose_answer`); None when no safe chunk has a quotable sentence."""
    candidates = answer_candidates(grounding)
    if not candidates:
        return None
    views = [c.views for c in candidates]
    flat = [v for group in views for v in group]
    vectors = embedder.encode([*flat, question])
    query = vectors[-1]
    scores = vectors[:-1] @ query
    rows = vectors[: len(flat)]
    starts = np.cumsum([0] + [len(g) for g in views])
    sentence_rows = rows[starts[:-1]]
    bounds = zip(starts[:-1], starts[1:], strict=True)  # per candidate: sentence, in context, windows
    similarity = np.array([(scores[a] + scores[a + 1] + scores[a + 2 : b].max()) / 3 for a, b in bounds])
    wanted = set(tokenize(question))
    overlap = np.array(
        [len(wanted & set(tokenize(c.text))) / len(wanted) if wanted else 0.0 for c in candidates]
    )
    rank_prior = np.array([RANK_PRIOR / c.n for c in candidates])
    specific = np.array([SPECIFIC_PRIOR if _SPECIFIC.search(c.text) else 0.0 for c in candidates])
    dangling = np.array([0.05 if _DANGLING.match(c.text) else 0.0 for c in candidates])
    relevance = similarity + OVERLAP_WEIGHT * overlap + rank_prior + specific - dangling
    return candidates, sentence_rows, relevance


def _select(
    candidates: list[Candidate],
    rows: np.ndarray,
    relevance: np.ndarray,
    max_sentences: int,
    diversity: float,
    follow: int,
    gap: float,
) -> list[int]:
    chosen: list[int] = []
    picks = 0
    best = float(relevance.max())
    while len(chosen) < min(max_sentences, len(candidates)):
        redundancy = (rows @ rows[chosen].T).max(axis=1) if chosen else np.zeros(len(candidates))
        mmr = (1 - diversity) * relevance - diversity * redundancy
        mmr[chosen] = -np.inf
        pick = int(np.argmax(mmr))
        if chosen and (relevance[pick] < best - gap or redundancy[pick] > 0.9):
            break
        picks += 1
        chosen.append(pick)
        after = _next_in_chunk(candidates, pick)
        if picks <= follow and after is not None and after not in chosen and len(chosen) < max_sentences:
            if relevance[after] >= best - gap - 0.1:
                chosen.append(after)  # the sentence after a best one usually carries its detail
    return chosen


def _next_in_chunk(candidates: list[Candidate], i: int) -> int | None:
    j = i + 1
    if j < len(candidates) and candidates[j].n == candidates[i].n:
        return j
    return None


def _cited(sentence: str, n: int) -> str:
    """The sentence with its marker before the final stop: "Book early [2]."."""
    text = sentence.rstrip()
    stop = text[-1] if text and text[-1] in ".!?" else "."
    body = text.rstrip(".!?").rstrip()
    if body.endswith(('"', "'", ")")) and stop == ".":
        return f"{body} [{n}]."
    return f"{body} [{n}]{stop}"


# ---- goals -----------------------------------------------------------------------------------------------


def _count(weeks: int) -> int:
    return max(2, min(6, weeks // 3))


def compose_goals(
    *,
    aspiration: str,
    context: str,
    max_goals: int,
    grounding: Grounding,
    today: date,
    horizon: date,
) -> list[DraftedGoal]:
    """SMART goals in the aspiration's own terms: a goal with a measure that fits its kind (a credential,
    a role change, a behaviour in meetings, ...) and a count that fits the horizon, a first milestone at
    the midpoint, and a conversation goal; each goal cites the closest safe guide passage."""
    hostile_input = is_hostile(aspiration)
    read = read_aspiration("make progress on your development goal" if hostile_input else aspiration)
    core = read.core
    weeks = max((horizon - today).days // 7, 2)
    n = _count(weeks)
    midpoint = today + timedelta(days=max((horizon - today).days // 2, 1))
    plan = plan_for(read, n=n, weeks=weeks, horizon=horizon)
    steps = list(plan.steps)
    context_step = _context_step(context)
    if context_step:
        steps = [steps[0], context_step, steps[1]]
    why = f", so that {read.why_own}" if read.why_own else ""
    goals = [
        DraftedGoal(
            statement=_sentence(
                f"{core} by {horizon.isoformat()}{why}, measured by {plan.measure.split(', ')[0]}"
            ),
            measure=_sentence(plan.measure),
            target_date=horizon,
            first_steps=steps[:3],
            citations=grounding.safe_cite("SMART goal specific measurable achievable relevant time-bound"),
        )
    ]
    if max_goals >= 2:
        goals.append(
            DraftedGoal(
                statement=_sentence(f"{plan.milestone} by {midpoint.isoformat()}"),
                measure=_sentence(plan.milestone_measure),
                target_date=midpoint,
                first_steps=[
                    f"Write down what the first milestone on {read.doing} is",
                    f"Book the review for the session closest to {midpoint.isoformat()}",
                ],  # fmt: skip
                citations=grounding.safe_cite("review goals mid-cycle milestone progress"),
            )
        )
    if max_goals >= 3:
        how = read.doing if read.nominal or hostile_input else f"how to {read.act}"
        goals.append(
            DraftedGoal(
                statement=_sentence(
                    f"Learn from 2 colleagues who are good at {read.doing} by {horizon.isoformat()}"
                ),
                measure=_sentence(f"2 conversations about {how}, each with one idea tried afterwards"),
                target_date=horizon,
                first_steps=[
                    "Ask your mentor who does this well and could spare half an hour",
                    "Prepare three questions for the first conversation",
                ],  # fmt: skip
                citations=grounding.safe_cite("network goal people mentee conversation"),
            )
        )
    return goals


def _context_step(context: str) -> str:
    """A first step from the mentee's own context: the situation they named, to start from."""
    text = " ".join(context.split())
    if not text or is_hostile(text) or _words(text) < 3:
        return ""
    first = _SENTENCE.split(text)[0].rstrip(".!?")
    first = re.sub(r"^i\s+", "you ", first, flags=re.I)
    first = re.sub(r"\bmy\b", "your", first, flags=re.I)
    first = re.sub(r"\bI\b", "you", first)
    first = re.sub(r"\bam\b", "are", first)
    return f"Note with your mentor one recent example of this: {first[:90]}"


# ---- feedback --------------------------------------------------------------------------------------------

_BEHAVIOUR_OF = {
    "lazy": "work was not finished when it was agreed",
    "careless": "details were missed that a second look would have caught",
    "sloppy": "there were mistakes that a check would have caught",
    "incompetent": "the work did not meet what was agreed",
    "stupid": "the approach did not work out",
    "dumb": "the approach did not work out",
    "rude": "the tone came across as sharp to others",
    "arrogant": "other people's points were dismissed before they were discussed",
    "selfish": "the team's needs were not taken into account",
    "unprofessional": "this fell short of what the team agreed",
    "hopeless": "progress has stalled",
    "useless": "the work could not be used as it was",
    "clueless": "some of the context was missing",
    "disorganized": "the work was hard for others to follow",
    "disorganised": "the work was hard for others to follow",
    "irresponsible": "a commitment was not kept",
    "immature": "the reaction got in the way of the discussion",
    "annoying": "this disrupted others' work",
    "difficult person": "discussions got stuck",
    "bad attitude": "the reaction got in the way of the work",
    "negative attitude": "the reaction got in the way of the work",
    "attitude problem": "the reaction got in the way of the work",
    "not a team player": "the team was not kept in the loop",
    "idiot": "the approach did not work out",
    "pathetic": "the work fell short of what was agreed",
    "unreliable": "commitments were missed",
    "bossy": "instructions were given without asking for others' views",
    "condescending": "explanations came across as talking down to people",
    "patronising": "explanations came across as talking down to people",
    "patronizing": "explanations came across as talking down to people",
    "aggressive": "the tone came across as forceful",
    "abrasive": "the tone came across as sharp to others",
    "dismissive": "other people's points were set aside without discussion",
    "controlling": "others were not given room to decide",
    "pushy": "others were pressed for an answer before they were ready",
    "stubborn": "other options were not considered",
    "naive": "some risks were not considered",
    "inconsiderate": "other people's needs were not taken into account",
    "thoughtless": "other people's needs were not taken into account",
    "negligent": "a step that was agreed was skipped",
    "toxic": "the way things were said hurt the team",
    "obnoxious": "the behaviour disrupted others",
    "entitled": "the team's agreements were not followed",
    "flaky": "commitments were missed",
    "unmotivated": "work was not started when it was agreed",
    "know-it-all": "other people's points were dismissed before they were discussed",
    "control freak": "others were not given room to decide",
    "moody": "the reaction got in the way of the discussion",
    "passive-aggressive": "concerns were hinted at rather than said directly",
    "spineless": "a concern was not raised when it mattered",
    "self-centred": "the team's needs were not taken into account",
    "self-centered": "the team's needs were not taken into account",
}
_ABSOLUTE = re.compile(
    r"\b(" + "|".join(sorted(map(re.escape, ABSOLUTES), key=len, reverse=True)) + r")\b", re.I
)
_CHARACTER = re.compile(
    r"\b(" + "|".join(sorted(map(re.escape, CHARACTER), key=len, reverse=True)) + r")\b", re.I
)
_VAGUE = VAGUE_PATTERN  # with "a total mess", "a bit off": the verdict nouns take an intensifier
_EVENT = (
    r"(?:meeting|review|call|session|demo|standup|stand-up|retro\w*|presentation|workshop|sync|1:1|"
    r"one-on-one|planning|handover|hand-over|briefing|interview|shift|round|audit|count|check-in|huddle|"
    r"offsite|off-site|kick-off|kickoff|pitch|launch|outage|incident)s?"
)
_PHRASE_WORD = (
    r"(?!(?:you|we|I|he|she|they|it|and|but|so|which|who|that|because|when|while|until|unless|since|before|"
    r"after|if|as|then|was|were|is|are|had|has|did|could|would|will|can|should)\b)[\w'-]+"
)  # a word of a time or place phrase: never the subject or the verb of the clause that follows it
_SITUATION = re.compile(
    r"\b((?:yesterday|today|last (?:week|month|sprint|quarter))'s(?:\s+"
    + _PHRASE_WORD
    + r"){0,3}?(?:\s+"
    + _EVENT
    + r")+|yesterday|today|tonight|this (?:morning|afternoon|evening|week)|"
    r"last (?:night|week|month|time|sprint|quarter)|"
    r"on (?:mon|tue|wed|thu|fri|sat|sun)\w*(?: (?:morning|afternoon|evening|night))?|"
    r"in (?:(?:the|our|your|this|last|yesterday's|today's|[A-Z]\w*'s) )?(?:"
    + _PHRASE_WORD
    + r" ){0,4}?"
    + _EVENT
    + r"(?:\s+"
    + _EVENT
    + r")*|"
    r"(?:during|at the)(?:\s+" + _PHRASE_WORD + r"){1,8}|"
    r"(?:mon|tues|wednes|thurs|fri)day(?:'s(?:\s+" + _PHRASE_WORD + r"){0,3}?(?:\s+" + _EVENT + r")+)?|"
    r"standup|stand-up|"
    r"\b\d{1,2} (?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)\w*)",
    re.I,
)
_LONGER = re.compile(r"(?:during|at the)(?:\s+" + _PHRASE_WORD + r"){9}", re.I)
_PREPOSITION = re.compile(r"(?i)^(?:in|on|at|during|with|for|of|about|after|before|from|to|over|by)$")
_DETERMINER = re.compile(r"(?i)^(?:the|a|an|our|your|my|his|her|their|this|that|these|those)$")


def _phrase_end(words: list[str]) -> int:
    """How many of a time or place phrase's words belong to it: it ends where a second noun phrase starts
    ("during the demo | the client asked"), never inside one ("the status page", "Tuesday's planning
    meeting")."""
    for i in range(1, len(words)):
        before, word = words[i - 1], words[i]
        after_noun = before.islower() and not (_PREPOSITION.match(before) or _DETERMINER.match(before))
        if after_noun and (_DETERMINER.match(word) or (word[:1].isupper() and word != "I")):
            return i
    return len(words)


def _find_situation(text: str) -> str:
    """The time or place phrase of the draft, whole: "In Tuesday's planning meeting", "During the outage on
    Friday", "Yesterday in the client demo" (adjacent pieces are joined)."""
    found = _SITUATION.search(text)
    if not found:
        return ""
    start, end = found.span()
    while True:
        more = _SITUATION.match(text, end + 1) if text[end : end + 1] == " " else None
        if not more or more.end() <= end + 1:
            break
        end = more.end()
    words = text[start:end].split()
    longer = _LONGER.match(text, start)
    if longer and longer.end() > end:  # cut by the word limit:
        cut = max((i for i, w in enumerate(words) if i > 1 and _PREPOSITION.match(w)), default=0)
        words = words[:cut]  # back off to before its last preposition ("during our sync | with the ...")
    return " ".join(words[: _phrase_end(words)]).strip(" ,;:")


_IMPACT = re.compile(
    r"\b(because|so that|which meant|that meant|meant that|as a result|caus\w+|result\w*|impact\w*|affect\w*|"
    r"delay\w*|had to|lost|missed the|slipped|confus\w+|blocked|frustrat\w+|cost|customers?|ran out|rework|"
    r"the team (?:was|were|had))\b",
    re.I,
)
_SWAPS = (
    (
        r"\bnot once\s+(.*?)\b(?:have|has|did)\s+(you|he|she|they)\s+(\w+)",
        lambda m: f"{m.group(1)}{m.group(2)} did not {_base(m.group(3))}",
    ),  # fmt: skip
    (r"\b(not once|never once)\b", lambda m: "not"),
    (r"\b(keeps?|kept) (?:on )?happening\b", lambda m: "has happened more than once"),
    (r"\b(time and again|time after time|over and over|again and again)\b", lambda m: "more than once"),
    (r"\beach and every\b", lambda m: "each"),
    (r"\binvariably\b", lambda m: "often"),
    (r"\s*\b(without fail|without exception|as usual|as always|like always|yet again)\b,?", lambda m: ""),
    (r"\byou(?:'ve| have)? never\s+(\w+)", lambda m: f"you did not {_base(m.group(1))}"),
    (r"\bnever\b", lambda m: "did not"),
    (r"\byou(?: are|'re) always ([^,;]+)", lambda m: f"you were {m.group(1)} several times"),
    (r"\byou always\s+(\w+)", lambda m: f"you {m.group(1)} several times"),
    (r"\b(every single time|every time|all the time|constantly|always)\b", lambda m: "several times"),
    (r"\b(no one|nobody)\b", lambda m: "some people"),
    (r"\b(everyone|everybody)\b", lambda m: "people"),
    (r"\bnothing\b", lambda m: "little"),
    (r"\b(totally|completely)\s+", lambda m: ""),
    (r"\bforever\b", lambda m: "a long time"),
)


def _base(verb: str) -> str:
    """A verb's base form, roughly: "checks" -> "check", "checked" -> "check", "updated" -> "update",
    "summarised" -> "summarise", "skipped" -> "skip"."""
    lower = verb.lower()
    if lower.endswith("ed") and not lower.endswith("eed") and len(lower) > 3:
        return _stem_of_past(lower[:-2])
    for suffix, repl in (("ies", "y"), ("es", ""), ("s", "")):
        if lower.endswith(suffix) and len(lower) > len(suffix) + 2 and lower not in ("does", "has", "is"):
            return lower[: -len(suffix)] + repl
    return lower


def _stem_of_past(stem: str) -> str:
    """The base behind a past tense's stem: a doubled consonant is undone ("skipp" -> "skip"), a silent "e"
    put back where English spells one ("updat" -> "update", "shar" -> "share", "handl" -> "handle")."""
    if stem.endswith("i"):
        return stem[:-1] + "y"  # "tried" -> "try"
    if re.search(r"([bdgmnprt])\1$", stem) and not stem.endswith("dd"):
        return stem[:-1]  # "skipped", "planned", "submitted"
    if stem.endswith("ell"):
        return stem[:-1]  # "cancelled", "labelled"
    silent_e = (
        r"(?:[cvzu]|[^s]s|[aiou]r|[aiu]t|ot|let|[^aeiou][aiou][dkmpb]|[^aeiou]in|ag|ang|rg|[^aeiou]u?l)$"
    )
    keeps = r"(?:[aeiou]{2}[trn]|ll|focus|visit|edit|exit|limit|credit|profit|benefit|audit|vomit)$"
    if stem.endswith("creat") or (re.search(silent_e, stem) and not re.search(keeps, stem)):
        return stem + "e"
    return stem


@dataclass
class FeedbackDraft:
    rewritten: str
    situation: str
    behaviour: str
    impact: str
    next_step: str
    questions: list[str] = field(default_factory=list)


def _soften(sentence: str) -> str:
    for pattern, repl in _SWAPS:
        sentence = re.sub(pattern, repl, sentence, flags=re.I)
    return sentence


def _as_behaviour(sentence: str) -> str:
    """A character judgment turned into the behaviour behind it: "your report was sloppy" -> "in your
    report, there were mistakes that a check would have caught"."""
    match = _CHARACTER.search(sentence)
    if not match:
        return sentence
    after = sentence[match.end() :]
    noun = re.match(
        r"\s+(mistake|error|bug|idea|question|comment|change|decision|choice|slip)\b", after, re.I
    )
    if noun:  # "a stupid mistake with X": the judgment is the adjective, the observation is the rest
        return " ".join(f"{sentence[: match.start()]}{after}".split())
    about = re.match(r"\s+(?:at|about|with|in|on)\s+(.+)$", after, re.I)
    if about and _SITUATION.fullmatch(about.group(0).strip(" .!?")):
        about = None  # "sloppy on Tuesday night": a time, not what it was about
    behaviour = _BEHAVIOUR_OF.get(match.group(1).lower(), "what happened got in the way of the work")
    when = re.match(r"\s+((?:when|whenever|while)\s+.+)$", after, re.I)
    if when:  # "aggressive when you push back" -> "when you push back, the tone came across as forceful"
        return f"{when.group(1).strip()}, {behaviour}"
    if about:
        topic = re.sub(r"\s+(anything|everything|things)$", "", about.group(1).strip(), flags=re.I)
        return f"with {topic}, {behaviour}"
    before = sentence[: match.start()]
    subject = re.search(
        r"\b(your|the|this|that|his|her|their)\s+([\w' -]{2,40}?)\s+(?:was|is|were|are|looked|seemed|felt)\b",
        before,
        re.I,
    )
    if subject and not re.search(r"(?i)\byou\b", subject.group(2)):  # not "in the demo you, ..."
        return f"in {subject.group(1).lower()} {subject.group(2)}, {behaviour}"
    return behaviour


_PERSONAL = re.compile(
    r"\b(young|old|older|younger|age[ds]?|woman|women|girl|lady|female|male|accent|part-timers?|mothers?|"
    r"fathers?|pregnan\w*|emotional|smile|people like you|someone like you|religio\w*|race|disabilit\w*|"
    r"foreigners?|native speakers?)\b",
    re.I,
)  # personal characteristics are not behaviour: such clauses are dropped, never rewritten
_PERSONAL_PHRASE = re.compile(
    r"\b(?:for|as)\s+an?\s+(?:young|old|older|younger|woman|girl|lady|man|foreigner|part-timer|mother|father)"
    r"(?:\s+(?:person|engineer|employee|colleague))?\b,?|\b(?:surprisingly|quite)\s+",
    re.I,
)
_TOPIC_AT_END = re.compile(
    r"\b(?:for|to|with|on|in|about)\s+((?:the|your|an?|new)\s+)?([\w-]+(?:\s+[\w-]+){0,3})$", re.I
)
_CLAUSE = re.compile(r",\s+|;\s+|\s+(?:and|but)\s+", re.I)
_OTHERS = re.compile(r"\b(no one|nobody|everyone|everybody|people think|people say)\b", re.I)
_VERB_FIRST = re.compile(
    r"^(?:did not|didn't|do not|don't|never|always|keep|kept|forgot|forget|missed|miss|"
    r"interrupt\w*|ignor\w*|skipp?\w*|finish\w*|check\w*)\b",
    re.I,
)


_PRAISE_WORDS = (
    r"(?:great|good|nice|excellent|solid|brilliant|fantastic|amazing|awesome|superb|lovely|wonderful)"
)
_PRAISE_CLAUSE = re.compile(
    r"(?i)\s*(?:(?:what|such) an?|(?:yet\s+)?another)\s+" + _PRAISE_WORDS + r"\b|"
    r"\s*" + _PRAISE_WORDS + r"\s+(?:job|work|idea|call|catch|question|point|effort|save)\b|"
    r"\s*well done\b|\s*(?:thanks|thank you)\b"
)
_WHEN = re.compile(
    r"\b(?:today|yesterday|this (?:morning|afternoon|week|month|quarter|sprint|term|year)|"
    r"(?:last|next) (?:week|month|quarter|sprint|term|year))\b",
    re.I,
)
_COPULA = r"was|is|are|were|looks?|looked|seems?|seemed|feels?|felt|could|should"
_VERB = re.compile(
    r"\b(was|were|is|are|am|had|has|have|did|do|does|made|went|came|said|got|took|gave|left|kept|paid|"
    r"\w+ed)\b",
    re.I,
)


def _observations(draft: str) -> tuple[list[str], bool]:
    """The draft's clauses as observations (softened, judgments turned into behaviour), and whether it
    ended in a vague verdict."""
    kept: list[str] = []
    personal: list[str] = []
    verdict = False
    plain = plain_draft(draft)  # sarcasm, guesses at intent, rhetorical questions and labels taken out
    kept.extend("praise: " + t.rstrip(".") for t in plain.thanks)
    for sentence in _SENTENCE.split(plain.text):
        sentence = sentence.strip()
        if not sentence:
            continue
        if _NEXT_STEP.match(sentence) and _words(sentence) >= 4 and _well_formed(sentence):
            kept.append("step: " + sentence)  # the draft's own request ("Could you add ...?") is kept whole
            continue
        if _VAGUE.search(sentence) and _words(_VAGUE.sub("", sentence)) < 4:
            verdict = True
            topic = re.search(
                r"\b(your|the|this|that|those|these)\s+((?:(?!" + _COPULA + r"\b)[\w-]+\s+){0,2}"
                r"(?!" + _COPULA + r"\b)[\w-]+)",
                sentence,
                re.I,
            )
            if topic and not _VAGUE.search(topic.group(0)):
                kept.append(f"topic: {topic.group(1).lower()} {topic.group(2)}")
            continue
        sentence_personal = False
        for clause in _CLAUSE.split(sentence.rstrip(".!?")):
            if _PRAISE_CLAUSE.match(clause):
                kept.append("praise: " + clause.strip())
                continue
            clause = _PERSONAL_PHRASE.sub("", clause).strip(" ,")
            if _PERSONAL.search(clause):
                personal.append(clause)
                sentence_personal = True
                topic = _TOPIC_AT_END.search(clause)
                if topic:
                    kept.append(f"topic: {(topic.group(1) or '').lower()}{topic.group(2)}")
                continue
            if _OTHERS.search(clause) and not _CHARACTER.search(clause):
                continue  # "nobody likes it" speaks for others and names no behaviour
            effect = bool(
                re.match(
                    r"(?i)\s*(?:so|which|that meant|meaning|(?:that|this|it) (?:saved|helped|meant|made|gave|"
                    r"cut|kept|reduced|let|allowed|caused|cost))\b",
                    clause,
                )
            )
            if effect:
                clause = re.sub(r"(?i)^\s*(?:that|this)\b", "it", clause)
            if effect and sentence_personal:
                continue  # a conclusion drawn from a personal characteristic goes with it
            clause = re.sub(
                r"^(?:honestly|frankly|really|and|but|so|also|which)\b[, ]*", "", clause.strip(), flags=re.I
            )
            clause = re.sub(
                r"\b(?:again|clearly|obviously|just|frankly|honestly)\b\s*", "", clause, flags=re.I
            )
            if _CHARACTER.search(clause):
                clause = _as_behaviour(clause)
            if _VAGUE.search(clause):
                verdict = True
                clause = _VAGUE.sub("", clause)
                stub = re.fullmatch(
                    r"(?i)(?:(.*?)\s+)?(?:" + _COPULA + r")\b(.*)", clause.strip(" ,.")
                )  # "your emails are [a joke]": the verdict was the whole claim; its subject is the topic
                if stub and _words(stub.group(2)) <= 3:
                    subject = re.search(r"(?i)\b(?:your|the|this|that|those|these)\b.*", stub.group(1) or "")
                    when = _WHEN.search(stub.group(2))  # "your demo was [a bit off] today": keep "today"
                    about = subject.group(0) if subject else ("your work" if when else "")
                    if about:
                        kept.append(
                            "topic: " + _lower_first(f"{about} {when.group(0) if when else ''}".strip())
                        )
                    continue
            if _VERB_FIRST.match(clause):
                clause = "you " + clause
            clause = _soften(clause)
            clause = re.sub(r"\b(stop being|don't be|do not be)\b.*$", "", clause, flags=re.I)
            clause = re.sub(r"\s{2,}", " ", clause).strip(" ,;")
            if _words(clause) >= 2 and clause.lower() not in (k.lower() for k in kept):
                kept.append(("effect: " if effect else "") + clause)
    observed = [k for k in kept if not k.startswith(("topic: ", "praise: ", "step: "))]
    praised = any(k.startswith("praise: ") for k in kept)
    kept.extend("about: " + t for t in plain.topics)  # what a dropped accusation was about, last
    return kept, verdict or bool(personal and not observed) or bool(
        not observed and plain.topics and not praised
    )


def _request_from(observations: list[str]) -> str:
    """A concrete request built from what was observed: "you did not check your numbers" -> "check your
    numbers before you share the work"."""
    for obs in observations:
        negative = re.search(
            r"\b(?:you\s+)?(?:did not|didn't|do not|don't|does not|failed to)\s+(.+)", obs, re.I
        )
        if negative:
            return _second_person(negative.group(1))
    for obs in observations:
        missing = re.search(r"\bwith(?:out| no)\s+(?:any\s+)?(.+?)(?:\s+in it)?$", obs, re.I)
        if (
            missing
            and contradicts(missing.group(0))
            and not any(b in obs for b in _BEHAVIOUR_OF.values())
            and _words(missing.group(1)) <= 4
        ):
            what = _second_person(missing.group(1))
            return f"include {what}" if " " in what or what.endswith("s") else f"include a {what}"
    for obs in observations:
        late = re.search(r"\blate\b", obs, re.I)
        if late:
            return "be on time, or send a short note beforehand when you cannot be"
    for obs in observations:
        if "mistakes that a check" in obs or "details were missed" in obs:
            return "do one check of the details before you share the work"
    for obs in observations:
        if re.search(r"\binterrupt", obs, re.I):
            return "let people finish their point before you come in"
    return "agree with me one specific thing to try differently"


def _lower_first(text: str) -> str:
    return text if re.match(r"^[A-Z]{2}|^I\b", text) else text[:1].lower() + text[1:]


def _drop_phrase(text: str, phrase: str) -> str:
    """`text` without the situation phrase it repeats ("in yesterday's review you ..." -> "you ...")."""
    lowered = phrase.lower()
    if not re.match(r"(in|on|at|during|yesterday|today|last|this)\b", lowered):
        return text  # a bare noun ("standup") is part of the sentence, not a lead-in
    at = text.lower().find(lowered)
    if at < 0 or _words(text) - _words(phrase) < 2:
        return text
    return " ".join(f"{text[:at]} {text[at + len(phrase) :]}".split()).strip(" ,")


def _situation_lead(situation: str) -> str:
    """The situation as the opening of the first sentence: "In yesterday's review, ..."."""
    text = situation.strip().rstrip(".")
    if re.match(r"(?i)(in|on|at|during|yesterday|today|last|this|when|after|before)\b", text):
        return text[:1].upper() + text[1:] + ", "
    if re.fullmatch(r"(?i)(?:mon|tues|wednes|thurs|fri|satur|sun)day", text):
        return f"On {text}, "
    if re.fullmatch(r"(?i)stand-?ups?|\w+day", text):
        return f"At {text}, "
    return f"About {_lower_first(text)}: "


def _second_person(phrase: str) -> str:
    phrase = phrase.strip().rstrip(".")
    phrase = re.sub(r"\b(his|her|their)\b", "your", phrase, flags=re.I)
    return phrase


_NOT_A_SITUATION = re.compile(
    r"(?i)^(?:in (?:future|the future|general|short|fact|particular|my (?:view|opinion)|hindsight|total|"
    r"summary|practice|theory|the end)|on (?:balance|the whole|the other hand|reflection|average|top of)|"
    r"at (?:first|times|least|last|the moment|the end of the day|some point|all)|after all|before that|"
    r"in (?:the|your|my) (?:work|code|report|email|message|notes|plan|document|doc)s?\b)\b"
)
_LEAD = re.compile(
    r"(?i)^(?:(?:yesterday|today|tonight|earlier today|this (?:morning|afternoon|evening|week)|"
    r"last (?:night|week|month|sprint|quarter|term))\b|(?:in|on|at|during|over)\s)"
)
_LEAD_CLAUSE = re.compile(r"(?i)^(?:when|while|after|before|once|as soon as)\s+[^,;]{3,80},\s")
_FINITE = re.compile(r"(?i)^(?:was|were|is|are|had|has|have|did|does|went|came|got|made|felt|seemed)$")


def _lead_phrase(sentence: str) -> str:
    """The time or place phrase a sentence opens with, whole ("In Tuesday's planning meeting", "Yesterday
    in the client demo", "When the client pushed back on price"), or "" when it opens with none. It ends at
    a comma, before the subject ("you", "we", ...) or where a second noun phrase starts."""
    clause = _LEAD_CLAUSE.match(sentence)
    if clause:
        return clause.group(0).rstrip(", ")
    if not _LEAD.match(sentence) or _NOT_A_SITUATION.match(sentence):
        return ""
    words = sentence.split()
    taken: list[str] = []
    for word in words[:12]:
        bare = word.strip(',;:.!?"()')
        if taken and re.fullmatch(r"(?i)you|we|I|he|she|they|it|there|everyone", bare):
            break
        if _FINITE.match(bare):
            return ""  # a clause ("In the end it was ..."), not a phrase
        taken.append(bare)
        if word[-1:] in ",;:":
            break
    else:
        if len(words) > 12 or len(taken) == len(words):
            return ""
    taken = taken[: _phrase_end(taken)]
    if len(taken) < 2 and not re.fullmatch(r"(?i)yesterday|today|tonight", taken[0] if taken else ""):
        return ""
    rest = sentence.split(None, len(taken))[len(taken) :]
    if not rest or _words(rest[0]) < 2:
        return ""
    return " ".join(taken)


_NEXT_STEP = re.compile(
    r"(?i)^(?:(?:so|and|but|then|also|now)[, ]+)?(?:"
    r"next time|going forward|in (?:the )?future|from now on|for the next|next (?:week|month|sprint|quarter)|"
    r"(?:could|can|would|will) you|(?:could|can|shall) we|please|let's|let us|keep\b|try\b|remember|"
    r"consider|make sure|carry on|do keep|i'd (?:like|love) you to|i would (?:like|love) you to|"
    r"i'd (?:suggest|recommend)|i (?:suggest|recommend)|my suggestion|it would help if|how about|what if|"
    r"maybe|perhaps|(?:add|share|send|write|bring|put|use|ask|tell|show|book|schedule|include|take|give|plan|"
    r"set|start|aim|talk|loop|post|note|document|record|invite|prepare|pair|teach|run|lead|present|walk)\s+"
    r"(?:the|a|an|your|our|this|that|it|them|me|us|him|her|up|in|with|to|more|some|those|these|\w+ing)\b)"
)
"""The draft's own next step: a request ("Next time, could you ...?", "Could you add ...?"), a suggestion
("Let's add that to the runbook.") or encouragement ("Keep doing that."), or an imperative ("Share the
summary beforehand.")."""
_AGENT = (
    r"(?:I|we|she|he|they|it|this|that|everyone|customers|clients|people|the (?:[\w'-]+\s+){0,3}?[\w'-]+|"
    r"(?:one|two|three|four|five|six|several|some|most|all|both|many|a few|\d+)(?:\s+of\s+(?:them|us|the\s+"
    r"[\w'-]+)|\s+[\w'-]+)?|"
    r"our (?:[\w'-]+\s+){0,2}?[\w'-]+|[A-Z][a-z]+)"
)
_CLAUSE_VERB = (
    r"(?:\w+ed|was|were|is|are|had|has|did|didn't|could|couldn't|can|can't|would|will|won't|wasn't|weren't|"
    r"got|went|came|told|said|left|made|felt|saw|"
    r"knew|gave|took|kept|thought|found|began|ran|won|lost|met|heard|stopped|started|now)"
)
_EFFECT_SPLIT = re.compile(
    r";\s+|,?\s+(?=which\b|so that\b|meaning\b|as a result\b)|,\s+(?=so\b)|"
    r"\s+(?=so (?:" + _AGENT + r")\s+" + _CLAUSE_VERB + r"\b)|"
    r",?\s+(?=and (?:as a result |so )?(?:" + _AGENT + r")\s+" + _CLAUSE_VERB + r"\b)|"
    r",\s+(?=(?:it|this|that) (?:saved|helped|meant|made|gave|cut|kept|reduced|let|allowed|caused|cost)\b)"
)
"""Where an effect clause starts: "; customers told us ...", ", which helped ...", ", so I could ...",
"and she left the room upset" (another subject and its verb); a plain comma or "and" inside a list or a
noun phrase is never a boundary."""
_EFFECT_LEAD = re.compile(
    r"(?i)^(?:which|so that|so|meaning|as a result|and as a result|and so|and|because of (?:this|that))"
    r"\b,?\s*"
)
_OWN_SUBJECT = re.compile(r"(?i)^(?:and\s+|but\s+|then\s+)?(?:you\b|your\b|thank|thanks|well done|i noticed)")
_SETBACK = re.compile(
    r"(?i)\b(?:did not|didn't|do not|don't|does not|doesn't|was not|wasn't|were not|weren't|could not|"
    r"couldn't|had not|hadn't|forgot|forgotten|missed|skipped|ignored|interrupt\w*|talked over|spoke over|"
    r"cut (?:\w+ )?off|left (?:\w+ )?out|(?:was|were|arrived|came|turned up|ran) late|"
    r"late (?:to|for|with|again)|without|no|none|(?<!the )(?<!an )(?<!a )upset|confus\w+|frustrat\w+|"
    r"complained|complaining|complaints? about|struggl\w*|rushed|blocked|worried|angry|"
    r"annoyed|from memory|had to|waited|lost|delayed|overdue|wrong|broken|broke|failed|errors?|mistakes?|"
    r"typos?|rework|redo|escalat\w+|paged|woken|stopped (?:\w+ing)|too (?:long|late|short|much|many|fast))\b"
)
"""A sign that the draft is about something to change (what went wrong, or its cost); a draft with none
is praise and closes with encouragement, not with a request for change."""
_NO_HARM = re.compile(
    r"(?i)\b(?:no|zero|without|not a single|not one|none of the)\s+(?:\w+\s+){0,3}?(?:downtime|bugs?|errors?|"
    r"issues?|incidents?|complaints?|problems?|mistakes?|defects?|outages?|delays?|escalations?|questions?|"
    r"quer(?:y|ies)|tickets?|calls?|surprises?|fuss|drama|rework)\b"
)


def _effect_text(clause: str) -> str:
    """An effect clause as a sentence of its own: "which helped us decide" -> "this helped us decide",
    "so I could see them first" -> "I could see them first"."""
    text = clause.strip(" ,;")
    if re.match(r"(?i)which\b", text):
        return "this" + text[5:]
    return _EFFECT_LEAD.sub("", text) or text


def _well_formed(draft: str) -> bool:
    """A draft that is already good feedback: nothing the rules flag, no personal characteristic, no claim
    about what others think; it is kept as written."""
    return (
        _words(draft) >= 3
        and not find_flags(draft)
        and not _PERSONAL.search(draft)
        and not _PERSONAL_PHRASE.search(draft)
        and not _OTHERS.search(re.sub(r"(?i)\b(?:everyone|everybody) else\b", "", draft))
    )


def _kept_draft(draft: str, *, context: str, situation: str, impact: str) -> FeedbackDraft:
    """A draft that is already good feedback (nothing flagged): its sentences are kept as written, and
    situation, behaviour, impact and next step are recognised on sentence and clause boundaries. Only a
    part the draft lacks is added (an answer the mentor gave, or a closing next step) or asked about."""
    kept = [_sentence(s) for s in draft_sentences(draft)]
    lead = next((p for p in map(_lead_phrase, kept) if p), "") or _find_situation(draft)
    behaviour: list[str] = []
    effects: list[str] = []
    steps: list[str] = []
    step_at = len(kept)
    for i, sentence in enumerate(kept):
        if _NEXT_STEP.match(sentence):
            steps.append(sentence)
            step_at = min(step_at, i)
            continue
        if re.fullmatch(r"(?i)(?:thanks|thank you)(?: (?:so much|again|very much))?[.!]", sentence):
            continue  # a closing "Thank you." stays in the rewrite; it is not the behaviour
        body = sentence.rstrip(".!?")
        own = _lead_phrase(body)
        if own:
            body = body[len(own) :].strip(" ,")
        for n, clause in enumerate(c for c in _EFFECT_SPLIT.split(body) if c and c.strip(" ,;")):
            starts_effect = bool(_EFFECT_LEAD.match(clause)) and n > 0
            other_subject = not _OWN_SUBJECT.match(clause) and (n > 0 or bool(behaviour))
            if (starts_effect or other_subject) and (behaviour or n > 0):
                effects.append(_effect_text(clause))
            else:
                behaviour.append(clause.strip(" ,;"))
    situation = situation or lead or (context.rstrip(".") if context else "")
    impact = impact or (effects[0] if effects else "")
    done = " ".join(behaviour + effects)  # the situation ("when the reader failed") is no setback of theirs
    praise = not _SETBACK.search(_NO_HARM.sub(" ", done))
    request = _KEEP_GOING if praise else _request_from([_soften(b) for b in behaviour])
    next_step = " ".join(steps) if steps else _sentence(request if praise else f"Next time, {request}")
    rewritten = list(kept)
    if impact and not effects:  # the mentor's answer to "what effect did it have?"
        rewritten.insert(step_at, _sentence(f"The effect was that {_lower_first(impact)}"))
    if (
        situation
        and not lead
        and rewritten
        and re.match(r"(?i)(in|on|at|during|yesterday|today|last|this|when|after|before)\b", situation)
    ):  # the mentor's answer to "when and where?" opens the first sentence
        rewritten[0] = _situation_lead(situation) + _lower_first(rewritten[0])
    if not steps:  # a closing next step: encouragement after praise, a request otherwise
        rewritten.append(
            next_step if praise else _sentence(f"Next time, could you {request}? I'm glad to help with it")
        )
    questions = []
    if not situation:
        questions.append("When and where did this happen (which meeting, task or day)?")
    if not impact:
        questions.append("What effect did it have on the work, the team or the people involved?")
    if not behaviour:
        questions.append("What exactly did you see or hear the person do?")
    return FeedbackDraft(
        rewritten=" ".join(rewritten),
        situation=_sentence(situation) if situation else "",
        behaviour=" ".join(_sentence(b) for b in behaviour),
        impact=_sentence(impact) if impact else "",
        next_step=next_step,
        questions=questions,
    )


def compose_feedback(
    *, draft: str, context: str = "", situation: str = "", impact: str = ""
) -> FeedbackDraft:
    """The mentor's own sentences rewritten: absolute words softened, a judgment of character replaced
    by the behaviour behind it, a vague verdict turned into a concrete request, and what was observed
    kept. A missing situation or impact becomes a question for the mentor, never a blank."""
    context = "" if is_hostile(context) else " ".join(context.split())
    situation = "" if is_hostile(situation) else " ".join(situation.split()).rstrip(".")
    impact = "" if is_hostile(impact) else " ".join(impact.split()).rstrip(".")
    if is_hostile(draft):
        observations: list[str] = []
        verdict = False
    elif plain_draft(draft).label_only:
        return _thanks_only(situation=situation or context)
    elif _well_formed(draft):
        return _kept_draft(" ".join(draft.split()), context=context, situation=situation, impact=impact)
    else:
        observations, verdict = _observations(draft)
    if not situation:
        found = _find_situation(f"{context} {draft}")
        if context:
            situation = context.rstrip(".")
        elif found:
            situation = found
    topics = [o.removeprefix("topic: ") for o in observations if o.startswith("topic: ")]
    praise = [o.removeprefix("praise: ") for o in observations if o.startswith("praise: ")]
    abouts = [o.removeprefix("about: ") for o in observations if o.startswith("about: ")]
    steps = [_sentence(o.removeprefix("step: ")) for o in observations if o.startswith("step: ")]
    observations = [o for o in observations if not o.startswith(("topic: ", "praise: ", "about: ", "step: "))]
    effects = [o.removeprefix("effect: ") for o in observations if o.startswith("effect: ")]
    observations = [o for o in observations if not o.startswith("effect: ")]
    if not impact and effects:
        impact = effects[0]
    if not impact and len(observations) > 1:  # the only observation is the behaviour, not its effect
        for obs in observations:
            if _IMPACT.search(obs):
                impact = obs
                break
    observed = [o for o in observations if o != impact]
    generic = set(_BEHAVIOUR_OF.values())
    if any(o not in generic for o in observed):
        observed = [o for o in observed if o not in generic]  # the concrete observation says more
    if situation:
        observed = [_drop_phrase(o, situation) for o in observed]
    behaviour = "; ".join(observed) if observed else ""
    request = _request_from(observed + observations)
    if request.startswith("agree with me") and topics:
        request = f"agree with me one specific thing to change in {topics[0]}"
    praise_only = bool(praise) and not observed and not verdict
    if praise_only:
        request = _KEEP_GOING
    questions = []
    if not situation:
        questions.append("When and where did this happen (which meeting, task or day)?")
    if not impact:
        questions.append("What effect did it have on the work, the team or the people involved?")
    if not behaviour and not praise_only:
        questions.append("What exactly did you see or hear the person do?")
    parts = []
    lead = _situation_lead(situation) if situation else ""
    if behaviour:
        # "I noticed a status report with no numbers in it": a noun phrase takes no "that"
        that = "" if re.match(r"(?i)(an?|the)\b", behaviour) and not _VERB.search(observed[0]) else "that "
        parts.append(_sentence(f"{lead}I noticed {that}{_lower_first(behaviour)}"))
    elif verdict:
        about = (topics + abouts + ["how the work went"])[0]
        parts.append(_sentence(f"{lead}I would like to talk about {about}"))
    elif lead and not praise_only:
        parts.append(_sentence(lead.rstrip(", ")))
    if behaviour and verdict and topics and topics[0].lower() not in behaviour.lower():
        # the verdict's subject ("the rota was a shambles") still says what this is about
        noticed = parts[0].replace(lead, "", 1) if lead else parts[0]
        parts[0] = noticed[:1].upper() + noticed[1:]
        parts.insert(0, _sentence(f"{lead}I would like to talk about {topics[0]}"))
    if impact:
        parts.append(_sentence(f"The effect was that {impact[:1].lower() + impact[1:]}"))
    if steps:  # the draft's own next step closes the rewrite, no generic request is added
        parts.extend(steps)
    elif praise_only:
        parts.append(_sentence(f"Next time, {request}"))
    else:
        parts.append(_sentence(f"Next time, could you {request}? I'm glad to help with it"))
    parts[:0] = [_sentence(p) for p in praise]
    return FeedbackDraft(
        rewritten=" ".join(parts),
        situation=_sentence(situation) if situation else "",
        behaviour=_sentence(behaviour) if behaviour else "",
        impact=_sentence(impact) if impact else "",
        next_step=" ".join(steps) if steps else _sentence(f"Next time, {request}"),
        questions=questions,
    )


_KEEP_GOING = "keep doing what worked, and tell me what helped most so we can share it with the team"


def _thanks_only(*, situation: str) -> FeedbackDraft:
    """Praise that is only a label ("You're a rock star!"): the thanks is kept, the label is not quoted, and
    the mentor is asked what specifically went well, so the praise can name it."""
    situation = "" if is_hostile(situation) else " ".join(situation.split()).rstrip(".")
    lead = f"{_situation_lead(situation)}thank you" if situation else "Thank you"
    next_step = _KEEP_GOING
    return FeedbackDraft(
        rewritten=f"{_sentence(lead + ', I really appreciate your work')} "
        f"{_sentence('Next time, ' + next_step)}",
        situation=_sentence(situation) if situation else "",
        behaviour="",
        impact="",
        next_step=_sentence(f"Next time, {next_step}"),
        questions=[
            "What specifically did the person do well (which task, meeting or moment)?",
            "What difference did it make to the work, the team or the people involved?",
        ],
    )


# ---- agenda ----------------------------------------------------------------------------------------------

_BLOCKER = re.compile(
    r"\b(still|unsure|not sure|stuck|blocked|block\w*|couldn't|could not|didn't|did not|not yet|waiting|"
    r"struggl\w*|hard|difficult|problem|issue|worried|behind|slipp\w*|no time|haven't|have not)\b",
    re.I,
)


def blockers_in(notes: str) -> list[str]:
    """The clauses of the last notes that name something stuck, unsure or not done."""
    if not notes or is_hostile(notes):
        return []
    found = []
    for sentence in _SENTENCE.split(" ".join(notes.split())):
        for clause in re.split(r";\s+|,\s+but\s+|\s+but\s+", sentence.rstrip(".!?")):
            clause = clause.strip(" ,")
            if _BLOCKER.search(clause) and _words(clause) >= 3:
                found.append(clause[:1].upper() + clause[1:])
    return found[:3]


def fit_minutes(weights: list[float], total: int) -> list[int]:
    """Whole minutes proportional to `weights`, each at least 1, adding up to exactly `total`
    (largest-remainder rounding)."""
    n = len(weights)
    if n == 0:
        return []
    if total < n:
        raise ValueError("fewer minutes than items")
    positive = [max(w, 0.0) for w in weights]
    scale = sum(positive) or float(n)
    spare = total - n  # every item gets 1 minute, the rest is shared by weight
    shares = [(w if sum(positive) else 1.0) / scale * spare for w in positive]
    minutes = [1 + int(s) for s in shares]
    order = sorted(range(n), key=lambda i: (-(shares[i] - int(shares[i])), i))
    for i in order[: total - sum(minutes)]:
        minutes[i] += 1
    return minutes


def _clip(text: str, limit: int) -> str:
    """`text` cut to at most `limit` characters at a word boundary, with an ellipsis when cut."""
    text = text.strip()
    if len(text) <= limit:
        return text
    cut = text[: limit - 1].rsplit(" ", 1)[0].rstrip(" ,;:.-")
    return cut + "…"


def compose_agenda(
    *, goals: list[str], notes: str, length: int, grounding: Grounding
) -> tuple[list[AgendaItem], list[str]]:
    """A time-boxed agenda in the GROW order that names the goals and the blockers of the last notes;
    the minutes add up to the session length."""
    goals = [g for g in goals if not is_hostile(g)]  # never quote text addressed to the assistant
    blockers = blockers_in(notes)
    plan: list[tuple[str, float, str]] = [
        ("Check-in and wins since last time", 1.0, "Share what went well since you last met.")
    ]
    if notes and not is_hostile(notes):
        plan.append(("Review actions from last session", 1.5,
                     "Go through the actions agreed last time: done, in progress or blocked."))  # fmt: skip
    for goal in goals[:3]:
        plan.append((f"Goal: {_clip(goal, 60)}", 4.0 / min(len(goals), 3),
                     f"Where things stand on '{_clip(goal, 80)}' and the next step toward it."))  # fmt: skip
    for blocker in blockers[:2]:
        plan.append((f"Work through: {_clip(blocker, 60)}", 2.0 / min(len(blockers), 2),
                     f"Find options for what the notes say is open: {_clip(blocker, 100)}."))  # fmt: skip
    if not goals:
        plan.append(("Clarify goals for this cycle", 4.0, "Agree on one to three SMART goals to work on."))
    plan.append(("Options and way forward", 1.5, "Explore options for the next steps and choose one to try."))
    plan.append(("Commitments and close", 1.0, "Agree who does what before the next session."))
    while len(plan) > length // 3 and len(plan) > 2:
        plan.pop(-2)
    minutes = fit_minutes([w for _, w, _ in plan], length)
    items = [
        AgendaItem(title=t, minutes=m, purpose=p, citations=grounding.safe_cite(f"session agenda {t} {p}"))
        for (t, _, p), m in zip(plan, minutes, strict=True)
    ]
    questions = [
        f"What is the smallest next step on '{g[:60]}', and what might get in the way?" for g in goals[:2]
    ]
    questions.extend(f"What would help with this: {b[:80]}?" for b in blockers[:1])
    if notes and not blockers:
        questions.append("Which actions from last time did I finish, and what did I learn from the others?")
    questions.append("What support would help me most before our next session?")
    return items, questions[:4]
