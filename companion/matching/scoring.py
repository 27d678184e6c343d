"""Pair scores and hard rules, vectorized over many mentors (and mentees) at once. No database here.

score = w_sim * similarity + w_skill * skill overlap + w_pref * preferences, where
- similarity is the cosine of the mentee's needs vector and the mentor's offer vector, clipped to 0..1;
- skill overlap is the share of the mentee's wanted skills that the mentor lists;
- preferences is the share of stated soft preferences (both sides) that the pair meets, 0.5 if none.

A pair is feasible only when every hard rule holds: the mentor has a place left, they share a language,
their working hours overlap enough, neither is in the other's reporting line (upward or downward),
neither asked to avoid the other, and an admin has not forbidden the pair. A run for a program cycle
adds one more: the pair has not already run together in the cycles just before it (`repeated`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import sparse

from companion.matching.timezones import overlap_hours, parse_timezone
from companion.settings import MatchingSettings

# Pools at least this large rank in two passes (half precision, then exact float32 on the candidates).
HALF_PRECISION_FROM = 20_000
# Bound on |half-precision - float32| cosine of unit vectors: inputs rounded to 11 bits (<= 2^-10
# relative), float32 accumulation, a half-precision result (<= 2^-12); measured <= 3.4e-4.
HALF_PRECISION_ERROR = 4e-3
_PREF_CODES = {None: 0, "same": 1, "different": 2}


@dataclass(frozen=True)
class MatchProfile:
    """What scoring needs to know about one person. `skills` are offered (mentor) or wanted (mentee)."""

    id: int
    key: str
    name: str
    role: str
    timezone: str
    languages: tuple[str, ...]
    skills: tuple[str, ...]
    department: str | None = None
    site: str | None = None
    seniority: str | None = None
    capacity: int = 0
    ancestors: tuple[str, ...] = ()
    preferred: tuple[str, ...] = ()
    avoid: tuple[str, ...] = ()
    department_pref: str | None = None
    site_pref: str | None = None


@dataclass
class Embedded:
    """A profile's vector plus its phrases and their vectors (for explaining a match)."""

    vector: np.ndarray
    phrases: list[str] = field(default_factory=list)
    phrase_vectors: np.ndarray | None = None


class _Vocab:
    def __init__(self) -> None:
        self.index: dict[str, int] = {}

    def code(self, value: str | None, *, grow: bool = True) -> int:
        if value is None:
            return -1
        found = self.index.get(value)
        if found is None:
            if not grow:
                return -1
            found = self.index[value] = len(self.index)
        return found


@dataclass
class ScoreBlock:
    """Scores and rule checks of n mentees against the pool's m mentors (rows follow the pool order)."""

    similarity: np.ndarray
    skills: np.ndarray
    preferences: np.ndarray
    total: np.ndarray
    overlap: np.ndarray
    checks: dict[str, np.ndarray]

    @property
    def feasible(self) -> np.ndarray:
        ok = np.ones(self.total.shape, dtype=bool)
        for passed in self.checks.values():
            ok &= passed
        return ok


class MentorPool:
    """Mentors as arrays: a vector matrix, transposed skill and language incidence matrices, codes, and
    a table of working-hour overlaps per distinct time zone."""

    def __init__(
        self, mentors: Sequence[MatchProfile], vectors: np.ndarray, *, settings: MatchingSettings
    ) -> None:
        if len(mentors) != len(vectors):
            raise ValueError("one vector per mentor")
        self.settings = settings
        self.mentors = list(mentors)
        self.vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        self.size = len(self.mentors)
        self.row_of = {m.key: row for row, m in enumerate(self.mentors)}
        self.capacity = np.array([m.capacity for m in self.mentors], dtype=np.int64)
        offsets = np.array([parse_timezone(m.timezone) for m in self.mentors], dtype=np.float64)
        # overlap depends only on the two time zones: keep the distinct ones and each mentor's index
        zones, zone_of = np.unique(offsets.reshape(self.size, 2), axis=0, return_inverse=True)
        self.zone_offsets, self.zone_of = zones.reshape(-1, 2), zone_of.reshape(-1)

        self.languages = _Vocab()
        self.skill_vocab = _Vocab()
        self.departments = _Vocab()
        self.sites = _Vocab()
        # (values x mentors), so one mentee's values select a few rows
        self.languages_by_mentor = self._incidence((m.languages for m in self.mentors), self.languages)
        self.skills_by_mentor = self._incidence((m.skills for m in self.mentors), self.skill_vocab)
        self.department = _codes([self.departments.code(m.department) for m in self.mentors])
        self.site = _codes([self.sites.code(m.site) for m in self.mentors])
        department_pref = _codes([_PREF_CODES[m.department_pref] for m in self.mentors])
        site_pref = _codes([_PREF_CODES[m.site_pref] for m in self.mentors])
        self.wants_same_department, self.wants_other_department = department_pref == 1, department_pref == 2
        self.wants_same_site, self.wants_other_site = site_pref == 1, site_pref == 2
        self.stated = ((department_pref > 0).astype(np.float32) + (site_pref > 0)).astype(np.float32)

        # Rows of mentors below a given person (that person is in their chain) and of mentors avoiding them.
        self.below: dict[str, list[int]] = {}
        self.avoided_by: dict[str, list[int]] = {}
        for row, mentor in enumerate(self.mentors):
            for key in mentor.ancestors:
                self.below.setdefault(key, []).append(row)
            for key in mentor.avoid:
                self.avoided_by.setdefault(key, []).append(row)
        self._half: Any = None
        if self.size >= HALF_PRECISION_FROM:
            import torch

            self._half = torch.from_numpy(self.vectors).half()

    def _incidence(self, groups: Iterable[Sequence[str]], vocab: _Vocab) -> sparse.csr_matrix:
        rows: list[int] = []
        cols: list[int] = []
        for col, values in enumerate(groups):
            for value in values:
                rows.append(vocab.code(value))
                cols.append(col)
        data = np.ones(len(rows), dtype=np.float32)
        return sparse.csr_matrix((data, (rows, cols)), shape=(max(1, len(vocab.index)), self.size))

    @staticmethod
    def _mentee_incidence(groups: Sequence[Sequence[str]], vocab: _Vocab) -> sparse.csr_matrix:
        rows: list[int] = []
        cols: list[int] = []
        for row, values in enumerate(groups):
            for value in values:
                code = vocab.code(value, grow=False)
                if code >= 0:
                    rows.append(row)
                    cols.append(code)
        data = np.ones(len(rows), dtype=np.float32)
        return sparse.csr_matrix((data, (rows, cols)), shape=(len(groups), max(1, len(vocab.index))))

    def similarities(self, vector: np.ndarray, *, approximate: bool = False) -> np.ndarray:
        """Cosine similarity of one unit vector with every mentor. `approximate`: a half-precision pass
        (half the memory traffic), within HALF_PRECISION_ERROR of the float32 result."""
        if approximate:
            import torch

            if self._half is None:
                self._half = torch.from_numpy(self.vectors).half()
            query = torch.from_numpy(np.ascontiguousarray(vector, dtype=np.float32)).half()
            result: np.ndarray = torch.mv(self._half, query).numpy()
            return result.astype(np.float32)
        return self.vectors @ np.asarray(vector, dtype=np.float32)

    def score(
        self,
        mentees: Sequence[MatchProfile],
        vectors: np.ndarray,
        *,
        places: np.ndarray | None = None,
        forbidden: Iterable[tuple[int, int]] = (),
        similarity: np.ndarray | None = None,
        repeated: Iterable[tuple[int, int]] | None = None,
    ) -> ScoreBlock:
        """Score every mentee against every mentor. `places` are the places left per mentor (default:
        capacity); `forbidden` holds (mentee index, mentor row) pairs an admin ruled out; `similarity`
        (n, m), if given, replaces the vector products; `repeated` (a cycle run only) holds the
        (mentee index, mentor row) pairs that ran together in the maximum number of consecutive cycles
        just before, checked as the rule "consecutive_cycles"."""
        s = self.settings
        n, m = len(mentees), self.size
        if similarity is None:
            queries = np.asarray(vectors, dtype=np.float32).reshape(n, self.vectors.shape[1])
            similarity = np.clip(queries @ self.vectors.T, 0.0, 1.0)

        wanted = self._mentee_incidence([p.skills for p in mentees], self.skill_vocab)
        wanted_counts = np.array([max(1, len(p.skills)) for p in mentees], dtype=np.float32)
        skills = (wanted @ self.skills_by_mentor).toarray() / wanted_counts[:, None]
        preferences = self._preferences(mentees)
        total = s.similarity_weight * similarity + s.skill_weight * skills + s.preference_weight * preferences

        left = self.capacity if places is None else np.asarray(places)
        spoken = self._mentee_incidence([p.languages for p in mentees], self.languages)
        mentee_offsets = np.array([parse_timezone(p.timezone) for p in mentees], dtype=np.float64)
        per_zone = overlap_hours(
            mentee_offsets.reshape(n, 2), self.zone_offsets, start=s.work_start_hour, end=s.work_end_hour
        )
        overlap = per_zone[:, self.zone_of]
        checks = {
            "places": np.broadcast_to(left > 0, (n, m)).copy(),
            "language": (spoken @ self.languages_by_mentor).toarray() > 0,
            "overlap": overlap >= s.min_overlap_hours - 1e-9,
            "reporting_line": np.ones((n, m), dtype=bool),
            "avoided": np.ones((n, m), dtype=bool),
            "forbidden": np.ones((n, m), dtype=bool),
        }
        for i, mentee in enumerate(mentees):
            line = [self.row_of[k] for k in (mentee.key, *mentee.ancestors) if k in self.row_of]
            line.extend(self.below.get(mentee.key, ()))
            checks["reporting_line"][i, line] = False
            avoided = [self.row_of[k] for k in mentee.avoid if k in self.row_of]
            avoided.extend(self.avoided_by.get(mentee.key, ()))
            checks["avoided"][i, avoided] = False
        for i, row in forbidden:
            checks["forbidden"][i, row] = False
        if repeated is not None:
            checks["consecutive_cycles"] = np.ones((n, m), dtype=bool)
            for i, row in repeated:
                checks["consecutive_cycles"][i, row] = False
        return ScoreBlock(similarity, skills, preferences, total, overlap, checks)

    def _preferences(self, mentees: Sequence[MatchProfile]) -> np.ndarray:
        out = np.empty((len(mentees), self.size), dtype=np.float32)
        nothing = np.zeros(self.size, dtype=bool)
        for i, mentee in enumerate(mentees):
            dept = self.departments.code(mentee.department, grow=False)
            site = self.sites.code(mentee.site, grow=False)
            same_dept = self.department == dept if dept >= 0 else nothing
            other_dept = (self.department >= 0) & ~same_dept if dept >= 0 else nothing
            same_site = self.site == site if site >= 0 else nothing
            other_site = (self.site >= 0) & ~same_site if site >= 0 else nothing
            # the mentors' own preferences about their mentee's department and site
            met = (self.wants_same_department & same_dept).astype(np.float32)
            met += self.wants_other_department & other_dept
            met += self.wants_same_site & same_site
            met += self.wants_other_site & other_site
            stated = self.stated.copy()
            if mentee.preferred:
                stated += 1
                met[[self.row_of[k] for k in mentee.preferred if k in self.row_of]] += 1
            for pref, same, other in (
                (mentee.department_pref, same_dept, other_dept),
                (mentee.site_pref, same_site, other_site),
            ):
                if pref is not None:
                    stated += 1
                    met += same if pref == "same" else other
            out[i] = np.where(stated > 0, met / np.maximum(stated, 1), 0.5)
        return out


def rank(
    pool: MentorPool,
    mentee: MatchProfile,
    vector: np.ndarray,
    *,
    k: int,
    places: np.ndarray | None = None,
    forbidden: Iterable[int] = (),
    two_pass: bool | None = None,
) -> tuple[ScoreBlock, list[int]]:
    """Score one mentee against the pool; return the block and the rows of the k best feasible mentors,
    best first (ties broken by row, so the order is stable).

    Large pools take two passes, still exact: similarities in half precision (each within
    HALF_PRECISION_ERROR, so each total within w_sim times that), then every mentor whose approximate
    total is within twice that margin of the k-th best is re-scored in float32. No mentor outside that
    set can beat the k-th best, so the top k and their scores are the float32 ones. Rows outside the
    set keep approximate similarities in the returned block. `two_pass` None: only for large pools."""
    s = pool.settings
    vector = np.asarray(vector, dtype=np.float32).reshape(-1)
    approximate = pool.size >= HALF_PRECISION_FROM if two_pass is None else two_pass
    similarity = np.clip(pool.similarities(vector, approximate=approximate), 0.0, 1.0)[None, :]
    block = pool.score(
        [mentee],
        vector[None, :],
        places=places,
        forbidden=[(0, row) for row in forbidden],
        similarity=similarity,
    )
    scores = np.where(block.feasible[0], block.total[0], -np.inf)
    k = min(k, int(np.isfinite(scores).sum()))
    if k <= 0:
        return block, []
    kth = (
        scores[np.argpartition(-scores, k - 1)[k - 1]]
        if k < len(scores)
        else scores[np.isfinite(scores)].min()
    )
    slack = 2 * s.similarity_weight * HALF_PRECISION_ERROR if approximate else 0.0
    candidates = np.flatnonzero(scores >= kth - slack)
    if approximate:
        exact = np.clip(pool.vectors[candidates] @ vector, 0.0, 1.0)
        block.similarity[0, candidates] = exact
        block.total[0, candidates] = (
            s.similarity_weight * exact
            + s.skill_weight * block.skills[0, candidates]
            + s.preference_weight * block.preferences[0, candidates]
        )
        scores[candidates] = block.total[0, candidates]
    ordered = sorted(candidates.tolist(), key=lambda row: (-scores[row], row))
    return block, ordered[:k]


def _codes(values: list[int]) -> np.ndarray:
    return np.array(values, dtype=np.int64)


# ---- explaining one pair --------------------------------------------------------------------------


@dataclass
class PairDetails:
    matched_skills: list[str]
    phrases: list[tuple[str, str, float]]
    shared_languages: list[str]
    overlap_hours: float
    preferences_met: list[str]


def pair_details(
    mentee: MatchProfile,
    mentor: MatchProfile,
    mentee_embedded: Embedded,
    mentor_embedded: Embedded,
    *,
    overlap: float,
    min_similarity: float,
    max_phrases: int = 2,
) -> PairDetails:
    """What a pair has in common: skills, the best-matching phrases, languages, preferences met."""
    offered = set(mentor.skills)
    matched = [skill for skill in mentee.skills if skill in offered]
    phrases: list[tuple[str, str, float]] = []
    a, b = mentee_embedded.phrase_vectors, mentor_embedded.phrase_vectors
    if a is not None and b is not None and len(a) and len(b):
        sims = a @ b.T
        used_needs: set[int] = set()
        used_offers: set[int] = set()
        for flat in np.argsort(-sims, axis=None):
            i, j = divmod(int(flat), sims.shape[1])
            if sims[i, j] < min_similarity or len(phrases) >= max_phrases:
                break
            if i in used_needs or j in used_offers:
                continue
            used_needs.add(i)
            used_offers.add(j)
            phrases.append((mentee_embedded.phrases[i], mentor_embedded.phrases[j], float(sims[i, j])))
    languages = [lang for lang in mentee.languages if lang in set(mentor.languages)]
    met: list[str] = []
    if mentor.key in mentee.preferred:
        met.append("one of the mentors you asked for")
    for pref, mine, theirs, what in (
        (mentee.department_pref, mentee.department, mentor.department, "department"),
        (mentee.site_pref, mentee.site, mentor.site, "site"),
    ):
        if pref and mine and theirs and (mine == theirs) == (pref == "same"):
            met.append(f"from {'the same' if pref == 'same' else 'a different'} {what}, as you asked")
    return PairDetails(matched, phrases, languages, overlap, met)


def reason_text(details: PairDetails, mentee: MatchProfile) -> str:
    """A readable sentence or two on why this mentor fits this mentee."""
    parts: list[str] = []
    if details.matched_skills:
        count = f"{len(details.matched_skills)} of the {len(mentee.skills)}"
        if len(mentee.skills) == 1:
            count = "the one"
        parts.append(f"Offers {count} skills wanted: {', '.join(details.matched_skills)}.")
    elif mentee.skills:
        parts.append("Offers none of the listed skills; the fit comes from the goals and expertise text.")
    for need, offer, sim in details.phrases:
        parts.append(f'Goal "{_clip(need)}" matches their expertise "{_clip(offer)}" ({sim:.2f}).')
    if not details.matched_skills and not details.phrases:
        parts.append("Chosen for the overall similarity of the goals to their expertise.")
    if details.preferences_met:
        parts.append(_cap("; ".join(details.preferences_met)) + ".")
    languages = ", ".join(lang.title() for lang in details.shared_languages) or "no language"
    parts.append(f"Shares {languages}; {details.overlap_hours:g} h of common working hours.")
    return " ".join(parts)


def _clip(text: str, limit: int = 90) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def excluded_counts(block: ScoreBlock, row: int = 0) -> dict[str, int]:
    """How many mentors fail each hard rule for mentee `row`."""
    return {rule: int((~passed[row]).sum()) for rule, passed in block.checks.items()}


def no_mentor_reason(block: ScoreBlock, row: int, mentee: MatchProfile) -> str:
    """Why mentee `row` has no feasible mentor, naming the rules that rule everyone out."""
    spoken = " or ".join(lang.title() for lang in mentee.languages) or "a language"
    messages = {
        "places": "no mentor has a place left",
        "language": f"no mentor speaks {spoken} with them",
        "overlap": f"no mentor has enough shared working hours with {mentee.timezone}",
        "reporting_line": "every mentor is in their reporting line",
        "avoided": "every mentor is avoided",
        "forbidden": "every mentor is forbidden for them",
        "consecutive_cycles": "every mentor was already their mentor in the cycles just before this one",
    }
    if block.total.shape[1] == 0:
        return "no feasible mentor: there are no mentors"
    blocking = [messages[rule] for rule, passed in block.checks.items() if not passed[row].any()]
    if blocking:
        return "no feasible mentor: " + "; ".join(blocking)
    counts = ", ".join(
        f"{int(passed[row].sum())} pass {rule.replace('_', ' ')}" for rule, passed in block.checks.items()
    )
    return f"no feasible mentor: no single mentor meets every rule ({counts})"
