"""Mentor recommendations and cohort matching over the stored profiles.

- `recommend`: one mentee against every mentor: hard rules as masks, scores as matrix products, the top k
  explained (skills in common, the goal and expertise phrases that matched, preferences met).
- `cohort`: many mentees at once, exactly optimal under capacities, hard rules, pins and forbids (see
  `assignment.py`), compared with a greedy baseline, stored as a run of proposed matches.
- `decide`: a party accepts or declines a proposed match; when both accept (or an admin accepts), the
  match is accepted and, if both people have user accounts, becomes a mentorship link.

Who may do what: mentees see their own recommendations, admins anyone's; mentors get 403 (they are
not choosing a mentor). Cohort runs are for admins. Matches are visible to their two parties and admins.
The mentor vectors come from `profile_vectors`; the in-memory pool is rebuilt only when a profile changes.
Places left = capacity minus accepted matches. Declined pairs are never proposed again.

A cohort run may name a program cycle. Then places and "already has a mentor" count only the pairs of
that cycle (accepted matches of its runs, and mentorships already in it), a pair that ran together in
each of the `program.max_consecutive_cycles` cycles just before it (same program, by start date) is ruled
out as the hard rule "consecutive_cycles", and accepting a match adds its mentorship to the cycle under
the cycle rule of `storage/cycle_rules.py` (one pair per mentee per cycle; in a group program a mentor
takes at most `program.group_max_mentees`, and circles left under `group_min_mentees` are warned about).
Every run carries a fairness audit (`audit.py`), also stored in the run's report.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from pydantic import ValidationError
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, aliased

from companion.errors import Conflict, Forbidden, InvalidInput, NotFound
from companion.identity.auth import Principal, Role, link_mentorship
from companion.matching.assignment import (
    UNMATCHED,
    Assignment,
    Problem,
    check_pins,
    solve_greedy,
    solve_optimal,
)
from companion.matching.audit import MatchAudit, MenteeOutcome, MentorOutcome, audit_run
from companion.matching.people import brief, find_person, own_person
from companion.matching.profiles import ProfileVectors, match_profile, reporting_chains
from companion.matching.schemas import (
    BaselineOut,
    CohortReport,
    CohortRequest,
    CycleBrief,
    MatchOut,
    PersonBrief,
    PhraseMatch,
    Recommendation,
    RecommendationsResponse,
    RunOut,
    ScoreBreakdown,
    Unmatched,
)
from companion.matching.scoring import (
    Embedded,
    MatchProfile,
    MentorPool,
    PairDetails,
    ScoreBlock,
    excluded_counts,
    no_mentor_reason,
    pair_details,
    rank,
    reason_text,
)
from companion.schemas import is_db_id
from companion.settings import MatchingSettings, ProgramSettings
from companion.storage.cycle_rules import Refusal, circle_limit, is_group_cycle, join_refusal, small_circles
from companion.storage.db import (
    Cycle,
    CycleMentorship,
    Database,
    Match,
    MatchRun,
    Mentorship,
    Person,
    Program,
    utcnow,
)

Pair = tuple[int, int]  # (mentee person id, mentor person id)


@dataclass
class _State:
    """Everyone's scoring profile and vectors, and the mentor pool built from them."""

    fingerprint: tuple[object, ...]
    people: dict[int, PersonBrief]
    profiles: dict[int, MatchProfile]
    embedded: dict[int, Embedded]
    pool: MentorPool
    mentor_ids: list[int]


class MatchingService:
    def __init__(
        self,
        *,
        db: Database,
        vectors: ProfileVectors,
        settings: MatchingSettings,
        program: ProgramSettings | None = None,
    ) -> None:
        self.db = db
        self.vectors = vectors
        self.settings = settings
        self.program = program or ProgramSettings()
        self._state: _State | None = None
        self._lock = threading.Lock()

    # ---- shared state ----------------------------------------------------------------------------

    def _load(self, session: Session) -> _State:
        count, latest = session.execute(select(func.count(Person.id), func.max(Person.updated_at))).one()
        fingerprint = (int(count), str(latest), self.vectors.embedder.name)
        with self._lock:
            if self._state is not None and self._state.fingerprint == fingerprint:
                return self._state
            people = list(session.scalars(select(Person).order_by(Person.id)))
            embedded, _ = self.vectors.sync(session, people)
            chains = reporting_chains({p.key: p.manager_key for p in people})
            profiles = {p.id: match_profile(p, ancestors=chains[p.key]) for p in people}
            mentors = [p for p in people if p.role == "mentor" and p.active]  # leavers are never proposed
            dims = self.vectors.embedder.dimensions
            matrix = _stack([embedded[p.id].vector for p in mentors], dims)
            pool = MentorPool([profiles[p.id] for p in mentors], matrix, settings=self.settings)
            self._state = _State(
                fingerprint,
                {p.id: brief(p) for p in people},
                profiles,
                embedded,
                pool,
                [p.id for p in mentors],
            )
            return self._state

    @staticmethod
    def _held_counts(state: _State, held: set[Pair]) -> np.ndarray:
        """Mentees each pool mentor holds (pool order)."""
        per_mentor: dict[int, int] = {}
        for _, mentor_id in held:
            per_mentor[mentor_id] = per_mentor.get(mentor_id, 0) + 1
        return np.array([per_mentor.get(mid, 0) for mid in state.mentor_ids], dtype=np.int64)

    def _limits(self, state: _State, group: bool) -> np.ndarray:
        """Mentees each pool mentor may hold: capacity, capped at program.group_max_mentees for a cycle
        of a group program."""
        cap = self.program.group_max_mentees
        return np.array(
            [circle_limit(int(c), group=group, group_max=cap) for c in state.pool.capacity], dtype=np.int64
        )

    def _places(self, state: _State, held_counts: np.ndarray, *, group: bool = False) -> np.ndarray:
        return np.maximum(0, self._limits(state, group) - held_counts).astype(np.int64)

    def _held_pairs(
        self, session: Session, cycle_id: int | None, *, involving: Pair | None = None
    ) -> set[Pair]:
        """Pairs holding a place: every accepted match; for a cycle, the accepted matches of the cycle's
        runs and the mentorships already in the cycle (ended ones too, until taken out of it).
        `involving`: only pairs with that mentee or that mentor."""
        query = select(Match.mentee_id, Match.mentor_id).where(Match.status == "accepted")
        if involving is not None:
            query = query.where((Match.mentee_id == involving[0]) | (Match.mentor_id == involving[1]))
        if cycle_id is None:
            return {(a, b) for a, b in session.execute(query).tuples()}
        query = query.where(Match.run_id.in_(select(MatchRun.id).where(MatchRun.cycle_id == cycle_id)))
        pairs = {(a, b) for a, b in session.execute(query).tuples()}
        # ended pairs still in the cycle count too: the cycle rule (storage/cycle_rules.py) counts them
        in_cycle = self._cycle_pairs(session, [cycle_id], active_only=False, involving=involving)
        return pairs | in_cycle.get(cycle_id, set())

    @staticmethod
    def _cycle_pairs(
        session: Session, cycle_ids: Sequence[int], *, active_only: bool, involving: Pair | None = None
    ) -> dict[int, set[Pair]]:
        """Per cycle, the (mentee, mentor) people whose mentorship has a cycle_mentorships row in it."""
        mentee, mentor = aliased(Person), aliased(Person)
        query = (
            select(CycleMentorship.cycle_id, mentee.id, mentor.id)
            .join(Mentorship, Mentorship.id == CycleMentorship.mentorship_id)
            .join(mentee, mentee.user_id == Mentorship.mentee_user_id)
            .join(mentor, mentor.user_id == Mentorship.mentor_user_id)
            .where(CycleMentorship.cycle_id.in_(list(cycle_ids)))
        )
        if active_only:
            query = query.where(Mentorship.active.is_(True))
        if involving is not None:
            query = query.where((mentee.id == involving[0]) | (mentor.id == involving[1]))
        out: dict[int, set[Pair]] = {}
        for cycle_id, mentee_id, mentor_id in session.execute(query).tuples():
            out.setdefault(cycle_id, set()).add((mentee_id, mentor_id))
        return out

    def _repeated_pairs(self, session: Session, cycle: Cycle) -> set[Pair]:
        """Pairs that ran together in each of the max_consecutive_cycles cycles of the same program
        just before `cycle` (by start date); none while there are fewer cycles before it. A pair ran in
        a cycle when its mentorship is in it, or when a match of a run for that cycle was accepted."""
        limit = self.program.max_consecutive_cycles
        before = list(
            session.scalars(
                select(Cycle.id)
                .where(
                    Cycle.program_id == cycle.program_id,
                    Cycle.starts_on < cycle.starts_on,
                    Cycle.id != cycle.id,
                )
                .order_by(Cycle.starts_on.desc(), Cycle.id.desc())
                .limit(limit)
            )
        )
        if len(before) < limit:
            return set()
        per_cycle = self._cycle_pairs(session, before, active_only=False)
        accepted = session.execute(
            select(MatchRun.cycle_id, Match.mentee_id, Match.mentor_id)
            .join(MatchRun, MatchRun.id == Match.run_id)
            .where(MatchRun.cycle_id.in_(before), Match.status == "accepted")
        ).tuples()
        for cycle_id, mentee_id, mentor_id in accepted:  # pairs without user accounts have no mentorship
            if cycle_id is not None:
                per_cycle.setdefault(cycle_id, set()).add((mentee_id, mentor_id))
        return set.intersection(*(per_cycle.get(c, set()) for c in before))

    @staticmethod
    def _cycle(session: Session, cycle_id: int) -> tuple[Cycle, CycleBrief]:
        cycle = session.get(Cycle, cycle_id) if is_db_id(cycle_id) else None
        if cycle is None:
            raise InvalidInput(f"cycle_id: no cycle {cycle_id}; create it on the program page first")
        program = session.get(Program, cycle.program_id)
        brief_out = CycleBrief(
            id=cycle.id,
            name=cycle.name,
            program=program.name if program is not None else "?",
            starts_on=cycle.starts_on,
            ends_on=cycle.ends_on,
        )
        return cycle, brief_out

    def cycle_choices(self) -> list[CycleBrief]:
        """Every cycle a cohort run may name, latest start first (for the matching page's form)."""
        with self.db.session() as session:
            rows = session.execute(
                select(Cycle, Program.name)
                .join(Program, Program.id == Cycle.program_id)
                .order_by(Cycle.starts_on.desc(), Cycle.id.desc())
                .limit(200)
            ).tuples()
            return [
                CycleBrief(id=c.id, name=c.name, program=name, starts_on=c.starts_on, ends_on=c.ends_on)
                for c, name in rows
            ]

    @staticmethod
    def _declined_pairs(session: Session) -> set[tuple[int, int]]:
        rows = session.execute(select(Match.mentee_id, Match.mentor_id).where(Match.status == "declined"))
        return {(a, b) for a, b in rows.all()}

    def _breakdown(self, block: ScoreBlock, i: int, j: int) -> ScoreBreakdown:
        s = self.settings
        return ScoreBreakdown(
            similarity=round(float(block.similarity[i, j]), 4),
            skills=round(float(block.skills[i, j]), 4),
            preferences=round(float(block.preferences[i, j]), 4),
            weights={
                "similarity": s.similarity_weight,
                "skills": s.skill_weight,
                "preferences": s.preference_weight,
            },
        )

    def _details(self, state: _State, block: ScoreBlock, i: int, mentee_id: int, j: int) -> PairDetails:
        mentor_id = state.mentor_ids[j]
        return pair_details(
            state.profiles[mentee_id],
            state.profiles[mentor_id],
            state.embedded[mentee_id],
            state.embedded[mentor_id],
            overlap=float(block.overlap[i, j]),
            min_similarity=self.settings.reason_min_similarity,
        )

    # ---- recommendations -------------------------------------------------------------------------

    def recommend(
        self, mentee_ref: int | str, *, k: int, principal: Principal | None
    ) -> RecommendationsResponse:
        """Top-k mentors for one mentee. `principal` None means the command line (trusted)."""
        with self.db.session() as session:
            person = find_person(session, mentee_ref)
            if principal is not None and principal.role != Role.admin:
                if principal.role == Role.mentor:
                    raise Forbidden("recommendations are for mentees and admins; mentors cannot see them")
                if person.user_id != principal.id:
                    raise Forbidden("you can only see your own recommendations")
            if person.role != "mentee":
                raise InvalidInput(f"{person.key} is a mentor; recommendations are for mentees")
            if not person.active:
                raise InvalidInput(f"{person.key} is no longer active (left the organization's people file)")
            state = self._load(session)
            places = self._places(state, self._held_counts(state, self._held_pairs(session, None)))
            declined = [
                state.pool.row_of[state.people[mentor].key]
                for mentee, mentor in self._declined_pairs(session)
                if mentee == person.id and mentor in state.people
            ]
        profile = state.profiles[person.id]
        block, top = rank(
            state.pool, profile, state.embedded[person.id].vector, k=k, places=places, forbidden=declined
        )
        results = []
        for position, j in enumerate(top, start=1):
            mentor_id = state.mentor_ids[j]
            details = self._details(state, block, 0, person.id, j)
            results.append(
                Recommendation(
                    rank=position,
                    mentor=state.people[mentor_id],
                    score=round(float(block.total[0, j]), 4),
                    breakdown=self._breakdown(block, 0, j),
                    matched_skills=details.matched_skills,
                    matched_phrases=[
                        PhraseMatch(need=a, offer=b, similarity=round(c, 4)) for a, b, c in details.phrases
                    ],
                    shared_languages=details.shared_languages,
                    overlap_hours=details.overlap_hours,
                    places_left=int(places[j]),
                    reason=reason_text(details, profile),
                )
            )
        return RecommendationsResponse(
            mentee=brief(person),
            goals=person.goals,
            skills_wanted=list(person.skills),
            mentors_considered=state.pool.size,
            mentors_eligible=int(block.feasible[0].sum()),
            excluded=excluded_counts(block),
            results=results,
        )

    # ---- cohort matching -------------------------------------------------------------------------

    def cohort(self, request: CohortRequest, *, created_by: int | None = None) -> CohortReport:
        started = time.perf_counter()
        with self.db.session() as session:
            state = self._load(session)
            cycle, cycle_brief = (None, None)
            if request.cycle_id is not None:
                cycle, cycle_brief = self._cycle(session, request.cycle_id)
            group = cycle is not None and is_group_cycle(session, cycle)
            held = self._held_pairs(session, request.cycle_id)
            held_counts = self._held_counts(state, held)
            places = self._places(state, held_counts, group=group)
            accepted = {mentee_id for mentee_id, _ in held}
            taken_text = "already has a mentor in this cycle" if cycle else "already has an accepted mentor"
            chosen = self._cohort_mentees(session, request, accepted)
            pins = [
                (self._ref(session, p.mentee, "mentee"), self._ref(session, p.mentor, "mentor"))
                for p in request.pins
            ]
            forbids = {
                (self._ref(session, p.mentee, "mentee"), self._ref(session, p.mentor, "mentor"))
                for p in request.forbids
            }
            forbids |= self._declined_pairs(session)
            for mentee_id, _ in pins:
                if mentee_id in accepted:
                    raise InvalidInput(f"pin: {state.people[mentee_id].key} {taken_text}")
                if mentee_id not in chosen:
                    chosen.append(mentee_id)
            ready = [m for m in chosen if m not in accepted]
            index = {mentee_id: i for i, mentee_id in enumerate(ready)}
            row_of = {mid: row for row, mid in enumerate(state.mentor_ids)}
            clash = sorted(forbids & set(pins))
            if clash:
                label = self._pair_label(state, clash[0])
                raise InvalidInput(f"{label} is both pinned and forbidden (or was declined before)")
            repeated = None
            if cycle is not None:
                pairs = self._repeated_pairs(session, cycle)
                repeated = [(index[a], row_of[b]) for a, b in pairs if a in index and b in row_of]
            block = state.pool.score(
                [state.profiles[m] for m in ready],
                _stack([state.embedded[m].vector for m in ready], state.pool.vectors.shape[1]),
                places=places,
                forbidden=[(index[a], row_of[b]) for a, b in forbids if a in index and b in row_of],
                repeated=repeated,
            )
            pin_rows = [(index[a], row_of[b]) for a, b in pins]
            problem = Problem(
                block.total,
                block.feasible,
                places,
                pin_rows,
                unmatched_penalty=self.settings.unmatched_penalty,
            )
            self._check_pins(state, block, problem, pins)
            optimal = solve_optimal(problem)
            greedy = solve_greedy(problem)

            pinned = set(pin_rows)
            matches: list[MatchOut] = []
            unmatched: list[Unmatched] = []
            for mentee_id in chosen:
                if mentee_id in accepted:
                    unmatched.append(Unmatched(mentee=state.people[mentee_id], reason=taken_text))
                    continue
                i = index[mentee_id]
                j = int(optimal.mentor_of[i])
                if j == UNMATCHED:
                    why = self._why(block, i, state, mentee_id)
                    unmatched.append(Unmatched(mentee=state.people[mentee_id], reason=why))
                    continue
                reason = reason_text(self._details(state, block, i, mentee_id, j), state.profiles[mentee_id])
                matches.append(
                    MatchOut(
                        id=None,
                        run_id=None,
                        mentee=state.people[mentee_id],
                        mentor=state.people[state.mentor_ids[j]],
                        score=round(float(block.total[i, j]), 4),
                        breakdown=self._breakdown(block, i, j),
                        reason=reason,
                        status="proposed",
                        pinned=(i, j) in pinned,
                        mentor_accepted=False,
                        mentee_accepted=False,
                    )
                )
            excluded = {rule: int((~passed).sum()) for rule, passed in block.checks.items()}
            report = CohortReport(
                run_id=None,
                cycle=cycle_brief,
                mentees=len(chosen),
                mentors=int((places > 0).sum()),
                matched=len(matches),
                total_score=round(optimal.total_score, 4),
                greedy=BaselineOut(matched=greedy.matched, total_score=round(greedy.total_score, 4)),
                solver="scipy.optimize.linear_sum_assignment on capacity slots",
                seconds=0.0,
                matches=matches,
                unmatched=unmatched,
                excluded=excluded,
                repeat_excluded=excluded.get("consecutive_cycles", 0),
                audit=self._audit(state, ready, block, optimal, held_counts, self._limits(state, group)),
                warnings=self._circle_warnings(state, optimal, held_counts) if group else [],
            )
            if request.save:
                self._save(session, report, created_by=created_by)
            report.seconds = round(time.perf_counter() - started, 3)
            return report

    def _audit(
        self,
        state: _State,
        ready: list[int],
        block: ScoreBlock,
        optimal: Assignment,
        held_counts: np.ndarray,
        limits: np.ndarray,
    ) -> MatchAudit:
        mentees = []
        for i, mentee_id in enumerate(ready):
            profile, j = state.profiles[mentee_id], int(optimal.mentor_of[i])
            mentees.append(
                MenteeOutcome(
                    key=profile.key,
                    department=profile.department,
                    site=profile.site,
                    seniority=profile.seniority,
                    timezone=profile.timezone,
                    score=None if j == UNMATCHED else round(float(block.total[i, j]), 4),
                )
            )
        given = optimal.mentor_of[optimal.mentor_of != UNMATCHED]
        assigned = np.bincount(given, minlength=state.pool.size) if state.pool.size else np.zeros(0, int)
        mentors = [
            MentorOutcome(
                key=profile.key,
                name=profile.name,
                capacity=int(limits[row]),
                held=int(held_counts[row]),
                assigned=int(assigned[row]),
            )
            for row, profile in enumerate(state.pool.mentors)
        ]
        return audit_run(
            mentees,
            mentors,
            warn_points=self.settings.audit_warn_points,
            min_group_size=self.settings.audit_min_group_size,
        )

    def _circle_warnings(self, state: _State, optimal: Assignment, held_counts: np.ndarray) -> list[str]:
        """Group circles the run would leave under program.group_min_mentees (held + assigned)."""
        given = optimal.mentor_of[optimal.mentor_of != UNMATCHED]
        sizes = held_counts + np.bincount(given, minlength=state.pool.size)[: state.pool.size]
        low = self.program.group_min_mentees
        small = small_circles({row: int(n) for row, n in enumerate(sizes)}, group_min=low)
        named = sorted((state.people[state.mentor_ids[row]].name, n) for row, n in small.items())
        return [
            f"the circle of {name} would have {n} mentee(s); a group circle needs at least {low} "
            "(program.group_min_mentees)"
            for name, n in named
        ]

    def _cohort_mentees(self, session: Session, request: CohortRequest, accepted: set[int]) -> list[int]:
        if request.mentees is None:
            ids = session.scalars(
                select(Person.id).where(Person.role == "mentee", Person.active).order_by(Person.id)
            )
            return [i for i in ids if i not in accepted]
        chosen: list[int] = []
        for ref in request.mentees:
            mentee_id = self._ref(session, ref, "mentee")
            if mentee_id not in chosen:
                chosen.append(mentee_id)
        return chosen

    @staticmethod
    def _ref(session: Session, ref: int | str, role: str) -> int:
        try:
            person = find_person(session, ref)
        except NotFound:
            raise InvalidInput(f"no {role} {ref!r}") from None
        if person.role != role:
            raise InvalidInput(f"{person.key} is a {person.role}, not a {role}")
        if not person.active:
            raise InvalidInput(f"{person.key} is no longer active (left the organization's people file)")
        return person.id

    @staticmethod
    def _pair_label(state: _State, pair: tuple[int, int]) -> str:
        return f"{state.people[pair[0]].key} -> {state.people[pair[1]].key}"

    def _check_pins(
        self, state: _State, block: ScoreBlock, problem: Problem, pins: Sequence[tuple[int, int]]
    ) -> None:
        problem_text = check_pins(problem)
        if problem_text is None:
            return
        for (i, j), pair in zip(problem.pins, pins, strict=True):
            broken = [rule for rule, passed in block.checks.items() if not passed[i, j]]
            if broken:
                rules = ", ".join(r.replace("_", " ") for r in broken)
                raise InvalidInput(f"pin {self._pair_label(state, pair)} breaks the hard rule(s): {rules}")
        if "twice" in problem_text:
            raise InvalidInput("a mentee can be pinned to one mentor only")
        raise InvalidInput("the pins give a mentor more mentees than they have places left")

    def _why(self, block: ScoreBlock, i: int, state: _State, mentee_id: int) -> str:
        feasible = int(block.feasible[i].sum())
        if feasible:
            return (
                f"capacity exhausted: all {feasible} mentor(s) meeting every rule are full in the "
                "assignment with the highest total score"
            )
        return no_mentor_reason(block, i, state.profiles[mentee_id])

    def _save(self, session: Session, report: CohortReport, *, created_by: int | None) -> None:
        run = MatchRun(
            created_by=created_by,
            mentees=report.mentees,
            matched=report.matched,
            total_score=report.total_score,
            greedy_score=report.greedy.total_score,
            cycle_id=report.cycle.id if report.cycle else None,
            report={
                "unmatched": [{"mentee": u.mentee.key, "reason": u.reason} for u in report.unmatched],
                "greedy_matched": report.greedy.matched,
                "weights": self.settings.model_dump(),
                "cycle": report.cycle.model_dump(mode="json") if report.cycle else None,
                "excluded": report.excluded,
                "repeat_excluded": report.repeat_excluded,
                "warnings": report.warnings,
                "audit": report.audit.model_dump(mode="json") if report.audit else None,
            },
        )
        session.add(run)
        session.flush()
        mentee_ids = [m.mentee.id for m in report.matches] + [u.mentee.id for u in report.unmatched]
        if mentee_ids:
            session.execute(
                update(Match)
                .where(Match.mentee_id.in_(mentee_ids), Match.status == "proposed")
                .values(status="withdrawn", updated_at=utcnow())
            )
        report.run_id = run.id
        for match in report.matches:
            row = Match(
                run_id=run.id,
                mentee_id=match.mentee.id,
                mentor_id=match.mentor.id,
                score=match.score,
                breakdown=match.breakdown.model_dump(),
                reason=match.reason,
                status="proposed",
                pinned=match.pinned,
            )
            session.add(row)
            session.flush()
            match.id, match.run_id = row.id, run.id

    # ---- runs and matches ------------------------------------------------------------------------

    def run_audit(self, run_id: int) -> MatchAudit:
        """The stored fairness audit of a run."""
        run = self.get_run(run_id)
        if run.audit is None:
            raise NotFound(f"run {run_id} was stored before runs carried an audit; run the match again")
        return run.audit

    def get_run(self, run_id: int) -> RunOut:
        with self.db.session() as session:
            run = session.get(MatchRun, run_id) if is_db_id(run_id) else None
            if run is None:
                raise NotFound(f"no matching run {run_id}")
            return _run_out(run)

    def list_runs(self, *, limit: int = 20) -> list[RunOut]:
        """The latest stored runs, newest first."""
        with self.db.session() as session:
            runs = session.scalars(select(MatchRun).order_by(MatchRun.id.desc()).limit(limit))
            return [_run_out(run) for run in runs]

    def list_matches(
        self, *, principal: Principal | None, run_id: int | None = None, status: str | None = None
    ) -> list[MatchOut]:
        with self.db.session() as session:
            query = select(Match).order_by(Match.id)
            if run_id is not None:
                query = query.where(Match.run_id == run_id)
            if status is not None:
                query = query.where(Match.status == status)
            if principal is not None and principal.role != Role.admin:
                me = own_person(session, principal)
                if me is None:
                    return []
                query = query.where((Match.mentee_id == me.id) | (Match.mentor_id == me.id))
            return [self._match_out(session, m) for m in session.scalars(query)]

    def decide(self, match_id: int, *, accept: bool, principal: Principal | None) -> MatchOut:
        """Accept or decline as a party (or as an admin; `principal` None is the trusted command line)."""
        with self.db.session() as session:
            match = session.get(Match, match_id) if is_db_id(match_id) else None
            if match is None:
                raise NotFound(f"no match {match_id}")
            mentee, mentor = session.get(Person, match.mentee_id), session.get(Person, match.mentor_id)
            assert mentee is not None and mentor is not None
            admin = principal is None or principal.role == Role.admin
            as_mentor = principal is not None and mentor.user_id == principal.id
            as_mentee = principal is not None and mentee.user_id == principal.id
            if not (admin or as_mentor or as_mentee):
                raise Forbidden("only the mentor, the mentee or an admin can answer this match")
            if match.status != "proposed":
                raise Conflict(f"match {match_id} is already {match.status}")
            match.updated_at = utcnow()
            if not accept:
                match.status = "declined"
                return self._match_out(session, match)
            match.mentor_accepted = match.mentor_accepted or as_mentor or admin
            match.mentee_accepted = match.mentee_accepted or as_mentee or admin
            if match.mentor_accepted and match.mentee_accepted:
                self._finalize(session, match, mentee, mentor)
            return self._match_out(session, match)

    def accept_run(self, run_id: int) -> tuple[list[MatchOut], list[str]]:
        """Admin: accept every proposed match of a run. Returns accepted matches and the ones skipped."""
        accepted: list[MatchOut] = []
        skipped: list[str] = []
        with self.db.session() as session:
            run = session.get(MatchRun, run_id) if is_db_id(run_id) else None
            if run is None:
                raise NotFound(f"no matching run {run_id}")
            cycle_id = run.cycle_id
            ids = list(
                session.scalars(
                    select(Match.id)
                    .where(Match.run_id == run_id, Match.status == "proposed")
                    .order_by(Match.id)
                )
            )
        for match_id in ids:
            try:
                accepted.append(self.decide(match_id, accept=True, principal=None))
            except Conflict as exc:
                skipped.append(f"match {match_id}: {exc.message}")
        if cycle_id is not None:
            skipped.extend(self._join_run_cycle(run_id, cycle_id))
        return accepted, skipped

    def _join_run_cycle(self, run_id: int, cycle_id: int) -> list[str]:
        """Add the mentorships of every accepted match of the run to its cycle (again: no change, so a
        pair whose accounts were linked after it was accepted joins on the next publish). Returns why
        pairs the cycle rule refused were left out."""
        mentee, mentor = aliased(Person), aliased(Person)
        refused: list[str] = []
        with self.db.session() as session:
            cycle = session.get(Cycle, cycle_id)
            if cycle is None:
                return refused
            group = is_group_cycle(session, cycle)
            rows = session.execute(
                select(Mentorship, mentee, mentor)
                .join(mentee, mentee.user_id == Mentorship.mentee_user_id)
                .join(mentor, mentor.user_id == Mentorship.mentor_user_id)
                .join(Match, (Match.mentee_id == mentee.id) & (Match.mentor_id == mentor.id))
                .where(Match.run_id == run_id, Match.status == "accepted")
                .order_by(Match.id)
            ).tuples()
            for pair, mentee_row, mentor_row in rows:
                refusal = self._join_cycle(session, cycle, pair, group=group)
                if refusal is not None:
                    refused.append(f"cycle {cycle.name!r}: {_refusal_text(refusal, mentee_row, mentor_row)}")
        return refused

    def _join_cycle(
        self, session: Session, cycle: Cycle, mentorship: Mentorship, *, group: bool
    ) -> Refusal | None:
        """Put the mentorship in the cycle unless it is there already (no change, not a refusal). The
        refusal when the cycle rule forbids it (the mentee has another pair there, or the circle is full)."""
        refusal = join_refusal(
            session, cycle, mentorship, group=group, group_max=self.program.group_max_mentees
        )
        if refusal is not None:
            return None if refusal.rule == "in_cycle" else refusal
        today = utcnow().date()
        session.add(
            CycleMentorship(
                cycle_id=cycle.id, mentorship_id=mentorship.id, joined_on=max(today, cycle.starts_on)
            )
        )
        session.flush()
        return None

    def _finalize(self, session: Session, match: Match, mentee: Person, mentor: Person) -> None:
        run = session.get(MatchRun, match.run_id) if match.run_id is not None else None
        cycle_id = run.cycle_id if run is not None else None
        cycle = session.get(Cycle, cycle_id) if cycle_id is not None else None
        group = cycle is not None and is_group_cycle(session, cycle)
        limit = circle_limit(mentor.capacity, group=group, group_max=self.program.group_max_mentees)
        held = self._held_pairs(session, cycle_id, involving=(mentee.id, mentor.id))
        others = {a for a, b in held if b == mentor.id and a != mentee.id}
        within = " in this cycle" if cycle_id is not None else ""
        if len(others) >= limit:
            what = "a group circle's most" if limit < mentor.capacity else "capacity"
            raise Conflict(f"{mentor.name} has no places left{within} ({what} {limit})")
        if any(a == mentee.id and b != mentor.id for a, b in held):
            raise Conflict(f"{mentee.name} already has an accepted mentor{within}")
        match.status = "accepted"
        session.execute(
            update(Match)
            .where(Match.mentee_id == mentee.id, Match.status == "proposed", Match.id != match.id)
            .values(status="withdrawn", updated_at=utcnow())
        )
        if mentor.user_id is not None and mentee.user_id is not None:
            pair = link_mentorship(session, mentor_user_id=mentor.user_id, mentee_user_id=mentee.user_id)
            if cycle is not None:
                refusal = self._join_cycle(session, cycle, pair, group=group)
                if refusal is not None:  # the whole acceptance is rolled back
                    raise Conflict(_refusal_text(refusal, mentee, mentor))

    def _match_out(self, session: Session, match: Match) -> MatchOut:
        mentee, mentor = session.get(Person, match.mentee_id), session.get(Person, match.mentor_id)
        assert mentee is not None and mentor is not None
        return MatchOut(
            id=match.id,
            run_id=match.run_id,
            mentee=brief(mentee),
            mentor=brief(mentor),
            score=match.score,
            breakdown=ScoreBreakdown.model_validate(match.breakdown),
            reason=match.reason,
            status=match.status,
            pinned=match.pinned,
            mentor_accepted=match.mentor_accepted,
            mentee_accepted=match.mentee_accepted,
            linked=_linked(session, mentor, mentee),
        )


def _refusal_text(refusal: Refusal, mentee: Person, mentor: Person) -> str:
    if refusal.rule == "circle_full":
        return (
            f"{mentor.name}'s group circle already has {refusal.circle} mentees "
            "(program.group_max_mentees); the pair was not added to the cycle"
        )
    return (
        f"{mentee.name} already has another pair in this cycle (a mentee has one pair per cycle); "
        f"the pair with {mentor.name} was not added to it"
    )


def _run_out(run: MatchRun) -> RunOut:
    return RunOut(
        id=run.id,
        created_at=run.created_at,
        mentees=run.mentees,
        matched=run.matched,
        total_score=run.total_score,
        greedy_score=run.greedy_score,
        cycle_id=run.cycle_id,
        audit=_stored_audit(run.report.get("audit")),
        report={key: value for key, value in run.report.items() if key != "audit"},  # given once, above
    )


def _stored_audit(value: object) -> MatchAudit | None:
    if not isinstance(value, dict):
        return None
    try:
        return MatchAudit.model_validate(value)
    except ValidationError:
        return None


def _linked(session: Session, mentor: Person, mentee: Person) -> bool:
    if mentor.user_id is None or mentee.user_id is None:
        return False
    row = session.scalar(
        select(Mentorship.id).where(
            Mentorship.mentor_user_id == mentor.user_id,
            Mentorship.mentee_user_id == mentee.user_id,
            Mentorship.active.is_(True),
        )
    )
    return row is not None


def _stack(vectors: list[np.ndarray], dims: int) -> np.ndarray:
    return np.stack(vectors) if vectors else np.zeros((0, dims), dtype=np.float32)
