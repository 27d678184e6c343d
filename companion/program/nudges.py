"""E-mail nudges: who should hear what today, and sending each nudge at most once per person, reason and
period.

Reasons and their periods (the `nudges_sent` row's key is user, reason, period):
- `at_risk` (both people of a pair at risk, with the reasons): per cycle and 4-week window of the cycle;
- `session_reminder` (both people of a pair, when the next session by the rhythm is due soon): per due date;
- `survey_invitation` (each participant of the cycle the survey is for, until they answer): per survey;
- `goal_milestone` (both people of a pair whose mentee has no goal in the cycle yet): per milestone;
- `contact_request` (every admin, when a survey answer asks to be contacted): per survey response;
- `eval_regression` (every admin, when a scheduled eval run regressed): per eval run.

Sending claims the row first (insert; the unique key refuses a second claim, so two runs at once never
send twice), then sends, and deletes the claim when the send failed, so the next run tries again.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import delete, select, tuple_
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from companion.program import invitations
from companion.program.cadence import CadenceRules, assess
from companion.program.email import (
    OFF_MESSAGE,
    Mailer,
    MailError,
    Message,
    Outbox,
    ServerUnavailable,
    render,
)
from companion.program.pairs import CyclePair, chunks, cycle_pairs, display_names
from companion.settings import Settings
from companion.storage.db import (
    Database,
    GoalRecord,
    Milestone,
    NudgeSent,
    Person,
    Survey,
    SurveyResponse,
    User,
    UserPreference,
    utcnow,
)

log = logging.getLogger("companion.nudges")

AT_RISK = "at_risk"
REMINDER = "session_reminder"
SURVEY = "survey_invitation"
MILESTONE = "goal_milestone"
CONTACT = "contact_request"
EVAL_REGRESSION = "eval_regression"
REASONS = (AT_RISK, REMINDER, SURVEY, MILESTONE, CONTACT, EVAL_REGRESSION)
WINDOW_DAYS = 28

# why a nudge was not sent
OPTED_OUT = "opted out"
NO_ADDRESS = "no address"
ALREADY_SENT = "already sent"
EMAIL_OFF = "e-mail off"
OVER_CAP = "over the run's cap (next run)"
CLAIM_BATCH = 50
PREVIEW_LIMIT = 200


@dataclass
class Nudge:
    """One e-mail that should go out: to whom, why, for which period, and the template's inputs."""

    user_id: int
    reason: str
    period: str
    inputs: dict[str, Any]
    survey_id: int | None = None  # a survey invitation gets its personal link when it is claimed
    address: str | None = None
    name: str = ""
    opted_out: bool = False

    @property
    def key(self) -> tuple[int, str, str]:
        return (self.user_id, self.reason, self.period)


class NudgeItem(BaseModel):
    user_id: int
    name: str
    address: str | None
    reason: str
    period: str
    status: str = Field(description="sent, would send, failed, or why it was skipped")


class NudgeReport(BaseModel):
    """What a run did (or, on a dry run, would do)."""

    today: date
    dry_run: bool
    email_on: bool
    sent: int = 0
    would_send: int = 0
    failed: int = 0
    skipped: dict[str, int] = Field(default_factory=dict)
    by_reason: dict[str, int] = Field(default_factory=dict, description="sent (or would send) per reason")
    errors: list[str] = Field(default_factory=list)
    items: list[NudgeItem] = Field(default_factory=list, description=f"the first {PREVIEW_LIMIT} nudges")
    seconds: float = 0.0


class SentOut(BaseModel):
    user_id: int
    user: str
    reason: str
    period: str
    address: str
    subject: str
    sent_at: datetime


class NudgeService:
    """Finds today's nudges and sends them through the mailer."""

    def __init__(self, *, db: Database, mailer: Mailer, settings: Settings) -> None:
        self.db = db
        self.mailer = mailer
        self.settings = settings

    # ---- the run --------------------------------------------------------------------------------------

    def run(self, today: date | None = None, *, dry_run: bool = False) -> NudgeReport:
        started = datetime.now()
        today = today or date.today()
        email = self.settings.email
        report = NudgeReport(today=today, dry_run=dry_run, email_on=email.enabled)
        with self.db.session() as session:
            nudges = list(self.due(session, today))
            self._address(session, nudges)
        self._deliver(nudges, report, dry_run=dry_run)
        report.seconds = round((datetime.now() - started).total_seconds(), 3)
        log.info(
            "nudges %s: sent %s, skipped %s, failed %s",
            today,
            report.sent,
            report.skipped,
            report.failed,
        )
        return report

    def notify_admins_of_regression(
        self, *, run_id: int, baseline_id: int, regressions: int, score_delta: float
    ) -> NudgeReport:
        """E-mail the admins who have an address that the scheduled eval run regressed (once per run)."""
        base = self.settings.email.base_url.rstrip("/")
        inputs: dict[str, Any] = {
            "run_id": run_id,
            "baseline_id": baseline_id,
            "regressions": regressions,
            "score_delta": score_delta,
            "link": f"{base}/admin/evals/compare?a={baseline_id}&b={run_id}",
        }
        report = NudgeReport(today=date.today(), dry_run=False, email_on=self.settings.email.enabled)
        with self.db.session() as session:
            nudges = [
                Nudge(admin, EVAL_REGRESSION, f"run-{run_id}", dict(inputs)) for admin in _admins(session)
            ]
            self._address(session, nudges)
        self._deliver(nudges, report, dry_run=False)
        return report

    def recent(self, limit: int = 50) -> list[SentOut]:
        with self.db.session() as session:
            rows = session.execute(
                select(NudgeSent, User.name)
                .join(User, User.id == NudgeSent.user_id)
                .order_by(NudgeSent.sent_at.desc(), NudgeSent.id.desc())
                .limit(limit)
            ).all()
            return [
                SentOut(
                    user_id=r.user_id,
                    user=name,
                    reason=r.reason,
                    period=r.period,
                    address=r.address,
                    subject=r.subject,
                    sent_at=r.sent_at,
                )
                for r, name in rows
            ]

    # ---- who should hear what -------------------------------------------------------------------------

    def due(self, session: Session, today: date) -> Iterator[Nudge]:
        """Every nudge today asks for (before opt-outs, addresses and what was already sent)."""
        names = display_names(session)
        pairs = self._pairs(session, today)
        yield from self._pair_nudges(pairs, today, names)
        yield from self._milestone_nudges(session, pairs, today, names)
        yield from self._survey_nudges(session, pairs, today)
        yield from self._contact_nudges(session)

    def _pairs(self, session: Session, today: date) -> list[CyclePair]:
        horizon = today + timedelta(days=self.settings.email.milestone_days_before)
        return cycle_pairs(session, today=today, starts_by=horizon)

    def _pair_nudges(self, pairs: list[CyclePair], today: date, names: dict[int, str]) -> Iterator[Nudge]:
        lead = timedelta(days=self.settings.email.reminder_days_before)
        for pair in pairs:
            cycle = pair.cycle
            if today < cycle.starts_on:
                continue
            rules = CadenceRules.from_settings(self.settings.program, cadence_days=pair.cadence_days)
            rhythm = assess(
                pair.sessions, starts_on=cycle.starts_on, ends_on=cycle.ends_on, today=today, rules=rules
            )
            people = ((pair.mentee_id, pair.mentor_id), (pair.mentor_id, pair.mentee_id))
            if rhythm.at_risk:
                window = (today - cycle.starts_on).days // WINDOW_DAYS + 1
                for user, partner in people:
                    inputs: dict[str, Any] = {
                        "partner": names.get(partner, "your partner"),
                        "reasons": list(rhythm.reasons),
                        "cycle": cycle.name,
                    }
                    yield Nudge(user, AT_RISK, f"cycle-{cycle.id}:window-{window}", inputs)
            elif rhythm.next_due <= today + lead and rhythm.next_due <= cycle.ends_on:
                last = rhythm.last_session.isoformat() if rhythm.last_session else None
                for user, partner in people:
                    inputs = {
                        "partner": names.get(partner, "your partner"),
                        "due_on": rhythm.next_due.isoformat(),
                        "last_session": last,
                        "cycle": cycle.name,
                    }
                    yield Nudge(
                        user,
                        REMINDER,
                        f"pair-{pair.mentor_id}-{pair.mentee_id}:due-{rhythm.next_due}",
                        inputs,
                    )

    def _milestone_nudges(
        self, session: Session, pairs: list[CyclePair], today: date, names: dict[int, str]
    ) -> Iterator[Nudge]:
        """Goals milestones due within the lead days: the pairs whose mentee has no goal in the cycle."""
        horizon = today + timedelta(days=self.settings.email.milestone_days_before)
        cycles = {p.cycle.id for p in pairs}
        if not cycles:
            return
        milestones = session.scalars(
            select(Milestone).where(
                Milestone.cycle_id.in_(cycles),
                Milestone.kind == "goals",
                Milestone.due_on >= today,
                Milestone.due_on <= horizon,
            )
        ).all()
        if not milestones:
            return
        with_goals = set(
            session.execute(
                select(GoalRecord.cycle_id, GoalRecord.mentee_user_id).where(GoalRecord.cycle_id.in_(cycles))
            ).tuples()
        )
        for milestone in milestones:
            for pair in (p for p in pairs if p.cycle.id == milestone.cycle_id):
                if (milestone.cycle_id, pair.mentee_id) in with_goals:
                    continue
                for user in (pair.mentee_id, pair.mentor_id):
                    inputs: dict[str, Any] = {
                        "milestone": milestone.title,
                        "due_on": milestone.due_on.isoformat(),
                        "cycle": pair.cycle.name,
                    }
                    yield Nudge(user, MILESTONE, f"milestone-{milestone.id}", inputs)

    def _survey_nudges(self, session: Session, pairs: list[CyclePair], today: date) -> Iterator[Nudge]:
        """Open surveys of a running cycle: each participant of the audience who has not answered yet."""
        cycles = {p.cycle.id for p in pairs}
        if not cycles:
            return
        surveys = session.scalars(
            select(Survey).where(
                Survey.cycle_id.in_(cycles), Survey.opens_on.is_not(None), Survey.opens_on <= today
            )
        ).all()
        for survey in surveys:
            if survey.closes_on is not None and survey.closes_on < today:
                continue
            answered = set(
                session.scalars(select(SurveyResponse.user_id).where(SurveyResponse.survey_id == survey.id))
            )
            people: set[int] = set()
            for pair in (p for p in pairs if p.cycle.id == survey.cycle_id):
                if survey.audience in ("both", "mentee"):
                    people.add(pair.mentee_id)
                if survey.audience in ("both", "mentor"):
                    people.add(pair.mentor_id)
            for user in sorted(people - answered):
                inputs: dict[str, Any] = {
                    "survey": survey.title,
                    "closes_on": survey.closes_on.isoformat() if survey.closes_on else None,
                    "link": "",
                }
                yield Nudge(user, SURVEY, f"survey-{survey.id}", inputs, survey_id=survey.id)

    def _contact_nudges(self, session: Session) -> Iterator[Nudge]:
        """Every admin hears of each open contact request (who and the note stay on the admin page)."""
        requests = session.execute(
            select(SurveyResponse.id, SurveyResponse.submitted_at, Survey.title)
            .join(Survey, Survey.id == SurveyResponse.survey_id)
            .where(SurveyResponse.contact_requested.is_(True), SurveyResponse.contact_handled.is_(False))
        ).all()
        if not requests:
            return
        admins = _admins(session)
        link = f"{self.settings.email.base_url.rstrip('/')}/admin/surveys"
        for response_id, submitted_at, title in requests:
            for admin in admins:
                inputs: dict[str, Any] = {
                    "survey": title,
                    "submitted_on": submitted_at.date().isoformat(),
                    "link": link,
                }
                yield Nudge(admin, CONTACT, f"response-{response_id}", inputs)

    # ---- addresses, opt-outs, claims and sending -------------------------------------------------------

    def _address(self, session: Session, nudges: list[Nudge]) -> None:
        users = sorted({n.user_id for n in nudges})
        addresses: dict[int, tuple[str | None, str]] = {}
        opted_out: set[int] = set()
        for chunk in chunks(users, 500):
            for user_id, user_name, email, person_name, active in session.execute(
                select(User.id, User.name, Person.email, Person.name, Person.active)
                .outerjoin(Person, Person.user_id == User.id)
                .where(User.id.in_(chunk))
            ):
                # a leaver (a deactivated profile) is not written to any more
                addresses[user_id] = (
                    (email or None) if active is not False else None,
                    person_name or user_name,
                )
            opted_out.update(
                session.scalars(
                    select(UserPreference.user_id).where(
                        UserPreference.user_id.in_(chunk), UserPreference.email_opt_out.is_(True)
                    )
                )
            )
        for nudge in nudges:
            address, name = addresses.get(nudge.user_id, (None, ""))
            nudge.address, nudge.name = address, name
            nudge.inputs["name"] = name
            nudge.inputs["unsubscribe_url"] = f"{self.settings.email.base_url.rstrip('/')}/profile"
            if nudge.reason in (CONTACT, EVAL_REGRESSION):
                nudge.inputs["unsubscribe_url"] = f"{self.settings.email.base_url.rstrip('/')}/admin/nudges"
            nudge.opted_out = nudge.user_id in opted_out

    def _deliver(self, nudges: list[Nudge], report: NudgeReport, *, dry_run: bool) -> None:
        sent_before = self._already_sent(nudges)
        to_send: list[Nudge] = []
        seen: set[tuple[int, str, str]] = set()
        for nudge in nudges:
            if nudge.key in seen:
                continue  # the same nudge twice in one run (a person in two pairs of one cycle)
            seen.add(nudge.key)
            skip = self._skip(nudge, sent_before, report)
            if skip:
                _count(report.skipped, skip)
                self._item(report, nudge, skip)
                continue
            if len(to_send) >= self.settings.email.max_per_run:
                _count(report.skipped, OVER_CAP)
                self._item(report, nudge, OVER_CAP)
                continue
            to_send.append(nudge)
        if dry_run:
            for nudge in to_send:
                report.would_send += 1
                _count(report.by_reason, nudge.reason)
                self._item(report, nudge, "would send")
            return
        claim_skips = report.skipped.get(ALREADY_SENT, 0)
        try:
            with self.mailer.open() as outbox:
                for start in range(0, len(to_send), CLAIM_BATCH):
                    batch = self._claim(to_send[start : start + CLAIM_BATCH], report)
                    self._send_batch(outbox, batch, report)
        except ServerUnavailable as exc:
            claim_skips = report.skipped.get(ALREADY_SENT, 0) - claim_skips
            unsent = len(to_send) - report.sent - report.failed - claim_skips
            report.errors.append(f"{exc}; {unsent} e-mail(s) not sent, the next run tries again")
            report.failed += unsent

    def _skip(self, nudge: Nudge, sent_before: set[tuple[int, str, str]], report: NudgeReport) -> str | None:
        if nudge.key in sent_before:
            return ALREADY_SENT
        if nudge.opted_out:
            return OPTED_OUT
        if not nudge.address:
            return NO_ADDRESS
        if not report.email_on and not report.dry_run:
            return EMAIL_OFF
        return None

    def _already_sent(self, nudges: list[Nudge]) -> set[tuple[int, str, str]]:
        keys = sorted({n.key for n in nudges})
        found: set[tuple[int, str, str]] = set()
        with self.db.session() as session:
            for chunk in chunks(keys, 300):
                found.update(
                    session.execute(
                        select(NudgeSent.user_id, NudgeSent.reason, NudgeSent.period).where(
                            tuple_(NudgeSent.user_id, NudgeSent.reason, NudgeSent.period).in_(chunk)
                        )
                    ).tuples()
                )
        return found

    def _claim(self, batch: list[Nudge], report: NudgeReport) -> list[tuple[Nudge, Message]]:
        """Insert the batch's rows in one statement that skips the rows already there (another run claimed
        them first) and returns the ones this run now owns; survey invitations get their personal link
        here, in the same transaction. Returns the claimed nudges with their rendered e-mails."""
        base = self.settings.email.base_url.rstrip("/")
        messages = {n.key: render(n.reason, str(n.address), n.inputs) for n in batch}
        rows = [
            {
                "user_id": n.user_id,
                "reason": n.reason,
                "period": n.period,
                "address": n.address,
                "subject": messages[n.key].subject[:300],
                "sent_at": utcnow(),
            }
            for n in batch
        ]
        insert = sqlite_insert if self.db.engine.dialect.name == "sqlite" else postgresql_insert
        statement = (
            insert(NudgeSent)
            .values(rows)
            .on_conflict_do_nothing(index_elements=["user_id", "reason", "period"])
            .returning(NudgeSent.user_id, NudgeSent.reason, NudgeSent.period)
        )
        claimed: list[tuple[Nudge, Message]] = []
        with self.db.session() as session:
            owned = set(session.execute(statement).tuples().all())
            for nudge in batch:
                if nudge.key not in owned:
                    _count(report.skipped, ALREADY_SENT)
                    self._item(report, nudge, ALREADY_SENT)
                    continue
                message = messages[nudge.key]
                if nudge.survey_id is not None:
                    token = invitations.issue(session, survey_id=nudge.survey_id, user_id=nudge.user_id)
                    nudge.inputs["link"] = f"{base}/surveys/answer/{token}"
                    message = render(nudge.reason, str(nudge.address), nudge.inputs)
                claimed.append((nudge, message))
        return claimed

    def _send_batch(self, outbox: Outbox, batch: list[tuple[Nudge, Message]], report: NudgeReport) -> None:
        failed: list[Nudge] = []
        try:
            for index, (nudge, message) in enumerate(batch):
                try:
                    outbox.send(message)
                except ServerUnavailable:
                    failed.extend(n for n, _ in batch[index:])
                    raise
                except MailError as exc:
                    failed.append(nudge)
                    report.failed += 1
                    report.errors.append(f"{nudge.reason} to {nudge.name}: {exc}")
                    self._item(report, nudge, "failed")
                    continue
                report.sent += 1
                _count(report.by_reason, nudge.reason)
                self._item(report, nudge, "sent")
        finally:
            self._unclaim(failed)

    def _unclaim(self, nudges: list[Nudge]) -> None:
        if not nudges:
            return
        with self.db.session() as session:
            for chunk in chunks([n.key for n in nudges], 300):
                session.execute(
                    delete(NudgeSent).where(
                        tuple_(NudgeSent.user_id, NudgeSent.reason, NudgeSent.period).in_(chunk)
                    )
                )

    @staticmethod
    def _item(report: NudgeReport, nudge: Nudge, status: str) -> None:
        if len(report.items) < PREVIEW_LIMIT:
            report.items.append(
                NudgeItem(
                    user_id=nudge.user_id,
                    name=nudge.name,
                    address=nudge.address,
                    reason=nudge.reason,
                    period=nudge.period,
                    status=status,
                )
            )


def _admins(session: Session) -> list[int]:
    return list(session.scalars(select(User.id).where(User.role == "admin").order_by(User.id)))


def _count(counts: dict[str, int], key: str) -> None:
    counts[key] = counts.get(key, 0) + 1


__all__ = ["OFF_MESSAGE", "REASONS", "NudgeReport", "NudgeService", "SentOut"]
