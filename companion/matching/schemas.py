"""Request and response models for people, mentor recommendations and cohort matching."""

from __future__ import annotations

import re
from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from companion.matching.audit import MatchAudit
from companion.matching.timezones import parse_timezone
from companion.schemas import MAX_DB_ID, UtcDateTime

PersonRole = Literal["mentor", "mentee"]
MatchStatus = Literal["proposed", "accepted", "declined", "withdrawn"]
SameOrDifferent = Literal["same", "different"]

_KEY = re.compile(r"^[^\s/][^/]{0,199}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def clean_list(values: object, *, lower: bool = True) -> list[str]:
    """A list from a list or a ';' / '|' separated string: trimmed, blanks dropped, duplicates removed."""
    if values is None:
        return []
    if isinstance(values, str):
        values = re.split(r"[;|\n]", values)
    if not isinstance(values, list | tuple):
        raise ValueError("must be a list or a ';'-separated string")
    out: list[str] = []
    for value in values:
        if not isinstance(value, str):
            raise ValueError("every item must be text")
        item = " ".join(value.split())
        if lower:
            item = item.lower()
        if item and item not in out:
            out.append(item)
    return out


class Preferences(BaseModel):
    """Soft preferences (weighed in the score) and people to avoid (a hard rule, never shown to others)."""

    model_config = ConfigDict(extra="forbid")

    mentors: list[str] = Field(
        default_factory=list, max_length=3, description="Keys of up to three preferred mentors."
    )
    avoid: list[str] = Field(
        default_factory=list,
        max_length=3,
        description="Keys of people never to be matched with (hard rule; only admins and the owner see it).",
    )
    department: SameOrDifferent | None = Field(
        None, description="Prefer a match from the same or from a different department."
    )
    site: SameOrDifferent | None = Field(None, description="Prefer a match from the same or another site.")

    @field_validator("mentors", "avoid", mode="before")
    @classmethod
    def _keys(cls, value: object) -> list[str]:
        return clean_list(value)


class _ProfileFields(BaseModel):
    """Fields a profile owner may change."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str | None = Field(None, min_length=1, max_length=200, description="Display name.")
    seniority: str | None = Field(None, max_length=50, description="Level, e.g. junior, senior, staff.")
    timezone: str | None = Field(
        None, description="IANA time zone (Europe/London) or a fixed offset (UTC+05:30)."
    )
    languages: list[str] | None = Field(
        None, description="Languages the person is comfortable mentoring in (at least one)."
    )
    skills: list[str] | None = Field(
        None, description="Mentors: skills they offer (up to 12); mentees: skills they want (up to 8)."
    )
    expertise: str | None = Field(None, max_length=4000, description="Mentors: what they can help with.")
    goals: str | None = Field(None, max_length=4000, description="Mentees: what they want to achieve.")
    bio: str | None = Field(None, max_length=4000, description="Free text about the person.")
    capacity: int | None = Field(None, ge=0, le=10, description="Mentors: how many mentees they take.")
    preferences: Preferences | None = Field(None, description="Matching preferences.")

    @field_validator("languages", "skills", mode="before")
    @classmethod
    def _lists(cls, value: object) -> list[str] | None:
        return None if value is None else clean_list(value)

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str | None) -> str | None:
        if value is not None:
            parse_timezone(value)
        return value

    @field_validator("languages")
    @classmethod
    def _some_language(cls, value: list[str] | None) -> list[str] | None:
        if value is not None and not value:
            raise ValueError("at least one language is needed")
        return value

    @field_validator("skills")
    @classmethod
    def _few_skills(cls, value: list[str] | None) -> list[str] | None:
        if value is not None:
            if len(value) > 12:
                raise ValueError("at most 12 skills")
            if any(len(v) > 80 for v in value):
                raise ValueError("a skill is at most 80 characters")
        return value


class OwnProfile(_ProfileFields):
    """What a mentor or mentee fills in on their own profile page (`PUT /v1/people/me`). The organization's
    fields (key, email, department, site, manager) stay with admins and imports."""


class PersonUpdate(_ProfileFields):
    """Partial update. Admins may change every field; owners only the profile fields above."""

    key: str | None = Field(None, description="Stable external key (admins only).")
    email: str | None = Field(None, max_length=200, description="Email (admins only).")
    role: PersonRole | None = Field(None, description="mentor or mentee (admins only).")
    user: str | None = Field(
        None, description="User name of the account linked to this profile; '' unlinks (admins only)."
    )
    department: str | None = Field(None, max_length=200, description="Department (admins only).")
    site: str | None = Field(None, max_length=200, description="Office or site (admins only).")
    manager: str | None = Field(None, max_length=200, description="Key of the person's manager (admins).")

    @field_validator("key", "manager")
    @classmethod
    def _key_shape(cls, value: str | None) -> str | None:
        return None if value is None else check_key(value)

    @field_validator("email")
    @classmethod
    def _email_shape(cls, value: str | None) -> str | None:
        if value and not _EMAIL.match(value):
            raise ValueError("not an email address")
        return value.lower() if value else value

    def admin_only_fields(self) -> list[str]:
        return sorted(
            name
            for name in ("key", "email", "role", "user", "department", "site", "manager")
            if name in self.model_fields_set
        )


class PersonIn(PersonUpdate):
    """A full profile, as created by an admin or read from an import row."""

    name: str = Field(min_length=1, max_length=200, description="Display name.")
    role: PersonRole = Field(description="mentor or mentee.")
    timezone: str = Field(description="IANA time zone (Europe/London) or a fixed offset (UTC+05:30).")
    languages: list[str] = Field(description="Languages the person is comfortable mentoring in.")

    @model_validator(mode="after")
    def _complete(self) -> PersonIn:
        if not self.key and not self.email:
            raise ValueError("needs a key (an 'id' column) or an email to identify the person")
        if self.role == "mentor" and not (self.expertise or self.skills):
            raise ValueError("a mentor needs expertise or skills")
        if self.role == "mentee" and not (self.goals or self.skills):
            raise ValueError("a mentee needs goals or skills")
        if self.role == "mentee" and self.skills and len(self.skills) > 8:
            raise ValueError("a mentee wants at most 8 skills")
        if self.manager and self.manager == self.stable_key:
            raise ValueError("a person cannot be their own manager")
        return self

    @property
    def stable_key(self) -> str:
        return (self.key or self.email or "").lower()


def check_key(value: str) -> str:
    value = value.strip().lower()
    if not _KEY.match(value):
        raise ValueError("a key is 1-200 characters without '/' and cannot start with a space")
    return value


class PersonOut(BaseModel):
    id: int
    key: str
    name: str
    email: str | None
    role: PersonRole
    user_id: int | None = Field(description="Linked user account, if any.")
    user: str | None = Field(description="Name of the linked user account, if any.")
    department: str | None
    site: str | None
    manager: str | None = Field(description="Key of the person's manager.")
    seniority: str | None
    timezone: str
    languages: list[str]
    skills: list[str]
    expertise: str
    goals: str
    bio: str
    capacity: int
    preferences: Preferences
    active: bool = Field(True, description="False for a leaver: kept with their history, never matched.")
    created_at: UtcDateTime
    updated_at: UtcDateTime


class PersonBrief(BaseModel):
    id: int
    key: str
    name: str
    role: PersonRole
    department: str | None
    site: str | None
    timezone: str


class RowFailure(BaseModel):
    row: int = Field(description="CSV: line in the file (the header is row 1). JSON: 1-based item number.")
    key: str | None = Field(None, description="The row's key, when it has one.")
    reason: str


class ImportReport(BaseModel):
    created: list[str] = Field(default_factory=list, description="Keys of new people.")
    updated: list[str] = Field(default_factory=list, description="Keys of people whose profile changed.")
    unchanged: list[str] = Field(default_factory=list, description="Keys of people already up to date.")
    failed: list[RowFailure] = Field(default_factory=list, description="Rows skipped, with the reason.")
    warnings: list[RowFailure] = Field(default_factory=list, description="Rows kept, with a caveat.")
    ignored_columns: list[str] = Field(default_factory=list, description="Columns this import does not use.")
    embedded: int = Field(0, description="Profiles whose vectors were (re)computed.")
    changes: dict[str, list[str]] = Field(
        default_factory=dict, description="For each updated key, the fields that changed."
    )
    sync: bool = Field(False, description="People missing from the file were deactivated (leavers).")
    deactivated: list[str] = Field(
        default_factory=list, description="Sync: keys of active people missing from the file, now inactive."
    )
    reactivated: list[str] = Field(
        default_factory=list, description="Keys of inactive people back in the file, active again."
    )
    withdrawn: int = Field(0, description="Sync: open proposals of the deactivated people, withdrawn.")
    dry_run: bool = Field(False, description="Nothing was written: the report shows what would change.")


class ScoreBreakdown(BaseModel):
    similarity: float = Field(description="Cosine similarity of needs and offer, clipped to 0..1.")
    skills: float = Field(description="Share of the mentee's wanted skills the mentor offers, 0..1.")
    preferences: float = Field(description="Share of stated preferences met, 0..1 (0.5 when none stated).")
    weights: dict[str, float] = Field(description="Weights from settings (COMPANION_MATCHING__*).")


class PhraseMatch(BaseModel):
    need: str = Field(description="Phrase from the mentee's goals.")
    offer: str = Field(description="Phrase from the mentor's expertise.")
    similarity: float


class Recommendation(BaseModel):
    rank: int
    mentor: PersonBrief
    score: float
    breakdown: ScoreBreakdown
    matched_skills: list[str]
    matched_phrases: list[PhraseMatch]
    shared_languages: list[str]
    overlap_hours: float = Field(description="Working hours shared in the worse of January and July.")
    places_left: int = Field(description="Mentees the mentor can still take.")
    reason: str


class RecommendationsResponse(BaseModel):
    mentee: PersonBrief
    goals: str = Field(description="The mentee's goals, as matched.")
    skills_wanted: list[str]
    mentors_considered: int
    mentors_eligible: int = Field(description="Mentors meeting every hard rule.")
    excluded: dict[str, int] = Field(
        description="Mentors failing each hard rule (a mentor may fail several)."
    )
    results: list[Recommendation]


class PairRef(BaseModel):
    model_config = ConfigDict(extra="forbid")

    mentee: int | str = Field(description="Person id or key of the mentee.")
    mentor: int | str = Field(description="Person id or key of the mentor.")


class CohortRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    mentees: list[int | str] | None = Field(
        None,
        max_length=20000,
        description="Mentees to match (ids or keys). Default: every mentee without an accepted match.",
    )
    pins: list[PairRef] = Field(default_factory=list, max_length=5000, description="Pairs that must be made.")
    forbids: list[PairRef] = Field(
        default_factory=list, max_length=20000, description="Pairs that must not be made."
    )
    save: bool = Field(True, description="Store the run and its proposed matches (false: a dry run).")
    cycle_id: int | None = Field(
        None,
        ge=1,
        le=MAX_DB_ID,
        description="Match for this program cycle: places and accepted mentees count within the cycle, a "
        "mentee is never paired with the mentor they had in the program.max_consecutive_cycles cycles just "
        "before it, and published pairs join the cycle.",
    )


class MatchOut(BaseModel):
    id: int | None = Field(description="Stored match id (None in a dry run).")
    run_id: int | None
    mentee: PersonBrief
    mentor: PersonBrief
    score: float
    breakdown: ScoreBreakdown
    reason: str
    status: MatchStatus
    pinned: bool
    mentor_accepted: bool
    mentee_accepted: bool
    linked: bool = Field(False, description="The two user accounts are linked as an active mentorship.")


class Unmatched(BaseModel):
    mentee: PersonBrief
    reason: str


class BaselineOut(BaseModel):
    matched: int
    total_score: float


class CycleBrief(BaseModel):
    id: int
    name: str
    program: str
    starts_on: date
    ends_on: date


class CohortReport(BaseModel):
    run_id: int | None = Field(description="Stored run id (None in a dry run).")
    cycle: CycleBrief | None = Field(None, description="The cycle the run matched for, if any.")
    mentees: int = Field(description="Mentees in the run.")
    mentors: int = Field(description="Mentors with places left.")
    matched: int
    total_score: float = Field(description="Sum of the scores of the proposed pairs (the optimum).")
    greedy: BaselineOut = Field(description="Greedy baseline: best remaining pair first.")
    solver: str
    seconds: float
    matches: list[MatchOut]
    unmatched: list[Unmatched]
    excluded: dict[str, int] = Field(
        default_factory=dict,
        description="Mentee-mentor pairs of the run failing each hard rule (a pair may fail several).",
    )
    repeat_excluded: int = Field(
        0,
        description="Pairs the consecutive-cycles rule excluded (they ran together in the "
        "program.max_consecutive_cycles cycles just before this one).",
    )
    audit: MatchAudit | None = Field(None, description="Fairness audit: groups served, mentor load.")
    warnings: list[str] = Field(
        default_factory=list,
        description="For a cycle of a group program: circles the run would leave under "
        "program.group_min_mentees mentees.",
    )


class RunAcceptance(BaseModel):
    accepted: list[int] = Field(description="Ids of the matches accepted (and linked as mentorships).")
    skipped: list[str] = Field(description="Matches left as proposed, with the reason.")


class RunOut(BaseModel):
    id: int
    created_at: UtcDateTime
    mentees: int
    matched: int
    total_score: float
    greedy_score: float
    cycle_id: int | None = Field(None, description="The cycle the run matched for, if any.")
    audit: MatchAudit | None = Field(
        None, description="The run's fairness audit (None: a run stored before audits)."
    )
    report: dict[str, object] = Field(description="The stored report (unmatched, weights, cycle, ...).")
