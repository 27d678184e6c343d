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
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from companion.errors import Conflict, Forbidden, InvalidInput, NotFound
from companion.identity.auth import Principal, Role, link_mentorship
from companion.matching.assignment import UNMATCHED, Problem, check_pins, solve_greedy, solve_optimal
from companion.matching.people import brief, find_person, own_person
from companion.matching.profiles import ProfileVectors, match_profile, reporting_chains
from companion.matching.schemas import (
    BaselineOut,
    CohortReport,
    CohortRequest,
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
from companion.settings import MatchingSettings
from companion.storage.db import Database, Match, MatchRun, Mentorship, Person, utcnow


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
    def __init__(self, *, db: Database, vectors: ProfileVectors, settings: MatchingSettings) -> None:
        self.db = db
        self.vectors = vectors
        self.settings = settings
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

    def _places(self, session: Session, state: _State) -> np.ndarray:
        taken = dict(
            session.execute(
                select(Match.mentor_id, func.count(Match.id))
                .where(Match.status == "accepted")
                .group_by(Match.mentor_id)
            ).all()
        )
        return np.array(
            [
                max(0, state.pool.capacity[row] - taken.get(mid, 0))
                for row, mid in enumerate(state.mentor_ids)
            ],
            dtype=np.int64,
        )

    @staticmethod
    def _accepted_mentees(session: Session) -> set[int]:
        return set(session.scalars(select(Match.mentee_id).where(Match.status == "accepted")))

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
            places = self._places(session, state)
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
            places = self._places(session, state)
            accepted = self._accepted_mentees(session)
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
                    raise InvalidInput(f"pin: {state.people[mentee_id].key} already has an accepted mentor")
                if mentee_id not in chosen:
                    chosen.append(mentee_id)
            ready = [m for m in chosen if m not in accepted]
            index = {mentee_id: i for i, mentee_id in enumerate(ready)}
            row_of = {mid: row for row, mid in enumerate(state.mentor_ids)}
            clash = sorted(forbids & set(pins))
            if clash:
                label = self._pair_label(state, clash[0])
                raise InvalidInput(f"{label} is both pinned and forbidden (or was declined before)")
            block = state.pool.score(
                [state.profiles[m] for m in ready],
                _stack([state.embedded[m].vector for m in ready], state.pool.vectors.shape[1]),
                places=places,
                forbidden=[(index[a], row_of[b]) for a, b in forbids if a in index and b in row_of],
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
                    unmatched.append(
                        Unmatched(mentee=state.people[mentee_id], reason="already has an accepted mentor")
                    )
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
            report = CohortReport(
                run_id=None,
                mentees=len(chosen),
                mentors=int((places > 0).sum()),
                matched=len(matches),
                total_score=round(optimal.total_score, 4),
                greedy=BaselineOut(matched=greedy.matched, total_score=round(greedy.total_score, 4)),
                solver="scipy.optimize.linear_sum_assignment on capacity slots",
                seconds=0.0,
                matches=matches,
                unmatched=unmatched,
            )
            if request.save:
                self._save(session, report, created_by=created_by)
            report.seconds = round(time.perf_counter() - started, 3)
            return report

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
            report={
                "unmatched": [{"mentee": u.mentee.key, "reason": u.reason} for u in report.unmatched],
                "greedy_matched": report.greedy.matched,
                "weights": self.settings.model_dump(),
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
            if not is_db_id(run_id) or session.get(MatchRun, run_id) is None:
                raise NotFound(f"no matching run {run_id}")
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
        return accepted, skipped

    def _finalize(self, session: Session, match: Match, mentee: Person, mentor: Person) -> None:
        taken = session.scalar(
            select(func.count(Match.id)).where(Match.mentor_id == mentor.id, Match.status == "accepted")
        )
        if int(taken or 0) >= mentor.capacity:
            raise Conflict(f"{mentor.name} has no places left (capacity {mentor.capacity})")
        if session.scalar(select(Match.id).where(Match.mentee_id == mentee.id, Match.status == "accepted")):
            raise Conflict(f"{mentee.name} already has an accepted mentor")
        match.status = "accepted"
        session.execute(
            update(Match)
            .where(Match.mentee_id == mentee.id, Match.status == "proposed", Match.id != match.id)
            .values(status="withdrawn", updated_at=utcnow())
        )
        if mentor.user_id is not None and mentee.user_id is not None:
            link_mentorship(session, mentor_user_id=mentor.user_id, mentee_user_id=mentee.user_id)

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


def _run_out(run: MatchRun) -> RunOut:
    return RunOut(
        id=run.id,
        created_at=run.created_at,
        mentees=run.mentees,
        matched=run.matched,
        total_score=run.total_score,
        greedy_score=run.greedy_score,
        report=run.report,
    )


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
