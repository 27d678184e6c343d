"""Rules that spot what makes feedback land badly: absolute words, judgments of character, vague claims.

They flag the draft before the model sees it, check the model's rewrite, and build the fallback.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from companion.assistant.models import Change, Flag

ABSOLUTES = (
    "always", "never", "constantly", "every single time", "every time", "all the time", "nothing",
    "no one", "nobody", "everyone", "everybody", "totally", "completely", "forever", "not once", "never once",
    "without fail", "each and every", "keeps happening", "keep happening", "as usual", "as always",
    "like always", "yet again", "time and again", "time after time", "over and over", "again and again",
    "invariably", "without exception",
)  # fmt: skip
CHARACTER = (
    "lazy", "careless", "sloppy", "incompetent", "stupid", "dumb", "rude", "arrogant", "selfish",
    "unprofessional", "hopeless", "useless", "clueless", "disorganized", "disorganised", "irresponsible",
    "immature", "annoying", "difficult person", "bad attitude", "negative attitude", "attitude problem",
    "not a team player", "idiot", "pathetic", "unreliable", "bossy", "condescending", "patronising",
    "patronizing", "aggressive", "abrasive", "dismissive", "controlling", "pushy", "stubborn", "naive",
    "inconsiderate", "thoughtless", "negligent", "toxic", "obnoxious", "entitled", "flaky", "unmotivated",
    "know-it-all", "control freak", "moody", "passive-aggressive", "spineless", "self-centred",
    "self-centered",
)  # fmt: skip
VAGUE = (
    "not good", "bad job", "poor job", "do better", "could be better", "needs to improve", "need to improve",
    "step up", "not great", "unacceptable", "not okay", "not ok", "weird", "off", "meh", "fine I guess",
    "not acceptable", "not up to scratch", "not up to standard", "not up to par", "below par", "subpar",
    "sub-par", "rubbish", "terrible", "awful", "appalling", "dreadful", "horrible", "ridiculous",
    "embarrassing", "disappointing", "shambolic", "ok I guess", "okay I guess", "doesn't feel right",
    "does not feel right", "a joke", "a shambles", "a mess", "a disaster", "a nightmare", "a train wreck",
    "a trainwreck", "a car crash", "a farce", "a letdown", "a let-down", "a waste of time", "a dumpster fire",
)  # fmt: skip
SARCASM = (
    "oh great", "oh brilliant", "oh wonderful", "oh fantastic", "oh perfect", "oh lovely",
    "oh joy", "oh sure", "oh well done", "just great", "just brilliant", "just perfect",
    "yeah right", "thanks for nothing", "thanks a bunch", "what a surprise", "surprise, surprise",
    "big surprise", "how shocking", "slow clap", "what could go wrong", "what could possibly go wrong",
)  # fmt: skip
"""Sure signs of sarcasm. Praise words are sarcastic only beside them or beside a fact that contradicts
them (`ironic_praise`): "another brilliant report with no numbers", "Great, the build is broken"."""
INTENT = (
    "deliberately", "on purpose", "intentionally", "purposely", "purposefully", "you don't care",
    "you do not care", "you don't even care", "you couldn't care less", "you could not care less",
    "can't be bothered", "cannot be bothered", "couldn't be bothered", "could not be bothered",
    "can never be bothered", "could never be bothered",
    "you only care about", "you just want", "trying to lose", "trying to sabotage", "trying to undermine",
    "trying to annoy", "trying to embarrass", "trying to get out of", "trying to make me look",
    "out of spite", "to spite", "just to annoy", "you think you're better", "you think you are better",
)  # fmt: skip
RHETORICAL = (
    "are you even", "are you deliberately", "are you trying", "are you serious", "are you kidding",
    "are you joking", "do you even", "did you even", "do you ever", "do you actually", "did you actually",
    "do you really", "what were you thinking", "how hard is it", "how hard can it be", "how many times",
    "is it too much to ask", "who does that", "why do you", "why did you", "why would you", "why can't you",
    "why won't you", "why don't you ever", "can't you just", "what is wrong with you",
    "what's wrong with you", "seriously",
)  # fmt: skip
"""Openers of an accusing question; a flag only in a sentence that ends with "?"."""
LABELS = (
    "rock star", "rockstar", "superstar", "super star", "you rock", "genius", "legend", "hero", "star",
    "ninja", "wizard", "champ", "gem", "natural", "machine", "lifesaver", "life saver", "the best",
    "the greatest",
)  # fmt: skip
"""Labels for the person ("you're a star"): flagged after "you're (a)", "what a", "such a" (a bare "star" or
"wizard" is often a thing), except the unmistakable "rock star", "superstar" and "you rock"."""
LABEL_ADJECTIVES = ("amazing", "awesome", "incredible", "fantastic", "brilliant", "a-mazing", "the best")
"""Praise of the person as an adjective: a label only right after "you're" / "you are" ("you're amazing");
"what a brilliant idea" praises a thing."""
PRAISE = (
    "amazing job", "awesome job", "great job", "fantastic job", "good job", "nice job", "brilliant job",
    "great work", "good work", "nice work", "amazing work", "awesome work", "brilliant work", "top work",
    "well done", "keep it up", "keep up the good work", "good stuff", "nice one", "great stuff", "bravo",
    "way to go", "thanks a lot", "really helpful", "very helpful", "super helpful", "so helpful",
    "really useful", "very useful", "kudos",
)  # fmt: skip
"""Praise that names no behaviour: a flag ("label") only when the whole text is praise of this kind and
labels, with nothing observed; sarcastic beside a sure sign or a contradicting fact."""

_WHY = {
    "absolute": "absolute words invite an argument about the exceptions; name the specific occasions instead",
    "character": "a judgment of character attacks the person and cannot be acted on; describe the "
    "observable behaviour instead",
    "vague": "a vague verdict gives nothing to act on; say what was observed and what good looks like",
    "sarcasm": "sarcasm says the opposite of what is meant and stings; state the fact plainly",
    "intent": "reading intent ('deliberately', 'you don't care') accuses the person of a motive you cannot "
    "see; describe what you observed and ask what got in the way",
    "rhetorical": "a rhetorical question is an accusation dressed as a question; say what you saw, or ask "
    "an open question you want answered",
    "label": "a label praises the person, not what they did; name what specifically went well so they "
    "can repeat it",
}


def _pattern(phrases: tuple[str, ...]) -> re.Pattern[str]:
    ordered = sorted(phrases, key=len, reverse=True)
    return re.compile(r"\b(" + "|".join(re.escape(p) for p in ordered) + r")\b", re.IGNORECASE)


_INTENSIFIER = r"(?:(?:total|complete|absolute|utter|real|right|bit of an?|complete and utter)\s+)?"
_OFF = (
    "(?:"
    + "|".join(rf"(?<=\b{w} )" for w in ("was", "is", "seems", "seemed", "bit", "of", "felt", "looked"))
    + ")off"
)
""""off" is vague only as a verdict ("it was off", "a bit off"), not in "sign off" or "went off"."""
_VERDICT_NOUNS = [p[2:] for p in VAGUE if p.startswith("a ")]
VAGUE_PATTERN = re.compile(
    r"\b((?:(?:a bit|kind of|sort of|a little|pretty|quite|really|so|very)\s+)?(?:"
    + "|".join(
        _OFF if p == "off" else re.escape(p)
        for p in sorted((p for p in VAGUE if not p.startswith("a ")), key=len, reverse=True)
    )
    + r"|an?\s+"
    + _INTENSIFIER
    + "(?:"
    + "|".join(re.escape(n) for n in sorted(_VERDICT_NOUNS, key=len, reverse=True))
    + r")))\b",
    re.IGNORECASE,
)
_LABEL_BARE = ("rock star", "rockstar", "superstar", "super star", "you rock")
_YOU_ARE = r"you(?:'re| are| were|'ve been| have been)"
_LABEL_RE = re.compile(
    r"\b((?:" + _YOU_ARE + r"|what|such|an absolute|a total|a real)\s+(?:an?\s+)?"
    r"(?:(?:absolute|total|real|true|complete|little)\s+)?(?:"
    + "|".join(re.escape(p) for p in sorted(LABELS, key=len, reverse=True))
    + r")|"
    + _YOU_ARE
    + r"\s+(?:(?:so|really|truly|just|absolutely)\s+)?(?:"
    + "|".join(re.escape(p) for p in LABEL_ADJECTIVES)
    + r")|"
    + "|".join(re.escape(p) for p in _LABEL_BARE)
    + r")\b",
    re.IGNORECASE,
)
_PRAISE_RE = _pattern(PRAISE)
_SARCASM_RE = _pattern(SARCASM)
_PRAISE_WORD = (
    r"(?:brilliant|great|fantastic|wonderful|amazing|stellar|perfect|lovely|superb|excellent|awesome)"
)
_INTERJECTION = re.compile(r"^\s*(?:oh\s+)?(?:" + _PRAISE_WORD + r"|nice|wow|cool|super)\s*[,!.-]+\s*", re.I)
_ANOTHER = re.compile(
    r"\b((?:yet\s+)?another\s+(?:(?:really|truly|simply)\s+)?" + _PRAISE_WORD + r")\b", re.I
)
_NEGATIVE = re.compile(
    r"\b(no|not|without|missing|zero|none|nothing|never|late|again|broken|forgot|forgotten|failed|wrong|"
    r"crashed|lost|empty|down|skipped|ignored|missed|errors?|mistakes?|typos?|bugs?|delayed|overdue)\b|n't\b",
    re.I,
)
_HARMLESS_ABSENCE = re.compile(
    r"\b(?:no|without|zero|not a single|not one)\s+(?:\w+\s+)?(?:downtime|bugs?|errors?|issues?|incidents?|"
    r"complaints?|problems?|mistakes?|defects?|outages?|drama|fuss|hiccups?|typos?|delays?|escalations?)\b",
    re.I,
)


def contradicts(text: str) -> bool:
    """Whether the text holds a fact that contradicts praise ("no numbers", "broken", "late"); "no
    downtime", "without a single bug" do not."""
    return bool(_NEGATIVE.search(_HARMLESS_ABSENCE.sub(" ", text)))


_SENTENCES = re.compile(r"(?<=[.!?])\s+")
_RHETORICAL_RE = re.compile(
    r"^\W*(" + "|".join(re.escape(p) for p in sorted(RHETORICAL, key=len, reverse=True)) + r")\b", re.I
)

_PATTERNS = {
    "absolute": _pattern(ABSOLUTES),
    "character": _pattern(CHARACTER),
    "vague": VAGUE_PATTERN,
    "intent": _pattern(INTENT),
}


def _ironic(opener: re.Match[str], sentence: str) -> bool:
    """A praise interjection followed by a contradicting fact, not by thanks ("Great, thanks for ...")."""
    rest = sentence[opener.end() :]
    return bool(contradicts(rest) and not re.match(r"(?i)(thanks|thank you)\b", rest))


def sentences(text: str) -> list[str]:
    return [s for s in _SENTENCES.split(" ".join(text.split())) if s.strip()]


def sarcastic(text: str) -> bool:
    """Whether the text is sarcastic: a sure sign, a praise interjection before a contradicting fact
    ("Great, the build is broken again"), or "another brilliant X" beside one ("... with no numbers")."""
    if _SARCASM_RE.search(text):
        return True
    for sentence in sentences(text):
        opener = _INTERJECTION.match(sentence)
        if opener and _ironic(opener, sentence):
            return True
        if _ANOTHER.search(sentence) and contradicts(sentence):
            return True
    return False


def ironic_praise(sentence: str, *, draft_sarcastic: bool, after_negative: bool) -> bool:
    """A short praise-only sentence ("Really helpful.", "Thanks a lot.") that is sarcastic: in a sarcastic
    draft, or right after a sentence with a contradicting fact (then only the "helpful"/"thanks" kind;
    "Well done." after a setback is often sincere)."""
    rest = _words_in(_PRAISE_RE.sub("", sentence))
    if not _PRAISE_RE.search(sentence) or rest > 1:
        return False
    if draft_sarcastic:
        return True
    return after_negative and bool(re.search(r"helpful|useful|thanks", sentence, re.I))


def label_only(text: str) -> bool:
    """Praise made only of labels and stock phrases ("You're a rock star! Amazing job!"), nothing observed."""
    if not (_LABEL_RE.search(text) or _PRAISE_RE.search(text)):
        return False
    rest = _PRAISE_RE.sub(" ", _LABEL_RE.sub(" ", text))
    rest = re.sub(
        r"(?i)\b(thanks|thank you|so|really|very|just|again|and|you|your|truly|totally|as|ever|"
        r"always|all|the|an?|for|it|that|this|up|are|is|were|was)\b",
        " ",
        rest,
    )
    return _words_in(rest) == 0


def find_flags(text: str) -> list[Flag]:
    flags: list[Flag] = []
    seen: set[tuple[str, str]] = set()

    def add(kind: str, phrase: str) -> None:
        phrase = " ".join(phrase.lower().split()).strip(" ,")
        if (kind, phrase) not in seen:
            seen.add((kind, phrase))
            flags.append(Flag(kind=kind, phrase=phrase, why=_WHY[kind]))

    for kind, pattern in _PATTERNS.items():
        for match in pattern.finditer(text):
            phrase = match.group(1).lower()
            if kind == "absolute" and phrase == "never" and re.search(r"\bnever\s+mind\b", text, re.I):
                continue
            if kind == "absolute" and re.match(r"\s+else\b", text[match.end() :]):
                continue  # "after everyone else" names a group, it claims nothing about everyone
            add(kind, phrase)
    draft_sarcastic = sarcastic(text)
    if draft_sarcastic:
        for match in _SARCASM_RE.finditer(text):
            add("sarcasm", match.group(1))
    after_negative = False
    for sentence in sentences(text):
        if draft_sarcastic:
            opener = _INTERJECTION.match(sentence)
            if opener and _ironic(opener, sentence):
                add("sarcasm", opener.group(0).strip(" ,!.-"))
            for match in _ANOTHER.finditer(sentence):
                add("sarcasm", match.group(1))
        if ironic_praise(sentence, draft_sarcastic=draft_sarcastic, after_negative=after_negative):
            add("sarcasm", sentence.strip(" .!?"))
        after_negative = contradicts(sentence)
        question = _RHETORICAL_RE.match(sentence)
        if question and sentence.rstrip().endswith("?"):
            add("rhetorical", question.group(1))
    for match in _INTENT_CLAUSE.finditer(text):
        if re.match(r"(?i)you\b", match.group(1)):
            add("intent", match.group(1))
    for match in _LABEL_RE.finditer(text):
        add("label", match.group(1))
    if label_only(text):
        for match in _PRAISE_RE.finditer(text):
            add("label", match.group(1))
    return flags


_INTENT_CLAUSE = re.compile(
    r"\b(you (?:\w+ )?(?:don't|do not|didn't|did not|couldn't|could not)(?: even)? care|you only care|"
    r"you just want|trying to (?:lose|sabotage|undermine|annoy|embarrass|get out of|make me look|avoid)|"
    r"out of spite|to spite|just to annoy|you think you(?:'re| are) better)\b",
    re.I,
)
_INTENT_ADVERB = re.compile(r"\s*\b(deliberately|on purpose|intentionally|purposely|purposefully)\b", re.I)
_BOTHERED = re.compile(r"\b(?:can't|cannot|couldn't|could not|can never|could never) be bothered to\b", re.I)
_IRREGULAR_PAST = {
    "go": "went", "send": "sent", "leave": "left", "tell": "told", "make": "made", "take": "took",
    "say": "said", "come": "came", "forget": "forgot", "write": "wrote", "give": "gave", "buy": "bought",
    "bring": "brought", "think": "thought", "run": "ran", "speak": "spoke", "get": "got", "put": "put",
    "cut": "cut", "let": "let", "set": "set", "shut": "shut", "read": "read", "keep": "kept", "sit": "sat",
    "lose": "lost", "hold": "held", "break": "broke", "choose": "chose", "do": "did", "have": "had",
}  # fmt: skip
_TOPIC_END = re.compile(
    r"\b(?:about|for|with|on|to lose|to)\s+((?:the|your|this|that|our|my|these|those)\s+[\w' -]+?)\s*[?.!]*$",
    re.I,
)


def past(verb: str) -> str:
    """A verb's simple past, roughly: "skip" -> "skipped", "send" -> "sent", "review" -> "reviewed"."""
    lower = verb.lower()
    if lower in _IRREGULAR_PAST:
        return _IRREGULAR_PAST[lower]
    if lower.endswith("e"):
        return lower + "d"
    if re.search(r"[^aeiou]y$", lower):
        return lower[:-1] + "ied"
    if re.search(r"(?:^|[^aeiou])[aeiou][bdgmnprt]$", lower) and len(lower) <= 4:
        return lower + lower[-1] + "ed"
    return lower + "ed"


_WHY_QUESTION = re.compile(
    r"^why (do|did) you (?:always |keep |constantly )?((?!even\b|ever\b|never\b)\w.*?)\s*\?$", re.I
)


@dataclass
class PlainDraft:
    """A draft with the sarcasm, the guesses at intent, the rhetorical questions and the labels taken out:
    what is left is what was observed. `thanks` holds sincere thanks ("Thank you for covering the night
    shift"); `label_only` says the praise named no behaviour at all."""

    text: str
    thanks: list[str]
    label_only: bool
    topics: list[str] = field(default_factory=list)


def plain_draft(draft: str) -> PlainDraft:
    draft = " ".join(draft.split())
    if label_only(draft):
        return PlainDraft(text="", thanks=[], label_only=True)
    ironic = sarcastic(draft)
    kept: list[str] = []
    thanks: list[str] = []
    topics: list[str] = []
    after_negative = False
    for sentence in sentences(draft):
        negative_before, after_negative = after_negative, contradicts(sentence)
        if sentence.rstrip().endswith("?") and _RHETORICAL_RE.match(sentence):
            why = _WHY_QUESTION.match(sentence.strip())
            if why and not _INTENT_CLAUSE.search(why.group(2)):
                verb, _, rest = why.group(2).partition(" ")
                done = f"{past(verb)} {rest}".strip() if why.group(1).lower() == "did" else why.group(2)
                kept.append(f"You {done}.")  # "Why did you skip the tests?" -> "You skipped the tests."
            else:
                _topic_of(sentence, topics)
            continue
        if ironic_praise(sentence, draft_sarcastic=ironic, after_negative=negative_before):
            continue
        if ironic:
            sentence = _SARCASM_RE.sub("", sentence)
            opener = _INTERJECTION.match(sentence)
            if opener and _ironic(opener, sentence):
                sentence = sentence[opener.end() :]
            sentence = _ANOTHER.sub("a", sentence)
        sentence = _BOTHERED.sub("did not", sentence)
        sentence = _INTENT_ADVERB.sub("", sentence)
        if _INTENT_CLAUSE.search(sentence):
            end = sentence[-1] if sentence[-1] in ".!?" else "."
            clauses = re.split(r",\s+|;\s+|\s+(?:and|but)\s+", sentence.rstrip(".!?"))
            for clause in clauses:
                if _INTENT_CLAUSE.search(clause):
                    _topic_of(clause, topics)
            sentence = ", ".join(c for c in clauses if not _INTENT_CLAUSE.search(c)) + end
        star = re.search(
            r"\b" + _YOU_ARE + r"\s+(?:an?\s+)?[\w -]*?\b(for|in|at|with|on|during)\s+(.+)$", sentence, re.I
        )  # "you're a star for covering the shift" -> "Thank you for covering the shift."
        if star and _LABEL_RE.search(sentence[: star.start(1)]):
            what = star.group(2).strip(" .!")
            if star.group(1).lower() == "for":
                thanks.append(f"Thank you for {what}.")
            else:
                thanks.append(f"Thank you for your work {star.group(1).lower()} {what}.")
            sentence = sentence[: star.start()]
        sentence = _LABEL_RE.sub("", sentence)
        sentence = re.sub(r"^[\s,;:!.-]+", "", sentence)
        sentence = re.sub(r"\s+([,;:!?.])", r"\1", re.sub(r"([,;:])(\s*[,;:!?.])+", r"\2", sentence))
        sentence = re.sub(r"\s{2,}", " ", sentence).strip(" ,;:")
        if re.fullmatch(r"(?i)(thanks|thank you)\b.*", sentence):
            thanks.append(sentence if sentence[-1:] in ".!?" else sentence + ".")
            continue
        if _words_in(sentence) >= 2:
            sentence = sentence[0].upper() + sentence[1:]
            kept.append(sentence if sentence[-1] in ".!?" else sentence + ".")
    return PlainDraft(text=" ".join(kept), thanks=thanks, label_only=False, topics=topics)


def _topic_of(text: str, topics: list[str]) -> None:
    """What a dropped accusation was about ("... care less about the patients on ward 3" -> "the patients
    on ward 3"), so the rewrite can still name it."""
    found = _TOPIC_END.search(text)
    if found and found.group(1).lower() not in (t.lower() for t in topics):
        topics.append(found.group(1).strip())


def rewrite_problems(text: str) -> list[str]:
    """Problems that make a rewrite unacceptable: any flagged wording left in (absolute words, judgments of
    character, vague verdicts, sarcasm, read intent, rhetorical questions, labels)."""
    return [f"the rewrite still contains {f.kind} wording: '{f.phrase}'" for f in find_flags(text)]


def changes_for(flags: list[Flag]) -> list[Change]:
    verbs = {"absolute": "Replaced the absolute word", "character": "Removed the judgment",
             "vague": "Replaced the vague verdict", "sarcasm": "Dropped the sarcasm",
             "intent": "Dropped the guess at intent", "rhetorical": "Dropped the rhetorical question",
             "label": "Replaced the label"}  # fmt: skip
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
