"""Who is calling: hashed API tokens, Argon2 passwords and OAuth2 bearer JWTs.

- API tokens are ``ps_`` + 43 characters of ``secrets.token_urlsafe(32)`` (256 bits); the store keeps
  only their SHA-256, so a stolen database gives no usable token.
- Passwords are hashed with Argon2id (pwdlib); never stored or logged in clear.
- ``POST /api/auth/token`` (OAuth2 password flow) returns a short-lived HS256 JWT (PyJWT) whose
  ``sub`` is the user id; the secret comes from the settings or a key file beside the database.

Both kinds arrive as ``Authorization: Bearer ...``.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import jwt
from pwdlib import PasswordHash

from .db import ApiToken, User, now

__all__ = [
    "Principal",
    "hash_password",
    "verify_password",
    "new_api_token",
    "token_digest",
    "issue_jwt",
    "resolve_bearer",
]

_hasher = PasswordHash.recommended()
_DUMMY_HASH = _hasher.hash("not-a-real-password")
TOKEN_PREFIX = "ps_"
JWT_ALGORITHM = "HS256"


@dataclass(frozen=True)
class Principal:
    user_id: int
    username: str
    org_id: int
    org_name: str
    role: str
    via: str  # "token" or "jwt"

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @property
    def is_staff(self) -> bool:
        """Admins and analysts of an organisation see and work on all its own data."""
        return self.role in ("admin", "analyst")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password: str, stored: str | None) -> bool:
    if not stored:
        _hasher.verify(password, _DUMMY_HASH)  # same time whether or not the user exists
        return False
    return _hasher.verify(password, stored)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_api_token() -> tuple[str, str, str]:
    """A fresh token: ``(token, sha256, display prefix)``. Show the token once; store the rest."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    return token, token_digest(token), token[:10]


def issue_jwt(user: User, secret: str, ttl_s: int) -> tuple[str, int]:
    t = datetime.now(UTC)
    claims = {
        "sub": str(user.id),
        "org": user.org_id,
        "role": user.role,
        "iat": t,
        "exp": t + timedelta(seconds=ttl_s),
        "jti": secrets.token_hex(8),
        "iss": "plumescout",
    }
    return jwt.encode(claims, secret, algorithm=JWT_ALGORITHM), ttl_s


def _principal(user: User, via: str) -> Principal:
    return Principal(user.id, user.username, user.org_id, user.org.name, user.role, via)


def resolve_bearer(session, credential: str, secret: str) -> Principal | None:
    """The principal behind a bearer credential, or None (unknown, expired, revoked, inactive)."""
    if credential.startswith(TOKEN_PREFIX):
        row = session.query(ApiToken).filter_by(token_sha256=token_digest(credential)).one_or_none()
        if row is None or row.revoked_at is not None:
            return None
        if row.expires_at is not None and _aware(row.expires_at) <= now():
            return None
        user = row.user
        via = "token"
    else:
        try:
            claims = jwt.decode(
                credential,
                secret,
                algorithms=[JWT_ALGORITHM],
                issuer="plumescout",
                options={"require": ["exp", "sub", "iss"]},
            )
        except jwt.PyJWTError:
            return None
        user = session.get(User, int(claims["sub"])) if str(claims["sub"]).isdigit() else None
        via = "jwt"
    if user is None or not user.active:
        return None
    return _principal(user, via)


def _aware(t: datetime) -> datetime:
    """SQLite gives back naive datetimes (stored as UTC)."""
    return t if t.tzinfo is not None else t.replace(tzinfo=UTC)
