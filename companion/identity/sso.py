"""Single sign-on with an OpenID Connect identity provider (authorization code flow with PKCE, through
authlib).

`start()` records a sign-in in progress (the digest of a random `state`, a nonce and a PKCE verifier) and
returns the provider's authorization URL. `finish()` checks the `state` (known, unused, not expired),
exchanges the code at the token endpoint, validates the ID token (signature against the provider's keys,
issuer, audience = our client id, expiry, nonce), maps a claim to a role, creates the account on first
sign-in (linked by the provider's subject, never by name, so an identity provider user cannot take over a
local account) and opens a browser session. Every failure is `Unauthorized` (`Forbidden` for a person
without a role) with a message for people.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from authlib.integrations.httpx_client import OAuth2Client
from authlib.oauth2.rfc6749.errors import OAuth2Error
from authlib.oidc.core import CodeIDToken
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from joserfc.jws import JWSRegistry
from sqlalchemy import delete, select

from companion.errors import Forbidden, Unauthorized
from companion.identity.accounts import Accounts, SignedIn
from companion.identity.auth import hash_token
from companion.settings import SsoSettings
from companion.storage.db import Database, SsoState, User

_RANK = {"mentee": 0, "mentor": 1, "admin": 2}


@dataclass(frozen=True)
class Finished:
    cookie: str
    signed_in: SignedIn
    next_path: str
    created: bool


def map_role(claims: dict[str, Any], settings: SsoSettings) -> str | None:
    """The highest role the claim's values map to, or None."""
    raw = claims.get(settings.role_claim)
    values = [raw] if isinstance(raw, str) else list(raw) if isinstance(raw, list | tuple) else []
    roles = [settings.role_map[v] for v in values if isinstance(v, str) and v in settings.role_map]
    return max(roles, key=_RANK.__getitem__) if roles else None


class SingleSignOn:
    def __init__(self, *, db: Database, accounts: Accounts, settings: SsoSettings) -> None:
        self.db = db
        self.accounts = accounts
        self.settings = settings
        self._metadata: dict[str, Any] | None = None
        self._keys: dict[str, Any] | None = None

    @property
    def enabled(self) -> bool:
        return self.settings.enabled

    # ---- the provider --------------------------------------------------------------------------------

    def _client(self, redirect_uri: str) -> OAuth2Client:
        secret = self.settings.client_secret.get_secret_value() if self.settings.client_secret else None
        return OAuth2Client(
            client_id=self.settings.client_id,
            client_secret=secret,
            scope=self.settings.scopes,
            redirect_uri=redirect_uri,
            code_challenge_method="S256",
            timeout=self.settings.timeout_seconds,
        )

    def _get(self, url: str) -> dict[str, Any]:
        try:
            response = httpx.get(url, timeout=self.settings.timeout_seconds)
            response.raise_for_status()
            data = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise Unauthorized(
                f"the identity provider could not be reached ({type(exc).__name__}: {str(exc)[:120]}); "
                "try again later, or ask your admin to check COMPANION_SSO__ISSUER_URL"
            ) from exc
        if not isinstance(data, dict):
            raise Unauthorized("the identity provider answered something that is not JSON metadata")
        return data

    def metadata(self) -> dict[str, Any]:
        if self._metadata is None:
            base = (self.settings.issuer_url or "").rstrip("/")
            self._metadata = self._get(f"{base}/.well-known/openid-configuration")
        return self._metadata

    def _key_set(self, refresh: bool = False) -> KeySet:
        if self._keys is None or refresh:
            self._keys = self._get(str(self.metadata()["jwks_uri"]))
        return KeySet.import_key_set(self._keys)  # type: ignore[arg-type]

    # ---- the flow ------------------------------------------------------------------------------------

    def start(self, *, redirect_uri: str, next_path: str = "") -> str:
        """The provider URL to send the browser to; the sign-in waits in `sso_states` until it returns."""
        state, nonce, verifier = (secrets.token_urlsafe(32) for _ in range(3))
        url, _ = self._client(redirect_uri).create_authorization_url(
            str(self.metadata()["authorization_endpoint"]), state=state, code_verifier=verifier, nonce=nonce
        )
        with self.db.session() as session:
            cutoff = datetime.now(UTC) - timedelta(seconds=self.settings.state_seconds)
            session.execute(delete(SsoState).where(SsoState.created_at < cutoff))
            pending = SsoState(
                state_hash=hash_token(state), nonce=nonce, code_verifier=verifier, next_path=next_path
            )
            session.add(pending)
        return str(url)

    def finish(
        self, *, redirect_uri: str, code: str | None, state: str | None, error: str | None = None
    ) -> Finished:
        if error:
            raise Unauthorized(f"the identity provider did not sign you in ({error[:80]}); try again")
        if not code or not state or len(state) > 200:
            raise Unauthorized("the sign-in answer is incomplete (no code or state); start the sign-in again")
        with self.db.session() as session:
            pending = session.get(SsoState, hash_token(state))
            if pending is not None:
                session.delete(pending)  # used once, whatever happens next
                nonce, verifier, next_path = pending.nonce, pending.code_verifier, pending.next_path
                started = pending.created_at
        if pending is None:
            raise Unauthorized(
                "this sign-in is unknown or was already used (a reload, or another browser); start again"
            )
        started = started if started.tzinfo else started.replace(tzinfo=UTC)
        if datetime.now(UTC) - started > timedelta(seconds=self.settings.state_seconds):
            raise Unauthorized("the sign-in took too long and has expired; start the sign-in again")
        claims = self._exchange(redirect_uri, code, verifier, nonce)
        return self._account(claims, next_path)

    def _exchange(self, redirect_uri: str, code: str, verifier: str, nonce: str) -> dict[str, Any]:
        try:
            token = self._client(redirect_uri).fetch_token(
                str(self.metadata()["token_endpoint"]), code=code, code_verifier=verifier
            )
        except (OAuth2Error, httpx.HTTPError, ValueError) as exc:
            raise Unauthorized(
                f"the identity provider refused the sign-in code ({str(exc)[:120]}); "
                "start the sign-in again"
            ) from exc
        id_token = token.get("id_token")
        if not isinstance(id_token, str):
            raise Unauthorized("the identity provider sent no ID token; check that `openid` is in the scopes")
        return self.validate_id_token(id_token, nonce=nonce, access_token=token.get("access_token"))

    def validate_id_token(
        self, id_token: str, *, nonce: str, access_token: str | None = None
    ) -> dict[str, Any]:
        """The claims of a valid ID token meant for us; `Unauthorized` naming the check that failed."""
        metadata = self.metadata()
        registry = JWSRegistry(algorithms=metadata.get("id_token_signing_alg_values_supported"))
        try:
            try:
                decoded = jwt.decode(id_token, self._key_set(), registry=registry)
            except JoseError:
                decoded = jwt.decode(id_token, self._key_set(refresh=True), registry=registry)  # keys rotated
            options = {
                "iss": {"essential": True, "value": str(metadata.get("issuer") or self.settings.issuer_url)},
                "aud": {"essential": True, "value": self.settings.client_id},
            }
            params: dict[str, Any] = {"nonce": nonce, "client_id": self.settings.client_id}
            if access_token:
                params["access_token"] = access_token
            claims = CodeIDToken(decoded.claims, decoded.header, options, params)
            claims.validate(leeway=60)
        except JoseError as exc:
            detail = f"{exc.error}: {exc.description or ''}".strip(": ")
            raise Unauthorized(f"the ID token was refused ({detail})") from exc
        return dict(claims)

    def _account(self, claims: dict[str, Any], next_path: str) -> Finished:
        subject = str(claims.get("sub") or "")
        if not subject:
            raise Unauthorized("the ID token names no subject (`sub`)")
        mapped = map_role(claims, self.settings)
        with self.db.session() as session:
            user = session.scalar(select(User).where(User.sso_subject == subject))
            created = user is None
            if user is None:
                role = mapped or self.settings.default_role
                if role is None:
                    raise Forbidden(
                        f"your identity provider account has no Companion role (claim "
                        f"`{self.settings.role_claim}`); ask your program admin for access"
                    )
                name = self._name(claims)
                if session.scalar(select(User.id).where(User.name == name)) is not None:
                    raise Forbidden(
                        f"a Companion account named {name!r} already exists and is not linked to your "
                        "identity provider account; ask your program admin to rename or remove it"
                    )
                user = User(name=name, role=role, sso_subject=subject)
                session.add(user)
                session.flush()
            elif mapped and mapped != user.role:
                user.role = mapped  # the provider's groups are the source of truth for mapped roles
            cookie, signed_in = self.accounts.open_session(session, user)
        return Finished(cookie, signed_in, next_path, created)

    def _name(self, claims: dict[str, Any]) -> str:
        for claim in (self.settings.name_claim, "email", "sub"):
            value = claims.get(claim)
            if isinstance(value, str) and value.strip():
                return value.strip().lower()[:100]
        raise Unauthorized("the ID token carries no name, e-mail or subject to name the account by")
