"""Passwords and browser sessions for the web pages.

Passwords are hashed with Argon2id (argon2-cffi's defaults). A browser session is a random id in an
HttpOnly cookie; the database keeps only its SHA-256 digest, the user, an expiry and the session's CSRF
token, which every form posts back.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from companion.errors import InvalidInput, Unauthorized
from companion.identity.auth import Principal, Role, create_user, get_user, hash_token, list_users
from companion.settings import WebSettings
from companion.storage.db import Database, User, WebSession


@dataclass(frozen=True)
class SignedIn:
    """A valid browser session: who it is, and the CSRF token its forms must send."""

    principal: Principal
    csrf_token: str


@dataclass(frozen=True)
class UserRow:
    id: int
    name: str
    role: Role
    has_password: bool
    created_at: datetime


class Accounts:
    """Sign-in, sign-out, session lookup, and admin account management."""

    def __init__(self, *, db: Database, settings: WebSettings) -> None:
        self.db = db
        self.settings = settings
        self._hasher = PasswordHasher(
            time_cost=settings.password_time_cost, memory_cost=settings.password_memory_kib
        )
        # verified against when the user name is unknown, so a wrong name costs as long as a wrong password
        self._dummy_hash = self._hasher.hash(secrets.token_urlsafe(16))

    def check_password_rules(self, password: str) -> None:
        if len(password) < self.settings.min_password_length:
            raise InvalidInput(
                f"password too short: use at least {self.settings.min_password_length} characters"
            )
        if len(password) > 1024:
            raise InvalidInput("password too long: use at most 1024 characters")

    def create(self, *, name: str, role: Role, password: str | None) -> tuple[UserRow, str]:
        """A new user with an API token (returned) and, when given, a password."""
        if password is not None:
            self.check_password_rules(password)
        with self.db.session() as session:
            user, token = create_user(session, name=name, role=role)
            if password is not None:
                user.password_hash = self._hasher.hash(password)
            session.flush()
            return _row(user), token

    def set_password(self, name: str, password: str) -> None:
        """Set or reset a user's password; their open browser sessions end."""
        self.check_password_rules(password)
        with self.db.session() as session:
            user = get_user(session, name)
            user.password_hash = self._hasher.hash(password)
            session.execute(delete(WebSession).where(WebSession.user_id == user.id))

    def list(self) -> list[UserRow]:
        with self.db.session() as session:
            return [_row(u) for u in list_users(session)]

    def sign_in(self, name: str, password: str) -> tuple[str, SignedIn]:
        """Check the password and open a session. Returns the cookie value and the session."""
        with self.db.session() as session:
            user = session.scalar(select(User).where(User.name == name)) if name else None
            stored = user.password_hash if user is not None else None
            if not self._verify(stored or self._dummy_hash, password) or user is None or stored is None:
                raise Unauthorized("wrong user name or password")
            if self._hasher.check_needs_rehash(stored):
                user.password_hash = self._hasher.hash(password)
            return self.open_session(session, user)

    def open_session(self, session: Session, user: User) -> tuple[str, SignedIn]:
        """A new browser session for a user who has proven who they are (password or single sign-on)."""
        now = datetime.now(UTC)
        session.execute(delete(WebSession).where(WebSession.expires_at < now))
        cookie = secrets.token_urlsafe(32)
        csrf = secrets.token_urlsafe(32)
        session.add(
            WebSession(
                id_hash=hash_token(cookie),
                user_id=user.id,
                csrf_token=csrf,
                expires_at=now + timedelta(hours=self.settings.session_hours),
            )
        )
        principal = Principal(id=user.id, name=user.name, role=Role(user.role))
        return cookie, SignedIn(principal=principal, csrf_token=csrf)

    def lookup(self, cookie: str | None) -> SignedIn | None:
        """The session behind a cookie, or None when it is missing, unknown or expired."""
        if not cookie or len(cookie) > 200:
            return None
        with self.db.session() as session:
            row = session.get(WebSession, hash_token(cookie))
            if row is None:
                return None
            if _aware(row.expires_at) < datetime.now(UTC):
                session.delete(row)
                return None
            user = session.get(User, row.user_id)
            if user is None:
                return None
            return SignedIn(
                principal=Principal(id=user.id, name=user.name, role=Role(user.role)),
                csrf_token=row.csrf_token,
            )

    def _verify(self, stored: str, password: str) -> bool:
        try:
            return self._hasher.verify(stored, password)
        except (VerificationError, InvalidHashError):
            return False

    def sign_out(self, cookie: str | None) -> None:
        if not cookie or len(cookie) > 200:
            return
        with self.db.session() as session:
            session.execute(delete(WebSession).where(WebSession.id_hash == hash_token(cookie)))


def csrf_matches(expected: str, sent: str | None) -> bool:
    return bool(sent) and hmac.compare_digest(expected.encode(), (sent or "").encode())


def _aware(moment: datetime) -> datetime:
    # SQLite hands datetimes back without a zone; they were written in UTC
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _row(user: User) -> UserRow:
    return UserRow(
        id=user.id,
        name=user.name,
        role=Role(user.role),
        has_password=user.password_hash is not None,
        created_at=user.created_at,
    )
