"""Participant surveys: mid-cycle and end-of-cycle questionnaires for mentees and mentors, edited by the
program admins, answered once per person (signed in, or through a personal link), and read only as
aggregates of at least `program.survey_min_answers` answers. The one exception to "never per person" is a
confidential contact request, which goes to the program admins with the person's name.

The rules live here so the API, the pages, the CLI and the e-mail nudges all apply them the same way.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from datetime import date, timedelta
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from companion.errors import Conflict, Forbidden, InvalidInput, NotFound
from companion.identity.auth import Principal, Role
from companion.program import invitations
from companion.schemas import DbId, UtcDateTime
from companion.settings import ProgramSettings
from companion.storage.db import (
    Cycle,
    CycleMentorship,
    Database,
    Mentorship,
    Milestone,
    Person,
    Survey,
    SurveyResponse,
    User,
)

Kind = Literal["mid", "end"]
Audience = Literal["mentee", "mentor", "both"]
QuestionType = Literal["rating", "text"]
RATINGS = (1, 2, 3, 4, 5)
MAX_TEXT = 4000
MAX_NOTE = 2000
MAX_QUESTIONS = 30
KEY_PATTERN = r"^[a-z][a-z0-9_]{0,39}$"
MILESTONE_OF_KIND = {"mid": "mid_survey", "end": "end_survey"}
KIND_TITLES = {"mid": "Mid-cycle check-in survey", "end": "End-of-cycle survey"}


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def clean_text(value: str) -> str:
    """Text as stored: control characters (NUL above all, which PostgreSQL text refuses) removed, and the
    surrounding whitespace trimmed. Line breaks and tabs stay."""
    return _CONTROL.sub("", value).strip()


def _clean_before(value: object) -> object:
    return clean_text(value) if isinstance(value, str) else value


# a line of text from a person: cleaned before its length is checked
CleanText = Annotated[str, BeforeValidator(_clean_before)]

# ---- schemas -----------------------------------------------------------------------------------------


class Question(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key: str = Field(pattern=KEY_PATTERN, description="Stable key the answers are stored under.")
    text: CleanText = Field(min_length=3, max_length=300, description="The question as people read it.")
    type: QuestionType = Field(description="`rating`: 1 (low) to 5 (high); `text`: a free answer.")


def _check_questions(questions: Sequence[Question]) -> None:
    keys = [q.key for q in questions]
    twice = sorted({k for k in keys if keys.count(k) > 1})
    if twice:
        raise ValueError(f"each question needs its own key; used twice: {', '.join(twice)}")


class SurveyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Kind = Field(description="`mid`: mid-cycle check-in; `end`: end of cycle.")
    audience: Audience = Field("both", description="Who answers: mentees, mentors or both.")
    title: CleanText | None = Field(None, min_length=3, max_length=300, description="Unset: from the kind.")
    cycle_id: DbId | None = Field(None, description="The cycle it is about (unset: the whole program).")
    opens_on: date | None = Field(
        None, description="First day it can be answered (unset: from the cycle's milestone, or at once)."
    )
    closes_on: date | None = Field(
        None,
        description="Last day it can be answered (unset: from the "
        "opening day and `program.survey_days_open`, or never).",
    )
    questions: list[Question] | None = Field(
        None, min_length=1, max_length=MAX_QUESTIONS, description="Unset: the default questions of the kind."
    )

    @model_validator(mode="after")
    def _consistent(self) -> SurveyIn:
        if self.questions is not None:
            _check_questions(self.questions)
        if self.opens_on and self.closes_on and self.closes_on < self.opens_on:
            raise ValueError("the closing day must not be before the opening day")
        return self


class SurveyUpdate(BaseModel):
    """Fields to change (unset: unchanged). Once a survey has answers its questions keep their keys and
    types: only their texts and their order can change."""

    model_config = ConfigDict(extra="forbid")

    title: CleanText | None = Field(None, min_length=3, max_length=300)
    audience: Audience | None = None
    opens_on: date | None = None
    closes_on: date | None = None
    questions: list[Question] | None = Field(None, min_length=1, max_length=MAX_QUESTIONS)

    @model_validator(mode="after")
    def _consistent(self) -> SurveyUpdate:
        if self.questions is not None:
            _check_questions(self.questions)
        return self


class SurveyOut(BaseModel):
    id: int
    kind: str
    audience: str
    title: str
    cycle_id: int | None
    opens_on: date | None
    closes_on: date | None
    questions: list[Question]
    answers: int = Field(description="How many people have answered.")
    is_open: bool = Field(description="Whether it can be answered today.")
    created_at: UtcDateTime


class MySurvey(BaseModel):
    """An open survey for the caller, and whether they have answered it."""

    survey: SurveyOut
    answered: bool


class AnswerIn(BaseModel):
    """One person's answers: a rating 1-5 (or nothing) per rating question, a text per text question."""

    model_config = ConfigDict(extra="forbid")

    answers: dict[str, int | str | None] = Field(
        default_factory=dict, max_length=MAX_QUESTIONS, description="Question key -> rating or text."
    )
    contact_requested: bool = Field(False, description="Ask the program admins to contact you.")
    contact_note: CleanText = Field("", max_length=MAX_NOTE, description="What you would like to talk about.")


class ResponseReceipt(BaseModel):
    survey_id: int
    submitted_at: UtcDateTime
    contact_requested: bool


class QuestionResult(BaseModel):
    key: str
    text: str
    type: str
    answered: int = Field(description="People who answered this question.")
    shown: bool = Field(description="Whether enough people answered it for its aggregate to be shown.")
    counts: dict[int, int] | None = Field(None, description="Rating -> how many gave it (rating questions).")
    mean: float | None = None
    texts: list[str] | None = Field(None, description="The free answers, alphabetical, without names.")


class GroupResults(BaseModel):
    answers: int
    shown: bool
    message: str
    questions: list[QuestionResult]


class AudienceResults(GroupResults):
    role: str


class SurveyResults(GroupResults):
    survey_id: int
    title: str
    min_answers: int
    by_audience: list[AudienceResults] | None = Field(
        None, description="Mentors and mentees apart: only when each group has at least `min_answers`."
    )
    by_audience_message: str = ""


class ContactRequest(BaseModel):
    response_id: int
    survey_id: int
    survey_title: str
    user_id: int | None
    name: str
    role: str
    note: str
    submitted_at: UtcDateTime
    handled: bool


class TokenSurvey(BaseModel):
    """What a personal link opens: the survey, who it is for and whether they answered it."""

    survey: SurveyOut
    name: str
    answered: bool


# ---- default questions -------------------------------------------------------------------------------


def default_questions(kind: str) -> list[Question]:
    """A starting set for a new survey of this kind, for admins to edit."""
    if kind == "mid":
        rows = [
            ("relationship", "rating", "How well are you and your mentoring partner working together?"),
            ("rhythm", "rating", "How well are you keeping to a regular rhythm of sessions?"),
            ("goal_progress", "rating", "How much progress have you made towards your goals so far?"),
            ("going_well", "text", "What is going well in your mentoring so far?"),
            ("change", "text", "What one thing would make the second half of the cycle better?"),
        ]
    elif kind == "end":
        rows = [
            ("overall", "rating", "Overall, how valuable was this mentoring cycle for you?"),
            ("goals_met", "rating", "How far did you reach the goals you set at the start?"),
            ("support", "rating", "How well did the program (guides, matching, check-ins) support you?"),
            ("recommend", "rating", "How likely are you to recommend the program to a colleague?"),
            ("highlight", "text", "What was the most useful thing you got from this cycle?"),
            ("improve", "text", "What should the program change for the next cycle?"),
        ]
    else:
        raise InvalidInput(f"unknown survey kind {kind!r}; use mid or end")
    return [Question(key=key, type=qtype, text=text) for key, qtype, text in rows]


def key_from_text(text: str, taken: Iterable[str] = ()) -> str:
    """A question key made from its text ("How is it going?" -> how_is_it_going), unique among `taken`."""
    words = re.findall(r"[a-z0-9]+", text.lower())
    base = "_".join(words)[:36].strip("_") or "question"
    if not base[0].isalpha():
        base = f"q_{base}"[:36]
    used, key, n = set(taken), base, 2
    while key in used:
        key, n = f"{base}_{n}", n + 1
    return key


# ---- the service -------------------------------------------------------------------------------------


class SurveyService:
    def __init__(
        self, *, db: Database, settings: ProgramSettings, today: Callable[[], date] = date.today
    ) -> None:
        self.db = db
        self.settings = settings
        self.today = today

    # ---- admin: surveys ---------------------------------------------------------------------------

    def list_surveys(self) -> list[SurveyOut]:
        with self.db.session() as session:
            rows = list(session.scalars(select(Survey).order_by(Survey.id.desc())))
            counts = _answer_counts(session, [r.id for r in rows])
            return [self._out(r, counts.get(r.id, 0)) for r in rows]

    def get(self, survey_id: int) -> SurveyOut:
        with self.db.session() as session:
            row = _survey(session, survey_id)
            return self._out(row, _answer_counts(session, [row.id]).get(row.id, 0))

    def create(self, data: SurveyIn) -> SurveyOut:
        with self.db.session() as session:
            cycle = None
            if data.cycle_id is not None:
                cycle = session.get(Cycle, data.cycle_id)
                if cycle is None:
                    raise InvalidInput(f"no cycle with id {data.cycle_id}: leave it empty or pick a cycle")
            opens_on, closes_on = data.opens_on, data.closes_on
            if opens_on is None and cycle is not None:
                opens_on = self._opening_of(session, cycle, data.kind)
            if closes_on is None and opens_on is not None:
                closes_on = opens_on + timedelta(days=self.settings.survey_days_open - 1)
            if opens_on and closes_on and closes_on < opens_on:
                raise InvalidInput("the closing day must not be before the opening day")
            title = data.title or (
                f"{KIND_TITLES[data.kind]}: {cycle.name}" if cycle else KIND_TITLES[data.kind]
            )
            questions = data.questions or default_questions(data.kind)
            row = Survey(
                kind=data.kind,
                audience=data.audience,
                title=title.strip(),
                cycle_id=data.cycle_id,
                opens_on=opens_on,
                closes_on=closes_on,
                questions=[q.model_dump() for q in questions],
            )
            session.add(row)
            session.flush()
            return self._out(row, 0)

    def update(self, survey_id: int, data: SurveyUpdate) -> SurveyOut:
        with self.db.session() as session:
            row = _survey(session, survey_id)
            answers = _answer_counts(session, [row.id]).get(row.id, 0)
            changes = data.model_dump(exclude_unset=True)
            if "questions" in changes:
                if data.questions is None:
                    raise InvalidInput("questions: send at least one question")
                if answers:
                    _check_frozen_shape(_questions(row), data.questions, answers)
                row.questions = [q.model_dump() for q in data.questions]
            if "title" in changes:
                if data.title is None:
                    raise InvalidInput("title: a survey needs a title")
                row.title = data.title.strip()
            if "audience" in changes:
                if data.audience is None:
                    raise InvalidInput("audience: choose mentee, mentor or both")
                row.audience = data.audience
            if "opens_on" in changes:
                row.opens_on = data.opens_on
            if "closes_on" in changes:
                row.closes_on = data.closes_on
            if row.opens_on and row.closes_on and row.closes_on < row.opens_on:
                raise InvalidInput("the closing day must not be before the opening day")
            session.flush()
            return self._out(row, answers)

    def delete(self, survey_id: int) -> None:
        with self.db.session() as session:
            session.delete(_survey(session, survey_id))

    # ---- answering --------------------------------------------------------------------------------

    def mine(self, principal: Principal) -> list[MySurvey]:
        """The open surveys the caller is asked to answer (answered ones included, marked)."""
        if principal.role == Role.admin:
            return []
        today = self.today()
        with self.db.session() as session:
            rows = [
                row
                for row in session.scalars(select(Survey).order_by(Survey.closes_on, Survey.id))
                if _is_open(row, today) and _may_answer(session, row, principal.id, principal.role.value)
            ]
            ids = [r.id for r in rows]
            counts = _answer_counts(session, ids)
            answered = set(
                session.scalars(
                    select(SurveyResponse.survey_id).where(
                        SurveyResponse.survey_id.in_(ids), SurveyResponse.user_id == principal.id
                    )
                )
            )
            return [
                MySurvey(survey=self._out(r, counts.get(r.id, 0)), answered=r.id in answered) for r in rows
            ]

    def for_answering(self, principal: Principal, survey_id: int) -> MySurvey:
        """One survey the caller may answer (403 when it is not for them)."""
        with self.db.session() as session:
            row = _survey(session, survey_id)
            self._check_may_answer(session, row, principal.id, principal.role.value)
            answered = _response_of(session, row.id, principal.id) is not None
            return MySurvey(
                survey=self._out(row, _answer_counts(session, [row.id]).get(row.id, 0)), answered=answered
            )

    def answer(self, principal: Principal, survey_id: int, data: AnswerIn) -> ResponseReceipt:
        with self.db.session() as session:
            row = _survey(session, survey_id)
            self._check_may_answer(session, row, principal.id, principal.role.value)
            return self._store(session, row, principal.id, principal.role.value, data)

    def by_token(self, token: str) -> TokenSurvey:
        """What a personal link opens (404 for an unknown or replaced link)."""
        with self.db.session() as session:
            user, row = self._invited(session, token)
            answered = _response_of(session, row.id, user.id) is not None
            return TokenSurvey(
                survey=self._out(row, _answer_counts(session, [row.id]).get(row.id, 0)),
                name=_display_name(session, user),
                answered=answered,
            )

    def answer_by_token(self, token: str, data: AnswerIn) -> ResponseReceipt:
        with self.db.session() as session:
            user, row = self._invited(session, token)
            return self._store(session, row, user.id, user.role, data)

    def _invited(self, session: Session, token: str) -> tuple[User, Survey]:
        invitation = invitations.resolve(session, token)
        user = session.get(User, invitation.user_id) if invitation else None
        row = session.get(Survey, invitation.survey_id) if invitation else None
        if invitation is None or user is None or row is None:
            raise NotFound("this survey link is not valid: it may have been replaced by a newer invitation")
        if user.role not in _roles(row.audience):
            raise Forbidden(f"this survey is for {_audience_words(row.audience)}")
        return user, row

    def _check_may_answer(self, session: Session, row: Survey, user_id: int, role: str) -> None:
        if role not in _roles(row.audience):
            raise Forbidden(f"this survey is for {_audience_words(row.audience)}")
        if not _may_answer(session, row, user_id, role):
            raise Forbidden("this survey is for the people taking part in its cycle")

    def _store(
        self, session: Session, row: Survey, user_id: int, role: str, data: AnswerIn
    ) -> ResponseReceipt:
        earlier = _response_of(session, row.id, user_id)
        if earlier is not None:
            raise Conflict(f"you already answered this survey on {earlier.submitted_at:%Y-%m-%d}; thank you")
        _check_open(row, self.today())
        answers = validate_answers(_questions(row), data.answers)
        note = data.contact_note.strip()
        if note and not data.contact_requested:
            raise InvalidInput("tick 'Please contact me' to send the note to the program team, or clear it")
        response = SurveyResponse(
            survey_id=row.id,
            user_id=user_id,
            role=role,
            answers=answers,
            contact_requested=data.contact_requested,
            contact_note=note,
        )
        session.add(response)
        try:
            session.flush()
        except IntegrityError:  # a second submit racing the first
            raise Conflict("you already answered this survey; thank you") from None
        return ResponseReceipt(
            survey_id=row.id, submitted_at=response.submitted_at, contact_requested=data.contact_requested
        )

    # ---- results ----------------------------------------------------------------------------------

    def results(self, survey_id: int) -> SurveyResults:
        """Aggregates only, each shown once at least `survey_min_answers` people gave it."""
        n = self.settings.survey_min_answers
        with self.db.session() as session:
            row = _survey(session, survey_id)
            questions = _questions(row)
            responses = list(
                session.execute(
                    select(SurveyResponse.role, SurveyResponse.answers).where(
                        SurveyResponse.survey_id == row.id
                    )
                )
            )
        whole = aggregate(questions, [answers for _, answers in responses], n)
        groups: list[AudienceResults] | None = None
        group_message = ""
        if row.audience == "both":
            split = {role: [a for r, a in responses if r == role] for role in ("mentee", "mentor")}
            if all(len(answers) >= n for answers in split.values()):
                groups = []
                for role, answers in split.items():
                    part = aggregate(questions, answers, n)
                    groups.append(AudienceResults(role=role, **part.model_dump()))
            else:
                counts = ", ".join(f"{len(a)} {role}s" for role, a in split.items())
                group_message = (
                    f"Mentors and mentees are shown apart once each group has {n} answers ({counts} so far)."
                )
        return SurveyResults(
            survey_id=row.id,
            title=row.title,
            min_answers=n,
            by_audience=groups,
            by_audience_message=group_message,
            **whole.model_dump(),
        )

    # ---- contact requests -------------------------------------------------------------------------

    def contact_requests(self, *, include_handled: bool = False) -> list[ContactRequest]:
        with self.db.session() as session:
            query = (
                select(SurveyResponse, Survey.title, User, Person.name)
                .join(Survey, Survey.id == SurveyResponse.survey_id)
                .outerjoin(User, User.id == SurveyResponse.user_id)
                .outerjoin(Person, Person.user_id == SurveyResponse.user_id)
                .where(SurveyResponse.contact_requested.is_(True))
                .order_by(SurveyResponse.submitted_at.desc(), SurveyResponse.id.desc())
            )
            if not include_handled:
                query = query.where(SurveyResponse.contact_handled.is_(False))
            return [
                ContactRequest(
                    response_id=response.id,
                    survey_id=response.survey_id,
                    survey_title=title,
                    user_id=response.user_id,
                    name=person_name or (user.name if user else "(account deleted)"),
                    role=response.role,
                    note=response.contact_note,
                    submitted_at=response.submitted_at,
                    handled=response.contact_handled,
                )
                for response, title, user, person_name in session.execute(query)
            ]

    def open_contact_count(self) -> int:
        with self.db.session() as session:
            return int(
                session.scalar(
                    select(func.count(SurveyResponse.id)).where(
                        SurveyResponse.contact_requested.is_(True), SurveyResponse.contact_handled.is_(False)
                    )
                )
                or 0
            )

    def mark_handled(self, response_id: int) -> ContactRequest:
        with self.db.session() as session:
            response = session.get(SurveyResponse, response_id)
            if response is None or not response.contact_requested:
                raise NotFound(f"no contact request {response_id}")
            response.contact_handled = True
        return next(c for c in self.contact_requests(include_handled=True) if c.response_id == response_id)

    def cycle_choices(self) -> list[tuple[int, str]]:
        """(id, name) of every cycle, newest first, for the create form."""
        with self.db.session() as session:
            rows = session.execute(
                select(Cycle.id, Cycle.name).order_by(Cycle.starts_on.desc(), Cycle.id.desc())
            )
            return [(int(cycle_id), str(name)) for cycle_id, name in rows]

    # ---- helpers ----------------------------------------------------------------------------------

    def _opening_of(self, session: Session, cycle: Cycle, kind: str) -> date:
        milestone = session.scalar(
            select(Milestone).where(Milestone.cycle_id == cycle.id, Milestone.key == MILESTONE_OF_KIND[kind])
        )
        if milestone is not None:
            return milestone.due_on
        if kind == "mid":
            return cycle.starts_on + (cycle.ends_on - cycle.starts_on) // 2
        return cycle.ends_on

    def _out(self, row: Survey, answers: int) -> SurveyOut:
        return SurveyOut(
            id=row.id,
            kind=row.kind,
            audience=row.audience,
            title=row.title,
            cycle_id=row.cycle_id,
            opens_on=row.opens_on,
            closes_on=row.closes_on,
            questions=_questions(row),
            answers=answers,
            is_open=_is_open(row, self.today()),
            created_at=row.created_at,
        )


# ---- rules (pure) ------------------------------------------------------------------------------------


def validate_answers(questions: Sequence[Question], raw: dict[str, int | str | None]) -> dict[str, object]:
    """The answers to store, or InvalidInput naming every question to fix. A rating is 1-5 or empty, a text
    at most 4000 characters; empty answers are left out; keys that are not questions are refused."""
    by_key = {q.key: q for q in questions}
    unknown = sorted(set(raw) - set(by_key))
    if unknown:
        raise InvalidInput(f"these are not questions of this survey: {', '.join(unknown)}")
    problems: list[str] = []
    stored: dict[str, object] = {}
    for number, question in enumerate(questions, start=1):
        value = raw.get(question.key)
        if isinstance(value, str):
            value = clean_text(value)
        if value is None or value == "":
            continue
        where = f"question {number} ({question.text[:60]})"
        if question.type == "rating":
            rating = _rating(value)
            if rating is None:
                problems.append(f"{where}: choose a rating from 1 to 5, or leave it empty")
            else:
                stored[question.key] = rating
        else:
            text = str(value)
            if len(text) > MAX_TEXT:
                problems.append(f"{where}: at most {MAX_TEXT} characters (this answer has {len(text)})")
            else:
                stored[question.key] = text
    if problems:
        raise InvalidInput("; ".join(problems))
    return stored


def _rating(value: int | str) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        if not value.strip().isdigit():
            return None
        value = int(value.strip())
    return value if value in RATINGS else None


def aggregate(questions: Sequence[Question], responses: Sequence[dict[str, object]], n: int) -> GroupResults:
    """Aggregates of a group of responses. Nothing is shown below `n` responses; a question's figures are
    shown once `n` people answered that question; free texts are sorted, so their order says nothing."""
    total = len(responses)
    if total < n:
        message = f"Results appear once {n} people have answered ({total} so far)."
    else:
        message = f"{total} people have answered."
    results = []
    for q in questions:
        given = [r[q.key] for r in responses if q.key in r]
        shown = total >= n and len(given) >= n
        result = QuestionResult(key=q.key, text=q.text, type=q.type, answered=len(given), shown=shown)
        if shown and q.type == "rating":
            ratings = [int(v) for v in given if isinstance(v, int)]
            result.counts = {r: ratings.count(r) for r in RATINGS}
            result.mean = round(sum(ratings) / len(ratings), 2) if ratings else None
        elif shown:
            result.texts = sorted((str(v) for v in given), key=lambda t: (t.casefold(), t))
        results.append(result)
    return GroupResults(answers=total, shown=total >= n, message=message, questions=results)


def _check_frozen_shape(old: Sequence[Question], new: Sequence[Question], answers: int) -> None:
    before = {q.key: q.type for q in old}
    after = {q.key: q.type for q in new}
    if before == after:
        return
    removed = sorted(set(before) - set(after))
    added = sorted(set(after) - set(before))
    retyped = sorted(k for k in set(before) & set(after) if before[k] != after[k])
    parts = []
    if removed:
        parts.append(f"removed {', '.join(removed)}")
    if added:
        parts.append(f"added {', '.join(added)}")
    if retyped:
        parts.append(f"changed the type of {', '.join(retyped)}")
    raise Conflict(
        f"this survey already has {answers} answer(s), so its questions keep their keys and types (only "
        f"their texts and order can change); this edit {'; '.join(parts)}. Create a new survey instead."
    )


def _questions(row: Survey) -> list[Question]:
    return [Question.model_validate(q) for q in row.questions or []]


def _survey(session: Session, survey_id: int) -> Survey:
    row = session.get(Survey, survey_id)
    if row is None:
        raise NotFound(f"no survey {survey_id}")
    return row


def _answer_counts(session: Session, survey_ids: list[int]) -> dict[int, int]:
    if not survey_ids:
        return {}
    rows = session.execute(
        select(SurveyResponse.survey_id, func.count(SurveyResponse.id))
        .where(SurveyResponse.survey_id.in_(survey_ids))
        .group_by(SurveyResponse.survey_id)
    )
    return {survey_id: int(count) for survey_id, count in rows}


def _response_of(session: Session, survey_id: int, user_id: int) -> SurveyResponse | None:
    return session.scalar(
        select(SurveyResponse).where(SurveyResponse.survey_id == survey_id, SurveyResponse.user_id == user_id)
    )


def _roles(audience: str) -> tuple[str, ...]:
    return ("mentee", "mentor") if audience == "both" else (audience,)


def _audience_words(audience: str) -> str:
    return "mentees and mentors" if audience == "both" else f"{audience}s"


def _may_answer(session: Session, row: Survey, user_id: int, role: str) -> bool:
    """Whether this person is asked: their role is in the audience, and for a cycle's survey they are in
    one of the cycle's pairs."""
    if role not in _roles(row.audience):
        return False
    if row.cycle_id is None:
        return True
    column = Mentorship.mentee_user_id if role == "mentee" else Mentorship.mentor_user_id
    found = session.scalar(
        select(CycleMentorship.id)
        .join(Mentorship, Mentorship.id == CycleMentorship.mentorship_id)
        .where(CycleMentorship.cycle_id == row.cycle_id, column == user_id)
        .limit(1)
    )
    return found is not None


def _is_open(row: Survey, today: date) -> bool:
    return (row.opens_on is None or row.opens_on <= today) and (
        row.closes_on is None or today <= row.closes_on
    )


def _check_open(row: Survey, today: date) -> None:
    if row.opens_on and today < row.opens_on:
        raise Conflict(f"this survey opens on {row.opens_on.isoformat()}")
    if row.closes_on and today > row.closes_on:
        raise Conflict(f"this survey closed on {row.closes_on.isoformat()}")


def _display_name(session: Session, user: User) -> str:
    name = session.scalar(select(Person.name).where(Person.user_id == user.id))
    return name or user.name
