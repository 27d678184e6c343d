"""Shared helpers for the benchmark scripts: deterministic mentoring prose, queries, ports, stats.

Nothing here touches the network or downloads anything; all randomness comes from a seeded
`random.Random`, so the same seed always gives the same corpus and the same queries.
"""

from __future__ import annotations

import json
import math
import os
import random
import sys
import time
from collections.abc import Sequence
from contextlib import contextmanager
from typing import Any

from tests.support.server import free_port as free_port  # the one port picker

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

# ---- output -----------------------------------------------------------------------------------------


def log(*parts: object) -> None:
    print("[bench]", *parts, file=sys.stderr, flush=True)


def emit(result: dict[str, Any]) -> None:
    """The one JSON object a script prints on stdout."""
    sys.stdout.write(json.dumps(result, indent=2) + "\n")
    sys.stdout.flush()


@contextmanager
def timed(label: str):  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    box: dict[str, float] = {}
    try:
        yield box
    finally:
        box["s"] = time.perf_counter() - start
        log(f"{label}: {box['s']:.2f}s")


def percentile(values: Sequence[float], q: float) -> float:
    """Linear-interpolated percentile (q in 0..100), like numpy's default."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100.0
    lo, hi = math.floor(pos), math.ceil(pos)
    if lo == hi:
        return ordered[lo]
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def r(value: float, digits: int = 2) -> float:
    return round(float(value), digits)


# ---- vocabulary -------------------------------------------------------------------------------------

# (third person, base form) so templates can use either
VERBS = [
    ("agrees", "agree"),
    ("reviews", "review"),
    ("records", "record"),
    ("discusses", "discuss"),
    ("revisits", "revisit"),
    ("summarises", "summarise"),
    ("plans", "plan"),
    ("tracks", "track"),
    ("reflects on", "reflect on"),
    ("writes down", "write down"),
    ("shares", "share"),
    ("checks", "check"),
    ("clarifies", "clarify"),
    ("prioritises", "prioritise"),
    ("celebrates", "celebrate"),
    ("documents", "document"),
    ("rehearses", "rehearse"),
    ("breaks down", "break down"),
    ("questions", "question"),
    ("adjusts", "adjust"),
    ("prepares", "prepare"),
    ("follows up on", "follow up on"),
    ("explains", "explain"),
    ("negotiates", "negotiate"),
    ("sketches", "sketch"),
    ("compares", "compare"),
]
SUBJECTS = [
    "the mentor",
    "the mentee",
    "a new mentor",
    "the program coordinator",
    "each pair",
    "the mentoring pair",
    "your mentee",
    "the sponsor",
    "the team lead",
    "a first-time mentee",
    "an experienced mentor",
    "the cohort facilitator",
    "the line manager",
    "a peer mentor",
    "the reverse mentor",
    "the volunteer mentor",
    "the mentee's manager",
    "the steering group",
]
OBJECTS = [
    "one to three SMART goals",
    "the goal tracker",
    "the session agenda",
    "actions from the last meeting",
    "feedback on the design review",
    "the career development plan",
    "a stretch assignment",
    "progress toward the promotion case",
    "the mentoring agreement",
    "confidentiality boundaries",
    "the meeting cadence",
    "a difficult stakeholder conversation",
    "the skills self-assessment",
    "the quarterly roadmap presentation",
    "the closing reflection",
    "notes in the mentoring notebook",
    "expectations about availability",
    "the learning budget",
    "a shadowing opportunity",
    "the next milestone",
    "an honest account of what went wrong",
    "the mid-cycle survey results",
    "a reading list on technical leadership",
    "the onboarding checklist",
    "a plan for the first 90 days",
    "the impact of remote work on visibility",
    "a concrete example of good feedback",
    "signals of burnout",
    "the trade-offs of a lateral move",
    "open questions for the next session",
]
CONTEXTS = [
    "before the first session",
    "at the end of each cycle",
    "during the mid-cycle review",
    "every two weeks",
    "when a goal slips",
    "in the mentoring notebook",
    "after a difficult conversation",
    "before week 4",
    "at the start of every meeting",
    "over a video call",
    "during the kickoff workshop",
    "when priorities change",
    "once a quarter",
    "in the last ten minutes of a session",
    "before the performance review",
    "when the mentee changes teams",
    "after a missed session",
    "while the relationship is still new",
    "during the final month",
    "when energy is low",
]
REASONS = [
    "so that progress stays visible",
    "because vague goals drift",
    "which keeps the relationship focused",
    "so nobody is surprised at the final review",
    "because trust grows from small kept promises",
    "so the mentee owns the outcome",
    "which makes the next conversation easier",
    "because memory of a session fades within days",
    "so both people can see what changed",
    "which protects the time set aside for mentoring",
    "because feedback lands better when it is expected",
    "so that the program can measure its success",
]
QUESTIONS = [
    "What would be different for you if this went well?",
    "What have you already tried?",
    "Which part of this is within your control?",
    "What support do you need from me?",
    "How will we know that this goal has been reached?",
    "What got in the way since we last met?",
    "Who else could help you with this?",
    "What is the smallest next step?",
    "What did you learn about yourself this month?",
    "Which of these matters most right now?",
]
ADJECTIVES = [
    "clear",
    "honest",
    "specific",
    "regular",
    "short",
    "practical",
    "structured",
    "informal",
    "confidential",
    "realistic",
    "focused",
    "supportive",
    "candid",
    "measurable",
    "balanced",
]
TOPICS = [
    "SMART goals",
    "active listening",
    "giving feedback",
    "receiving feedback",
    "remote mentoring",
    "ending a mentoring relationship",
    "matching mentors and mentees",
    "running a session",
    "career conversations",
    "coaching versus mentoring",
    "psychological safety",
    "reverse mentoring",
    "group mentoring circles",
    "sponsorship",
    "onboarding new engineers",
    "measuring program success",
    "recognising mentors",
    "handling conflict",
    "setting boundaries",
    "building confidence",
    "networking inside the company",
    "preparing a promotion case",
    "time management",
    "public speaking",
    "technical leadership",
    "cross-team collaboration",
    "returning from leave",
    "mentoring across cultures",
    "peer mentoring",
    "self-reflection and journaling",
]
SECTION_HEADINGS = [
    "Why it matters",
    "Before you start",
    "Preparing for the first session",
    "Setting goals that stick",
    "Common mistakes",
    "A worked example",
    "Questions to ask",
    "Keeping momentum",
    "When things go wrong",
    "Checklist for mentors",
    "Checklist for mentees",
    "Reviewing progress",
    "Adjusting the plan",
    "Tips for remote pairs",
    "What good looks like",
    "Closing the cycle",
    "Frequently asked questions",
    "Roles and responsibilities",
    "Making time for mentoring",
    "Recording what was agreed",
]
FILLER = (
    "about across actually afternoon agenda almost already although analysis answer approach area "
    "around aside attention balance baseline board budget calendar careful certain chance change channel "
    "chat choice client colleague comment common context conversation course crisp customer daily data "
    "deadline decision deliberate demo department design detail direction draft early effort email "
    "energy escalation estimate evening event evidence example experiment fairly feature figure final "
    "focus forum friday future habit handover hardware headcount helpful hiring history incident "
    "initiative insight interview issue journey kanban later launch lesson level library lunch manager "
    "market meeting memo method metric milestone minute mobile monday month morning narrative network "
    "office often outcome owner pairing partner pattern pause people period pilot pipeline pitch policy "
    "practice pressure priority process product project prototype quarter quick quiet rather reason "
    "recent release report request research result retro review rhythm risk roadmap routine sample "
    "schedule scope season service setback signal simple sketch slack software sprint staff standup "
    "steady story strategy summary survey system target task team template thursday ticket today "
    "topic track training travel tuesday update usually value version video week weekend window workshop"
).split()


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def codename(rng: random.Random) -> str:
    """A made-up proper noun (project, team, tool): grows the vocabulary like real documents do."""
    syllables = [
        "ka",
        "lo",
        "mir",
        "ten",
        "vo",
        "rid",
        "sa",
        "pel",
        "qu",
        "ax",
        "ny",
        "dra",
        "fen",
        "zo",
        "bri",
    ]
    return _cap("".join(rng.choice(syllables) for _ in range(rng.randint(2, 3))))


def sentence(rng: random.Random) -> str:
    s, s2 = rng.choice(SUBJECTS), rng.choice(SUBJECTS)
    v, vb = rng.choice(VERBS)
    o, o2 = rng.choice(OBJECTS), rng.choice(OBJECTS)
    c, why, adj = rng.choice(CONTEXTS), rng.choice(REASONS), rng.choice(ADJECTIVES)
    n = rng.randint(2, 12)
    templates = [
        f"{_cap(s)} {v} {o} {c}.",
        f"{_cap(c)}, {s} {v} {o} {why}.",
        f"It helps when {s} {v} {o} {c}.",
        f"If {s2} is unsure, {s} {v} {o} {why}.",
        f"A common mistake is to skip {o2}; instead, {s} {v} {o} {c}.",
        f'Ask one {adj} question {c}: "{rng.choice(QUESTIONS)}"',
        f"{_cap(s)} should never {vb} {o} without agreeing it with {s2} first.",
        f"In the {codename(rng)} team, {s} {v} {o} within {n} weeks, {why}.",
        f"Keep it {adj}: {s} {v} {o} and {rng.choice(VERBS)[0]} {o2} {c}.",
        f"Most pairs find that {n} minutes is enough to {vb} {o} {why}.",
        f"For example, {s} {v} {o} {c} and then {rng.choice(VERBS)[0]} {o2}.",
        f"{_cap(adj)} notes matter: {s} {v} {o} {c}, {why}.",
    ]
    return rng.choice(templates)


def paragraph(rng: random.Random, sentences: tuple[int, int] = (3, 6)) -> str:
    return " ".join(sentence(rng) for _ in range(rng.randint(*sentences)))


def bullet_list(rng: random.Random) -> str:
    items = []
    for _ in range(rng.randint(3, 5)):
        v, _vb = rng.choice(VERBS)
        items.append(f"- {_cap(rng.choice(SUBJECTS))} {v} {rng.choice(OBJECTS)} {rng.choice(CONTEXTS)}.")
    return "\n".join(items)


def markdown_guide(
    rng: random.Random, index: int, sections: tuple[int, int] = (3, 5), paragraphs: tuple[int, int] = (2, 4)
) -> str:
    """One guide: a `#` title, an intro, then a few `##` sections (sometimes a `###`) of prose."""
    topic = rng.choice(TOPICS)
    title = f"{_cap(topic)}: guide {index + 1} for the {codename(rng)} program"
    parts = [f"# {title}\n", paragraph(rng, (3, 5)) + "\n"]
    for heading in rng.sample(SECTION_HEADINGS, rng.randint(*sections)):
        parts.append(f"## {heading}\n")
        for p in range(rng.randint(*paragraphs)):
            if p == 2 and rng.random() < 0.3:
                parts.append(f"### {_cap(rng.choice(OBJECTS))}\n")
            parts.append((bullet_list(rng) if rng.random() < 0.15 else paragraph(rng)) + "\n")
    return "\n".join(parts)


def chunk_text(rng: random.Random, pool_texts: Sequence[str], picks: Sequence[int], filler_words: int) -> str:
    """A synthetic stored chunk: the pool texts it is made of, plus filler prose and random words."""
    parts = [pool_texts[i] for i in picks]
    parts.append(paragraph(rng, (1, 3)))
    words = [rng.choice(FILLER) if rng.random() < 0.9 else codename(rng).lower() for _ in range(filler_words)]
    parts.append(_cap(" ".join(words)) + ".")
    rng.shuffle(parts)
    return " ".join(parts)


QUERY_TEMPLATES = [
    "how do I {vb} {o}?",
    "what should {s} do {c}?",
    "tips for {topic}",
    "how often should {s} {vb} {o}",
    "{topic}: what are common mistakes?",
    "what is a good way to {vb} {o} {c}",
    "who is responsible for {o}?",
    "examples of {adj} feedback for {s}",
    "{o}",
    "how can {s} prepare for {topic}?",
]


def queries(rng: random.Random, n: int) -> list[str]:
    out = []
    for _ in range(n):
        v, vb = rng.choice(VERBS)
        out.append(
            rng.choice(QUERY_TEMPLATES).format(
                vb=vb,
                o=rng.choice(OBJECTS),
                s=rng.choice(SUBJECTS),
                c=rng.choice(CONTEXTS),
                topic=rng.choice(TOPICS),
                adj=rng.choice(ADJECTIVES),
            )
        )
    return out


# ---- timing wrappers (benchmark-side instrumentation, no change to companion code) ------------------


class StageTimer:
    """Wraps bound methods on an *instance* so calls are timed; `totals` / `samples` keyed by label."""

    def __init__(self) -> None:
        self.totals: dict[str, float] = {}
        self.calls: dict[str, int] = {}
        self.samples: dict[str, list[float]] = {}
        self.keep_samples = False

    def wrap(self, obj: Any, method: str, label: str | None = None) -> None:
        label = label or method
        original = getattr(obj, method)

        def timed_call(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.add(label, time.perf_counter() - start)

        setattr(obj, method, timed_call)

    def add(self, label: str, seconds: float) -> None:
        self.totals[label] = self.totals.get(label, 0.0) + seconds
        self.calls[label] = self.calls.get(label, 0) + 1
        if self.keep_samples:
            self.samples.setdefault(label, []).append(seconds)

    def reset(self) -> None:
        self.totals.clear()
        self.calls.clear()
        self.samples.clear()

    def summary(self) -> dict[str, dict[str, float]]:
        return {k: {"total_s": r(v, 3), "calls": self.calls[k]} for k, v in sorted(self.totals.items())}


# ---- CPU contention monitor -------------------------------------------------------------------------

TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def machine_jiffies() -> tuple[int, int]:
    """(busy, steal) jiffies summed over all CPUs since boot, from /proc/stat."""
    with open("/proc/stat") as fh:
        fields = [int(x) for x in fh.readline().split()[1:]]
    user, nice, system, idle, iowait, irq, softirq, steal = (fields + [0] * 8)[:8]
    return user + nice + system + irq + softirq, steal


def process_jiffies(pid: int) -> int:
    """utime + stime of a process (all its threads), 0 if it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0
    return int(fields[11]) + int(fields[12])


class CpuMonitor:
    """How busy the machine was during a measurement, and how much of that was *other* processes.

    This machine has 2 cores and may be shared with other work; a result taken while other processes
    used a core or more is not comparable with a quiet one. `other_cores` is the average number of
    cores used by processes outside `pids` (this script, plus any server it started).
    """

    def __init__(self, pids: Sequence[int] = ()) -> None:
        self.pids = [os.getpid(), *pids]
        self._start = self._sample()

    def _sample(self) -> tuple[float, int, int, int]:
        busy, steal = machine_jiffies()
        own = sum(process_jiffies(p) for p in self.pids)
        return time.monotonic(), busy, steal, own

    def result(self) -> dict[str, float]:
        t1, busy1, steal1, own1 = self._sample()
        t0, busy0, steal0, own0 = self._start
        seconds = max(t1 - t0, 1e-9)
        machine = (busy1 - busy0) / TICK / seconds
        own = (own1 - own0) / TICK / seconds
        return {
            "seconds": r(seconds, 1),
            "machine_busy_cores": r(machine, 2),
            "own_cores": r(own, 2),
            "other_cores": r(max(machine - own, 0.0), 2),
            "steal_cores": r((steal1 - steal0) / TICK / seconds, 2),
            "cores": os.cpu_count() or 0,
        }


def wait_for_quiet(max_wait: float, *, threshold: float = 0.25, window: float = 5.0) -> dict[str, Any]:
    """Wait (at most `max_wait` seconds) until other processes use <= `threshold` cores over a
    `window`-second sample. Returns what happened, for the JSON. `max_wait` <= 0 skips the check."""
    if max_wait <= 0:
        return {"waited_s": 0.0, "quiet": None}
    start = time.monotonic()
    while True:
        monitor = CpuMonitor()
        time.sleep(window)
        other = monitor.result()["other_cores"]
        waited = time.monotonic() - start
        if other <= threshold:
            return {"waited_s": r(waited, 1), "quiet": True, "other_cores": other}
        if waited >= max_wait:
            log(f"machine still busy after {waited:.0f}s (other processes: {other} cores); measuring anyway")
            return {"waited_s": r(waited, 1), "quiet": False, "other_cores": other}
        log(f"waiting for a quiet machine (other processes: {other} cores)")


def add_wait_quiet_option(parser: Any) -> None:
    parser.add_argument(
        "--wait-quiet",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="before each measurement, wait up to SECONDS for other processes to use <= 0.25 cores "
        "(default 0: do not wait)",
    )
