"""Users, roles and API tokens.

Tokens are 256 random bits, shown once and stored only as a SHA-256 digest: with that much entropy a
fast digest is safe (no dictionary to try), and lookups stay a single indexed query.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from companion.errors import Conflict, Forbidden, InvalidInput, NotFound, Unauthorized
from companion.storage.db import ApiToken, Mentorship, User

TOKEN_PREFIX = "cmp_"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,99}$")


class Role(StrEnum):
    mentee = "mentee"
    mentor = "mentor"
    admin = "admin"


@dataclass(frozen=True)
class Principal:
    """The authenticated caller, detached from any database session."""

    id: int
    name: str
    role: Role

    def require(self, *roles: Role) -> None:
        if self.role not in roles:
            allowed = ", ".join(r.value for r in roles)
            raise Forbidden(f"this action needs role {allowed}; you are {self.role.value}")


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def parse_role(value: str) -> Role:
    try:
        return Role(value)
    except ValueError:
        raise InvalidInput(f"unknown role {value!r}; use one of: mentee, mentor, admin") from None


def create_user(session: Session, *, name: str, role: Role) -> tuple[User, str]:
    """Create a user and its first API token. Returns the user and the plain token (shown once)."""
    if not _NAME.match(name):
        raise InvalidInput(
            "user name must be 1-100 characters: letters, digits, '.', '_', '@' or '-', "
            "starting with a letter or digit"
        )
    if session.scalar(select(User).where(User.name == name)) is not None:
        raise Conflict(f"user {name!r} already exists")
    user = User(name=name, role=role.value)
    session.add(user)
    session.flush()
    token = issue_token(session, user)
    return user, token


def issue_token(session: Session, user: User) -> str:
    token = new_token()
    session.add(ApiToken(user_id=user.id, token_hash=hash_token(token), prefix=token[:10]))
    session.flush()
    return token


def list_users(session: Session) -> list[User]:
    return list(session.scalars(select(User).order_by(User.id)))


def count_users(session: Session) -> int:
    return int(session.scalar(select(func.count(User.id))) or 0)


def get_user(session: Session, name: str) -> User:
    user = session.scalar(select(User).where(User.name == name))
    if user is None:
        raise NotFound(f"no user named {name!r}")
    return user


def authenticate(session: Session, token: str | None) -> Principal:
    if not token:
        raise Unauthorized("missing bearer token: send the header 'Authorization: Bearer <token>'")
    # one indexed query for the token and its user (no cache: a revoked token is refused at once)
    user = session.scalar(
        select(User)
        .join(ApiToken, ApiToken.user_id == User.id)
        .where(ApiToken.token_hash == hash_token(token), ApiToken.revoked.is_(False))
    )
    if user is None:
        raise Unauthorized("invalid or revoked token")
    return Principal(id=user.id, name=user.name, role=Role(user.role))


def mentees_of(session: Session, mentor_user_id: int) -> set[int]:
    rows = session.scalars(
        select(Mentorship.mentee_user_id).where(
            Mentorship.mentor_user_id == mentor_user_id, Mentorship.active.is_(True)
        )
    )
    return set(rows)


def check_mentee_access(session: Session, principal: Principal, mentee_user_id: int) -> None:
    """Mentees act on their own records, mentors on their active mentees', admins on all."""
    if principal.role == Role.admin:
        return
    if principal.role == Role.mentee and principal.id == mentee_user_id:
        return
    if principal.role == Role.mentor and mentee_user_id in mentees_of(session, principal.id):
        return
    raise Forbidden("you can only act on your own records (mentors: on their mentees' records)")


def check_mentee_records(session: Session, principal: Principal, mentee_user_id: int) -> None:
    """Refuse unless the caller may act on this mentee's records: 403 for someone else's mentee (and, for
    non-admins, for a user who is no mentee), 404 for admins naming no mentee."""
    user = session.get(User, mentee_user_id)
    if (user is None or user.role != Role.mentee) and principal.role == Role.admin:
        raise NotFound(f"no mentee with id {mentee_user_id}")
    check_mentee_access(session, principal, mentee_user_id)
    if user is None or user.role != Role.mentee:
        raise NotFound(f"no mentee with id {mentee_user_id}")


def link_mentorship(session: Session, *, mentor_user_id: int, mentee_user_id: int) -> Mentorship:
    """Create (or re-activate) the pair. Both users must exist with the right roles."""
    mentor, mentee = session.get(User, mentor_user_id), session.get(User, mentee_user_id)
    if mentor is None or mentor.role != Role.mentor:
        raise InvalidInput(f"user {mentor_user_id} is not a mentor")
    if mentee is None or mentee.role != Role.mentee:
        raise InvalidInput(f"user {mentee_user_id} is not a mentee")
    row = session.scalar(
        select(Mentorship).where(
            Mentorship.mentor_user_id == mentor_user_id, Mentorship.mentee_user_id == mentee_user_id
        )
    )
    if row is None:
        row = Mentorship(mentor_user_id=mentor_user_id, mentee_user_id=mentee_user_id)
        session.add(row)
    row.active = True
    session.flush()
    return row


def ensure_first_admin(session: Session, name: str = "admin") -> str | None:
    """Create the first admin when there are no users. Returns its token, or None if users exist."""
    if count_users(session) > 0:
        return None
    _, token = create_user(session, name=name, role=Role.admin)
    return token
