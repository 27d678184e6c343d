"""Personal survey links: a random token per person and survey. Only its SHA-256 digest is stored, so
the link in the e-mail is the only copy; issuing again replaces the old link."""

from __future__ import annotations

import hashlib
import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session

from companion.storage.db import SurveyInvitation


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue(session: Session, *, survey_id: int, user_id: int) -> str:
    """A new personal link token for this person and survey (the previous one stops working)."""
    token = secrets.token_urlsafe(24)
    row = session.scalar(
        select(SurveyInvitation).where(
            SurveyInvitation.survey_id == survey_id, SurveyInvitation.user_id == user_id
        )
    )
    if row is None:
        session.add(SurveyInvitation(survey_id=survey_id, user_id=user_id, token_hash=digest(token)))
    else:
        row.token_hash = digest(token)
    session.flush()
    return token


def resolve(session: Session, token: str) -> SurveyInvitation | None:
    """The invitation a link token belongs to (None: unknown or replaced)."""
    if not token or len(token) > 200:
        return None
    return session.scalar(select(SurveyInvitation).where(SurveyInvitation.token_hash == digest(token)))
