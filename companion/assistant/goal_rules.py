"""Reading an aspiration for the goals composer: what it is about, and a measure that fits its kind.

`read_aspiration` cuts the aspiration into the action the goal is about (without "I want to", a purpose
clause or a time phrase), its verb (phrasal verbs kept whole: "speak up", "hand over"), the object or
place the measure counts, where the mentee is now ("from X into Y") and why ("so I ..."), all in the
second person. `plan_for` picks the kind (credential, promotion, role change, delegating, speaking up in
meetings, presenting, writing, leading, networking, hard conversations, habits, time, a number to move,
understanding, learning, helping someone grow) by rule and builds grammatical measures and steps from
those parts. Nothing here is tuned to particular aspirations: each rule is about a kind of sentence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

GENERIC = "your development goal"

_CHATTER = re.compile(r"^(?:(?:ok(?:ay)?|so|well|basically|honestly|um+|hi|hey|right|and)\b[,\s]*)+", re.I)
_WANT = re.compile(
    r"^(?:i\s+(?:really\s+|would\s+really\s+)?(?:want|would like|'d like|would love|'d love|wish|hope|"
    r"need|plan|aim|intend|am trying|am hoping|am going|have)(?:\s+to)?|i'm\s+(?:trying|hoping|going)\s+to|"
    r"i'd\s+(?:really\s+)?(?:like|love)\s+to|my\s+(?:goal|aim|plan|wish)\s+is(?:\s+to)?|help\s+me(?:\s+to)?|"
    r"i\s+(?:want|would like)|to)\s+",
    re.I,
)
# "get better at", "be more good at", "become confident (in)", "build confidence to", "get comfortable"
_IMPROVING = re.compile(
    r"^(?:(?:get|getting|become|be|feel|grow|am)\s+(?:(?:a\s+lot|much|more|a\s+bit)\s+)?"
    r"(?:better|good|confident|comfortable|calmer|stronger|fluent|more\s+\w+|\w+er)|build\s+(?:up\s+)?(?:my\s+)?"
    r"confidence|improve\s+(?:at|in)|work\s+on)(?:\s+(?:at|in|with|when(?:\s+i)?|about|to|for|on))?\s+",
    re.I,
)
_LEARN_TO = re.compile(r"^(?:learn|learning)\s+(?:how\s+)?to\s+", re.I)
_PURPOSE = re.compile(
    r",?\s+(?:so\s+that|so\s+as\s+to|in\s+order\s+to|to\s+be\s+able\s+to|"
    r"so(?=\s+(?:i|we|my|our|it|the|they|you|people|others|there|this)\b))\s+",
    re.I,
)
_CLAUSE = re.compile(
    r"\s*[,;:(]\s+|\s*[.!?]\s+|\s+(?:because|since|as\s+i|which|but\s+i|and\s+i|and\s+it|though)\b", re.I
)
_TIME = re.compile(
    r"\s+(?:(?:by|before|within|in|during)\s+(?:the\s+end\s+of\s+)?)?(?:(?:next|this|the)\s+)"
    r"(?:year|quarter|month|summer|spring|autumn|fall|winter|review(?:\s+cycle)?)\b.*$|"
    r"\s+(?:soon|asap|this\s+year|next\s+year)$",
    re.I,
)
_CONTRAST = re.compile(r"\s+(?:instead\s+of|rather\s+than)\b.*$", re.I)
_ASK = re.compile(
    r"\b(?:wants?|needs?|would\s+like|'d\s+like|hopes?|asked|expects?)\s+(?:me\s+)?to\s+(\w.*)", re.I
)
_LINKS = frozenset("from to into with in on at for my your our the a an".split())
_VERBS = frozenset(
    "speak talk present write lead listen manage negotiate explain plan run ask say give handle deal "
    "work use read "
    "build make take delegate prioritise prioritize organise organize coach mentor teach train estimate "
    "sell answer stay keep stop start say delegate chair facilitate share push stand hand "
    "follow "
    "pitch network meet connect finish complete".split()
)
_PARTICLES = "up|over|out|off|back|down|through|forward|on|in|across|around"
_PHRASAL = re.compile(
    rf"^(speak|hand|step|follow|push|stand|set|take|sign|pick|carry|turn|hold|put|check|reach|call|sort|shut|"
    rf"look|open|chip|wind|back|catch|point|pass|give|let)\s+({_PARTICLES})\b"
    rf"(?!\s+(?:the|a|an|my|our)\s+\w+\s+"
    rf"(?:of|from))",
    re.I,
)
_ADVERB = re.compile(
    r"\s+(?:more|less|better|calmly|clearly|confidently|reliably|effectively|regularly|often|properly|"
    r"well|earlier|faster|quickly|consistently|more\s+\w+ly|more\s+often)\b",
    re.I,
)
_MANNER = re.compile(
    r"\s+(without\s+.+|calmly|confidently|clearly|reliably|on\s+time|inside\s+out|in\s+depth|properly|"
    r"more\s+\w+ly)$",
    re.I,
)
_ROLE_HEAD = re.compile(
    r"(?<!ment)(?:er|or|ist|ant|agent|student|president|resident|intendent|ian|ive|lead|nurse|chef|head|officer|coach|partner|owner|clerk|agent|"
    r"specialist|tutor|pilot|captain|foreman|inspector|sergeant|surgeon|doctor|midwife|paramedic|steward|"
    r"chair|principal|dean|associate|apprentice|intern|medic|admin|rep|hand|crew|staff)s?$",
    re.I,
)
_PREP = re.compile(r"\s+(?:on|in|at|for|of|with|to|from|within|across|outside|about|into)\s+", re.I)


def _second_person(text: str) -> str:
    """First person to second: "my team" -> "your team", "I can" -> "you can", "myself" -> "yourself"."""
    out = re.sub(r"\bmyself\b", "yourself", text, flags=re.I)
    out = re.sub(r"\bI'm\b|\bI am\b", "you are", out, flags=re.I)
    out = re.sub(r"\bI've\b", "you have", out, flags=re.I)
    out = re.sub(r"\b(?:my|our)\b", "your", out, flags=re.I)
    out = re.sub(r"\b(?:me|us)\b", "you", out, flags=re.I)
    out = re.sub(r"\bI\b|\bwe\b", "you", out, flags=re.I)
    return re.sub(r"\bmine\b", "yours", out, flags=re.I)


def article(phrase: str) -> str:
    """ "a" or "an" for a noun phrase, by its first sound in the common cases."""
    word = phrase.split()[0].lower() if phrase.split() else ""
    if re.match(r"(?:hour|honest|honou?r|heir)", word):
        return "an"
    if re.match(r"(?:uni|use|usu|eu|one\b|once)", word):
        return "a"
    if word.isupper() and len(word) > 1:  # an SQL course, an MBA
        return "an" if word[0] in "AEFHILMNORSX" else "a"
    return "an" if word[:1] in "aeiou" else "a"


def plural_word(word: str) -> str:
    lower = word.lower()
    if re.search(r"(?:s|ss|sh|ch|x|z)$", lower) and not lower.endswith("ss") and lower.endswith("s"):
        return word  # already plural
    if re.search(r"(?:ss|sh|ch|x|z)$", lower):
        return word + "es"
    if re.search(r"[^aeiou]y$", lower):
        return word[:-1] + "ies"
    if lower.endswith("man"):
        return word[:-3] + "men"
    return word + "s"


def plural(phrase: str) -> str:
    """The phrase with its head noun (the word before the first preposition) in the plural."""
    head, sep, tail = _split_head(phrase)
    words = head.split()
    if not words:
        return phrase
    words[-1] = f"{words[-1]} sessions" if words[-1].lower() in _MASS_ING else plural_word(words[-1])
    return " ".join(words) + sep + tail


_MASS_ING = frozenset("planning training coaching mentoring onboarding grooming teaching testing".split())


def singular(phrase: str) -> str:
    """The phrase with its head noun in the singular: "design documents" -> "design document"."""
    head, sep, tail = _split_head(phrase)
    words = head.split()
    if not words:
        return phrase
    last = words[-1]
    low = last.lower()
    if re.search(r"[^aeiou]ies$", low):
        last = last[:-3] + "y"
    elif re.search(r"(?:ches|shes|sses|xes|zes)$", low):
        last = last[:-2]
    elif low.endswith("men") and len(low) > 4:
        last = last[:-3] + "man"
    elif low.endswith("s") and not low.endswith(("ss", "us", "is")):
        last = last[:-1]
    words[-1] = f"{last} session" if last.lower() in _MASS_ING else last
    return " ".join(words) + sep + tail


def _split_head(phrase: str) -> tuple[str, str, str]:
    match = _PREP.search(phrase)
    if not match:
        return phrase, "", ""
    return phrase[: match.start()], match.group(0), phrase[match.end() :]


def _bare(phrase: str) -> str:
    """A noun phrase without determiner or comparative: "my first clearer design doc" -> "design doc"."""
    out = re.sub(
        r"^(?:(?:a|an|one|the|my|your|our|their|some|more|better|first(?!\s+aid)|own|new|enough)\s+)+",
        "",
        phrase,
        flags=re.I,
    )
    out = (
        re.sub(r"^(?:\w+er|more\s+\w+)\s+(?=\w+\s+\w+)", "", out)
        if re.match(
            r"(?:clearer|better|shorter|"
            r"simpler|stronger|more)\b",
            out,
            re.I,
        )
        else out
    )
    return out.strip()


def gerund(verb: str) -> str:
    """ "speak" -> "speaking", "delegate" -> "delegating", "run" -> "running" (first word only)."""
    first, _, rest = verb.partition(" ")
    low = first.lower()
    if low.endswith("ing") and len(low) > 5:
        word = first
    elif low.endswith("ie"):
        word = first[:-2] + "ying"
    elif low.endswith("e") and not low.endswith(("ee", "ye", "oe")) and len(low) > 2:
        word = first[:-1] + "ing"
    elif re.fullmatch(r"[^aeiou]*[aeiou][^aeiouwxy]", low) and len(low) <= 4:
        word = first + first[-1] + "ing"
    else:
        word = first + "ing"
    pair = re.match(r"(and|or)\s+(\w+)\b(.*)$", rest)
    if (
        pair
        and not pair.group(2).lower().endswith("ing")
        and pair.group(2).lower() not in {"the", "a", "an", "my", "your", "our"}
    ):
        rest = f"{pair.group(1)} {gerund(pair.group(2))}{pair.group(3)}"
    return f"{word} {rest}".strip()


_KEEP_NO_E = frozenset(
    "edit visit limit listen open offer gather answer consider deliver develop budget target "
    "market benefit exhibit credit audit profit orbit".split()
)


def base_form(word: str) -> str:
    """ "prioritising" -> "prioritise", "running" -> "run", "saying" -> "say", "handling" -> "handle"."""
    low = word.lower()
    if not low.endswith("ing") or len(low) <= 5:
        return word
    stem = word[:-3]
    s = stem.lower()
    if re.search(r"([^aeiouls])\1$", s):
        return stem[:-1]
    if s in _KEEP_NO_E:
        return stem
    if re.search(r"[^e]at$|ut$", s) and len(s) > 3:
        return stem + "e"  # negotiating, delegating, executing
    if re.search(r"(?:[bcdfgkptz]l|[nr]c|[ae]ng|v|u|[^aeiou][aeiou][^aeiouwxy]|[aeiou]s|iz|ss)$", s) and not (
        re.search(r"(?:en|er|on|el|om|ow)$", s) and len(s) > 3
    ):
        if re.search(r"(?:ss|[^aeiou]ng)$", s) and not re.search(r"[ae]ng$", s):
            return stem
        return stem + "e"
    return stem


@dataclass(frozen=True)
class Aspiration:
    """An aspiration read for the composer. `core` is the action in the mentee's own words (first person,
    for the statement); `act` the same action in the second person without manner or contrast; `verb`
    its verb ("speak up"); `rest` what follows the verb; `why` the purpose ("you stop working weekends")."""

    core: str
    why_own: str
    act: str
    verb: str
    rest: str
    why: str
    improving: bool
    noun: bool = False

    @property
    def nominal(self) -> bool:
        """The action is a noun phrase ("promotion", "Excel pivot tables"), not a verb phrase."""
        return self.noun

    @property
    def doing(self) -> str:
        """The action as a noun phrase: "speaking up in meetings with the client"."""
        if not self.act:
            return GENERIC
        if self.nominal:
            suffix = re.match(r"\w+(?:tion|sion|ment|ness|ship|ity|ism)s?\b", self.act, re.I)
            return f"working towards {self.act}" if suffix else self.act  # "promotion" is not a verb
        if self.verb in {"start", "begin"} and self.rest.split()[:1] and self.rest.split()[0].endswith("ing"):
            return self.rest
        if (
            self.verb in {"stop", "quit", "avoid"}
            and self.rest.split()[:1]
            and self.rest.split()[0].endswith("ing")
        ):
            return f"not {self.rest}"
        return gerund(self.act)


def _cut_clauses(text: str) -> tuple[str, str, str]:
    """The first clause (the aspiration proper) and the purpose, if a "so I ..." / "because" clause."""
    why = ""
    purpose = _PURPOSE.search(text)
    clause = _CLAUSE.search(text)
    if purpose and clause and clause.start() < purpose.start():
        purpose = None
    if purpose and _words(text[: purpose.start()]) >= 1:
        why = text[purpose.end() :]
        text = text[: purpose.start()]
        why = _CLAUSE.split(why)[0]
        why = re.sub(r"^(?:that\s+)?", "", why, flags=re.I)
        if not re.match(r"(?:i|we|my|our|it|the|they|you|people|others|he|she|there|this)\b", why, re.I):
            why = "you can " + why  # "so as to answer ..." -> "you can answer ..."
    enough = re.match(r"^(.*?\benough\s+.+?)\s+to\s+(\w.+)$", text, re.I)
    if enough and not why:
        text, why = enough.group(1), "you can " + enough.group(2)
    text = _CLAUSE.split(text)[0]
    own = why.strip(" ,.;")
    own = re.sub(r"^you can\b", "I can", own)
    return text.strip(" ,.;"), _second_person(own), own


def _words(text: str) -> int:
    return len(re.findall(r"[A-Za-z]{2,}", text))


def read_aspiration(aspiration: str) -> Aspiration:
    text = " ".join(aspiration.strip().rstrip(".!?").split())
    if _words(text) > 20:  # a story: the part that says what they want or are asked to do
        asked = _ASK.search(text)
        if asked:
            text = asked.group(1)
    for _ in range(3):
        text = _WANT.sub("", _CHATTER.sub("", text)).strip()
    text = re.sub(r"\s+(?:plz|pls|please|thx|thanks|lol)\b", "", text, flags=re.I)
    text = re.sub(r"\bmore good\b", "better", text, flags=re.I)
    text, why, why_own = _cut_clauses(text)
    text = _TIME.sub("", text).strip(" ,.")
    text = (
        re.sub(
            r"^(.*?\b(?:at|in|with)\s+)"
            r"(speak|talk|present|write|lead|listen|manage|negotiate|explain|plan)\b",
            lambda m: m.group(1) + gerund(m.group(2)),
            text,
            count=1,
            flags=re.I,
        )
        if _IMPROVING.match(text)
        else text
    )
    core = text[:1].upper() + text[1:] if text else "Make progress on " + GENERIC
    improving = False
    stripped = _IMPROVING.sub("", text, count=1)
    if stripped != text and _words(stripped) >= 1:
        text, improving = stripped, True
    act = _CONTRAST.sub("", text)
    act = re.sub(r"\s+(?:for\s+the\s+first\s+time|myself|on\s+my\s+own|by\s+myself)\b", "", act, flags=re.I)
    learn = _LEARN_TO.match(act)
    if learn and _words(act[learn.end() :]) >= 1:
        act, improving = act[learn.end() :], True
    words = act.split()
    if words and words[0].lower().endswith("ing") and len(words[0]) > 5:
        words[0] = base_form(words[0])
    if (
        words
        and not (words[0].isupper() and len(words[0]) > 1)
        and (not improving or words[0].lower() in _VERBS or words[0].lower().endswith("ing"))
    ):
        words[0] = words[0].lower()
    act = _second_person(" ".join(words))
    phrasal = _PHRASAL.match(act)
    if phrasal:
        verb = f"{phrasal.group(1)} {phrasal.group(2)}".lower()
        rest = act[phrasal.end() :]
    else:
        verb, _, rest = act.partition(" ")
        verb = verb.lower()
    rest = rest.strip()
    first = act.split()[0].lower() if act.split() else ""
    second = act.split()[1].lower() if len(act.split()) > 1 else ""
    noun = bool(re.fullmatch(r"\w+(?:tion|sion|ment|ness|ship|ity|ism)s?", first)) and second not in _LINKS
    noun = noun or (improving and not first.endswith("ing") and first not in _VERBS and not phrasal)
    return Aspiration(
        core=core[:160],
        why_own=why_own[:120],
        noun=noun,
        act=act.strip()[:160],
        verb=verb,
        rest=rest[:140],
        why=why[:120],
        improving=improving,
    )


# ---- kinds ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    """The measure, two first steps, a midpoint milestone and its measure, for one aspiration."""

    measure: str
    steps: tuple[str, str]
    milestone: str
    milestone_measure: str


def _target(a: Aspiration) -> tuple[str, str] | None:
    """ "move from X into Y", "switch to Y", "become a Y", "get into Y": (Y, X)."""
    moved = re.match(
        r"^(?:move|moving|switch|transition|pivot|change|go|get|break|step|"
        r"make\s+the\s+(?:move|switch|jump))\w*(?:\s+(?:careers?|jobs?|roles?|teams?))?"
        r"(?:\s+from\s+(?P<origin>.+?))?\s+(?:in)?to\s+(?P<target>.+)$",
        a.act,
        re.I,
    )
    pattern = r"(?:full|part)-?time|remote|hybrid|nights|days|flexi\w*|home"  # a way of working, not a role
    if (
        moved
        and (moved.group("origin") or a.verb in {"move", "switch", "transition", "pivot", "change", "break"})
        and not re.match(pattern, _role_name(moved.group("target")), re.I)
    ):
        target = moved.group("target").strip()
        kept = re.match(r"the\s+", target, re.I) and not _is_role(_role_name(target))
        name = "the " + _role_name(target) if kept else _role_name(target)
        return name, _role_name(moved.group("origin") or "")
    applied = re.match(r"^apply\s+for\s+(?:(?:a|an|the)\s+)?(?P<target>.+)$", a.act, re.I)
    if applied and _is_role(_role_name(applied.group("target"))):
        return _role_name(applied.group("target")), ""
    become = re.match(r"^become\s+(?P<article>(?:a|an|the)\s+)?(?P<target>.+)$", a.act, re.I)
    if (
        become
        and not re.match(r"(?:more|less|better|worse|\w+er\s+\w+er)\b", become.group("target"))
        and not re.match(
            r"(?:more|less|better|confident|comfortable|good|known|fluent)\b", become.group("target")
        )
        and not re.search(r"\b(?:go-to|expert|person|authority|known)\b", become.group("target"), re.I)
        and (become.group("article") or _is_role(_role_name(become.group("target"))))
    ):
        return _role_name(become.group("target")), ""
    return None


def _role_name(phrase: str) -> str:
    out = re.sub(r"^(?:become|becoming|be)\s+", "", phrase.strip(), flags=re.I)
    out = re.sub(r"^(?:(?:a|an|the|your|my)\s+)+", "", out, flags=re.I)
    out = re.sub(r"\s+(?:role|job|position|post|track)\b", "", out, flags=re.I)
    out = re.sub(r"^(?:role|job|position)\s+(?:as|of)\s+(?:(?:a|an)\s+)?", "", out, flags=re.I)
    return out.strip(" ,.")


def _is_role(name: str) -> bool:
    head = _split_head(name)[0].split()
    return (
        bool(head) and bool(_ROLE_HEAD.search(head[-1])) and not head[-1].lower().endswith(("ment", "ments"))
    )


def _people(name: str) -> str:
    """Who to talk to: "charge nurses on your ward", "people who work in hospital management"."""
    return plural(name) if _is_role(name) else f"people who work in {name}"


def _someone(name: str) -> str:
    return f"{article(name)} {name}" if _is_role(name) else f"someone who works in {name}"


def _where_now(origin: str) -> str:
    if not origin:
        return "now"
    return f"as {article(origin)} {origin}" if _is_role(origin) else f"in {origin}"


def _role_label(name: str) -> str:
    if not _is_role(name):
        return name
    head, sep, tail = _split_head(name)
    return f"the {head} role{sep}{tail}"


def _credential(a: Aspiration) -> tuple[str, str] | None:
    """(the exam phrase, a short name) for a certification, licence or exam aspiration."""
    certified = re.search(
        r"\b(?:(?:a|an)\s+)?(certified|chartered|qualified|licensed|accredited)\s+(.+)$", a.act, re.I
    )
    if certified and a.verb in {"become", "get", "be", "qualify"}:
        name = f"{certified.group(1).lower()} {_role_name(certified.group(2))}"
        return f"the assessment to become {article(name)} {name}", name
    noun = re.search(
        r"(?:(?:a|an|the|your|my|first(?!\s+aid)|next)\s+)*(.*?\b(?:certification|certificate|licen[cs]e|qualification|"
        r"accreditation|diploma|degree)s?\b.*)$",
        a.rest,
        re.I,
    )
    if noun and re.search(r"certif|licen|qualif|accredit|diploma|degree", a.rest, re.I):
        name = _bare(noun.group(1))
        return f"the exam for the {name}", name
    exam = re.search(
        r"(?:(?:a|an|the|your|my|first(?!\s+aid)|next|all)\s+)*(.*?\b(?:exams?|tests?|assessments?)\b.*)$",
        a.rest,
        re.I,
    )
    if exam and a.verb in {"pass", "sit", "take", "clear", "do", "ace", "complete", "prepare"}:
        name = _bare(exam.group(1))
        return f"the {name}", name
    return None


def _object(a: Aspiration) -> str:
    """What follows the verb, as a bare noun phrase without manner: "difficult customer calls"."""
    rest = _MANNER.sub("", a.rest)
    rest = _ADVERB.sub("", " " + rest).strip()
    return _bare(rest)


def _place(rest: str) -> str:
    """ "more in meetings with the client" -> "meetings with the client"; "" when there is no place."""
    match = re.search(r"\b(?:in|at|during|on)\s+(.+)$", rest, re.I)
    return _bare(match.group(1)) if match else ""


_MEETINGS = (
    r"meetings?|stand-?ups?|calls?|reviews?|retros?|retrospectives?|discussions?|workshops?|huddles?|"
    r"briefings?|handovers?|rounds|debriefs?|seminars?|classes|syncs?|planning"
)


def plan_for(a: Aspiration, *, n: int, weeks: int, horizon: date) -> Plan:
    """The first kind whose rule fits the aspiration builds the plan; a general plan otherwise."""
    lower = a.act.lower()
    verb = a.verb
    obj = _object(a)
    doing = a.doing
    why_step = f"Agree with your mentor how you will notice that {a.why}" if a.why else ""

    credential = _credential(a)
    if credential:
        exam, name = credential
        return Plan(
            f"{exam} booked and passed, after {n} practice tests marked against the pass mark",
            (
                f"Find the syllabus and the next dates for {exam}, and book one before {horizon.isoformat()}",
                "Take one practice test now and list the areas that need the most work",
            ),
            f"Reach the pass mark on a full practice test for {exam} and go through the weak areas with "
            f"your mentor",
            f"1 full practice test for {exam} at or above the pass mark, with the 2 weakest areas "
            f"written down",
        )

    if re.search(r"\bpromot\w*", lower):
        to = re.search(r"\bpromot\w*\s+(?:to|as)\s+(.+)$", a.act, re.I)
        name = f"the promotion to {_role_name(to.group(1))}" if to else "your promotion"
        return Plan(
            f"{n} pieces of evidence for {name}: projects delivered, skills shown or feedback received",
            (
                f"Ask your manager what {name} needs that they have not yet seen from you",
                f"Pick the first piece of evidence for {name} you can deliver within a month",
            ),
            f"Put the first piece of evidence for {name} in front of your manager",
            f"1 piece of evidence for {name} shared with your manager, with their reaction written down",
        )

    target = _target(a)
    if target and target[0]:
        name, origin = target
        people = _people(name)
        return Plan(
            f"{n} conversations with {people} about what the work needs, and 1 shadowing day with one "
            f"of them",
            (
                f"Ask your mentor to introduce you to {_someone(name)} and book the first conversation",
                f"List what you do {_where_now(origin)} that carries over to {_role_label(name)}, and "
                f"what is missing",
            ),
            f"Spend a shadowing day with {_someone(name)} and go through the gaps you saw with your mentor",
            f"1 shadowing day with {_someone(name)} done, with 2 gaps you saw written down",
        )

    if re.match(r"delegat|hand (?:over|off|on)|pass on", lower):
        to = re.search(r"\bto\s+(.+)$", a.rest, re.I)
        who = to.group(1).strip() if to else ""
        recipients = (
            who if re.match(r"(?:the|your|a|an|others|my)\b", who) else f"the {who}" if who else "others"
        )
        thing = (a.rest[: to.start()] if to else a.rest).strip()
        if thing and not re.search(
            r"\b(?:tasks?|work|things|jobs|more|everything|stuff|responsibilit\w*)\b", thing
        ):
            first, _, particle = verb.partition(" ")
            pp = f"{first.rstrip('e')}ed {particle}".strip()
            return Plan(
                f"{thing} {pp} to {recipients}, with {n} check-ins agreed and held",
                (
                    f"Write down what {recipients} will have to know to take on {thing}",
                    f"Agree with {recipients} a date to {verb} {thing} and the first check-in",
                ),
                f"Hand over {thing} and review at the first check-in how it went",
                f"{thing} {pp} and reviewed at 1 check-in, with 2 lessons written down",
            )
        return Plan(
            f"{n} recurring tasks that you {verb} to {recipients}, each with an agreed owner and a "
            f"check-in date",
            (
                "List the tasks you do each week and mark the ones someone else could own",
                f"Pick the first task to hand over to {recipients} and agree a check-in date",
            ),
            "Hand over the first task and review at the check-in how it went",
            f"1 task that you {verb} to {recipients}, reviewed at its check-in, with 2 lessons written down",
        )

    place = _place(a.rest)
    if re.match(
        r"(?:speak|speak up|contribute|participate|ask|share|voice|chip in|talk|be heard)\b", verb
    ) and (re.search(rf"\b(?:{_MEETINGS})\b", place, re.I)):
        what = re.match(r"(?:(?:more|your)\s+)?(questions|ideas|opinions|views|concerns)\b", a.rest, re.I)
        act = f"{verb} {what.group(1)}" if what else verb
        places = plural(place)
        return Plan(
            f"at least {n} {places} in which you {act}, noted after each with what you said and how it was "
            "received",
            (
                f"Before your next {singular(place)}, write down one point you will raise",
                f"Agree with your mentor at what point in {article(place)} "
                f"{singular(_split_head(place)[0])} you will "
                f"{act}, for example in the first ten minutes",
            ),
            f"{act[:1].upper() + act[1:]} early in 2 {places} and talk through with your mentor how it went",
            f"2 {places} in which you {act} early, each with what happened noted",
        )

    present = re.match(
        r"(present|pitch|demo|give|deliver|speak|talk|lead|run|do|prepare)\w*\b\s*(.*)$", lower
    )
    unit_word = re.search(r"\b(presentations?|talks?|pitch(?:es)?|demos?|keynotes?|lectures?)\b", lower)
    speaking = (
        present
        and present.group(1) in {"speak", "talk"}
        and not re.match(
            r"(?:at|in\s+public|publicly|to\s+(?:a|an|the)?\s*"
            r"(?:audience|room|crowd|conference|group|board|leadership|"
            r"senior|directors|executives))\b",
            present.group(2),
        )
    )
    if present and not speaking and (unit_word or present.group(1) in {"present", "pitch", "demo", "speak"}):
        unit = (
            unit_word.group(1)
            if unit_word
            else {"pitch": "pitch", "demo": "demo", "speak": "talk"}.get(present.group(1), "presentation")
        )
        unit = (
            re.sub(r"(?:es|s)$", "", unit)
            if unit.endswith(("ches", "s")) and not unit.endswith("ss")
            else unit
        )
        rest = _MANNER.sub("", a.rest)
        to = re.search(r"\bto\s+(.+)$", rest, re.I)
        at = re.search(r"\b(?:at|in|for)\s+(.+)$", rest, re.I)
        topic = rest[: to.start()] if to else (rest[: at.start()] if at else rest)
        named = re.match(
            rf"^(?:(?:a|an|one|my|your|the|first)\s+)*((?:[\w-]+\s+){{0,2}}?{unit})\w*\s*(?:(?:on|about|of)\s+)?",
            topic.strip(),
            re.I,
        )
        if named:
            unit, topic = named.group(1), topic.strip()[named.end() :]
        topic = re.sub(r"^(?:(?:a|an|one|first)\s+)+", "", topic.strip(), flags=re.I)
        tail = (f" of {topic}" if topic else "") + (
            f" to {to.group(1).strip()}" if to else (f" {at.group(0).strip()}" if at else "")
        )
        single = bool(
            re.search(rf"\b(?:a|an|one|my first|your first)\s+(?:\w+\s+)?{re.escape(unit)}\b", lower, re.I)
        ) or bool(at and re.match(r"(?:a|an|the)\s", at.group(1), re.I) and not to)
        unit_pl = plural_word(unit)
        if single:
            listener = "each followed by written feedback from a listener"
            measure = f"1 {unit}{tail} given, after {n} rehearsals {listener}"
        else:
            measure = f"{n} {unit_pl}{tail}, each followed by written feedback from at least one listener"
        return Plan(
            measure,
            (
                f"Pick the first {unit}{tail} and book a date for it",
                "Rehearse it once with your mentor and note two things to change",
            ),
            f"Give the first {unit}{tail} and go through the listener's feedback with your mentor",
            f"1 {unit}{tail} given, with the listener's feedback and 2 changes for the next one written down",
        )

    if re.match(r"(?:writ|draft|document|publish|blog|edit)\w*", verb) or re.search(
        r"\b(?:documents?|docs|proposals?|reports?|posts?|articles?|specs?|briefs?)\b",
        obj if verb in {"produce", "prepare"} else "",
    ):
        thing = re.sub(r"^(?:and\s+\w+\s+)", "", _bare(re.sub(r"^(?:and\s+\w+\s+)", "", a.rest)))
        thing = _bare(_MANNER.sub("", thing)) or "pieces of writing"
        if re.match(r"(?:a|an|one|my first|your first)\s", re.sub(r"^and\s+\w+\s+", "", a.rest), re.I):
            done = "published" if "publish" in lower else "finished"
            measure = f"1 {thing} {done}, after {n} drafts reviewed by a colleague"
        else:
            measure = (
                f"{n} {plural(thing)} drafted and reviewed by a colleague, with fewer review comments on "
                "the last than on the first"
            )
        return Plan(
            measure,
            (
                f"Choose the first {singular(thing)} and the colleague who will review it",
                f"Collect two examples of {plural(thing)} that you think work well and note why",
            ),
            f"Have the first draft of {article(thing)} {singular(thing)} reviewed and list what the "
            f"reviewer asked "
            "to change",
            f"1 draft of {article(thing)} {singular(thing)} reviewed, with 2 changes the reviewer asked "
            f"for written "
            "down",
        )

    if re.search(r"\bnetwork|\bconnect\w*\s+with|\bmeet\s+(?:more\s+)?people|\bvisib", lower):
        where = re.search(r"\b(?:in|outside|across|beyond|at|within|with)\s+(.+)$", a.rest, re.I)
        people = f"people {where.group(0).strip()}" if where else "people outside your team"
        return Plan(
            f"{n} conversations with {people}, each with one follow-up agreed",
            (
                f"List five {people} you would like to know and why",
                "Ask your mentor for one introduction and book the first conversation",
            ),
            f"Hold the first two conversations with {people} and note what you learned",
            f"2 conversations with {people} held, with one follow-up agreed for each",
        )

    group = re.match(
        r"(?:a|an|the|your)?\s*(?:new\s+|small\s+)?(team|group|squad|crew|department|unit|ward|shift)\b",
        a.rest,
    )
    if verb in {"lead", "manage", "run", "supervise"} and group:
        crew = re.sub(r"^(?:a|an)\s+", "the ", a.rest.strip())
        crew = crew if re.match(r"(?:the|your)\s", crew) else f"the {crew}"
        return Plan(
            f"{n} check-ins that you lead with {crew}, each ending with one request from the group noted and "
            "acted on",
            (
                f"Meet each person in {crew} for ten minutes and note what they need",
                "Agree with your mentor how you will run the first check-in",
            ),
            "Hold the first two check-ins and go through what the group asked for with your mentor",
            f"2 check-ins with {crew} held, with what the group asked for noted",
        )
    event = re.search(
        r"\b(?:sessions?|meetings?|workshops?|projects?|retros?|retrospectives?|one-to-ones?|events?|evenings?|"
        r"briefings?|trainings?|webinars?|stand-?ups?|huddles?|reviews?|programmes?|programs?|initiatives?|"
        r"campaigns?|classes|class|courses?|days?|nights?|brown-bags?|lunch-and-learns?|demos?|onboarding|"
        r"induction|inductions|rotas?|audits?|drills?|clinics?|assemblies|assembly|conferences?|hackathons?|"
        r"calls?|syncs?|planning|interviews?)\b",
        obj,
        re.I,
    )
    if (
        verb
        in {
            "lead",
            "run",
            "facilitate",
            "chair",
            "host",
            "organise",
            "organize",
            "coordinate",
            "teach",
            "deliver",
        }
        and obj
        and event
    ):
        past = {"lead": "led", "run": "run", "host": "hosted", "chair": "chaired"}.get(
            verb, verb.rstrip("e") + "ed"
        )
        single = (
            bool(re.match(r"(?:a|an|one|my|your|the)\s", a.rest, re.I))
            and not _split_head(obj)[0].endswith("s")
            and not (
                re.search(r"\b(?:weekly|daily|monthly|regular|recurring|team)\b", obj)
                and not re.search(r"\bfirst\b", a.rest)
            )
        )
        thing = _bare(_MANNER.sub("", a.rest))
        if re.match(r"(?:your|the)\s+\w+'s?\s", a.rest):  # "our team's retrospectives" keeps its owner
            thing = _MANNER.sub("", a.rest).strip()
        one = singular(re.sub(r"^(?:your|the)\s+\w+'s?\s+", "", thing))
        if single:
            measure = (
                f"1 {thing} that you {verb}, with at least {n} participants asked afterwards what worked and "
                "what to change"
            )
        else:
            owner = re.match(r"(?:your|the)\s", a.rest)
            some = f"{n} of {plural(thing)}" if re.match(r"(?:your|the)\s", thing) else f"{n} {plural(thing)}"
            some = (
                f"{n} of {owner.group(0)}{plural(thing)}"
                if owner and some == f"{n} {plural(thing)}"
                else some
            )
            measure = (
                f"{some} that you {verb} with an agenda agreed beforehand, each followed by one "
                "participant's feedback"
            )
        if single:
            return Plan(
                measure,
                (
                    f"Write down what a good outcome for the {thing} is and who is involved",
                    f"Agree with your mentor what a well-{past} {singular(_split_head(thing)[0])} looks like",
                ),
                f"Agree the plan for the {thing} with your mentor and share it with the people involved",
                f"1 plan for the {thing} agreed with your mentor and shared, with 2 risks written down",
            )
        return Plan(
            measure,
            (
                f"Pick the date for the first {one} and tell the people involved",
                f"Agree with your mentor what a well-{past} {singular(_split_head(one)[0])} looks like",
            ),
            f"{verb.capitalize()} the first {one} and go through the participants' feedback with your mentor",
            f"1 {one} that you {verb}, with the participants' feedback and 2 changes for "
            f"next time written "
            "down",
        )

    if re.match(r"stop|quit|avoid", verb) and a.rest:
        habit = a.rest
        return Plan(
            f"{n} weeks in a row in which you note each time you caught yourself {habit} and what you "
            f"did instead",
            (
                f"For one ordinary week, note each time you catch yourself {habit}",
                "Agree with your mentor one thing to do instead, and a sentence to say",
            ),
            "Review the first two weeks of notes with your mentor and choose what to change next",
            f"2 weeks of notes on {habit}, with fewer times in the second week than in the first",
        )
    if (
        re.match(r"start|begin|keep", verb)
        and a.rest.split()[:1]
        and a.rest.split()[0].lower().endswith("ing")
    ):
        habit = base_form(a.rest.split()[0]) + a.rest[len(a.rest.split()[0]) :]
        often = (
            ""
            if re.search(r"\b(?:times|once|twice|every|daily|weekly|a\s+(?:week|day))\b", habit)
            else (" at least three times a week")
        )
        return Plan(
            f"{n} weeks in a row in which you {habit}{often}, ticked off in a tracker",
            (
                f"Choose the days and the time when you will {habit}",
                "Set up a simple tracker and show it to your mentor after the first week",
            ),
            "Review the first two weeks of the tracker with your mentor and adjust the plan",
            f"2 weeks in a row in which you {habit}{often}, with what got in the way noted",
        )

    if re.match(
        r"(?:lower|reduce|cut|raise|increase|hit|reach|meet|beat|boost|grow|double|improve)\b", verb
    ) and (
        re.search(
            r"\b(?:time|rate|quota|score|target|number|sales|revenue|conversion|nps|errors?|average|speed|"
            r"kpis?|"
            r"ratio|count|percent\w*|margin|backlog|churn|turnaround)\b",
            obj,
            re.I,
        )
    ):
        metric = (
            _split_head(_bare(obj))[0]
            if re.match(r"\w+\s+(?:two|three|\d)", obj)
            else _bare(_MANNER.sub("", a.rest))
        )
        metric = re.sub(r"\s+(?:two|three|four|\d+)\s+\w+\s+in\s+a\s+row$", "", metric)
        metric = f"the {metric}" if a.rest.lower().startswith("the ") else f"your {metric}"
        return Plan(
            f"{metric} tracked every week for {weeks} weeks against a target agreed with your mentor, "
            "with each missed week reviewed",
            (
                f"Write down where {metric} is today and agree the target with your mentor",
                f"Pick the one change most likely to move {metric} and try it for two weeks",
            ),
            f"Review the first weeks of {metric} against the target with your mentor",
            f"{metric} on target in at least 2 of the first {max(weeks // 2, 2)} weeks, with what helped "
            "noted",
        )

    if re.search(
        r"feedback|conflict|difficult|disagree|say no|saying no|push back|negotiat|handl|deal with|"
        r"confront|assertiv|complain|challeng|angry|upset|tough|hard "
        r"conversation|^(?:speak|talk)\s+(?:with|to)\b|"
        r"\b(?:phone|calls?)\b",
        lower,
    ):
        act = a.act
        return Plan(
            f"{n} real occasions on which you {act}, each noted afterwards with what worked",
            (
                f"Pick the next real occasion to {act}",
                "Role-play it once with your mentor and agree what to try",
            ),
            f"{act[:1].upper() + act[1:]} once for real and review your note with your mentor",
            f"1 real occasion on which you {act}, with what worked and what to try next written down",
        )

    if re.search(
        r"\b(?:every|each)\s+(?:day|morning|evening|week|monday|tuesday|wednesday|thursday|friday|"
        r"sunday|saturday|shift|month)\b|\b(?:daily|weekly|monthly)$|"
        r"\b(?:once|twice|\w+\s+times|one(?:\s+[\w-]+){1,3})\s+a\s+(?:day|week|month)\b",
        a.act,
        re.I,
    ):
        you_do = re.sub(r"^be\b", "are", a.act)
        period = "months" if re.search(r"\bmonth", a.act) else "weeks"
        count = max(weeks // 4, 2) if period == "months" else n
        return Plan(
            f"{count} {period} in a row in which you {you_do}, ticked off in a tracker",
            (
                f"Write down what you will do to {a.act} and put it in your calendar",
                "Set up a simple tracker and show it to your mentor after the first week",
            ),
            "Review the first weeks of the tracker with your mentor and adjust the plan",
            f"2 {period} in a row in which you {you_do}, with what got in the way noted",
        )

    if re.match(
        r"(?:prioriti[sz]e|balance|plan|organi[sz]e|manage|protect|free|block|schedule)\b", verb
    ) or re.search(r"\b(?:my|your)\s+(?:time|week|calendar|workload|priorities|backlog|evenings)\b", lower):
        return Plan(
            f"{n} weeks in a row planned ahead to {a.act}, noting each week what slipped and why",
            (
                f"Track one ordinary week to see what gets in the way of {doing}",
                "Choose one change to try next week and tell your mentor",
            ),
            f"Review the first two planned weeks with your mentor: what helped {doing} and what slipped",
            f"2 planned weeks reviewed with your mentor, with one change for {doing} agreed",
        )

    if re.match(r"(?:understand|know|grasp|figure out|find out)\b", verb) or re.match(r"how\s", a.rest):
        topic = _MANNER.sub("", a.rest).strip() or GENERIC
        return Plan(
            f"{n} questions about {topic} answered by someone who works with it, each written down in "
            f"your own words",
            (
                f"Write down the first three questions you have about {topic}",
                f"Ask your mentor who knows {topic} well and book half an hour with them",
            ),
            f"Explain {topic} to your mentor in five minutes and note what you could not answer",
            f"1 five-minute explanation of {topic} given to your mentor, with the open questions "
            f"written down",
        )

    if re.search(r"\b(?:go-to|expert|specialist|authority)\b", lower):
        field = re.search(r"\b(?:for|in|on)\s+(.+)$", a.rest, re.I)
        topic = _bare(field.group(1)) if field else obj
        return Plan(
            f"{n} pieces of work on {topic} shared with colleagues (a review, a how-to note or a short "
            f"talk), each "
            "with a colleague's question answered",
            (
                f"List the questions colleagues ask about {topic} and pick the first to answer",
                f"Tell your team you are taking on {topic} and where to send questions",
            ),
            f"Share the first piece of work on {topic} and note the questions it brings",
            f"1 piece of work on {topic} shared, with the questions colleagues asked written down",
        )

    if verb in {"mentor", "coach", "teach", "train", "onboard", "support", "guide", "develop"} and obj:
        return Plan(
            f"{n} regular sessions to {a.act}, each ending with the next step agreed and one thing to do "
            "differently noted",
            (
                f"Agree with your mentor what a good first session to {a.act} covers",
                "Book the sessions in the calendar for the whole period",
            ),
            "Hold the first sessions and go through your notes with your mentor",
            f"2 sessions to {a.act} held, each with the next step agreed",
        )

    if a.improving or re.match(r"(?:learn|study|improve|practi[sc]e|master|brush up|read|use)\b", verb):
        topic = obj if re.match(r"(?:learn|study|improve|master|brush up)\b", verb) and obj else doing
        step = why_step or f"Agree with your mentor a small task that shows progress on {topic}"
        return Plan(
            f"{n} practice sessions on {topic}, each ending with one thing you can now do written down",
            (f"Pick a course, book or project that teaches {topic} and block time for it", step),
            f"Finish the first practice task on {topic} and show the result to your mentor",
            f"1 practice task on {topic} finished and shown to your mentor, with 2 lessons written down",
        )

    finished = {
        "build": "built",
        "create": "created",
        "launch": "launched",
        "finish": "finished",
        "complete": "completed",
        "ship": "shipped",
        "set up": "set up",
        "produce": "produced",
        "put": "put together",
        "make": "made",
        "submit": "submitted",
        "start": "started",
        "open": "opened",
        "redesign": "redesigned",
    }.get(verb)
    if finished and obj and not a.improving:
        manner = _MANNER.search(a.rest)
        thing = _MANNER.sub("", a.rest).strip()
        the = thing if re.match(r"(?:the|your|a|an)\b", thing, re.I) else f"the {thing}"
        the = re.sub(r"^(?:a|an)\b", "the", the, flags=re.I)
        return Plan(
            f"{the} {finished}{' ' + manner.group(1) if manner else ''}, in {n} dated steps, each "
            "reviewed with your mentor",
            (f"Break {the} into {n} steps with a date for each", f"Show your mentor the first step of {the}"),
            f"Finish the first half of the steps for {the} and review them with your mentor",
            f"{max(n // 2, 1)} of the {n} steps for {the} done and reviewed with your mentor",
        )

    return Plan(
        f"{n} agreed steps to {a.act}, each ticked off with a date and one note on what worked",
        (
            f"Agree with your mentor what done looks like for {doing}",
            why_step or f"Plan the first step to {a.act} within two weeks",
        ),
        f"Take the first step to {a.act} and review it with your mentor",
        f"1 milestone on {doing} reached and reviewed, with 2 lessons written down",
    )
